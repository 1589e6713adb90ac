/* sweep.h: the retention sweep (issue 13). Deletes, with their items and
 * attachments, the threads whose "threadstore:expires_at" has passed and,
 * with --retention-days, those whose last activity is older.
 *
 * It runs inside the service, on the loop, one statement at a time through
 * the shared pool, SWEEP_PACE_MS apart (a bounded rate: at most one small
 * batch in flight, never a long transaction), one pass every
 * --sweep-interval. Among several instances only the holder of the lease
 * (sql/012 threadstore_sweep, renewed as it goes, lapsing when its instance
 * dies) sweeps. A pass: the lease; expired threads (sql/013 threads_expiry,
 * oldest expiry first); then, with retention, a walk of all threads in key
 * order, a batch per step, resumed where it left off. A victim thread's items
 * go in batches, each re-checking the thread under its row lock, then the
 * thread and its attachments in one statement that checks again: whatever a
 * concurrent write made active is never removed.
 *
 * Ownership: struct sweep lives in struct server; its timer is closed and its
 * query cancelled by sweep_stop (before the pool closes). Counters are read
 * by /metrics (sweep_metrics). */
#ifndef THREADSTORE_SWEEP_H
#define THREADSTORE_SWEEP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"

struct feed;

#define SWEEP_PACE_MS 20 /* between two statements of a pass */

struct db_pool;
struct db_query;

enum sweep_step {
	SWEEP_IDLE,	/* waiting for the next pass */
	SWEEP_LEASE,	/* claiming or renewing the lease */
	SWEEP_EXPIRED,	/* fetching expired threads */
	SWEEP_RETAINED, /* fetching the next batch of the retention walk */
	SWEEP_ITEMS,	/* deleting a batch of the victim's items */
	SWEEP_THREAD,	/* deleting the victim and its attachments */
	SWEEP_STOPPED
};

struct sweep {
	struct db_pool *pool;
	struct feed *feed; /* told of each user whose threads it deleted */
	const struct config *cfg;
	uv_timer_t timer; /* the pace between statements, or the interval between passes */
	enum sweep_step step;
	enum sweep_step source;	       /* where the victims came from: EXPIRED or RETAINED */
	struct db_query *query;	       /* in flight, or NULL */
	char owner[24];		       /* this instance in the lease */
	uint64_t leased_ms;	       /* uv_now() of the last renewal */
	bool leader;		       /* holds the lease */
	PGresult *victims;	       /* the batch being worked through */
	int next;		       /* its next row */
	bool more;		       /* the batch was full: fetch again */
	struct buf walk_user, walk_id; /* the retention walk's position */
	struct buf prev_ids;	       /* the victim's last batch of item ids (JSON) */
	/* counters (metrics) */
	unsigned long passes, threads, items, attachments, errors;
	unsigned long pass_threads, pass_items, pass_attachments; /* this pass, for its log line */
};

int sweep_init(struct sweep *w, uv_loop_t *loop, struct db_pool *pool, struct feed *feed,
	       const struct config *cfg, uint32_t instance_id) __attribute__((warn_unused_result));
/* The first pass starts after `delay_ms` (the pool is connecting). */
void sweep_start(struct sweep *w, uint64_t delay_ms);
/* Cancels the statement in flight and closes the timer. */
void sweep_stop(struct sweep *w);
/* Appends the sweep's counters in the Prometheus text format. */
void sweep_metrics(const struct sweep *w, struct buf *out);

#endif
