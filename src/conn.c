/* conn.c: one client connection: state, read/write, timeouts, the single
 * close path, and dispatch of each parsed request to its handler. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "db.h"
#include "log.h"
#include "server.h"

#define MAX_ID_BYTES 255
#define LINGER_MS 2000
/* Stop serving pipelined requests while this much output waits for a slow reader. */
#define MAX_OUTPUT_QUEUED (4u << 20)

struct out {
	uv_write_t w;
	struct conn *c;
	struct reply rep;
};

static void conn_drive(struct conn *c);
static void arm_timer(struct conn *c);
static void start_reading(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static struct conn *from_request(struct request *r)
{
	return container_of(r, struct conn, req);
}

struct server *request_server(struct request *r)
{
	return from_request(r)->srv;
}

static void conn_set_state(struct conn *c, enum conn_state st)
{
	c->state = st;
	arm_timer(c);
}

/* ---- closing -------------------------------------------------------------------------- */

static void request_clear(struct request *r)
{
	buf_free(&r->user);
	buf_free(&r->id);
	buf_free(&r->item_id);
	buf_free(&r->after);
	buf_free(&r->scratch);
	memset(r, 0, sizeof *r);
}

static void free_out(struct out *o)
{
	reply_free(&o->rep);
	free(o);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct server *s = c->srv;
	http_in_free(&c->in);
	buf_free(&c->pending);
	request_clear(&c->req);
	if (c->out)
		free_out(c->out);
	free(c);
	server_conn_closed(s);
}

void conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	if (c->query) {
		db_cancel(c->query); /* the pool still owns it; its result is dropped */
		c->query = NULL;
	}
	list_remove(&c->link);
	list_remove(&c->key_wait);
	c->srv->nconns--;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	if (status < 0 || c->eof)
		conn_close(c);
	/* else wait for the peer's FIN (on_read) or the linger timer */
}

/* After the last response: FIN first, so a peer still sending (an unread 413
 * body, a pipelined request) does not get a RST that destroys our response. */
static void conn_linger(struct conn *c)
{
	if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
		return;
	if (c->eof) {
		conn_close(c);
		return;
	}
	conn_set_state(c, CONN_LINGER);
	uv_shutdown_t *req = malloc(sizeof *req);
	if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		free(req);
		conn_close(c);
		return;
	}
	req->data = c;
	if (!c->reading) /* read (and discard) until the FIN */
		c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

void conn_shutdown(struct conn *c)
{
	if (c->state == CONN_READING && !http_in_mid_request(&c->in) && c->writes == 0)
		conn_close(c);
	/* else: request_done sees srv->draining and closes after the response */
}

/* ---- timers --------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->state == CONN_READING && http_in_mid_request(&c->in)) {
		log_info("request timeout", "%s", "");
		c->in.error_status = 408; /* never keep a half-read connection */
		request_error(&c->req, 408, "request_timeout",
			      "the request did not arrive in time");
		return;
	}
	if (c->state == CONN_BUSY && !list_empty(&c->key_wait)) {
		conn_resume(c); /* the fetch took too long: verify (and refuse) now */
		return;
	}
	if (c->state == CONN_READING || c->state == CONN_LINGER)
		conn_close(c);
}

static void arm_timer(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	switch (c->state) {
	case CONN_READING:
		c->request_timer = http_in_mid_request(&c->in);
		uv_timer_start(&c->timer, on_timer,
			       c->request_timer ? cfg->request_timeout_ms : cfg->idle_timeout_ms,
			       0);
		break;
	case CONN_LINGER: uv_timer_start(&c->timer, on_timer, LINGER_MS, 0); break;
	default: uv_timer_stop(&c->timer); break;
	}
}

/* ---- writing -------------------------------------------------------------------------- */

static void on_write(uv_write_t *w, int status)
{
	struct out *o = container_of(w, struct out, w);
	struct conn *c = o->c;
	free_out(o);
	c->writes--;
	if (c->state == CONN_CLOSED)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->on_drain != NULL && c->writes == 0) {
		/* A streamed response: the client took the last chunk, make the next. */
		request_drain_fn next = c->on_drain;
		c->on_drain = NULL;
		next(&c->req);
		return;
	}
	if (c->close_after_write) {
		if (c->writes == 0)
			conn_linger(c);
		return;
	}
	if (c->state == CONN_READING)
		conn_drive(c); /* output drained: serve what was held back */
}

/* Writes o's head and body; frees o once written. With try_now, most replies
 * go out in one writev here: no write request, no callback, and no epoll
 * re-registration (which libuv does after every uv_write). What the socket
 * does not take now is queued with uv_write. */
static void write_raw(struct conn *c, struct out *o, bool keep_alive, bool try_now)
{
	uv_buf_t small[8];
	uv_buf_t *bufs =
	    o->rep.nparts + 2 <= 8 ? small : malloc((o->rep.nparts + 2) * sizeof *bufs);
	if (bufs == NULL) {
		free_out(o);
		conn_close(c);
		return;
	}
	size_t n = reply_finish(&o->rep, keep_alive, bufs);
	uv_buf_t *rest = bufs;
	if (try_now) {
		int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
		if (w < 0 && w != UV_EAGAIN) {
			if (bufs != small)
				free(bufs);
			free_out(o);
			conn_close(c);
			return;
		}
		size_t done = w > 0 ? (size_t)w : 0;
		while (n > 0 && done >= rest->len) {
			done -= rest->len;
			rest++;
			n--;
		}
		if (n == 0) {
			if (bufs != small)
				free(bufs);
			free_out(o);
			return;
		}
		rest->base += done;
		rest->len -= done;
	}
	o->c = c;
	/* uv_write copies the buf array, not the bytes: o keeps those alive. */
	int rc = uv_write(&o->w, (uv_stream_t *)&c->tcp, rest, (unsigned)n, on_write);
	if (bufs != small)
		free(bufs);
	if (rc != 0) {
		free_out(o);
		conn_close(c);
		return;
	}
	c->writes++;
}

static void send_continue(struct conn *c)
{
	struct out *o = calloc(1, sizeof *o);
	if (o == NULL)
		return;
	reply_init(&o->rep, 100);
	/* reply_finish would add Content-Length; a 100 has only the status line. */
	buf_puts(&o->rep.own, "HTTP/1.1 100 Continue\r\n\r\n");
	uv_buf_t b = uv_buf_init(o->rep.own.data, (unsigned)o->rep.own.len);
	o->c = c;
	if (uv_write(&o->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free_out(o);
		return;
	}
	c->writes++;
}

/* ---- request ids, access log, metrics ------------------------------------------------- */

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
static void request_set_id(struct conn *c)
{
	struct request *r = &c->req;
	const struct buf *h = &c->in.req.request_id;
	if (valid_request_id(h)) {
		memcpy(r->request_id, h->data, h->len);
		r->request_id[h->len] = '\0';
	} else {
		snprintf(r->request_id, sizeof r->request_id, "%08x-%llx", c->srv->instance_id,
			 (unsigned long long)++c->srv->request_seq);
	}
}

/* One access-log line and the metrics for a reply about to be written. */
static void account(struct conn *c, int status, size_t bytes)
{
	struct request *r = &c->req;
	uint64_t now = uv_hrtime();
	double secs = r->start_ns ? (double)(now - r->start_ns) / 1e9 : 0;
	int route = router_route_index(r->match.route);
	metrics_request(&c->srv->metrics, route, status, secs, bytes);
	if (!c->srv->cfg->access_log)
		return;
	log_info("request", "method=%s route=%s status=%d bytes=%zu ms=%.3f id=%s",
		 r->http ? llhttp_method_name((llhttp_method_t)r->http->method) : "-",
		 router_route_name(route), status, bytes, secs * 1e3, r->request_id);
}

/* ---- the request API ------------------------------------------------------------------ */

struct reply *request_reply_begin(struct request *r, int status)
{
	struct conn *c = from_request(r);
	if (c->out == NULL) {
		c->out = calloc(1, sizeof *c->out);
		if (c->out == NULL)
			abort(); /* see buf.c */
	} else {
		reply_free(&c->out->rep);
	}
	reply_init(&c->out->rep, status);
	return &c->out->rep;
}

/* The current request is answered: send, then read the next or close. */
/* The request is answered (its last bytes are queued): read the next one, or
 * close once the writes are done. */
static void request_done(struct conn *c, bool keep)
{
	request_clear(&c->req);
	c->key_waited = false;
	c->streaming = false;
	c->on_drain = NULL;
	if (!keep) {
		c->close_after_write = true;
		conn_set_state(c, CONN_BUSY); /* no timer, no parsing: only the write is left */
		if (c->writes == 0)
			conn_linger(c);
		return;
	}
	http_in_next(&c->in);
	c->continue_sent = false;
	conn_set_state(c, CONN_READING);
	conn_drive(c);
}

static bool keep_alive(struct conn *c)
{
	bool framing_ok = !c->in.req.body_too_large && c->in.error_status == 0;
	return c->in.req.keep_alive && framing_ok && !c->srv->draining;
}

/* Takes the reply under construction; NULL (and freed) if the conn is gone. */
static struct out *take_out(struct conn *c)
{
	struct out *o = c->out;
	c->out = NULL;
	if (c->state != CONN_CLOSED)
		return o;
	free_out(o);
	return NULL;
}

void request_reply_send(struct request *r)
{
	struct conn *c = from_request(r);
	struct out *o = take_out(c);
	if (o == NULL)
		return;
	bool keep = keep_alive(c);
	if (r->request_id[0] == '\0')
		request_set_id(c); /* answered before dispatch (a malformed request) */
	reply_header(&o->rep, "X-Request-Id", r->request_id);
	account(c, o->rep.status, o->rep.body_len);
	write_raw(c, o, keep, true);
	if (c->state != CONN_CLOSED)
		request_done(c, keep);
}

void request_stream_send(struct request *r, request_drain_fn next)
{
	struct conn *c = from_request(r);
	struct out *o = take_out(c);
	if (o == NULL)
		return;
	/* HTTP/1.0 has no chunked encoding: send the body bare and close after it. */
	o->rep.raw_stream = llhttp_get_http_minor(&c->in.parser) == 0;
	if (!c->streaming) {
		c->streaming = true;
		c->stream_status = o->rep.status;
		c->stream_bytes = 0;
		c->stream_keep = keep_alive(c) && !o->rep.raw_stream;
		o->rep.kind = REPLY_STREAM_HEAD;
		reply_header(&o->rep, "X-Request-Id", r->request_id);
	} else {
		o->rep.kind = REPLY_CHUNK;
	}
	c->stream_bytes += o->rep.body_len;
	c->on_drain = next;
	/* Always through uv_write: its callback is what paces the stream. */
	write_raw(c, o, c->stream_keep, false);
}

void request_stream_end(struct request *r)
{
	struct conn *c = from_request(r);
	if (c->state == CONN_CLOSED)
		return;
	bool raw = llhttp_get_http_minor(&c->in.parser) == 0;
	/* What the head promised: a drain that began mid-stream must not close a
	 * connection the balancer was told it may reuse. */
	bool keep = c->stream_keep;
	account(c, c->stream_status, c->stream_bytes);
	if (!raw) {
		request_reply_begin(r, c->stream_status);
		struct out *o = c->out;
		c->out = NULL;
		o->rep.kind = REPLY_CHUNK; /* empty: the last chunk */
		write_raw(c, o, keep, true);
		if (c->state == CONN_CLOSED)
			return;
	}
	request_done(c, keep);
}

void request_stream_abort(struct request *r, const char *why)
{
	struct conn *c = from_request(r);
	log_warn("response stream aborted", "id=%s reason=\"%s\"", r->request_id, why);
	conn_close(c); /* no last chunk: the client sees the body is incomplete */
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
	if (from_request(r)->streaming) { /* too late for a status: cut the body short */
		request_stream_abort(r, message);
		return;
	}
	struct metrics *m = &from_request(r)->srv->metrics;
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

static void on_query_done(void *owner, PGresult *res, enum db_status st)
{
	struct conn *c = owner;
	c->query = NULL;
	if (st == DB_TIMEOUT) {
		request_error(&c->req, 504, "timeout", "the query ran past its time limit");
		return;
	}
	if (st != DB_OK) {
		metrics_reject(&c->srv->metrics, MR_NO_DATABASE);
		request_error(&c->req, 503, "unavailable", "the database connection was lost");
		return;
	}
	c->req.on_result(&c->req, res);
}

void request_query(struct request *r, enum query_id qid, int n, const char *const *values,
		   const int *lengths, request_result_fn on_result)
{
	struct conn *c = from_request(r);
	const char *v[DB_MAX_PARAMS];
	int l[DB_MAX_PARAMS];
	v[0] = r->user.data;
	l[0] = (int)r->user.len;
	for (int i = 0; i < n && i + 1 < DB_MAX_PARAMS; i++) {
		v[i + 1] = values[i];
		l[i + 1] = lengths[i];
	}
	r->on_result = on_result;
	enum db_status st;
	c->query = db_submit(&c->srv->pool, qid, n + 1, v, l, on_query_done, c, &st);
	if (c->query != NULL)
		return;
	if (st == DB_BAD_PARAMS) { /* a bug, logged by db_submit */
		request_error(r, 500, "internal", "internal error");
		return;
	}
	if (st == DB_QUEUE_FULL) {
		metrics_reject(&c->srv->metrics, MR_QUEUE_FULL);
		request_error(r, 503, "unavailable", "too many queries are waiting; retry shortly");
	} else {
		metrics_reject(&c->srv->metrics, MR_NO_DATABASE);
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

/* ---- dispatch ------------------------------------------------------------------------- */

static bool media_type_is_json(const struct buf *ct)
{
	const char *p = buf_rptr(ct);
	size_t n = buf_rlen(ct);
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	size_t t = 0;
	while (t < n && p[t] != ';' && p[t] != ' ' && p[t] != '\t')
		t++;
	return t == 16 && strncasecmp(p, "application/json", 16) == 0;
}

static int decode_id(struct span s, struct buf *out)
{
	if (router_decode(s, false, out) < 0 || out->len == 0 || out->len > MAX_ID_BYTES ||
	    memchr(out->data, '\0', out->len) != NULL)
		return -1;
	return 0;
}

static void serve(struct conn *c)
{
	struct request *r = &c->req;
	const struct http_req *h = &c->in.req;
	r->http = h;
	if (r->start_ns == 0) { /* not again when a held request is resumed */
		r->start_ns = uv_hrtime();
		request_set_id(c);
	}
	int found = router_match(h->url.data ? h->url.data : "", h->url.len, &r->match);

	if (router_is_v1(r->match.path)) {
		const char *tok, *why;
		size_t tlen;
		if (auth_bearer(buf_rptr(&h->authorization), buf_rlen(&h->authorization), &tok,
				&tlen, &why) < 0 ||
		    auth_verify(&c->srv->auth, tok, tlen, time(NULL), &r->user, &why) < 0) {
			unsigned wait = auth_keys_wait_ms(&c->srv->auth);
			if (!c->key_waited && wait > 0) {
				/* Probably a key the auth server just rotated in: hold the
				 * request (bounded) until the fetch that may bring it ends. */
				c->key_waited = true;
				server_wait_for_keys(c->srv, &c->key_wait);
				uv_timer_start(&c->timer, on_timer, wait, 0);
				return;
			}
			log_info("unauthorized", "reason=\"%s\"", why);
			request_error(r, 401, "unauthorized", why);
			return;
		}
	}
	if (found < 0) {
		request_error(r, 404, "not_found", "no such route");
		return;
	}
	route_handler fn = router_handler(r->match.route, h->method);
	if (fn == NULL) {
		request_error(r, 405, "method_not_allowed", "method not allowed on this route");
		return;
	}
	if (h->body_too_large) {
		request_error(r, 413, "payload_too_large", "request body is over the limit");
		return;
	}
	if (r->match.route->body && (h->method == HTTP_PUT || h->method == HTTP_POST) &&
	    !media_type_is_json(&h->content_type)) {
		request_error(r, 415, "unsupported_media_type", "body must be application/json");
		return;
	}
	if ((r->match.nargs > 0 && decode_id(r->match.args[0], &r->id) < 0) ||
	    (r->match.nargs > 1 && decode_id(r->match.args[1], &r->item_id) < 0)) {
		request_error(r, 400, "bad_request", "ids must be 1 to 255 bytes, percent-encoded");
		return;
	}
	fn(r);
}

void conn_resume(struct conn *c)
{
	list_remove(&c->key_wait);
	uv_timer_stop(&c->timer);
	if (c->state != CONN_BUSY)
		return;
	c->driving = true; /* a synchronous reply must not start the next request here */
	serve(c);
	c->driving = false;
	if (c->state == CONN_READING)
		conn_drive(c);
}

/* Parses what is pending and serves requests, one at a time, until it must wait. */
static void conn_drive(struct conn *c)
{
	if (c->driving)
		return; /* a synchronous reply inside serve(): the loop below continues */
	c->driving = true;
	while (c->state == CONN_READING && buf_rlen(&c->pending) > 0) {
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > MAX_OUTPUT_QUEUED)
			break; /* on_write calls us again once the client has read */
		enum http_in_status st;
		size_t used =
		    http_in_feed(&c->in, buf_rptr(&c->pending), buf_rlen(&c->pending), &st);
		buf_consume(&c->pending, used);
		if (st == HTTP_IN_MORE) {
			if (c->in.req.expect_continue && c->in.headers_done && !c->continue_sent) {
				c->continue_sent = true;
				send_continue(c);
			}
			if (!c->request_timer && http_in_mid_request(&c->in))
				arm_timer(c); /* the request clock starts with its first byte */
			break;
		}
		conn_set_state(c, CONN_BUSY);
		if (st == HTTP_IN_ERROR) {
			int status = c->in.error_status;
			request_error(&c->req, status,
				      status == 431 ? "header_too_large" : "bad_request",
				      c->in.error_msg ? c->in.error_msg : "malformed HTTP request");
			break;
		}
		serve(c);
	}
	if (buf_rlen(&c->pending) == 0)
		buf_free(&c->pending); /* idle connections hold no buffer */
	/* Reading stopped while too much input waited (on_read): resume once it is
	 * worked down, unless output is what we are waiting for. */
	if (c->state == CONN_READING && !c->reading && !c->eof &&
	    buf_rlen(&c->pending) <= c->srv->cfg->max_header + c->srv->cfg->max_body &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= MAX_OUTPUT_QUEUED)
		start_reading(c);
	/* After EOF no more bytes come: a half-read request can never finish.
	 * While only draining, an idle connection stays open: the balancer may
	 * still send a request on it, which gets an answer with Connection: close. */
	if (c->state == CONN_READING && c->writes == 0 &&
	    (c->eof || (c->srv->closing_connections && !http_in_mid_request(&c->in))))
		conn_close(c);
	c->driving = false;
}

/* ---- reading -------------------------------------------------------------------------- */

/* All reads share one buffer: libuv calls alloc then read for one handle at a
 * time, and on_read copies out what it keeps, so 10,000 idle connections cost
 * no read buffers. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	struct conn *c = h->data;
	*b = uv_buf_init(c->srv->readbuf, sizeof c->srv->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF || c->state == CONN_LINGER) {
			conn_close(c);
			return;
		}
		c->eof = true;
		uv_read_stop(s);
		c->reading = false;
		if (c->state == CONN_READING)
			conn_drive(c); /* serves what is complete, then closes */
		return;
	}
	if (c->state == CONN_LINGER)
		return; /* discard: we are only waiting for the FIN */
	buf_append(&c->pending, b->base, (size_t)nread);
	/* While a request is served, keep reading (to see a hang-up) but bound what
	 * pipelined bytes may pile up. */
	const struct config *cfg = c->srv->cfg;
	if (buf_rlen(&c->pending) > cfg->max_header + cfg->max_body) {
		uv_read_stop(s);
		c->reading = false;
	}
	if (c->state == CONN_READING)
		conn_drive(c);
}

static void start_reading(struct conn *c)
{
	if (c->reading || c->eof || c->state != CONN_READING)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

int conn_accept(struct server *srv, uv_stream_t *listener)
{
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return -1;
	c->srv = srv;
	if (uv_tcp_init(srv->loop, &c->tcp) != 0) {
		free(c);
		return -1;
	}
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	uv_timer_init(srv->loop, &c->timer); /* cannot fail */
	list_init(&c->link);
	list_init(&c->key_wait);
	http_in_init(&c->in, srv->cfg->max_header, srv->cfg->max_body);
	list_push_back(&srv->conns, &c->link);
	srv->nconns++;
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return -1;
	}
	if (srv->nconns > srv->cfg->max_connections) {
		/* Say why, then close: a bare reset looks like a network fault. */
		metrics_reject(&srv->metrics, MR_MAX_CONNECTIONS);
		c->in.error_status = 503; /* never keep-alive */
		conn_set_state(c, CONN_BUSY);
		request_error(&c->req, 503, "unavailable", "too many connections");
		return -1;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	conn_set_state(c, CONN_READING);
	start_reading(c);
	return 0;
}
