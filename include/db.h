/* db.h: the fixed set of PostgreSQL connections, in pipeline mode, on the loop.
 *
 * Each connection is opened with PQconnectStartParams/PQconnectPoll, watched by
 * one uv_poll_t, and carries many queries at once. Reads submitted in one loop
 * turn are written together with one Sync at its end (libpq 15's
 * PQpipelineSync always flushes: one send per batch, not per query); a read
 * aborted by an error earlier in its batch did not run and is sent again. A
 * write goes out at once with its own Sync, and its result is delivered only
 * when that Sync's reply says it committed. A query goes to the ready
 * connection with the fewest in flight; when all are at pipeline_depth it waits
 * in a bounded queue. A lost connection fails its queries (DB_UNAVAILABLE) and
 * is reopened with backoff; nothing here ever blocks.
 *
 * Each write is followed, after its Sync (so after its commit), by the pool's
 * own Q_WAL_LSN in a batch of its own, and its result is delivered with that
 * WAL position (the done callback's `lsn`) once both are in: a standby that
 * has replayed that far has replayed the commit (queries.c says why the
 * position is read after the commit, not inside the write's transaction).
 *
 * One pool per PostgreSQL node: the primary's, and one per read replica
 * (db_route.h routes between them). A replica's pool has a `fallback` (the
 * primary's): a read it cannot answer (its connection lost, the node shut
 * down, a recovery conflict) is handed over to the fallback pool with its
 * deadline, rather than failed, so a replica going away costs no request.
 *
 * Ownership: db_submit copies the parameters; the pool owns the query until its
 * done callback returns, then frees it. A client that goes away calls
 * db_cancel: the query still runs (its bytes may already be on the wire) but
 * its callback is never called. The callback owns the PGresult it is given. */
#ifndef THREADSTORE_DB_H
#define THREADSTORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "db_resolve.h"
#include "list.h"
#include "queries.h"

#define DB_MAX_PARAMS 6

enum db_status {
	DB_OK = 0,
	DB_UNAVAILABLE = -1, /* no connection up, or it was lost mid-query */
	DB_QUEUE_FULL = -2,  /* too many queries waiting */
	DB_TIMEOUT = -3,     /* ran past --query-timeout: answered, and cancelled */
	DB_BAD_PARAMS = -4,  /* nparams is not the statement's count: a bug, logged; answer 500 */
};

struct db_query;
/* Called once per query with the submitter's `owner`. res is NULL unless
 * status is DB_OK; then it may still be PGRES_FATAL_ERROR. lsn: for a write,
 * the primary's WAL position after its commit (0 when unknown: the connection
 * was lost between the commit and the position's answer); 0 for reads. */
typedef void (*db_done_fn)(void *owner, PGresult *res, enum db_status status, uint64_t lsn);

struct db_query {
	struct list link;
	enum query_id qid;
	int nparams;
	const char *values[DB_MAX_PARAMS];
	int lengths[DB_MAX_PARAMS];
	db_done_fn done; /* NULL for the pool's own statements (prepare) */
	void *owner;	 /* NULL once cancelled */
	PGresult *res;
	uint64_t deadline;	   /* uv_now() ms after which the owner gets DB_TIMEOUT */
	bool sync_after;	   /* a Sync follows it: its batch ends (and commits) here */
	bool prepared;		   /* sent as a prepared statement (may meet a lost one) */
	bool committed;		   /* a write's own Sync came back; its position's is next */
	struct db_query *position; /* a write's Q_WAL_LSN, right after it in flight */
	uint64_t lsn;		   /* a write's position, once its Q_WAL_LSN answered */
};

/* A connection's states; conn_set_state in db.c is the only writer, and each
 * state decides its timer:
 *
 *   IDLE -> RESOLVING -> CONNECTING -> READY -> FAILING -+
 *             |  (connect deadline) |      |              |
 *             +---------------------+------+--> BACKOFF <-+   (backoff timer,
 *                                                 |           then RESOLVING)
 *   any -> CLOSED (db_pool_close)                 +-> RESOLVING
 *
 * RESOLVING and CONNECTING share one connect deadline; READY has no timer
 * (queries have their own deadlines); FAILING is a connection found broken
 * inside a caller's db_submit: its queries are answered at the end of the
 * loop turn, not from inside the call that would see its own query fail. */
enum db_conn_state {
	DBC_IDLE,
	DBC_RESOLVING, /* looking the host names up on libuv's thread pool */
	DBC_CONNECTING,
	DBC_READY,
	DBC_FAILING,
	DBC_BACKOFF,
	DBC_CLOSED
};

struct db_lookup;

struct db_pool;

struct db_conn {
	struct db_pool *pool;
	int index;
	enum db_conn_state state; /* written only by conn_set_state */
	PGconn *pg;
	uv_poll_t *poll; /* heap: a socket change needs a new handle while the old closes */
	int poll_fd;
	unsigned long poll_ino; /* identity of the watched socket (fd numbers get reused) */
	int poll_events;
	uv_timer_t timer;	  /* the state's timer: connect deadline, or backoff */
	bool cancelling;	  /* a cancel request is on its way (off the loop) */
	struct db_lookup *lookup; /* the lookup under way, if any */
	struct list inflight;
	int ninflight;		    /* in flight or unsent: what counts against --pipeline-depth */
	struct db_query *receiving; /* first in flight whose results are not all in */
	struct list unsent;	    /* reads assigned here, written at the turn's end */
	size_t unsent_bytes;
	struct list sync_link; /* in the pool's list of connections owing a Sync (or FAILING) */
	unsigned backoff_ms;
	char why[256]; /* FAILING: what broke */
};

struct db_pool {
	uv_loop_t *loop;
	const struct config *cfg;
	const char *url;	  /* the node's connection string */
	const char *name;	  /* "primary", "replica1", ...: for logs */
	struct db_pool *fallback; /* a replica's: where its failed reads go (the primary) */
	struct db_conn *conns;
	int nconns;
	int nready; /* connections in DBC_READY, kept by conn_set_state */
	struct list waiting;
	int nwaiting;
	bool closing;
	/* --statements prepared, until a pooler that does not keep prepared
	 * statements is detected (SQLSTATE 26000/42P05): then unnamed, and
	 * statements_lost says why (for /readyz, /metrics and the log). */
	bool prepared;
	bool statements_lost;
	unsigned long statement_errors; /* queries that met a lost statement (and were resent) */
	unsigned long generic_sessions; /* connections whose session took generic plans (Q_SESSION) */
	int open_handles;		/* timers not yet closed, for db_pool_close */
	uv_timer_t tick;		/* checks query deadlines */
	uv_check_t sync_check;		/* ends each loop turn's batches with one Sync each */
	struct list needs_sync;
	struct db_hosts hosts; /* where to connect: looked up before each connect */
	void (*on_closed)(struct db_pool *);
	char stmt_name[Q_COUNT][QUERY_NAME_MAX]; /* queries_stmt_name, computed once */
	/* counters for logs and metrics */
	unsigned long reconnects;
	unsigned long timeouts;
	unsigned long served;	  /* user queries answered by this node */
	unsigned long handed_off; /* reads given to the fallback pool */
};

/* A pool of cfg->pool_size connections to `url` (cfg->database_url for the primary). */
int db_pool_init(struct db_pool *p, uv_loop_t *loop, const struct config *cfg, const char *url,
		 const char *name) __attribute__((warn_unused_result));
void db_pool_start(struct db_pool *p);
/* Returns the query, or NULL with *status telling why it was refused.
 * nparams must be the statement's own count (queries[qid].nparams), else
 * DB_BAD_PARAMS: nothing is sent with parameters missing or cut off. */
struct db_query *db_submit(struct db_pool *p, enum query_id qid, int nparams,
			   const char *const *values, const int *lengths, db_done_fn done,
			   void *owner, enum db_status *status);
void db_cancel(struct db_query *q);
/* Frees a query the pool owns (for the pool's own modules). */
void db_query_free(struct db_query *q);
bool db_ready(const struct db_pool *p);
/* NULL, or why the pool runs degraded (for /readyz): prepared statements were lost. */
const char *db_degraded(const struct db_pool *p);
void db_gauges(const struct db_pool *p, int *in_flight, int *waiting);
/* WAL positions as PostgreSQL writes them ("16/B374D848"), in db_route.c: parse (0, or -1
 * when s[0..n) is not one) and format (out holds at least DB_LSN_MAX bytes). */
#define DB_LSN_MAX 20
int db_lsn_parse(const char *s, size_t n, uint64_t *out) __attribute__((warn_unused_result));
void db_lsn_format(uint64_t lsn, char *out);
/* The position in a one-row, one-column result (0 when there is none; *is_null
 * when it is SQL NULL: a standby asked for pg_current_wal_*, a primary asked
 * for its replay position). */
uint64_t db_lsn_result(const PGresult *res, bool *is_null);
/* Fails every query, closes every connection; on_closed runs when all handles are closed. */
void db_pool_close(struct db_pool *p, void (*on_closed)(struct db_pool *));

#endif
