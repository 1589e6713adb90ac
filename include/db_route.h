/* db_route.h: reads to read replicas, writes to the primary (--replica-url).
 *
 * One db_pool per node: the primary's (the server's) and one per replica,
 * each connected, watched and reconnected by db.c. db_route_submit is the one
 * place that decides where a statement runs, from the statement table: a
 * write (queries[qid].write) and the pool's own statements go to the primary;
 * a read goes to a replica that is fresh enough and, when the request carries
 * a WAL position (Threadstore-Min-LSN), has replayed at least that far; else
 * to the primary. A read a replica cannot answer after all is handed to the
 * primary by the replica's pool (db.h), so a replica down costs no error.
 *
 * Freshness comes from a lag probe on a timer, on the loop: every probe_ms
 * the primary's flushed WAL position is sampled (with the time the sample was
 * asked for) and each replica's replayed position is read. A replica that has
 * replayed past the sample taken at time t holds everything flushed by t, so
 * its lag is at most now - t (the newest such sample); growing with the age
 * of its last answer. It is used while that bound is within --replica-max-lag
 * (and as soon as its probe answers again after a restart). A node that says
 * it is not in recovery is never used (it was promoted: a split brain). */
#ifndef THREADSTORE_DB_ROUTE_H
#define THREADSTORE_DB_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "db.h"

#define DB_ROUTE_SAMPLES 64 /* primary positions kept: 64 probe intervals (8 x max lag) */

struct db_route;

struct db_replica {
	struct db_pool pool;
	struct db_route *route;
	char name[24];		/* "replica1": logs and metrics */
	struct db_query *probe; /* the lag probe in flight */
	uint64_t replay_lsn;	/* replayed up to here at the last probe (0: unknown) */
	uint64_t probed_ms;	/* uv_now() of that answer */
	int64_t lag_ms;		/* staleness bound at that answer; -1 unknown */
	bool not_standby;	/* answered as a primary: never used */
	unsigned long reads;	/* reads routed here */
};

struct db_route {
	uv_loop_t *loop;
	const struct config *cfg;
	struct db_pool *primary;
	struct db_replica *replicas;
	int nreplicas;
	unsigned probe_ms;
	uv_timer_t probe_timer;
	struct db_query *primary_probe;
	uint64_t primary_probe_sent; /* uv_now() when primary_probe was asked for */
	struct {
		uint64_t ms;  /* when the sample was asked for */
		uint64_t lsn; /* the primary's flushed position then (or later) */
	} samples[DB_ROUTE_SAMPLES];
	int nsamples, next_sample;
	unsigned next;			     /* round robin over replicas */
	unsigned long reads_primary;	     /* reads the primary served by choice or for want */
	unsigned long reads_min_lsn_primary; /* of those, for a Min-LSN no replica had reached */
	int open_handles;
	bool closing;
};

/* Replica pools from cfg->replica_urls; none: every statement to the primary. */
int db_route_init(struct db_route *rt, uv_loop_t *loop, const struct config *cfg,
		  struct db_pool *primary) __attribute__((warn_unused_result));
void db_route_start(struct db_route *rt);
/* db_submit on the node chosen for qid (see above); min_lsn 0: none asked. */
struct db_query *db_route_submit(struct db_route *rt, enum query_id qid, uint64_t min_lsn,
				 int nparams, const char *const *values, const int *lengths,
				 db_done_fn done, void *owner, enum db_status *status);
/* For a replica's pool (db.c's finish): whether its answer to q goes to the
 * primary instead (the node lost, shut down, in a recovery conflict, behind
 * on the schema, or without a row q names: an empty answer to a read by id
 * or cursor is asked of the primary before it becomes a 404). */
bool db_route_hand_over(const struct db_pool *p, const struct db_query *q, enum db_status st);
/* Whether replica i would take a read now (for /readyz and /metrics). */
bool db_route_usable(const struct db_route *rt, int i, uint64_t min_lsn);
/* Its lag bound now, in ms; -1 unknown. */
int64_t db_route_lag_ms(const struct db_route *rt, int i);
/* Prometheus lines for the replicas; "replicas":[...] JSON for /readyz. */
void db_route_metrics(const struct db_route *rt, struct buf *out);
void db_route_readyz(const struct db_route *rt, struct buf *out);
/* Closes the replicas' pools and the probe timer (the primary is the caller's). */
void db_route_close(struct db_route *rt);

#endif
