/* loadgen.c: connections and the run's timeline (see loadgen.h). */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "list.h" /* container_of */

#define LG_NS 1000000000ull
#define LG_TICK_MS 20
#define LG_RECONNECT_MS 50

const char *const lg_workload_names[LGW_COUNT] = {
    [LGW_W1] = "w1",
    [LGW_W2] = "w2",
    [LGW_W2_BIG_FIRST] = "w2-big-first",
    [LGW_W2_BIG_START] = "w2-big-start",
    [LGW_W2_BIG_END] = "w2-big-end",
    [LGW_W3] = "w3",
    [LGW_MIX] = "mix",
    [LGW_H_LIST] = "h-list",
    [LGW_H_FILTER] = "h-filter",
    [LGW_H_COUNT] = "h-count",
    [LGW_H_COUNT_ALL] = "h-count-all",
    [LGW_H_SEARCH] = "h-search",
};
const char *const lg_op_names[LGO_COUNT] = {
    [LGO_LIST_THREADS] = "w1 list threads",	  [LGO_OPEN_THREAD] = "w2 open thread",
    [LGO_BIG_FIRST] = "w2 1M thread, first page", [LGO_BIG_START] = "w2 1M thread, page at start",
    [LGO_BIG_END] = "w2 1M thread, page at end",  [LGO_CHAT_TURN] = "w3 chat turn",
    [LGO_H_LIST] = "history: by activity",	  [LGO_H_FILTER] = "history: metadata filter",
    [LGO_H_COUNT] = "history: count, filtered",	  [LGO_H_COUNT_ALL] = "history: count",
    [LGO_H_SEARCH] = "history: search",
};
const char *const lg_kind_names[LGK_COUNT] = {
    [LGK_LIST_THREADS] = "GET threads",
    [LGK_LIST_ITEMS] = "GET items",
    [LGK_ADD_ITEM] = "POST item",
    [LGK_COUNT_THREADS] = "GET threads/count",
    [LGK_SEARCH] = "GET search",
};

static void conn_connect(struct lg_conn *c);
static void conn_close(struct lg_conn *c);
static void conn_schedule(struct lg_conn *c, uint64_t now, bool from_timer);
static void on_conn_timer(uv_timer_t *t);

static bool in_window(const struct lg *lg, uint64_t due)
{
	return due >= lg->t_measure && due < lg->t_end;
}

static bool big_workload(enum lg_workload w)
{
	return w == LGW_W2_BIG_FIRST || w == LGW_W2_BIG_START || w == LGW_W2_BIG_END;
}

static bool history_workload(enum lg_workload w)
{
	return w >= LGW_H_LIST && w <= LGW_H_SEARCH;
}

/* ---- one operation ---------------------------------------------------------------------- */

static enum lg_op pick_op(struct lg_conn *c)
{
	switch (c->lg->o.workload) {
	case LGW_W1: return LGO_LIST_THREADS;
	case LGW_W2: return LGO_OPEN_THREAD;
	case LGW_W2_BIG_FIRST: return LGO_BIG_FIRST;
	case LGW_W2_BIG_START: return LGO_BIG_START;
	case LGW_W2_BIG_END: return LGO_BIG_END;
	case LGW_W3: return LGO_CHAT_TURN;
	case LGW_H_LIST: return LGO_H_LIST;
	case LGW_H_FILTER: return LGO_H_FILTER;
	case LGW_H_COUNT: return LGO_H_COUNT;
	case LGW_H_COUNT_ALL: return LGO_H_COUNT_ALL;
	case LGW_H_SEARCH: return LGO_H_SEARCH;
	case LGW_MIX:
	case LGW_COUNT: break;
	}
	/* The mix: what a ChatKit front end does most is list threads, then open one, then chat. */
	uint32_t r = wl_rand_below(&c->rng, 100);
	return r < 60 ? LGO_LIST_THREADS : r < 90 ? LGO_OPEN_THREAD : LGO_CHAT_TURN;
}

/* The cursor for a page of the long thread: after an item among the first 1000, or among
 * the last 1000 with a full page after it. */
static unsigned big_cursor(struct lg_conn *c, bool at_end)
{
	unsigned n = c->lg->o.shape.big_items;
	unsigned span = n > 1021 ? 1000 : (n > 21 ? n - 21 : 1);
	unsigned k = wl_rand_below(&c->rng, span);
	if (!at_end)
		return k;
	return n > 21 + k ? n - 21 - k : 0;
}

/* Builds the request for c->op at c->step into c->out. */
static void build_request(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	struct wl_target tg = {lg->hostport, lg->tokens[c->user].data};
	const struct wl_shape *s = &lg->o.shape;
	char tid[16], after[16];
	buf_reset(&c->out);
	c->expect = 200;
	switch (c->op) {
	case LGO_LIST_THREADS:
		c->kind = LGK_LIST_THREADS;
		wl_req_list_threads(&c->out, &tg);
		return;
	case LGO_OPEN_THREAD:
		c->kind = LGK_LIST_ITEMS;
		wl_thread_id(s, c->user, c->thread, tid);
		wl_req_list_items(&c->out, &tg, tid, NULL, 0);
		return;
	case LGO_BIG_FIRST:
	case LGO_BIG_START:
	case LGO_BIG_END:
		c->kind = LGK_LIST_ITEMS;
		if (c->op == LGO_BIG_FIRST) {
			wl_req_list_items(&c->out, &tg, lg->big_thread, NULL, 0);
		} else {
			wl_big_item_id(big_cursor(c, c->op == LGO_BIG_END), after);
			wl_req_list_items(&c->out, &tg, lg->big_thread, after, 0);
		}
		return;
	case LGO_CHAT_TURN:
		wl_thread_id(s, c->user, c->thread, tid);
		if (c->step < 2) {
			c->kind = LGK_ADD_ITEM;
			c->expect = 201;
			wl_req_add_item(&c->out, &tg, tid, c->step == 1, &c->rng);
		} else {
			/* What the ChatKit server reads back for the model: the newest items. */
			c->kind = LGK_LIST_ITEMS;
			wl_req_list_items(&c->out, &tg, tid, NULL, 1);
		}
		return;
	case LGO_H_LIST:
	case LGO_H_FILTER:
	case LGO_H_COUNT:
	case LGO_H_COUNT_ALL:
	case LGO_H_SEARCH:
		c->kind = c->op == LGO_H_SEARCH				      ? LGK_SEARCH
			  : c->op == LGO_H_COUNT || c->op == LGO_H_COUNT_ALL ? LGK_COUNT_THREADS
									      : LGK_LIST_THREADS;
		wl_req_history(&c->out, &tg, (int)(c->op - LGO_H_LIST), &c->rng);
		return;
	case LGO_COUNT: break;
	}
	abort();
}

static void on_write(uv_write_t *req, int status);

static void conn_send(struct lg_conn *c, uint64_t due, uint64_t now)
{
	build_request(c);
	c->req_due = due;
	c->req_sent = now;
	c->state = LGC_BUSY;
	c->lg->busy++;
	c->writing = true;
	c->replied = false;
	uv_buf_t b = uv_buf_init(c->out.data + c->out.off, (unsigned)buf_rlen(&c->out));
	int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc != 0) {
		c->writing = false;
		if (in_window(c->lg, c->op_due)) {
			c->lg->st.err_reset++;
			c->lg->st.ops_failed++;
		}
		conn_close(c);
	}
}

/* Starts the next operation, due at `due` (open loop) or now (closed loop). from_timer:
 * the connection was idle, waiting for this due time, so any lateness is the client's
 * (timer granularity, a busy loop) and is recorded as send lag. */
static void conn_start_op(struct lg_conn *c, uint64_t due, uint64_t now, bool from_timer)
{
	c->op = pick_op(c);
	c->step = 0;
	c->thread = c->lg->o.shape.threads ? wl_rand_below(&c->rng, c->lg->o.shape.threads) : 0;
	/* Open loop: from when it was due; if it is sent early (timers tick in ms), from now. */
	c->op_due = due > now ? now : due;
	if (from_timer && in_window(c->lg, c->op_due))
		hist_record(&c->lg->st.send_lag, (now - c->op_due) / 1000);
	conn_send(c, c->op_due, now);
}

/* The connection is idle: start what is owed now, or wait for it. */
static void conn_schedule(struct lg_conn *c, uint64_t now, bool from_timer)
{
	struct lg *lg = c->lg;
	if (c->state != LGC_READY || (lg->phase != LGP_RUN && lg->phase != LGP_DRAIN))
		return;
	if (lg->interval_ns == 0) { /* closed loop */
		if (lg->phase == LGP_RUN && now < lg->t_end)
			conn_start_op(c, now, now, false);
		return;
	}
	if (c->next_due >= lg->t_end)
		return;
	if (c->next_due <= now + 500000) { /* owed, or due within half a millisecond */
		uint64_t due = c->next_due;
		c->next_due += lg->interval_ns;
		conn_start_op(c, due, now, from_timer);
		return;
	}
	uint64_t ms = (c->next_due - now) / 1000000;
	if (uv_timer_start(&c->timer, on_conn_timer, ms, 0) != 0)
		abort();
}

/* A whole reply was parsed and the request's write has completed. */
static void conn_reply(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	uint64_t now = uv_hrtime();
	int status = llhttp_get_status_code(&c->parser);
	bool keep = llhttp_should_keep_alive(&c->parser) != 0;
	bool rec = in_window(lg, c->op_due);
	c->state = LGC_READY;
	lg->busy--;
	if (rec) {
		lg->st.requests++;
		lg->st.status[status > 0 && status < 600 ? status : 0]++;
	}
	bool done = true;
	if (status == c->expect) {
		if (rec)
			hist_record(&lg->st.kinds[c->kind], (now - c->req_due) / 1000);
		if (c->op == LGO_CHAT_TURN && c->step < 2) {
			done = false;
		} else if (rec) {
			hist_record(&lg->st.ops[c->op], (now - c->op_due) / 1000);
			hist_record(&lg->st.op_all, (now - c->op_due) / 1000);
			lg->st.ops_ok++;
		}
	} else if (rec) {
		lg->st.err_status++;
		lg->st.ops_failed++;
	}
	if (!keep) {
		if (!done && rec) { /* the turn cannot go on on this connection */
			lg->st.err_reset++;
			lg->st.ops_failed++;
		}
		conn_close(c);
		return;
	}
	if (!done) {
		c->step++;
		conn_send(c, now, now);
		return;
	}
	conn_schedule(c, now, false);
}

/* ---- libuv and llhttp callbacks --------------------------------------------------------- */

static int on_message_complete(llhttp_t *p)
{
	(void)p;
	return HPE_PAUSED; /* one reply per request: handled once llhttp_execute returns */
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	(void)at;
	struct lg_conn *c = container_of(p, struct lg_conn, parser);
	c->lg->st.body_bytes += n;
	return 0;
}

/* A transport failure: the operation in flight (if any) failed; close and reconnect. */
static void conn_fail(struct lg_conn *c, uint64_t *counter)
{
	struct lg *lg = c->lg;
	if (c->state == LGC_BUSY) {
		if (in_window(lg, c->op_due)) {
			(*counter)++;
			lg->st.ops_failed++;
		}
	} else {
		lg->st.closed_idle++;
	}
	conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	struct lg_conn *c = container_of((uv_tcp_t *)h, struct lg_conn, tcp);
	*b = uv_buf_init(c->lg->rbuf, sizeof c->lg->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct lg_conn *c = container_of((uv_tcp_t *)s, struct lg_conn, tcp);
	struct lg *lg = c->lg;
	if (nread == 0 || c->state == LGC_CLOSING)
		return;
	if (nread < 0) {
		conn_fail(c, &lg->st.err_reset);
		return;
	}
	if (c->state != LGC_BUSY || c->replied) { /* bytes nobody asked for */
		conn_fail(c, &lg->st.err_parse);
		return;
	}
	llhttp_errno_t e = llhttp_execute(&c->parser, b->base, (size_t)nread);
	if (e == HPE_OK)
		return; /* the reply goes on in the next read */
	if (e != HPE_PAUSED || llhttp_get_error_pos(&c->parser) != b->base + nread) {
		if (e != HPE_PAUSED)
			fprintf(stderr, "loadgen: bad reply: %s (%s)\n", llhttp_errno_name(e),
				llhttp_get_error_reason(&c->parser));
		else
			fprintf(stderr, "loadgen: bytes after a reply\n");
		conn_fail(c, &lg->st.err_parse);
		return;
	}
	llhttp_resume(&c->parser);
	if (c->writing) {
		c->replied = true; /* finish in on_write */
		return;
	}
	conn_reply(c);
}

static void on_write(uv_write_t *req, int status)
{
	struct lg_conn *c = container_of(req, struct lg_conn, write_req);
	c->writing = false;
	if (c->state == LGC_CLOSING)
		return;
	if (status < 0) {
		conn_fail(c, &c->lg->st.err_reset);
		return;
	}
	if (c->replied) {
		c->replied = false;
		conn_reply(c);
	}
}

static void lg_start_run(struct lg *lg);

static void on_connect(uv_connect_t *req, int status)
{
	struct lg_conn *c = container_of(req, struct lg_conn, connect_req);
	struct lg *lg = c->lg;
	lg->connecting--;
	if (c->state == LGC_CLOSING)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		lg->st.err_connect++;
		if (lg->st.err_connect <= 3)
			fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(status));
		conn_close(c);
	} else {
		c->state = LGC_READY;
		c->was_up = true;
		lg->connected++;
		llhttp_init(&c->parser, HTTP_RESPONSE, &lg->settings);
		conn_schedule(c, uv_hrtime(), false);
	}
	if (lg->phase == LGP_CONNECT) {
		while (lg->connecting < lg->o.connect_concurrency && lg->next_connect < lg->o.conns)
			conn_connect(&lg->conns[lg->next_connect++]);
		if (lg->connected == lg->o.conns)
			lg_start_run(lg);
	}
}

static void conn_connect(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	if (uv_tcp_init(lg->loop, &c->tcp) != 0)
		abort();
	c->tcp_open = true;
	c->state = LGC_CONNECTING;
	c->writing = c->replied = false;
	lg->connecting++;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&lg->addr,
				on_connect);
	if (rc != 0) {
		lg->connecting--;
		lg->st.err_connect++;
		if (lg->st.err_connect <= 3)
			fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(rc));
		conn_close(c);
	}
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct lg_conn *c = container_of((uv_tcp_t *)h, struct lg_conn, tcp);
	struct lg *lg = c->lg;
	c->tcp_open = false;
	c->state = LGC_DOWN;
	buf_free(&c->out);
	if (lg->phase == LGP_CONNECT || lg->phase == LGP_RUN) {
		if (uv_timer_start(&c->timer, on_conn_timer, LG_RECONNECT_MS, 0) != 0)
			abort();
	}
}

/* The one close path of a connection's socket; the timer stays for a reconnect. */
static void conn_close(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	if (!c->tcp_open || c->state == LGC_CLOSING)
		return;
	if (c->state == LGC_BUSY)
		lg->busy--;
	if (c->was_up) {
		lg->connected--;
		c->was_up = false;
	}
	c->state = LGC_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

static void on_conn_timer(uv_timer_t *t)
{
	struct lg_conn *c = container_of(t, struct lg_conn, timer);
	struct lg *lg = c->lg;
	if (c->state == LGC_DOWN) {
		if (lg->phase == LGP_CONNECT || lg->phase == LGP_RUN) {
			lg->st.reconnects++;
			conn_connect(c);
		}
	} else {
		conn_schedule(c, uv_hrtime(), true);
	}
}

/* ---- the timeline ----------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void lg_finish(struct lg *lg)
{
	lg->phase = LGP_DONE;
	lg->st.connected_at_end = lg->connected;
	for (unsigned i = 0; i < lg->o.conns; i++) {
		struct lg_conn *c = &lg->conns[i];
		conn_close(c);
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	}
	uv_close((uv_handle_t *)&lg->tick, on_handle_closed);
	uv_close((uv_handle_t *)&lg->sigint, on_handle_closed);
}

/* Open loop: operations a connection still owes in the window. */
static uint64_t owed(const struct lg *lg, const struct lg_conn *c)
{
	if (lg->interval_ns == 0 || c->next_due >= lg->t_end)
		return 0;
	return (lg->t_end - c->next_due + lg->interval_ns - 1) / lg->interval_ns;
}

static void lg_check_drained(struct lg *lg, uint64_t now)
{
	if (lg->phase != LGP_DRAIN)
		return;
	bool timeout = now >= lg->t_deadline;
	uint64_t pending = 0;
	for (unsigned i = 0; i < lg->o.conns; i++) {
		const struct lg_conn *c = &lg->conns[i];
		uint64_t n = owed(lg, c) + (c->state == LGC_BUSY && in_window(lg, c->op_due));
		pending += n;
		if (n && !timeout)
			return;
	}
	if (timeout) {
		lg->st.err_timeout += pending;
		lg->st.ops_failed += pending;
	}
	lg_finish(lg);
}

static void on_tick(uv_timer_t *t)
{
	struct lg *lg = container_of(t, struct lg, tick);
	uint64_t now = uv_hrtime();
	if (lg->phase == LGP_CONNECT) {
		if (now >= lg->t_ramp_deadline) {
			fprintf(stderr,
				"loadgen: %u of %u connections up after %.0f s; running anyway\n",
				lg->connected, lg->o.conns, lg->o.ramp_timeout_s);
			lg_start_run(lg);
		}
		return;
	}
	if (lg->phase == LGP_RUN && now >= lg->t_end) {
		lg->phase = LGP_DRAIN;
		lg->t_deadline = now + (uint64_t)(lg->o.timeout_s * (double)LG_NS);
	}
	/* Requests without a reply within the timeout fail, and the connection is replaced. */
	uint64_t limit = (uint64_t)(lg->o.timeout_s * (double)LG_NS);
	for (unsigned i = 0; i < lg->o.conns; i++) {
		struct lg_conn *c = &lg->conns[i];
		if (c->state == LGC_BUSY && now - c->req_sent > limit)
			conn_fail(c, &lg->st.err_timeout);
	}
	if (lg->phase == LGP_DRAIN)
		lg_check_drained(lg, now);
}

static void on_sigint(uv_signal_t *s, int signum)
{
	(void)signum;
	struct lg *lg = container_of(s, struct lg, sigint);
	fprintf(stderr, "loadgen: interrupted; draining\n");
	uint64_t now = uv_hrtime();
	if (lg->phase == LGP_CONNECT) {
		lg_start_run(lg);
	}
	if (lg->phase == LGP_RUN) {
		if (lg->t_measure > now)
			lg->t_measure = now;
		lg->t_end = now;
	}
	uv_signal_stop(s);
}

static void lg_start_run(struct lg *lg)
{
	uint64_t now = uv_hrtime();
	lg->phase = LGP_RUN;
	lg->st.connected_at_start = lg->connected;
	lg->t_start = now;
	lg->t_measure = now + (uint64_t)(lg->o.warmup_s * (double)LG_NS);
	lg->t_end = lg->t_measure + (uint64_t)(lg->o.duration_s * (double)LG_NS);
	/* Connections the ramp never reached still connect, and join when they are up. */
	while (lg->next_connect < lg->o.conns)
		conn_connect(&lg->conns[lg->next_connect++]);
	for (unsigned i = 0; i < lg->o.conns; i++) {
		struct lg_conn *c = &lg->conns[i];
		if (lg->interval_ns)
			c->next_due = now + wl_rand(&lg->rng) % lg->interval_ns;
		conn_schedule(c, now, false);
	}
}

int lg_init(struct lg *lg)
{
	const struct lg_opts *o = &lg->o;
	struct auth a;
	auth_init(&a, o->secret, 0);
	/* Item ids come from the generator, and add_thread_item never overwrites:
	 * without --seed each run gets new ids (time and pid mixed in). */
	lg->rng = o->seed ? o->seed
			  : (0x9e3779b97f4a7c15ull ^ ((uint64_t)time(NULL) << 20) ^
			     ((uint64_t)getpid() * 0x100000001b3ull));
	lg->ntokens = o->shape.users + 2; /* + the long thread's user + the history user */
	lg->tokens = calloc(lg->ntokens, sizeof *lg->tokens);
	lg->conns = calloc(o->conns, sizeof *lg->conns);
	if (!lg->tokens || !lg->conns) {
		fprintf(stderr, "loadgen: out of memory\n");
		return -1;
	}
	time_t now = time(NULL);
	long ttl = (long)(o->warmup_s + o->duration_s + o->ramp_timeout_s + o->timeout_s) + 3600;
	for (unsigned u = 0; u < o->shape.users; u++) {
		char sub[16];
		wl_user_id(u, sub);
		auth_mint(&a, sub, now, ttl, &lg->tokens[u]);
		buf_putc(&lg->tokens[u], '\0');
		lg->tokens[u].len--; /* NUL-terminated, not counted */
	}
	auth_mint(&a, WL_BIG_USER, now, ttl, &lg->tokens[o->shape.users]);
	buf_putc(&lg->tokens[o->shape.users], '\0');
	lg->tokens[o->shape.users].len--;
	auth_mint(&a, WL_HIST_USER, now, ttl, &lg->tokens[o->shape.users + 1]);
	buf_putc(&lg->tokens[o->shape.users + 1], '\0');
	lg->tokens[o->shape.users + 1].len--;
	wl_big_thread_id(lg->big_thread);

	llhttp_settings_init(&lg->settings);
	lg->settings.on_body = on_body;
	lg->settings.on_message_complete = on_message_complete;
	lg->interval_ns = o->rate > 0 ? (uint64_t)((double)o->conns * (double)LG_NS / o->rate) : 0;
	if (o->rate > 0 && lg->interval_ns == 0)
		lg->interval_ns = 1;

	for (unsigned i = 0; i < o->conns; i++) {
		struct lg_conn *c = &lg->conns[i];
		c->lg = lg;
		c->state = LGC_DOWN;
		c->user = big_workload(o->workload)	? o->shape.users
			  : history_workload(o->workload) ? o->shape.users + 1
							  : i % o->shape.users;
		c->rng = wl_rand(&lg->rng) | 1;
		if (uv_timer_init(lg->loop, &c->timer) != 0)
			return -1;
	}
	if (uv_timer_init(lg->loop, &lg->tick) != 0 ||
	    uv_timer_start(&lg->tick, on_tick, LG_TICK_MS, LG_TICK_MS) != 0 ||
	    uv_signal_init(lg->loop, &lg->sigint) != 0 ||
	    uv_signal_start(&lg->sigint, on_sigint, SIGINT) != 0)
		return -1;
	return 0;
}

void lg_run(struct lg *lg)
{
	uint64_t now = uv_hrtime();
	lg->phase = LGP_CONNECT;
	lg->t_ramp_deadline = now + (uint64_t)(lg->o.ramp_timeout_s * (double)LG_NS);
	while (lg->connecting < lg->o.connect_concurrency && lg->next_connect < lg->o.conns)
		conn_connect(&lg->conns[lg->next_connect++]);
	uv_run(lg->loop, UV_RUN_DEFAULT);
}

void lg_free(struct lg *lg)
{
	for (unsigned i = 0; lg->tokens && i < lg->ntokens; i++)
		buf_free(&lg->tokens[i]);
	for (unsigned i = 0; lg->conns && i < lg->o.conns; i++)
		buf_free(&lg->conns[i].out);
	free(lg->tokens);
	free(lg->conns);
}
