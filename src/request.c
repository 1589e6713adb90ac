/* request.c: dispatch of each request a conn hands over (auth, route, limits,
 * ids, the key-wait hold), request ids, the access log and metrics, and the
 * request API handlers use. The transport is conn.c's. */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "arena.h"
#include "auth.h"
#include "conn.h"
#include "db.h"
#include "log.h"
#include "server.h"

#define MAX_ID_BYTES 255

static struct server *server_of(const struct conn *c)
{
	return container_of(c->host, struct server, host);
}

struct server *request_server(struct request *r)
{
	return server_of(r->conn);
}

void request_on_release(struct request *r, void (*fn)(void *), void *arg)
{
	arena_defer(&r->conn->arena, fn, arg);
}

void *request_state(struct request *r, size_t size)
{
	if (r->state == NULL)
		r->state = arena_zalloc(&r->conn->arena, size);
	return r->state;
}

bool request_text_ok(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned min;
		unsigned cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false; /* overlong, out of range, or a surrogate */
		i += len;
	}
	return true;
}

/* ---- request ids, access log, metrics --------------------------------------------------- */

static bool valid_request_id(const struct buf *b)
{
	if (b->len == 0 || b->len > 64)
		return false;
	for (size_t i = 0; i < b->len; i++) {
		char ch = b->data[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == ':'))
			return false;
	}
	return true;
}

/* The caller's X-Request-Id when it is sane (it goes into logs), else a new one. */
static void set_request_id(struct request *r)
{
	struct server *s = server_of(r->conn);
	const struct buf *h = &r->conn->in.req.request_id;
	if (valid_request_id(h)) {
		memcpy(r->request_id, h->data, h->len);
		r->request_id[h->len] = '\0';
	} else {
		/* "%08x-%llx" of (instance, sequence), without printf's cost per request. */
		static const char hex[] = "0123456789abcdef";
		char *p = r->request_id;
		for (int i = 7; i >= 0; i--)
			*p++ = hex[(s->instance_id >> (i * 4)) & 15];
		*p++ = '-';
		uint64_t seq = ++s->request_seq;
		int digits = 1;
		while (digits < 16 && (seq >> (digits * 4)) != 0)
			digits++;
		for (int i = digits - 1; i >= 0; i--)
			*p++ = hex[(seq >> (i * 4)) & 15];
		*p = '\0';
	}
}

/* One access-log line and the metrics for a reply about to be written. */
static void account(struct request *r, int status, size_t bytes)
{
	struct server *s = server_of(r->conn);
	uint64_t now = uv_hrtime();
	double secs = (double)(now - r->start_ns) / 1e9;
	int route = router_route_index(r->match.route);
	metrics_request(&s->metrics, route, status, secs, bytes);
	if (!s->cfg->access_log)
		return;
	log_info("request", "method=%s route=%s status=%d bytes=%zu ms=%.3f id=%s",
		 r->http ? llhttp_method_name((llhttp_method_t)r->http->method) : "-",
		 router_route_name(route), status, bytes, secs * 1e3, r->request_id);
}

/* ---- the request API -------------------------------------------------------------------- */

struct reply *request_reply_begin(struct request *r, int status)
{
	return conn_reply(r->conn, status);
}

static bool keep_alive(const struct request *r)
{
	return !server_of(r->conn)->draining;
}

void request_reply_send(struct request *r)
{
	struct conn *c = r->conn;
	struct reply *rep = conn_reply_current(c);
	reply_header(rep, "X-Request-Id", r->request_id);
	if (r->lsn != 0) {
		/* Read-your-writes: sent back as Threadstore-Min-LSN (db_route.h). */
		char lsn[DB_LSN_MAX];
		db_lsn_format(r->lsn, lsn);
		reply_header(rep, "Threadstore-LSN", lsn);
	}
	account(r, rep->status, rep->body_len);
	conn_reply_send(c, keep_alive(r)); /* r is gone after this */
}

void request_stream_send(struct request *r, request_drain_fn next)
{
	struct conn *c = r->conn;
	struct reply *rep = conn_reply_current(c);
	bool first = !r->streaming;
	if (first) {
		r->streaming = true;
		r->stream_status = rep->status;
		r->stream_bytes = 0;
		reply_header(rep, "X-Request-Id", r->request_id);
	}
	r->stream_bytes += rep->body_len;
	r->on_drain = next;
	conn_stream_send(c, first, keep_alive(r));
	if (c->state != CONN_CLOSED && c->in.req.head) {
		/* HEAD: the head is all the client wants; the producer is not asked for more. */
		r->on_drain = NULL;
		request_stream_end(r);
	}
}

void request_stream_end(struct request *r)
{
	struct conn *c = r->conn;
	if (c->state == CONN_CLOSED)
		return;
	account(r, r->stream_status, r->stream_bytes);
	conn_stream_end(c); /* r is gone after this */
}

void request_stream_abort(struct request *r, const char *why)
{
	log_warn("response stream aborted", "id=%s reason=\"%s\"", r->request_id, why);
	conn_close(r->conn); /* no last chunk: the client sees the body is incomplete */
}

void request_reply_empty(struct request *r, int status)
{
	request_reply_begin(r, status);
	request_reply_send(r);
}

static const struct {
	int status;
	enum metrics_reject why;
} rejections[] = {
    {400, MR_BAD_REQUEST},    {401, MR_UNAUTHORIZED},	  {408, MR_REQUEST_TIMEOUT},
    {413, MR_BODY_TOO_LARGE}, {431, MR_HEADER_TOO_LARGE}, {504, MR_QUERY_TIMEOUT},
};

void request_error(struct request *r, int status, const char *code, const char *message)
{
	if (r->streaming) { /* too late for a status: cut the body short */
		request_stream_abort(r, message);
		return;
	}
	struct metrics *m = &server_of(r->conn)->metrics;
	for (size_t i = 0; i < sizeof rejections / sizeof rejections[0]; i++)
		if (rejections[i].status == status && (status != 400 || r->http == NULL))
			metrics_reject(m, rejections[i].why); /* 400: only malformed HTTP */
	struct reply *rep = request_reply_begin(r, status);
	reply_error_body(rep, code, message);
	if (status == 401)
		reply_header(rep, "WWW-Authenticate", "Bearer");
	else if (status == 503)
		reply_header(rep, "Retry-After", "1");
	else if (status == 405 && r->match.route != NULL)
		reply_header(rep, "Allow", r->match.route->allow);
	request_reply_send(r);
}

static void on_query_done(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	struct request *r = owner;
	const struct query *q = &queries[r->query->qid];
	r->query = NULL;
	if (lsn > r->lsn)
		r->lsn = lsn;
	if (q->write && !q->global && st == DB_OK &&
	    (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK))
		feed_note_result(&server_of(r->conn)->feed, r->user.data, r->user.len, res);
	if (st == DB_TIMEOUT) {
		request_error(r, 504, "timeout", "the query ran past its time limit");
		return;
	}
	if (st != DB_OK) {
		metrics_reject(&server_of(r->conn)->metrics, MR_NO_DATABASE);
		request_error(r, 503, "unavailable", "the database connection was lost");
		return;
	}
	r->on_result(r, res);
}

static void submit(struct request *r, enum query_id qid, int n, const char *const *v, const int *l,
		   request_result_fn on_result);

void request_query(struct request *r, enum query_id qid, int n, const char *const *values,
		   const int *lengths, request_result_fn on_result)
{
	if (n < 0 || n + 1 > DB_MAX_PARAMS || n + 1 != queries[qid].nparams ||
	    queries[qid].global) {
		log_error("statement called with the wrong parameter count", "name=%s n=%d",
			  queries[qid].name, n + 1);
		request_error(r, 500, "internal", "internal error");
		return;
	}
	const char *v[DB_MAX_PARAMS];
	int l[DB_MAX_PARAMS];
	v[0] = r->user.data;
	l[0] = (int)r->user.len;
	for (int i = 0; i < n; i++) {
		v[i + 1] = values[i];
		l[i + 1] = lengths[i];
	}
	submit(r, qid, n + 1, v, l, on_result);
}

void request_query_global(struct request *r, enum query_id qid, int n, const char *const *values,
			  const int *lengths, request_result_fn on_result)
{
	if (n < 0 || n > DB_MAX_PARAMS || n != queries[qid].nparams || !queries[qid].global) {
		log_error("statement called with the wrong parameter count", "name=%s n=%d",
			  queries[qid].name, n);
		request_error(r, 500, "internal", "internal error");
		return;
	}
	submit(r, qid, n, values, lengths, on_result);
}

static void submit(struct request *r, enum query_id qid, int n, const char *const *v, const int *l,
		   request_result_fn on_result)
{
	struct server *s = server_of(r->conn);
	r->on_result = on_result;
	enum db_status st;
	r->query = db_route_submit(&s->route, qid, r->min_lsn, n, v, l, on_query_done, r, &st);
	if (r->query != NULL)
		return;
	if (st == DB_QUEUE_FULL) {
		metrics_reject(&s->metrics, MR_QUEUE_FULL);
		request_error(r, 503, "unavailable", "too many queries are waiting; retry shortly");
	} else {
		metrics_reject(&s->metrics, MR_NO_DATABASE);
		request_error(r, 503, "unavailable", "no database connection is available");
	}
}

void request_db_error(struct request *r, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorMessage(res);
	char q[512];
	log_warn("query failed", "sqlstate=%s error=%s", state ? state : "?",
		 log_quote(q, sizeof q, msg, strlen(msg)));
	/* Connection trouble, shutdown, resources, serialization: worth a retry. */
	bool transient = state == NULL || strncmp(state, "08", 2) == 0 ||
			 strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
			 strncmp(state, "40", 2) == 0;
	PQclear(res);
	if (transient)
		request_error(r, 503, "unavailable", "the database is unavailable; retry shortly");
	else
		request_error(r, 500, "internal", "the database rejected the request");
}

/* ---- dispatch --------------------------------------------------------------------------- */

static bool media_type_is_json(const struct http_req *h)
{
	if (h->content_type_bad)
		return false;
	const char *p = buf_rptr(&h->content_type);
	size_t n = buf_rlen(&h->content_type);
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	size_t t = 0;
	while (t < n && p[t] != ';' && p[t] != ' ' && p[t] != '\t')
		t++;
	return t == 16 && strncasecmp(p, "application/json", 16) == 0;
}

/* Decodes a path id into the arena: 1 to 255 bytes of UTF-8 without NUL
 * (PostgreSQL's text takes nothing else). */
static int decode_id(struct request *r, struct span s, struct buf *tmp, struct request_str *out)
{
	buf_reset(tmp);
	if (router_decode(s, false, tmp) < 0 || tmp->len == 0 || tmp->len > MAX_ID_BYTES ||
	    !request_text_ok(tmp->data, tmp->len))
		return -1;
	out->data = arena_strndup(&r->conn->arena, tmp->data, tmp->len);
	out->len = tmp->len;
	return 0;
}

/* Threadstore-Min-LSN: one WAL position, white space around it allowed. */
static int min_lsn(struct request *r, const struct buf *h)
{
	const char *p = buf_rptr(h);
	size_t n = buf_rlen(h);
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return db_lsn_parse(p, n, &r->min_lsn);
}

static void serve(struct request *r)
{
	struct conn *c = r->conn;
	struct server *s = server_of(c);
	const struct http_req *h = &c->in.req;
	int found = router_match(h->url.data ? h->url.data : "", h->url.len, &r->match);

	if (router_is_v1(r->match.path) && r->user.len == 0) {
		const char *tok, *why;
		size_t tlen;
		if (auth_bearer(buf_rptr(&h->authorization), buf_rlen(&h->authorization), &tok,
				&tlen, &why) < 0 ||
		    auth_verify(&s->auth, tok, tlen, time(NULL), &r->user, &why) < 0) {
			unsigned wait = auth_keys_wait_ms(&s->auth);
			if (!r->key_waited && wait > 0) {
				/* Probably a key the auth server just rotated in: hold the
				 * request (bounded) until the fetch that may bring it ends. */
				r->key_waited = true;
				server_wait_for_keys(s, &r->key_wait);
				conn_hold(c, wait);
				return;
			}
			log_info("unauthorized", "reason=\"%s\"", why);
			request_error(r, 401, "unauthorized", why);
			return;
		}
	}
	if (admin_path(r->match.path.p, r->match.path.n)) {
		/* Without a token file the admin paths do not exist. */
		enum admin_auth a = s->admin.enabled
					? admin_check(&s->admin, buf_rptr(&h->authorization),
						      buf_rlen(&h->authorization))
					: ADMIN_MISSING;
		if (!s->admin.enabled || found < 0) {
			request_error(r, 404, "not_found", "no such route");
			return;
		}
		if (a != ADMIN_OK) { /* the token is never logged, only the outcome */
			log_info("admin unauthorized", "reason=%s",
				 a == ADMIN_MISSING ? "no bearer token" : "wrong token");
			if (a == ADMIN_MISSING)
				request_error(r, 401, "unauthorized",
					      "an admin bearer token is required");
			else
				request_error(r, 403, "forbidden", "not an admin token");
			return;
		}
	}
	if (found < 0) {
		request_error(r, 404, "not_found", "no such route");
		return;
	}
	/* HEAD is GET without the body (conn.c leaves the body out). */
	route_handler fn = router_handler(r->match.route, h->head ? HTTP_GET : h->method);
	if (fn == NULL) {
		request_error(r, 405, "method_not_allowed", "method not allowed on this route");
		return;
	}
	if (h->body_too_large) {
		request_error(r, 413, "payload_too_large", "request body is over the limit");
		return;
	}
	if (r->match.route->body && (h->method == HTTP_PUT || h->method == HTTP_POST) &&
	    !media_type_is_json(h)) {
		request_error(r, 415, "unsupported_media_type", "body must be application/json");
		return;
	}
	if (h->min_lsn.len > 0 && min_lsn(r, &h->min_lsn) < 0) {
		request_error(r, 400, "bad_request",
			      "Threadstore-Min-LSN must be a WAL position such as 16/B374D848 "
			      "(a Threadstore-LSN this service returned)");
		return;
	}
	struct buf tmp = {0};
	int bad = (r->match.nargs > 0 && decode_id(r, r->match.args[0], &tmp, &r->id) < 0);
	if (!bad && r->match.nargs > 1) {
		struct request_str item;
		bad = decode_id(r, r->match.args[1], &tmp, &item) < 0;
		if (!bad)
			buf_append(&r->item_id, item.data, item.len);
	}
	buf_free(&tmp);
	if (bad) {
		request_error(r, 400, "bad_request",
			      "ids must be 1 to 255 bytes of UTF-8, percent-encoded");
		return;
	}
	/* Slow readers hold the replies queued to them: past the shared bound, no
	 * new read is run until they drain (writes make small replies). */
	if (h->method == HTTP_GET && router_is_v1(r->match.path) &&
	    c->host->reply_bytes > s->cfg->max_reply_total) {
		metrics_reject(&s->metrics, MR_REPLY_BUDGET);
		request_error(r, 503, "unavailable",
			      "too many replies are waiting for slow readers; retry shortly");
		return;
	}
	fn(r);
}

static void request_cleanup(void *arg)
{
	struct request *r = arg;
	buf_free(&r->user);
	buf_free(&r->item_id);
	buf_free(&r->after);
	buf_free(&r->scratch);
}

static const char *error_code(int status)
{
	switch (status) {
	case 408: return "request_timeout";
	case 431: return "header_too_large";
	case 503: return "unavailable";
	default: return "bad_request";
	}
}

void request_on_conn(struct conn *c)
{
	struct request *r = arena_zalloc(&c->arena, sizeof *r);
	r->conn = c;
	list_init(&r->key_wait);
	arena_defer(&c->arena, request_cleanup, r);
	c->req = r;
	r->start_ns = uv_hrtime();
	set_request_id(r);
	if (c->in.error_status != 0) { /* malformed, too slow, over a limit or the budget */
		int status = c->in.error_status;
		if (status == 503 && c->in.req.over_budget)
			metrics_reject(&server_of(c)->metrics, MR_BODY_BUDGET);
		request_error(r, status, error_code(status),
			      c->in.error_msg ? c->in.error_msg : "malformed HTTP request");
		return;
	}
	r->http = &c->in.req;
	serve(r);
}

static void resume(struct request *r)
{
	list_remove(&r->key_wait);
	conn_unhold(r->conn);
	serve(r);
}

void request_resume(struct conn *c)
{
	if (c->req != NULL)
		resume(c->req); /* the fetch took too long: verify (and refuse) now */
}

void request_keys_settled(void *arg)
{
	struct server *s = arg;
	struct list waiting, *e;
	/* Collect first: serving may hold a request again (not these: each waits once). */
	list_init(&waiting);
	while ((e = list_pop_front(&s->key_waiters)) != NULL)
		list_push_back(&waiting, e);
	while ((e = list_pop_front(&waiting)) != NULL) {
		list_init(e);
		resume(container_of(e, struct request, key_wait));
	}
}

void request_drained(struct conn *c)
{
	struct request *r = c->req;
	if (r == NULL || r->on_drain == NULL)
		return;
	request_drain_fn next = r->on_drain;
	r->on_drain = NULL;
	next(r);
}

void request_conn_closed(struct conn *c)
{
	struct request *r = c->req;
	if (r == NULL)
		return;
	if (r->query) {
		db_cancel(r->query); /* the pool still owns it; its result is dropped */
		r->query = NULL;
	}
	list_remove(&r->key_wait);
	if (r->on_closed != NULL) {
		request_drain_fn fn = r->on_closed;
		r->on_closed = NULL;
		fn(r);
	}
}
