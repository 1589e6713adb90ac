/* db.c: connect/reconnect, pipeline FIFO, dispatch, results -> callbacks. */
#include "db.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "db_deadline.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000 /* a restarted database is back in use within a second */
#define TICK_MS 100	    /* resolution of query deadlines */

static void conn_connect(struct db_conn *c);
static void conn_fail(struct db_conn *c, const char *why);
static void pump(struct db_conn *c);
static void abandon_resolve(struct db_conn *c);

void db_query_free(struct db_query *q)
{
	if (q->res)
		PQclear(q->res);
	free(q);
}

/* Completes a query: its callback (unless cancelled) then free. */
static void finish(struct db_query *q, enum db_status st)
{
	PGresult *res = q->res;
	q->res = NULL;
	if (q->done == NULL && res != NULL && PQresultStatus(res) != PGRES_COMMAND_OK) {
		char m[512];
		const char *e = PQresultErrorMessage(res);
		log_error("statement failed to prepare", "statement=%s error=%s",
			  queries[q->qid].name, log_quote(m, sizeof m, e, strlen(e)));
	}
	if (q->done != NULL && q->owner != NULL) {
		q->done(q->owner, st == DB_OK ? res : NULL, st);
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
	log_warn(msg, "conn=%d error=%s", c->index, log_quote(q, sizeof q, detail, n));
}

/* ---- the poll handle -------------------------------------------------------------- */

static void on_poll_closed(uv_handle_t *h)
{
	free(h);
}

static void poll_drop(struct db_conn *c)
{
	if (c->poll == NULL)
		return;
	uv_poll_stop(c->poll); /* removes the fd from epoll before PQfinish closes it */
	uv_close((uv_handle_t *)c->poll, on_poll_closed);
	c->poll = NULL;
	c->poll_fd = -1;
	c->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches the connection's current socket for `events`; a new socket gets a new handle. */
static int poll_watch(struct db_conn *c, int events)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return -1;
	if (c->poll != NULL && c->poll_fd != fd)
		poll_drop(c);
	if (c->poll != NULL && c->state == DBC_CONNECTING) {
		/* While connecting, libpq may close its socket and open another (next
		 * address or host, SSL retry) that gets the same descriptor number; the
		 * kernel dropped the old one from epoll, so the old handle would wait
		 * forever. The inode tells sockets apart. */
		struct stat st;
		if (fstat(fd, &st) != 0 || st.st_ino != c->poll_ino)
			poll_drop(c);
	}
	if (c->poll == NULL) {
		c->poll = malloc(sizeof *c->poll);
		if (c->poll == NULL)
			return -1;
		if (uv_poll_init(c->pool->loop, c->poll, fd) != 0) {
			free(c->poll);
			c->poll = NULL;
			return -1;
		}
		c->poll->data = c;
		c->poll_fd = fd;
		c->poll_events = 0;
		struct stat st;
		c->poll_ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
	}
	if (c->poll_events == events)
		return 0;
	if (uv_poll_start(c->poll, events, on_poll) != 0)
		return -1;
	c->poll_events = events;
	return 0;
}

/* ---- connecting --------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
	struct db_conn *c = container_of(t, struct db_conn, timer);
	if (c->state == DBC_BACKOFF) {
		conn_connect(c);
	} else if (c->state == DBC_CONNECTING || c->state == DBC_RESOLVING) {
		abandon_resolve(c);
		conn_fail(c, "connect timed out");
	}
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Sends every statement's Parse up front; queries pipelined after them see them. */
static int prepare_all(struct db_conn *c)
{
	for (int i = 0; i < Q_COUNT; i++) {
		struct db_query *q = calloc(1, sizeof *q);
		if (q == NULL)
			return -1;
		q->qid = (enum query_id)i;
		if (!PQsendPrepare(c->pg, c->pool->stmt_name[i], queries[i].sql,
				   queries[i].nparams, NULL) ||
		    !PQpipelineSync(c->pg)) {
			free(q);
			return -1;
		}
		q->sync_after = true;
		list_push_back(&c->inflight, &q->link);
		c->ninflight++;
		if (c->receiving == NULL)
			c->receiving = q;
	}
	return 0;
}

static void on_connected(struct db_conn *c)
{
	struct db_pool *p = c->pool;
	uv_timer_stop(&c->timer);
	if (poll_watch(c, UV_READABLE) < 0) { /* while still CONNECTING: checks the socket */
		conn_fail(c, "cannot watch the database socket");
		return;
	}
	PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (p->cfg->prepared && prepare_all(c) < 0) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = DBC_READY;
	c->backoff_ms = 0;
	p->nready++;
	log_info("database connection ready", "conn=%d ready=%d/%d", c->index, p->nready,
		 p->nconns);
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

/* Starts libpq's nonblocking connect. With `host`/`hostaddr` (lists of the same
 * length, the name repeated once per resolved address) libpq skips its own,
 * blocking lookup, still tries every address in turn, and verifies TLS
 * certificates against the name. */
static void connect_now(struct db_conn *c, const char *host, const char *hostaddr)
{
	const char *keys[] = {"dbname",
			      "client_encoding",
			      "fallback_application_name",
			      hostaddr ? "host" : NULL,
			      "hostaddr",
			      NULL};
	const char *vals[] = {
	    c->pool->cfg->database_url, "UTF8", "threadstore", host, hostaddr, NULL};
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL) {
		conn_fail(c, "out of memory");
		return;
	}
	c->state = DBC_CONNECTING;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (poll_watch(c, UV_WRITABLE) < 0)
		conn_fail(c, "cannot watch the database socket");
}

struct db_resolve {
	uv_getaddrinfo_t req;
	struct db_conn *c; /* NULL once the attempt was abandoned */
};

#define RESOLVE_MAX_ADDRS 8

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct db_resolve *r = container_of(req, struct db_resolve, req);
	struct db_conn *c = r->c;
	struct buf hosts = {0}, addrs = {0};
	int n = 0;
	for (struct addrinfo *a = status == 0 ? ai : NULL; a && n < RESOLVE_MAX_ADDRS;
	     a = a->ai_next) {
		char ip[64];
		if (a->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)(void *)a->ai_addr, ip, sizeof ip);
		else if (a->ai_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)(void *)a->ai_addr, ip, sizeof ip);
		else
			continue;
		if (n++ > 0) {
			buf_putc(&hosts, ',');
			buf_putc(&addrs, ',');
		}
		buf_puts(&addrs, ip);
		if (c != NULL)
			buf_puts(&hosts, c->pool->resolve_host);
	}
	buf_putc(&hosts, '\0');
	buf_putc(&addrs, '\0');
	uv_freeaddrinfo(ai);
	free(r);
	if (c != NULL) { /* else: timed out or shut down meanwhile */
		c->resolve = NULL;
		if (n == 0)
			conn_fail(c, status ? uv_strerror(status)
					    : "no address for the database host");
		else
			connect_now(c, hosts.data, addrs.data);
	}
	buf_free(&hosts);
	buf_free(&addrs);
}

static void abandon_resolve(struct db_conn *c)
{
	if (c->resolve == NULL)
		return;
	c->resolve->c = NULL;
	uv_cancel((uv_req_t *)&c->resolve->req);
	c->resolve = NULL;
}

static void conn_connect(struct db_conn *c)
{
	struct db_pool *p = c->pool;
	/* libpq ignores connect_timeout in nonblocking connects: enforce our own. */
	uv_timer_start(&c->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
	if (p->resolve_host == NULL) {
		connect_now(c, NULL, NULL);
		return;
	}
	struct db_resolve *r = calloc(1, sizeof *r);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	if (r == NULL) {
		conn_fail(c, "out of memory");
		return;
	}
	r->c = c;
	c->state = DBC_RESOLVING;
	int rc = uv_getaddrinfo(p->loop, &r->req, on_resolved, p->resolve_host, NULL, &hints);
	if (rc != 0) {
		free(r);
		conn_fail(c, uv_strerror(rc));
		return;
	}
	c->resolve = r;
}

/* A single host name, no hostaddr: the case libpq would resolve by blocking. */
static char *host_to_resolve(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		PQfreemem(err);
		return NULL; /* libpq will report the error when connecting */
	}
	const char *host = NULL, *hostaddr = NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	char *out = NULL;
	struct in6_addr a6;
	if (host != NULL && host[0] != '\0' && host[0] != '/' && host[0] != '@' &&
	    (hostaddr == NULL || hostaddr[0] == '\0') && strchr(host, ',') == NULL &&
	    inet_pton(AF_INET, host, &a6) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		out = strdup(host);
	PQconninfoFree(opts);
	return out;
}

/* ---- failure -------------------------------------------------------------------------- */

static void fail_waiting(struct db_pool *p)
{
	struct list *e;
	while ((e = list_pop_front(&p->waiting)) != NULL) {
		p->nwaiting--;
		finish(container_of(e, struct db_query, link), DB_UNAVAILABLE);
	}
}

/* Drops the connection, fails what was in flight on it, schedules a reconnect.
 * The state changes first: the callbacks of the failed queries may submit new
 * queries, and those must not pick this connection. */
static void conn_fail(struct db_conn *c, const char *why)
{
	struct db_pool *p = c->pool;
	bool was_ready = c->state == DBC_READY;
	if (was_ready)
		p->nready--;
	c->state = p->closing ? DBC_CLOSED : DBC_BACKOFF;
	if (p->closing)
		log_info("database connection closed", "conn=%d", c->index);
	else
		log_pg_error(was_ready ? "database connection lost" : "database connect failed", c,
			     why);
	poll_drop(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (!p->closing) {
		p->reconnects++;
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		/* Jitter spreads the reconnects of many instances after an outage. */
		unsigned delay = c->backoff_ms / 2 + (unsigned)rand() % (c->backoff_ms / 2 + 1);
		uv_timer_start(&c->timer, on_timer, delay, 0);
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
	while ((e = list_pop_front(&failed)) != NULL)
		finish(container_of(e, struct db_query, link), DB_UNAVAILABLE);
	if (p->nready == 0)
		fail_waiting(p); /* nobody could serve them: answer now rather than hang */
}

/* ---- queries ------------------------------------------------------------------------ */

/* Writes one query's messages into libpq's buffer; it is in flight from here. */
static int write_query(struct db_conn *c, struct db_query *q)
{
	const struct query *s = &queries[q->qid];
	int ok = c->pool->cfg->prepared
		     ? PQsendQueryPrepared(c->pg, c->pool->stmt_name[q->qid], q->nparams, q->values,
					   q->lengths, NULL, 0)
					: PQsendQueryParams(c->pg, s->sql, q->nparams, NULL,
							    q->values, q->lengths, NULL, 0);
	if (!ok)
		return -1;
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
		if (write_query(c, last) < 0)
			return -1;
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

static void on_sync_check(uv_check_t *h);

#define BATCH_BYTES 4096

/* Assigns q to c. Returns -1 only with q unlinked (the caller still owns it). */
static int send_query(struct db_conn *c, struct db_query *q)
{
	struct db_pool *p = c->pool;
	const struct query *s = &queries[q->qid];
	if (s->write) {
		/* A write is its own transaction: it commits (or fails) alone. */
		if (write_query(c, q) < 0)
			return -1; /* q is not linked: the caller still owns it */
		c->ninflight++;
		/* From here q belongs to the connection; if the Sync cannot be queued
		 * the connection is broken, and the next flush fails it (and q). */
		if (PQpipelineSync(c->pg))
			q->sync_after = true;
		return 0;
	}
	c->ninflight++;
	size_t bytes = 64 + (p->cfg->prepared ? strlen(s->name) : strlen(s->sql));
	for (int i = 0; i < q->nparams; i++)
		bytes += (size_t)q->lengths[i] + 4;
	if (c->unsent_bytes > 0 && c->unsent_bytes + bytes > BATCH_BYTES && send_batch(c) < 0)
		return -1;
	list_push_back(&c->unsent, &q->link);
	c->unsent_bytes += bytes;
	if (list_empty(&c->sync_link)) {
		list_push_back(&p->needs_sync, &c->sync_link);
		if (!uv_is_active((uv_handle_t *)&p->sync_check))
			uv_check_start(&p->sync_check, on_sync_check);
	}
	return 0;
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
		if (send_query(c, q) < 0) {
			finish(q, DB_UNAVAILABLE);
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
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
		bool last;
		do {
			struct db_query *q = container_of(c->inflight.next, struct db_query, link);
			last = q->sync_after;
			list_remove(&q->link);
			c->ninflight--;
			if (!resend_if_aborted(c, q))
				finish(q, DB_OK);
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
		if (c->state != DBC_READY)
			continue;
		if (send_batch(c) < 0) {
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

struct db_query *db_submit(struct db_pool *p, enum query_id qid, int nparams,
			   const char *const *values, const int *lengths, db_done_fn done,
			   void *owner, enum db_status *status)
{
	if (nparams != queries[qid].nparams) {
		log_error("query refused: wrong parameter count", "statement=%s nparams=%d expected=%d",
			  queries[qid].name, nparams, queries[qid].nparams);
		*status = DB_BAD_PARAMS;
		return NULL;
	}
	struct db_conn *best = NULL;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		if (c->state == DBC_READY && (best == NULL || c->ninflight < best->ninflight))
			best = c;
	}
	if (best == NULL || p->closing) {
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
	if (send_query(best, q) < 0) {
		db_query_free(q);
		conn_fail(best, PQerrorMessage(best->pg));
		*status = DB_UNAVAILABLE;
		return NULL;
	}
	/* Reads go out with their batch's Sync (on_sync_check); a write's own Sync
	 * pushed it already. Never fail the connection from here: that would
	 * complete q (and call its owner back) before the owner has even seen q. */
	if (queries[qid].write && PQflush(best->pg) != 0 &&
	    poll_watch(best, UV_READABLE | UV_WRITABLE) < 0)
		log_warn("cannot watch the database socket", "conn=%d", best->index);
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

int db_pool_init(struct db_pool *p, uv_loop_t *loop, const struct config *cfg)
{
	memset(p, 0, sizeof *p);
	p->loop = loop;
	p->cfg = cfg;
	list_init(&p->waiting);
	list_init(&p->needs_sync);
	p->conns = calloc((size_t)cfg->pool_size, sizeof *p->conns);
	if (p->conns == NULL)
		return -1;
	p->nconns = cfg->pool_size;
	p->resolve_host = host_to_resolve(cfg->database_url);
	for (int i = 0; i < Q_COUNT; i++)
		queries_stmt_name(&queries[i], p->stmt_name[i]);
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
		free(p->resolve_host);
		p->resolve_host = NULL;
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
		abandon_resolve(c);
		if (c->pg != NULL)
			conn_fail(c, "shutting down");
		c->state = DBC_CLOSED;
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	}
	fail_waiting(p);
}
