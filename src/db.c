/* db.c: connect/reconnect, pipeline FIFO, dispatch, results -> callbacks. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db_deadline.h"
#include "db_poll.h"
#include "db_route.h"
#include "db_stmt.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000 /* a restarted database is back in use within a second */
#define TICK_MS 100	    /* resolution of query deadlines */

static void conn_connect(struct db_conn *c);
static void conn_fail(struct db_conn *c, const char *why);
static void pump(struct db_conn *c);
static void on_sync_check(uv_check_t *h);

void db_query_free(struct db_query *q)
{
	if (q->res)
		PQclear(q->res);
	free(q);
}

static void handoff(struct db_pool *to, struct db_query *q);

/* Completes a query: its callback (unless cancelled) then free. */
static void finish(struct db_pool *p, struct db_query *q, enum db_status st)
{
	if (db_route_hand_over(p, q, st)) {
		p->handed_off++;
		handoff(p->fallback, q);
		return;
	}
	PGresult *res = q->res;
	q->res = NULL;
	if (q->done != NULL && q->owner != NULL) {
		if (st == DB_OK && q->qid < Q_COUNT)
			p->served++;
		q->done(q->owner, st == DB_OK ? res : NULL, st, q->lsn);
		if (st == DB_OK)
			res = NULL; /* the callback owns it now */
	}
	if (res)
		PQclear(res);
	db_query_free(q);
}

static void log_pg_error(const char *msg, struct db_conn *c, const char *detail)
{
	char q[512];
	size_t n = strlen(detail);
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == ' '))
		n--;
	log_warn(msg, "pool=%s conn=%d error=%s", c->pool->name, c->index,
		 log_quote(q, sizeof q, detail, n));
}

/* ---- the poll handle (db_poll.c) ----------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_watch(struct db_conn *c, int events)
{
	return db_poll_watch(c, events, on_poll);
}

static void poll_drop(struct db_conn *c)
{
	db_poll_drop(c);
}

/* ---- states ------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t);

/* The one writer of c->state: keeps nready and the reconnect count, and arms
 * the state's timer (see the diagram in db.h). */
static void conn_set_state(struct db_conn *c, enum db_conn_state to)
{
	struct db_pool *p = c->pool;
	enum db_conn_state from = c->state;
	if (from == DBC_READY)
		p->nready--;
	c->state = to;
	switch (to) {
	case DBC_RESOLVING:
	case DBC_CONNECTING:
		/* One deadline for the whole attempt, lookup and connect: libpq
		 * ignores connect_timeout in nonblocking connects. */
		if (from != DBC_RESOLVING && from != DBC_CONNECTING)
			uv_timer_start(&c->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
		break;
	case DBC_READY:
		p->nready++;
		c->backoff_ms = 0;
		uv_timer_stop(&c->timer);
		break;
	case DBC_FAILING:
		uv_timer_stop(&c->timer);
		/* conn_fail runs from the check phase (on_sync_check) */
		if (list_empty(&c->sync_link))
			list_push_back(&p->needs_sync, &c->sync_link);
		if (!uv_is_closing((uv_handle_t *)&p->sync_check) &&
		    !uv_is_active((uv_handle_t *)&p->sync_check))
			uv_check_start(&p->sync_check, on_sync_check);
		break;
	case DBC_BACKOFF: {
		p->reconnects++;
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		/* Jitter spreads the reconnects of many instances after an outage. */
		unsigned delay = c->backoff_ms / 2 + (unsigned)rand() % (c->backoff_ms / 2 + 1);
		uv_timer_start(&c->timer, on_timer, delay, 0);
		break;
	}
	case DBC_IDLE:
	case DBC_CLOSED: uv_timer_stop(&c->timer); break;
	}
}

/* Broken inside a caller's db_submit: answered at the end of the loop turn. */
static void conn_fail_later(struct db_conn *c, const char *why)
{
	if (c->state != DBC_READY)
		return;
	snprintf(c->why, sizeof c->why, "%s", why);
	conn_set_state(c, DBC_FAILING);
}

/* ---- connecting --------------------------------------------------------------------- */

static void abandon_lookup(struct db_conn *c)
{
	if (c->lookup == NULL)
		return;
	db_lookup_abandon(c->lookup);
	c->lookup = NULL;
}

static void on_timer(uv_timer_t *t)
{
	struct db_conn *c = container_of(t, struct db_conn, timer);
	switch (c->state) {
	case DBC_BACKOFF: conn_connect(c); break;
	case DBC_RESOLVING:
	case DBC_CONNECTING:
		abandon_lookup(c);
		conn_fail(c, "connect timed out");
		break;
	default: break; /* a state without a timer: a stale expiry */
	}
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void on_connected(struct db_conn *c)
{
	struct db_pool *p = c->pool;
	if (poll_watch(c, UV_READABLE) < 0) { /* while still CONNECTING: checks the socket */
		conn_fail(c, "cannot watch the database socket");
		return;
	}
	PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (p->prepared && db_stmt_prepare_all(c) < 0) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	conn_set_state(c, DBC_READY);
	log_info("database connection ready", "pool=%s conn=%d ready=%d/%d", p->name, c->index,
		 p->nready, p->nconns);
	pump(c);
	int events = UV_READABLE | (PQflush(c->pg) == 1 ? UV_WRITABLE : 0);
	if (poll_watch(c, events) < 0)
		conn_fail(c, "cannot watch the database socket");
}

static void connect_step(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_OK: on_connected(c); return;
	case PGRES_POLLING_READING:
		if (poll_watch(c, UV_READABLE) < 0)
			conn_fail(c, "cannot watch the database socket");
		return;
	case PGRES_POLLING_WRITING:
		if (poll_watch(c, UV_WRITABLE) < 0)
			conn_fail(c, "cannot watch the database socket");
		return;
	default: conn_fail(c, PQerrorMessage(c->pg)); return;
	}
}

/* Starts libpq's nonblocking connect (db_connect_start: with the lookup's
 * lists, or none when DATABASE_URL names no host that needs a lookup). */
static void connect_now(struct db_conn *c, const char *host, const char *hostaddr, const char *port)
{
	conn_set_state(c, DBC_CONNECTING);
	c->pg = db_connect_start(c->pool->url, "threadstore", false, host, hostaddr, port);
	if (c->pg == NULL) {
		conn_fail(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (poll_watch(c, UV_WRITABLE) < 0)
		conn_fail(c, "cannot watch the database socket");
}

static void on_lookup(void *arg, const char *host, const char *hostaddr, const char *port,
		      const char *err)
{
	struct db_conn *c = arg;
	c->lookup = NULL;
	if (err != NULL)
		conn_fail(c, err);
	else
		connect_now(c, host, hostaddr, port);
}

static void conn_connect(struct db_conn *c)
{
	struct db_pool *p = c->pool;
	if (!p->hosts.lookup) {
		connect_now(c, p->hosts.host, p->hosts.hostaddr, p->hosts.port);
		return;
	}
	conn_set_state(c, DBC_RESOLVING);
	const char *err = NULL;
	c->lookup = db_lookup_start(p->loop, &p->hosts, on_lookup, c, &err);
	if (c->lookup == NULL)
		conn_fail(c, err);
}

/* ---- failure -------------------------------------------------------------------------- */

static void fail_waiting(struct db_pool *p)
{
	struct list *e;
	while ((e = list_pop_front(&p->waiting)) != NULL) {
		p->nwaiting--;
		finish(p, container_of(e, struct db_query, link), DB_UNAVAILABLE);
	}
}

/* Drops the connection, fails what was in flight on it, schedules a reconnect.
 * The state changes first: the callbacks of the failed queries may submit new
 * queries, and those must not pick this connection. */
static void conn_fail(struct db_conn *c, const char *why)
{
	struct db_pool *p = c->pool;
	bool was_up = c->state == DBC_READY || c->state == DBC_FAILING;
	conn_set_state(c, p->closing ? DBC_CLOSED : DBC_BACKOFF);
	if (p->closing)
		log_info("database connection closed", "pool=%s conn=%d", p->name, c->index);
	else
		log_pg_error(was_up ? "database connection lost" : "database connect failed", c,
			     why);
	poll_drop(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	struct list failed, *e;
	list_init(&failed);
	if (!list_empty(&c->inflight)) { /* move the whole FIFO: callbacks run after */
		failed.next = c->inflight.next;
		failed.prev = c->inflight.prev;
		failed.next->prev = failed.prev->next = &failed;
		list_init(&c->inflight);
	}
	while ((e = list_pop_front(&c->unsent)) != NULL) /* assigned, never written */
		list_push_back(&failed, e);
	c->unsent_bytes = 0;
	c->ninflight = 0;
	c->receiving = NULL;
	list_remove(&c->sync_link);
	while ((e = list_pop_front(&failed)) != NULL) {
		/* A write whose commit came back is answered (without its position). */
		struct db_query *q = container_of(e, struct db_query, link);
		finish(p, q, q->committed ? DB_OK : DB_UNAVAILABLE);
	}
	if (p->nready == 0)
		fail_waiting(p); /* nobody could serve them: answer now rather than hang */
}

/* ---- queries ------------------------------------------------------------------------ */

/* Writes one query's messages into libpq's buffer; it is in flight from here. */
static int write_query(struct db_conn *c, struct db_query *q)
{
	const struct query *s = &queries[q->qid];
	bool prepared = c->pool->prepared && q->qid < Q_COUNT;
	int ok = prepared ? PQsendQueryPrepared(c->pg, c->pool->stmt_name[q->qid], q->nparams,
						q->values, q->lengths, NULL, 0)
			  : PQsendQueryParams(c->pg, s->sql, q->nparams, NULL, q->values,
					      q->lengths, NULL, 0);
	if (!ok)
		return -1;
	q->prepared = prepared;
	q->sync_after = false;
	list_push_back(&c->inflight, &q->link);
	if (c->receiving == NULL)
		c->receiving = q;
	return 0;
}

/* Writes the waiting reads and their Sync together (PQpipelineSync flushes).
 * A batch never reaches the socket without its Sync: a transaction-mode
 * pooler that sees a ReadyForQuery while half a batch has arrived would hand
 * the server to another client (pgbouncer issue 759). Batches are kept under
 * libpq's 8 KiB auto-flush threshold for the same reason. */
static int send_batch(struct db_conn *c)
{
	struct list *e;
	struct db_query *last = NULL;
	while ((e = list_pop_front(&c->unsent)) != NULL) {
		last = container_of(e, struct db_query, link);
		if (write_query(c, last) < 0) {
			/* Back where conn_fail finds it: a query on no list would
			 * never be answered, its client left waiting forever. */
			list_push_front(&c->unsent, e);
			return -1;
		}
	}
	c->unsent_bytes = 0;
	list_remove(&c->sync_link);
	if (last == NULL)
		return 0;
	if (!PQpipelineSync(c->pg))
		return -1;
	last->sync_after = true;
	return 0;
}

#define BATCH_BYTES 4096

/* After a write and its Sync: the pool's Q_WAL_LSN with a Sync of its own,
 * so it runs after the commit; the write is delivered at this one's Sync.
 * Without memory for it the write goes out without a position (lsn 0). */
static int send_position(struct db_conn *c, struct db_query *w)
{
	struct db_query *f = calloc(1, sizeof *f);
	if (f == NULL)
		return 0;
	list_init(&f->link);
	f->qid = Q_WAL_LSN;
	f->deadline = w->deadline;
	if (write_query(c, f) < 0) {
		free(f);
		return -1;
	}
	c->ninflight++; /* in flight from here: conn_fail answers it */
	if (!PQpipelineSync(c->pg))
		return -1;
	f->sync_after = true;
	w->sync_after = false; /* its batch's Sync is not the last: see read_results */
	w->position = f;
	return 0;
}

/* Assigns q to c, which is READY. From here q belongs to c: when libpq
 * fails, c turns FAILING and q is answered (DB_UNAVAILABLE) with the rest of
 * c's queries at the end of the loop turn, never from inside this call. */
static void send_query(struct db_conn *c, struct db_query *q)
{
	struct db_pool *p = c->pool;
	const struct query *s = &queries[q->qid];
	c->ninflight++;
	if (s->write) {
		/* A write is its own transaction: it commits (or fails) alone. */
		if (write_query(c, q) < 0) {
			list_push_back(&c->unsent, &q->link);
			conn_fail_later(c, PQerrorMessage(c->pg));
		} else if (PQpipelineSync(c->pg)) {
			q->sync_after = true;
			q->committed = false;
			q->position = NULL;
			if (send_position(c, q) < 0)
				conn_fail_later(c, PQerrorMessage(c->pg));
		} else {
			conn_fail_later(c, PQerrorMessage(c->pg));
		}
		return;
	}
	size_t bytes =
	    64 + (p->prepared && q->qid < Q_COUNT ? strlen(p->stmt_name[q->qid]) : strlen(s->sql));
	for (int i = 0; i < q->nparams; i++)
		bytes += (size_t)q->lengths[i] + 4;
	if (c->unsent_bytes > 0 && c->unsent_bytes + bytes > BATCH_BYTES && send_batch(c) < 0) {
		list_push_back(&c->unsent, &q->link);
		conn_fail_later(c, PQerrorMessage(c->pg));
		return;
	}
	list_push_back(&c->unsent, &q->link);
	c->unsent_bytes += bytes;
	if (list_empty(&c->sync_link)) {
		list_push_back(&p->needs_sync, &c->sync_link);
		if (!uv_is_active((uv_handle_t *)&p->sync_check))
			uv_check_start(&p->sync_check, on_sync_check);
	}
}

/* Moves waiting queries onto c while it has room. */
static void pump(struct db_conn *c)
{
	struct db_pool *p = c->pool;
	struct list *e;
	while (c->state == DBC_READY && c->ninflight < p->cfg->pipeline_depth &&
	       (e = list_pop_front(&p->waiting)) != NULL) {
		struct db_query *q = container_of(e, struct db_query, link);
		p->nwaiting--;
		if (q->owner == NULL) {
			db_query_free(q); /* cancelled while waiting: never sent */
			continue;
		}
		send_query(c, q);
	}
}

static void flush(struct db_conn *c)
{
	int r = PQflush(c->pg);
	if (r < 0) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (poll_watch(c, UV_READABLE | (r == 1 ? UV_WRITABLE : 0)) < 0)
		conn_fail(c, "cannot watch the database socket");
}

/* A read aborted by an earlier error in its batch never ran: send it again. */
static bool resend_if_aborted(struct db_conn *c, struct db_query *q)
{
	if (q->res == NULL || PQresultStatus(q->res) != PGRES_PIPELINE_ABORTED || q->done == NULL ||
	    q->owner == NULL || queries[q->qid].write)
		return false;
	PQclear(q->res);
	q->res = NULL;
	list_push_front(&c->pool->waiting, &q->link);
	c->pool->nwaiting++;
	return true;
}

static void read_results(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	while (c->state == DBC_READY && !list_empty(&c->inflight) && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (r == NULL) {
			/* The end of one query's results: the next query's come next. */
			if (c->receiving == NULL)
				break; /* libpq and our FIFO disagree: stop rather than spin */
			c->receiving =
			    c->receiving->link.next == &c->inflight
				? NULL
				: container_of(c->receiving->link.next, struct db_query, link);
			continue;
		}
		if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
			struct db_query *q = c->receiving;
			if (q != NULL && q->res == NULL)
				q->res = r; /* one statement, one result */
			else
				PQclear(r);
			continue;
		}
		/* A Sync: its batch is over (committed, for a write): deliver it all. */
		PQclear(r);
		struct db_query *front = container_of(c->inflight.next, struct db_query, link);
		if (front->position != NULL && !front->committed) {
			/* A write's commit: it waits for its position, the next batch. */
			front->committed = true;
			continue;
		}
		bool last;
		do {
			struct db_query *q = container_of(c->inflight.next, struct db_query, link);
			last = q->sync_after;
			list_remove(&q->link);
			c->ninflight--;
			bool null;
			if (q->position != NULL) /* next in the FIFO, its results in: read it */
				q->lsn = db_lsn_result(q->position->res, &null);
			if (resend_if_aborted(c, q) || db_stmt_lost(c, q))
				continue;
			if (db_stmt_failed(c, q)) /* not ready: see db_stmt.h */
				conn_fail_later(c, "a statement did not prepare");
			else
				finish(c->pool, q, DB_OK);
		} while (!last && !list_empty(&c->inflight) && c->state == DBC_READY);
	}
	if (c->state != DBC_READY)
		return;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	pump(c);
	if (c->state == DBC_READY)
		flush(c);
}

/* After the loop turn's callbacks: the reads each connection got, as one batch. */
static void on_sync_check(uv_check_t *h)
{
	struct db_pool *p = container_of(h, struct db_pool, sync_check);
	struct list *e;
	while ((e = list_pop_front(&p->needs_sync)) != NULL) {
		struct db_conn *c = container_of(e, struct db_conn, sync_link);
		if (c->state == DBC_FAILING) {
			conn_fail(c, c->why);
			continue;
		}
		if (c->state != DBC_READY)
			continue;
		if (PQstatus(c->pg) == CONNECTION_BAD || send_batch(c) < 0) {
			conn_fail(c, PQerrorMessage(c->pg));
			continue;
		}
		flush(c); /* PQpipelineSync pushed the bytes; watch for writable if some remain */
	}
	uv_check_stop(h);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct db_conn *c = h->data;
	if (c->state == DBC_CONNECTING) {
		connect_step(c);
		return;
	}
	if (c->state != DBC_READY)
		return;
	if (status < 0) {
		conn_fail(c, uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE) {
		flush(c);
		if (c->state != DBC_READY)
			return;
	}
	if (events & UV_READABLE)
		read_results(c);
}

/* Fewer queries, but first: no output still queued in libpq. A connection
 * still sending a big write (a 20 MB item) would make a read wait for all
 * of it to go out before its own bytes do. */
static bool less_loaded(const struct db_conn *a, const struct db_conn *b)
{
	bool qa = a->poll_events & UV_WRITABLE, qb = b->poll_events & UV_WRITABLE;
	return qa != qb ? !qa : a->ninflight < b->ninflight;
}

/* The ready connection to send to, or NULL. */
static struct db_conn *pick(struct db_pool *p)
{
	struct db_conn *best = NULL;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		if (c->state == DBC_READY && PQstatus(c->pg) == CONNECTION_OK &&
		    (best == NULL || less_loaded(c, best)))
			best = c;
	}
	return p->closing ? NULL : best;
}

/* Takes over another pool's read (a replica's, to its fallback), with its
 * parameters and deadline; never fails a connection from here (send_query). */
static void handoff(struct db_pool *p, struct db_query *q)
{
	if (q->res != NULL) {
		PQclear(q->res);
		q->res = NULL;
	}
	q->position = NULL;
	q->committed = false;
	struct db_conn *best = pick(p);
	if (best == NULL) {
		finish(p, q, DB_UNAVAILABLE);
	} else if (best->ninflight < p->cfg->pipeline_depth) {
		send_query(best, q);
	} else if (p->nwaiting >= p->cfg->max_queue) {
		finish(p, q, DB_QUEUE_FULL);
	} else {
		list_push_back(&p->waiting, &q->link);
		p->nwaiting++;
	}
}

struct db_query *db_submit(struct db_pool *p, enum query_id qid, int nparams,
			   const char *const *values, const int *lengths, db_done_fn done,
			   void *owner, enum db_status *status)
{
	if (nparams != queries[qid].nparams) {
		log_error("query refused: wrong parameter count",
			  "statement=%s nparams=%d expected=%d", queries[qid].name, nparams,
			  queries[qid].nparams);
		*status = DB_BAD_PARAMS;
		return NULL;
	}
	struct db_conn *best = pick(p);
	if (best == NULL) {
		*status = DB_UNAVAILABLE;
		return NULL;
	}
	bool room = best->ninflight < p->cfg->pipeline_depth;
	if (!room && p->nwaiting >= p->cfg->max_queue) {
		*status = DB_QUEUE_FULL;
		return NULL;
	}
	/* One allocation: the query, then its parameter bytes. */
	size_t total = 0;
	for (int i = 0; i < nparams; i++)
		total += (size_t)lengths[i] + 1;
	struct db_query *q = malloc(sizeof *q + total);
	if (q == NULL) {
		*status = DB_UNAVAILABLE;
		return NULL;
	}
	memset(q, 0, sizeof *q);
	list_init(&q->link);
	q->qid = qid;
	q->nparams = nparams;
	q->done = done;
	q->owner = owner;
	q->deadline = uv_now(p->loop) + p->cfg->query_timeout_ms;
	char *dst = (char *)(q + 1);
	for (int i = 0; i < nparams; i++) {
		memcpy(dst, values[i], (size_t)lengths[i]);
		dst[lengths[i]] = '\0'; /* text-format parameters are NUL-terminated */
		q->values[i] = dst;
		q->lengths[i] = lengths[i];
		dst += lengths[i] + 1;
	}
	if (!room) {
		list_push_back(&p->waiting, &q->link);
		p->nwaiting++;
		*status = DB_OK;
		return q;
	}
	/* Reads go out with their batch's Sync (on_sync_check); a write's own Sync
	 * pushed it already. Never fail the connection from here: that would
	 * complete q (and call its owner back) before the owner has even seen q;
	 * a broken connection turns FAILING and answers at the turn's end. */
	send_query(best, q);
	if (queries[qid].write && best->state == DBC_READY) {
		int r = PQflush(best->pg);
		if (r < 0)
			conn_fail_later(best, PQerrorMessage(best->pg));
		else if (r == 1 && poll_watch(best, UV_READABLE | UV_WRITABLE) < 0)
			conn_fail_later(best, "cannot watch the database socket");
	}
	*status = DB_OK;
	return q;
}

void db_cancel(struct db_query *q)
{
	q->owner = NULL;
}

bool db_ready(const struct db_pool *p)
{
	return p->nready > 0 && !p->closing;
}

void db_gauges(const struct db_pool *p, int *in_flight, int *waiting)
{
	int n = 0;
	for (int i = 0; i < p->nconns; i++)
		n += p->conns[i].ninflight;
	*in_flight = n;
	*waiting = p->nwaiting;
}

int db_pool_init(struct db_pool *p, uv_loop_t *loop, const struct config *cfg, const char *url,
		 const char *name)
{
	memset(p, 0, sizeof *p);
	p->loop = loop;
	p->cfg = cfg;
	p->url = url;
	p->name = name;
	list_init(&p->waiting);
	list_init(&p->needs_sync);
	p->conns = calloc((size_t)cfg->pool_size, sizeof *p->conns);
	if (p->conns == NULL)
		return -1;
	p->nconns = cfg->pool_size;
	p->prepared = cfg->prepared;
	if (db_hosts_parse(&p->hosts, url) < 0)
		return -1;
	if (p->hosts.unknown)
		log_warn(
		    "database hosts unknown until connect",
		    "pool=%s why=\"the URL names a service: libpq reads its hosts, and looks their "
		    "names up on the loop; list host= in the URL instead\"",
		    name);
	db_stmt_names(p);
	if (uv_timer_init(loop, &p->tick) != 0 || uv_check_init(loop, &p->sync_check) != 0)
		return -1;
	p->open_handles += 2;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		c->pool = p;
		c->index = i;
		c->poll_fd = -1;
		list_init(&c->inflight);
		list_init(&c->unsent);
		list_init(&c->sync_link);
		if (uv_timer_init(loop, &c->timer) != 0)
			return -1;
		p->open_handles++;
	}
	return 0;
}

void db_pool_start(struct db_pool *p)
{
	uv_timer_start(&p->tick, db_deadline_tick, TICK_MS, TICK_MS);
	for (int i = 0; i < p->nconns; i++)
		conn_connect(&p->conns[i]);
}

static void handle_closed(struct db_pool *p)
{
	if (--p->open_handles == 0) {
		free(p->conns);
		p->conns = NULL;
		p->nconns = 0;
		db_hosts_free(&p->hosts);
		if (p->on_closed)
			p->on_closed(p);
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(container_of((uv_timer_t *)h, struct db_conn, timer)->pool);
}

static void on_tick_closed(uv_handle_t *h)
{
	handle_closed(container_of((uv_timer_t *)h, struct db_pool, tick));
}

static void on_check_closed(uv_handle_t *h)
{
	handle_closed(container_of((uv_check_t *)h, struct db_pool, sync_check));
}

void db_pool_close(struct db_pool *p, void (*on_closed)(struct db_pool *))
{
	p->closing = true;
	p->on_closed = on_closed;
	uv_close((uv_handle_t *)&p->tick, on_tick_closed);
	uv_close((uv_handle_t *)&p->sync_check, on_check_closed);
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		abandon_lookup(c);
		if (c->pg != NULL)
			conn_fail(c, "shutting down");
		conn_set_state(c, DBC_CLOSED);
		uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	}
	fail_waiting(p);
}
