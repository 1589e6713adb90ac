/* sweep.c: the retention sweep's steps (sweep.h), one statement at a time. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "feed.h"
#include "log.h"

#define SWEEP_EXPIRED_BATCH "100"
#define SWEEP_WALK_BATCH 500
#define SWEEP_ITEMS_BATCH "500"

static void on_result(void *owner, PGresult *res, enum db_status st, uint64_t lsn);

static void arm(struct sweep *w, enum sweep_step step, uint64_t ms);

/* Three intervals (at least 10 s), renewed at each pass and each third of it
 * within a long one: it lapses only when its holder stops sweeping. */
static uint64_t lease_ms(const struct sweep *w)
{
	uint64_t ms = 3ull * w->cfg->sweep_interval_ms;
	return ms < 10000 ? 10000 : ms;
}

static void submit(struct sweep *w, enum query_id qid, int n, const char *const *v, const int *l)
{
	enum db_status st;
	w->query = db_submit(w->pool, qid, n, v, l, on_result, w, &st);
	if (w->query == NULL) /* no database, or a full queue: try at the next pass */
		arm(w, SWEEP_IDLE, w->cfg->sweep_interval_ms);
}

static void end_pass(struct sweep *w)
{
	if (w->pass_threads > 0 || w->pass_items > 0 || w->pass_attachments > 0)
		log_info("sweep removed", "threads=%lu items=%lu attachments=%lu", w->pass_threads,
			 w->pass_items, w->pass_attachments);
	w->pass_threads = w->pass_items = w->pass_attachments = 0;
	w->passes++;
	arm(w, SWEEP_IDLE, w->cfg->sweep_interval_ms);
}

/* The victim in hand, or the next batch of them, or the end of the pass. */
static void next_victim(struct sweep *w)
{
	if (w->victims != NULL) {
		int n = PQntuples(w->victims);
		/* retained rows carry (user, id, old): only the old ones are victims */
		while (w->next < n && w->source == SWEEP_RETAINED &&
		       PQgetvalue(w->victims, w->next, 2)[0] != 't')
			w->next++;
		if (w->next < n) {
			buf_reset(&w->prev_ids); /* a new thread */
			arm(w, SWEEP_ITEMS, SWEEP_PACE_MS);
			return;
		}
		PQclear(w->victims);
		w->victims = NULL;
	}
	if (w->more) { /* the batch was full: there may be more */
		arm(w, w->source, SWEEP_PACE_MS);
	} else if (w->source == SWEEP_EXPIRED && w->cfg->retention_days > 0) {
		w->source = SWEEP_RETAINED;
		arm(w, SWEEP_RETAINED, SWEEP_PACE_MS);
	} else {
		end_pass(w);
	}
}

static void run(struct sweep *w)
{
	char days[16], lease[24];
	int dl = snprintf(days, sizeof days, "%d", w->cfg->retention_days);
	if (w->step != SWEEP_LEASE && w->step != SWEEP_IDLE &&
	    uv_now(w->timer.loop) - w->leased_ms > lease_ms(w) / 3) {
		/* renew first, then carry on where it was */
		w->step = SWEEP_LEASE;
	}
	if (w->step == SWEEP_IDLE) { /* a new pass */
		w->source = SWEEP_EXPIRED;
		w->more = false;
		w->step = SWEEP_LEASE;
	}
	switch (w->step) {
	case SWEEP_LEASE: {
		int ll = snprintf(lease, sizeof lease, "%llu", (unsigned long long)lease_ms(w));
		const char *v[] = {w->owner, lease};
		const int l[] = {(int)strlen(w->owner), ll};
		submit(w, Q_SWEEP_LEASE, 2, v, l);
		break;
	}
	case SWEEP_EXPIRED: {
		const char *v[] = {SWEEP_EXPIRED_BATCH};
		const int l[] = {(int)strlen(SWEEP_EXPIRED_BATCH)};
		submit(w, Q_SWEEP_EXPIRED, 1, v, l);
		break;
	}
	case SWEEP_RETAINED: {
		char k[16];
		int kl = snprintf(k, sizeof k, "%d", SWEEP_WALK_BATCH);
		const char *v[] = {w->walk_user.data ? w->walk_user.data : "",
				   w->walk_id.data ? w->walk_id.data : "", days, k};
		const int l[] = {(int)w->walk_user.len, (int)w->walk_id.len, dl, kl};
		submit(w, Q_SWEEP_RETAINED, 4, v, l);
		break;
	}
	case SWEEP_ITEMS:
	case SWEEP_THREAD: {
		PGresult *t = w->victims;
		bool keys = w->step == SWEEP_ITEMS && w->prev_ids.len > 0;
		const char *v[] = {PQgetvalue(t, w->next, 0), PQgetvalue(t, w->next, 1), days,
				   SWEEP_ITEMS_BATCH, keys ? w->prev_ids.data : "[]"};
		const int l[] = {PQgetlength(t, w->next, 0), PQgetlength(t, w->next, 1), dl,
				 (int)strlen(SWEEP_ITEMS_BATCH), keys ? (int)w->prev_ids.len : 2};
		if (w->step == SWEEP_ITEMS)
			submit(w, Q_SWEEP_ITEMS, 5, v, l);
		else
			submit(w, Q_SWEEP_THREAD, 3, v, l);
		break;
	}
	case SWEEP_IDLE:
	case SWEEP_STOPPED: break;
	}
}

static void on_timer(uv_timer_t *t)
{
	run(container_of(t, struct sweep, timer));
}

static void arm(struct sweep *w, enum sweep_step step, uint64_t ms)
{
	w->step = step;
	uv_timer_start(&w->timer, on_timer, ms, 0);
}

static void on_result(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct sweep *w = owner;
	w->query = NULL;
	ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != DB_OK || rs != PGRES_TUPLES_OK) {
		char q[256];
		const char *msg = res ? PQresultErrorMessage(res) : "no database";
		log_warn("sweep statement failed", "step=%d error=%s", (int)w->step,
			 log_quote(q, sizeof q, msg, strlen(msg)));
		PQclear(res);
		w->errors++;
		if (w->victims != NULL) {
			PQclear(w->victims);
			w->victims = NULL;
		}
		end_pass(w); /* the next pass starts over (the walk keeps its place) */
		return;
	}
	int n = PQntuples(res);
	switch (w->step) {
	case SWEEP_LEASE:
		w->leader = n == 1;
		PQclear(res);
		if (!w->leader) { /* another instance sweeps (or took over a lapsed lease) */
			if (w->victims != NULL) {
				PQclear(w->victims);
				w->victims = NULL;
			}
			arm(w, SWEEP_IDLE, w->cfg->sweep_interval_ms);
			return;
		}
		w->leased_ms = uv_now(w->timer.loop);
		if (w->victims != NULL) /* a renewal in the middle of a thread */
			arm(w, SWEEP_ITEMS, SWEEP_PACE_MS);
		else
			arm(w, w->source, 0);
		return;
	case SWEEP_EXPIRED:
	case SWEEP_RETAINED:
		w->victims = res;
		w->next = 0;
		w->more =
		    n == (w->step == SWEEP_EXPIRED ? atoi(SWEEP_EXPIRED_BATCH) : SWEEP_WALK_BATCH);
		if (w->step == SWEEP_RETAINED) {
			/* the walk goes on after the last row; a short batch ends it */
			buf_reset(&w->walk_user);
			buf_reset(&w->walk_id);
			if (w->more) {
				buf_append(&w->walk_user, PQgetvalue(res, n - 1, 0),
					   (size_t)PQgetlength(res, n - 1, 0));
				buf_append(&w->walk_id, PQgetvalue(res, n - 1, 1),
					   (size_t)PQgetlength(res, n - 1, 1));
			}
			buf_putc(&w->walk_user, '\0'); /* NUL-terminated, not counted */
			w->walk_user.len--;
			buf_putc(&w->walk_id, '\0');
			w->walk_id.len--;
		}
		next_victim(w);
		return;
	case SWEEP_ITEMS: {
		long k = atol(PQgetvalue(res, 0, 0));
		buf_reset(&w->prev_ids); /* for the next batch to walk over */
		buf_append(&w->prev_ids, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
		PQclear(res);
		w->items += (unsigned long)k;
		w->pass_items += (unsigned long)k;
		/* a full batch: more items; else the thread itself */
		arm(w, k == atol(SWEEP_ITEMS_BATCH) ? SWEEP_ITEMS : SWEEP_THREAD, SWEEP_PACE_MS);
		return;
	}
	case SWEEP_THREAD: {
		long t = atol(PQgetvalue(res, 0, 0)), a = atol(PQgetvalue(res, 0, 1));
		PQclear(res);
		if (t > 0) /* its changes committed: the user's streams, here and elsewhere */
			feed_note_write(w->feed, PQgetvalue(w->victims, w->next, 0),
					(size_t)PQgetlength(w->victims, w->next, 0));
		w->threads += (unsigned long)t;
		w->attachments += (unsigned long)a;
		w->pass_threads += (unsigned long)t;
		w->pass_attachments += (unsigned long)a;
		w->next++;
		next_victim(w);
		return;
	}
	default: PQclear(res); return;
	}
}

int sweep_init(struct sweep *w, uv_loop_t *loop, struct db_pool *pool, struct feed *feed,
	       const struct config *cfg, uint32_t instance_id)
{
	memset(w, 0, sizeof *w);
	w->pool = pool;
	w->feed = feed;
	w->cfg = cfg;
	w->step = SWEEP_STOPPED;
	snprintf(w->owner, sizeof w->owner, "%08x-%d", instance_id, (int)uv_os_getpid());
	return uv_timer_init(loop, &w->timer);
}

void sweep_start(struct sweep *w, uint64_t delay_ms)
{
	arm(w, SWEEP_IDLE, delay_ms);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

void sweep_stop(struct sweep *w)
{
	if (w->pool == NULL || uv_is_closing((uv_handle_t *)&w->timer))
		return; /* never started (no server_start), or stopped already */
	w->step = SWEEP_STOPPED;
	if (w->query != NULL) {
		db_cancel(w->query); /* its callback never runs */
		w->query = NULL;
	}
	if (w->victims != NULL) {
		PQclear(w->victims);
		w->victims = NULL;
	}
	buf_free(&w->walk_user);
	buf_free(&w->walk_id);
	buf_free(&w->prev_ids);
	uv_close((uv_handle_t *)&w->timer, on_closed);
}

void sweep_metrics(const struct sweep *w, struct buf *out)
{
	char b[1024];
	int n = snprintf(
	    b, sizeof b,
	    "# HELP threadstore_sweep_leader Whether this instance holds the sweep's lease.\n"
	    "# TYPE threadstore_sweep_leader gauge\n"
	    "threadstore_sweep_leader %d\n"
	    "# HELP threadstore_sweep_passes_total Passes of the retention sweep ended.\n"
	    "# TYPE threadstore_sweep_passes_total counter\n"
	    "threadstore_sweep_passes_total %lu\n"
	    "# HELP threadstore_sweep_removed_total Rows the sweep deleted, by table.\n"
	    "# TYPE threadstore_sweep_removed_total counter\n"
	    "threadstore_sweep_removed_total{table=\"threads\"} %lu\n"
	    "threadstore_sweep_removed_total{table=\"items\"} %lu\n"
	    "threadstore_sweep_removed_total{table=\"attachments\"} %lu\n"
	    "# HELP threadstore_sweep_errors_total Sweep statements that failed (the pass ends).\n"
	    "# TYPE threadstore_sweep_errors_total counter\n"
	    "threadstore_sweep_errors_total %lu\n",
	    w->leader ? 1 : 0, w->passes, w->threads, w->items, w->attachments, w->errors);
	buf_append(out, b, (size_t)n);
}
