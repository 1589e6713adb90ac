/* conn.c: one client connection: the state machine, read/write, timeouts and
 * the single close path. Requests are handed to the owner (conn_ops); this
 * file knows nothing of routes, users or the database. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define LINGER_MS 2000
/* Input kept while a request is served (pipelined requests behind it). A body
 * being received is fed to the parser as it arrives, so this never needs
 * room for one; past it, reading stops until the request is answered. */
#define PENDING_SLACK (256u << 10)

struct out {
	uv_write_t w;
	struct conn *c;
	struct reply rep;
	size_t held; /* body bytes counted in host->reply_bytes while queued */
};

static void conn_drive(struct conn *c);
static void on_timer(uv_timer_t *t);
static void start_reading(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- the state machine ------------------------------------------------------------------ */

static size_t write_queue(const struct conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

/* The write timer looks at the queue a few times per --write-timeout: a reader
 * that takes bytes, however slowly, is never cut; one that takes none for the
 * whole timeout is. */
static uint64_t write_tick_ms(const struct conn *c)
{
	uint64_t t = c->host->cfg->write_timeout_ms / 4;
	return t < 250 ? 250 : t > 5000 ? 5000 : t;
}

/* The one writer of c->state. Each state decides its timer. */
static void conn_set_state(struct conn *c, enum conn_state st, unsigned hold_ms)
{
	const struct config *cfg = c->host->cfg;
	c->state = st;
	switch (st) {
	case CONN_IDLE: uv_timer_start(&c->timer, on_timer, cfg->idle_timeout_ms, 0); break;
	case CONN_READING: uv_timer_start(&c->timer, on_timer, cfg->request_timeout_ms, 0); break;
	case CONN_KEY_WAIT: uv_timer_start(&c->timer, on_timer, hold_ms, 0); break;
	case CONN_WRITING:
	case CONN_STREAMING:
	case CONN_CLOSING:
		c->write_queued = write_queue(c);
		c->write_progress_ms = uv_now(c->host->loop);
		uv_timer_start(&c->timer, on_timer, write_tick_ms(c), 0);
		break;
	case CONN_LINGER: uv_timer_start(&c->timer, on_timer, LINGER_MS, 0); break;
	case CONN_SERVING:
	case CONN_CLOSED: uv_timer_stop(&c->timer); break;
	}
}

/* ---- closing ---------------------------------------------------------------------------- */

static void free_out(struct out *o)
{
	if (o->held > 0)
		o->c->host->reply_bytes -= o->held;
	reply_free(&o->rep);
	free(o);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct conn_host *host = c->host;
	bool registered = c->state == CONN_CLOSED; /* else conn_accept failed half-way */
	arena_release(&c->arena);
	http_in_free(&c->in);
	buf_free(&c->pending);
	if (c->out)
		free_out(c->out);
	free(c);
	if (registered)
		host->ops->freed(host);
}

void conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	conn_set_state(c, CONN_CLOSED, 0);
	c->host->ops->closed(c); /* drops the request in hand: its query is cancelled */
	c->req = NULL;
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
	conn_set_state(c, CONN_LINGER, 0);
	uv_shutdown_t *req = buf_xcalloc(1, sizeof *req);
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
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
	c->host->draining = true; /* no keep-alive from now on */
	if (c->state == CONN_IDLE && c->writes == 0)
		conn_close(c);
	/* else: the owner answers without keep-alive and the conn closes after it */
}

/* ---- timers ----------------------------------------------------------------------------- */

/* WRITING, STREAMING, CLOSING: has the reader taken anything since the last look? */
static void write_tick(struct conn *c)
{
	uint64_t now = uv_now(c->host->loop);
	size_t q = write_queue(c);
	/* An empty queue while streaming means the producer (the database) is
	 * working: that is not the reader's stall. */
	if (q < c->write_queued || q == 0)
		c->write_progress_ms = now;
	c->write_queued = q;
	if (now - c->write_progress_ms >= c->host->cfg->write_timeout_ms) {
		c->host->write_timeouts++;
		log_info("write timeout", "queued=%zu", q);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, write_tick_ms(c), 0);
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = container_of(t, struct conn, timer);
	switch (c->state) {
	case CONN_IDLE:
	case CONN_LINGER: conn_close(c); break;
	case CONN_READING:
		log_info("request timeout", "%s", "");
		conn_fail(c, 408, "the request did not arrive in time");
		break;
	case CONN_KEY_WAIT:
		conn_set_state(c, CONN_SERVING, 0);
		c->host->ops->resume(c);
		break;
	case CONN_WRITING:
	case CONN_STREAMING:
	case CONN_CLOSING: write_tick(c); break;
	case CONN_SERVING:
	case CONN_CLOSED: break;
	}
}

/* ---- writing ---------------------------------------------------------------------------- */

static void end_request(struct conn *c, bool keep);

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
	if (c->writes > 0)
		return;
	switch (c->state) {
	case CONN_WRITING:
		if (c->host->draining) {
			conn_linger(c);
			break;
		}
		conn_set_state(c, CONN_IDLE, 0);
		conn_drive(c); /* serve what arrived meanwhile */
		break;
	case CONN_STREAMING: c->host->ops->drained(c); break;
	case CONN_CLOSING: conn_linger(c); break;
	default: break; /* a 100 Continue went out */
	}
}

static unsigned framing(const struct conn *c, bool keep)
{
	return (keep ? REPLY_KEEP_ALIVE : 0) | (c->in.req.http10 ? REPLY_HTTP10 : 0) |
	       (c->in.req.head ? REPLY_NO_BODY : 0);
}

/* Writes o's head and body; frees o once written. With try_now, most replies
 * go out in one writev here: no write request, no callback and no epoll
 * re-registration (which libuv does after every uv_write). What the socket
 * does not take now is queued with uv_write. */
static void write_out(struct conn *c, struct out *o, unsigned flags, bool try_now)
{
	uv_buf_t small[64]; /* a 20-row page: 42 parts */
	uv_buf_t *bufs =
	    o->rep.nparts + 2 <= 64 ? small : buf_xcalloc(o->rep.nparts + 2, sizeof *bufs);
	size_t n = reply_finish(&o->rep, flags, bufs);
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
	/* What a slow reader holds (the PGresult a page references), for the
	 * shared bound on it (request.c: --max-reply-total). */
	o->held = o->rep.body_len;
	c->host->reply_bytes += o->held;
	c->writes++;
}

static void send_continue(struct conn *c)
{
	struct out *o = buf_xcalloc(1, sizeof *o);
	reply_init(&o->rep, 100);
	/* reply_finish would add Content-Length; a 100 has only the status line. */
	buf_puts(&o->rep.own, "HTTP/1.1 100 Continue\r\n\r\n");
	uv_buf_t b = uv_buf_init(o->rep.own.data, (unsigned)o->rep.own.len);
	o->c = c;
	if (uv_write(&o->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free_out(o);
		conn_close(c);
		return;
	}
	c->writes++;
}

/* ---- the owner's side ------------------------------------------------------------------- */

struct reply *conn_reply(struct conn *c, int status)
{
	if (c->out == NULL)
		c->out = buf_xcalloc(1, sizeof *c->out);
	else
		reply_free(&c->out->rep);
	reply_init(&c->out->rep, status);
	return &c->out->rep;
}

struct reply *conn_reply_current(struct conn *c)
{
	return c->out != NULL ? &c->out->rep : conn_reply(c, 500);
}

bool conn_can_keep_alive(const struct conn *c)
{
	return c->in.req.keep_alive && !c->in.req.body_too_large && c->in.error_status == 0 &&
	       !c->host->draining;
}

/* Takes the reply under construction (one is begun if the owner did not). */
static struct out *take_out(struct conn *c)
{
	if (c->out == NULL)
		conn_reply(c, 500);
	struct out *o = c->out;
	c->out = NULL;
	return o;
}

/* The request is answered (its last bytes are queued or sent): its memory goes,
 * then the next request is read, or the connection closes once written. */
static void end_request(struct conn *c, bool keep)
{
	arena_release(&c->arena);
	c->req = NULL;
	http_in_drop_body(&c->in); /* a lingering or slow-reading conn holds no budget */
	if (!keep || c->host->draining) {
		if (c->writes == 0)
			conn_linger(c);
		else
			conn_set_state(c, CONN_CLOSING, 0);
		return;
	}
	http_in_next(&c->in);
	c->continue_sent = false;
	c->eof_closes = false;
	if (c->writes > 0) {
		conn_set_state(c, CONN_WRITING, 0); /* the next request waits for the reader */
		return;
	}
	conn_set_state(c, CONN_IDLE, 0);
	conn_drive(c);
}

void conn_reply_send(struct conn *c, bool keep)
{
	if (c->state == CONN_CLOSED)
		return;
	keep = keep && conn_can_keep_alive(c);
	write_out(c, take_out(c), framing(c, keep), true);
	if (c->state != CONN_CLOSED)
		end_request(c, keep);
}

void conn_stream_send(struct conn *c, bool first, bool keep)
{
	if (c->state == CONN_CLOSED)
		return;
	struct out *o = take_out(c);
	/* HTTP/1.0 has no chunked encoding: the body goes bare and the close ends it. */
	o->rep.raw_stream = c->in.req.http10;
	o->rep.kind = first ? REPLY_STREAM_HEAD : REPLY_CHUNK;
	if (first)
		c->stream_keep = keep && conn_can_keep_alive(c) && !o->rep.raw_stream;
	/* Through uv_write (its callback paces the stream), except a HEAD's head,
	 * which is all there is to send. */
	write_out(c, o, framing(c, c->stream_keep), c->in.req.head);
	if (c->state != CONN_CLOSED && !c->in.req.head)
		conn_set_state(c, CONN_STREAMING, 0);
}

void conn_stream_end(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	bool raw = c->in.req.http10;
	/* What the head promised: a drain that began mid-stream (/readyz 503,
	 * replies saying close) must not close a connection the balancer was told
	 * it may reuse; once connections are being closed, end_request closes it. */
	bool keep = c->stream_keep;
	if (!raw && !c->in.req.head) {
		struct out *o = take_out(c);
		reply_free(&o->rep);
		reply_init(&o->rep, 200);
		o->rep.kind = REPLY_CHUNK; /* empty: the last chunk */
		write_out(c, o, framing(c, keep), true);
		if (c->state == CONN_CLOSED)
			return;
	}
	end_request(c, keep);
}

void conn_hold(struct conn *c, unsigned ms)
{
	conn_set_state(c, CONN_KEY_WAIT, ms);
}

void conn_unhold(struct conn *c)
{
	if (c->state == CONN_KEY_WAIT)
		conn_set_state(c, CONN_SERVING, 0);
}

void conn_fail(struct conn *c, int status, const char *message)
{
	c->in.error_status = status; /* never keep-alive after this */
	c->in.error_msg = message;
	conn_set_state(c, CONN_SERVING, 0);
	c->host->ops->request(c);
}

/* ---- reading ---------------------------------------------------------------------------- */

static size_t pending_max(const struct conn *c)
{
	return c->host->cfg->max_header + PENDING_SLACK;
}

/* Parses p[0..n) and hands requests to the owner, one at a time, until it
 * must wait (for bytes, or for the owner's reply). Returns the bytes used. */
static size_t parse(struct conn *c, const char *p, size_t n)
{
	size_t done = 0;
	while ((c->state == CONN_IDLE || c->state == CONN_READING) && done < n) {
		enum http_in_status st;
		done += http_in_feed(&c->in, p + done, n - done, &st);
		if (st == HTTP_IN_MORE) {
			if (c->state == CONN_IDLE && http_in_mid_request(&c->in))
				conn_set_state(c, CONN_READING, 0); /* the request clock starts */
			if (c->in.req.expect_continue && c->in.headers_done && !c->continue_sent) {
				c->continue_sent = true;
				send_continue(c);
			}
			break;
		}
		conn_set_state(c, CONN_SERVING, 0);
		c->host->ops->request(c); /* HTTP_IN_ERROR: c->in.error_status says why */
	}
	return done;
}

/* After parsing: free an empty buffer, read again if there is room, and
 * close after EOF when no request can complete any more. */
static void after_parse(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	if (buf_rlen(&c->pending) == 0)
		buf_free(&c->pending); /* idle connections hold no buffer */
	if (!c->reading && buf_rlen(&c->pending) <= pending_max(c))
		start_reading(c);
	/* After EOF no more bytes come: a half-read request can never finish. */
	if ((c->state == CONN_IDLE || c->state == CONN_READING) && c->eof)
		conn_close(c);
}

/* Serves what is pending. */
static void conn_drive(struct conn *c)
{
	if (c->driving)
		return; /* a synchronous reply inside ops->request: the loop in parse goes on */
	c->driving = true;
	while (c->state == CONN_IDLE || c->state == CONN_READING) {
		size_t used = parse(c, buf_rptr(&c->pending), buf_rlen(&c->pending));
		if (used == 0)
			break;
		if (c->state == CONN_CLOSED)
			break;
		buf_consume(&c->pending, used);
	}
	after_parse(c);
	c->driving = false;
}

/* All reads share one buffer: libuv calls alloc then read for one handle at a
 * time, and on_read copies out what it keeps, so 10,000 idle connections cost
 * no read buffers. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	struct conn *c = h->data;
	*b = uv_buf_init(c->host->readbuf, sizeof c->host->readbuf);
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
		if (c->eof_closes && (c->state == CONN_STREAMING || c->state == CONN_SERVING)) {
			conn_close(c); /* an endless stream's reader left */
			return;
		}
		if (c->state == CONN_IDLE || c->state == CONN_READING)
			conn_drive(c); /* serves what is complete, then closes */
		return;
	}
	if (c->state == CONN_LINGER)
		return; /* discard: we are only waiting for the FIN */
	if (buf_rlen(&c->pending) == 0 && (c->state == CONN_IDLE || c->state == CONN_READING) &&
	    !c->driving) {
		/* The usual case: parse straight from the shared read buffer, and
		 * keep only what is left over (a pipelined request behind a reply). */
		c->driving = true;
		size_t used = parse(c, b->base, (size_t)nread);
		if (c->state != CONN_CLOSED && used < (size_t)nread)
			buf_append(&c->pending, b->base + used, (size_t)nread - used);
		c->driving = false;
		if (c->state == CONN_IDLE || c->state == CONN_READING)
			conn_drive(c); /* a reply went out synchronously: serve the leftovers */
		else
			after_parse(c);
		return;
	}
	buf_append(&c->pending, b->base, (size_t)nread);
	if (c->state == CONN_IDLE || c->state == CONN_READING) {
		conn_drive(c);
		return;
	}
	/* A request is being served: keep reading (to see a hang-up) but bound
	 * what pipelined bytes may pile up. */
	if (buf_rlen(&c->pending) > pending_max(c)) {
		uv_read_stop(s);
		c->reading = false;
	}
}

static void start_reading(struct conn *c)
{
	if (c->reading || c->eof || c->state == CONN_CLOSED)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

struct conn *conn_accept(struct conn_host *host, uv_os_sock_t fd)
{
	struct conn *c = buf_xcalloc(1, sizeof *c);
	c->host = host;
	c->tcp.data = c;
	c->timer.data = c;
	list_init(&c->link);
	http_in_init(&c->in, host->cfg->max_header, host->cfg->max_body, &host->budget);
	if (uv_tcp_init(host->loop, &c->tcp) != 0) {
		close(fd);
		free(c);
		return NULL;
	}
	uv_timer_init(host->loop, &c->timer); /* cannot fail */
	c->open_handles = 2;
	if (uv_tcp_open(&c->tcp, fd) != 0) {
		close(fd);
		c->state = CONN_IDLE; /* never registered: on_handle_closed just frees */
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return NULL;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	conn_set_state(c, CONN_IDLE, 0);
	start_reading(c);
	return c;
}
