/* handlers_changes.c: GET /v1/changes (a Page, or Server-Sent Events with
 * Accept: text/event-stream) and GET /admin/v1/changes (every user's, for an
 * operator's sweeper). The feed itself (groups, fan-out, LISTEN) is feed.c's.
 *
 * A cursor names one change; 400 when it is not one of ours (garbage, another
 * user's), 410 when retention removed changes after it (the client reloads).
 * Numbers are dense per user (sql/010), so "gone" is exact: change n + 1 is
 * missing while the head is past n. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conn.h"
#include "db.h"
#include "feed.h"
#include "handlers.h"
#include "page.h"
#include "request.h"
#include "server.h"

#define CHANGES_DEFAULT_LIMIT 100

/* The request's state: the subscriber first (feed.c finds it at r->state). */
struct changes_state {
	struct feed_sub sub;
	int64_t after; /* 0: from the oldest retained */
	bool head_sent;
	bool more; /* the last catch-up batch was full */
};

static struct feed *feed_of(struct request *r)
{
	return &request_server(r)->feed;
}

/* Reads the cursor (Last-Event-ID wins over after=, as an EventSource resumes)
 * and the limit. Returns 0, or -1 after answering 400. */
static int changes_params(struct request *r, int64_t *after, int *limit)
{
	const struct http_req *h = r->http;
	struct buf v = {0};
	*after = 0;
	*limit = CHANGES_DEFAULT_LIMIT;
	int found = router_query_param(r->match.query, "limit", &v);
	if (found != 0) {
		*limit = found < 0 ? -1 : page_count(v.data, v.len, PAGE_MAX_LIMIT);
		if (*limit < 0) {
			buf_free(&v);
			request_error(r, 400, "bad_request", "limit must be 1 to 1000");
			return -1;
		}
	}
	buf_reset(&v);
	const char *c = NULL;
	size_t cl = 0;
	if (h->last_event_id_bad) {
		found = -1;
	} else if (buf_rlen(&h->last_event_id) > 0) {
		c = buf_rptr(&h->last_event_id);
		cl = buf_rlen(&h->last_event_id);
		found = 1;
	} else {
		found = router_query_param(r->match.query, "after", &v);
		c = v.data;
		cl = v.len;
	}
	if (found != 0 &&
	    (found < 0 || (*after = feed_cursor_parse(r->user.data, r->user.len, c, cl)) < 0)) {
		buf_free(&v);
		request_error(r, 400, "bad_request", "the cursor is not one of this feed's");
		return -1;
	}
	buf_free(&v);
	return 0;
}

/* What the first row's head and oldest retained number say of a cursor: 0
 * (fine), 400 (a number never given: another database's cursor) or 410
 * (changes after it were removed). -1: the statement failed. */
static int cursor_verdict(PGresult *res, int64_t after)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return -1;
	int64_t head = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	int64_t lo = PQgetisnull(res, 0, 1) ? 0 : atoll(PQgetvalue(res, 0, 1));
	if (after > head)
		return 400;
	if (after > 0 && after < head && (lo == 0 || lo > after + 1))
		return 410;
	return 0;
}

/* Answers a verdict that is not 0 (res freed). */
static void cursor_refuse(struct request *r, PGresult *res, int verdict)
{
	if (verdict < 0) {
		request_db_error(r, res);
		return;
	}
	PQclear(res);
	if (verdict == 400)
		request_error(r, 400, "bad_request", "the cursor is not one of this feed's");
	else
		request_error(r, 410, "gone",
			      "changes after this cursor are past the retention; reload and "
			      "start from a new cursor");
}

static int change_rows(PGresult *res)
{
	int n = PQntuples(res);
	return n == 1 && PQgetisnull(res, 0, 2) ? 0 : n;
}

/* ---- the Page ---- */

static void on_page(struct request *r, PGresult *res)
{
	struct changes_state *st = r->state;
	int verdict = cursor_verdict(res, st->after);
	if (verdict != 0) {
		cursor_refuse(r, res, verdict);
		return;
	}
	int n = change_rows(res);
	int scanned = feed_scanned(res, 9, n);
	if (n > r->limit)
		n = r->limit;
	bool more = scanned > n; /* past the limit, or cut by bytes */
	struct buf body = {0}, json = {0};
	char cur[FEED_CURSOR_MAX];
	buf_puts(&body, "{\"data\":[");
	for (int i = 0; i < n; i++) {
		feed_cursor(r->user.data, r->user.len, atoll(PQgetvalue(res, i, 2)), cur);
		if (i > 0)
			buf_putc(&body, ',');
		feed_event_json(&body, res, i, 2, cur, NULL, 0);
	}
	/* after: where to resume (the last change's cursor; the one given for an empty page) */
	int64_t last = n > 0 ? atoll(PQgetvalue(res, n - 1, 2)) : st->after;
	buf_printf(&body, "],\"has_more\":%s,\"after\":", more ? "true" : "false");
	if (last > 0) {
		feed_cursor(r->user.data, r->user.len, last, cur);
		buf_printf(&body, "\"%s\"}", cur);
	} else {
		buf_puts(&body, "null}");
	}
	PQclear(res);
	buf_free(&json);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, body.data, body.len);
	buf_free(&body);
	request_reply_send(r);
}

/* ---- the stream ---- */

static void sse_fetch(struct request *r);

static void on_sse_closed(struct request *r)
{
	struct changes_state *st = r->state;
	feed_sub_leave(feed_of(r), &st->sub);
}

static void sub_cleanup(void *arg)
{
	struct feed_sub *s = arg;
	if (s->group != NULL)
		feed_sub_leave(s->group->feed, s);
}

/* Everything sent was taken: the next batch, or live. */
static void on_caught(struct request *r)
{
	struct changes_state *st = r->state;
	if (st->more)
		sse_fetch(r);
	else
		feed_sub_live(feed_of(r), &st->sub);
}

static void on_sse_rows(struct request *r, PGresult *res)
{
	struct changes_state *st = r->state;
	struct feed *f = feed_of(r);
	int64_t after = st->sub.cursor;
	if (st->sub.state == SUB_ENDING) { /* shutting down (feed_end_streams) */
		PQclear(res);
		feed_sub_leave(f, &st->sub);
		r->on_closed = NULL;
		if (st->head_sent)
			request_stream_end(r);
		else
			request_error(r, 503, "unavailable", "shutting down; resume elsewhere");
		return;
	}
	int verdict = cursor_verdict(res, after);
	if (verdict != 0) {
		/* Out of the group first: the reply releases the request's memory. */
		feed_sub_leave(f, &st->sub);
		r->on_closed = NULL;
		if (!st->head_sent) {
			cursor_refuse(r, res, verdict);
		} else if (verdict < 0) {
			PQclear(res);
			request_stream_abort(r,
					     "a change stream's catch-up failed"); /* it resumes */
		} else {
			PQclear(res); /* retention passed it while it caught up: 410 on resume */
			request_stream_end(r);
		}
		return;
	}
	int n = change_rows(res);
	int scanned = feed_scanned(res, 9, n);
	st->more = scanned == FEED_BATCH || scanned > n; /* full, or cut by bytes */
	struct buf ev = {0}, json = {0};
	char cur[FEED_CURSOR_MAX];
	int64_t last = after;
	for (int i = 0; i < n; i++) {
		last = atoll(PQgetvalue(res, i, 2));
		feed_cursor(r->user.data, r->user.len, last, cur);
		buf_reset(&json);
		feed_event_json(&json, res, i, 2, cur, NULL, 0);
		feed_sse_event(&ev, cur, PQgetvalue(res, i, 3), json.data, json.len);
	}
	PQclear(res);
	buf_free(&json);
	f->stats.events += (unsigned long)n;
	if (!st->head_sent) {
		st->head_sent = true;
		struct reply *rep = request_reply_begin(r, 200);
		rep->content_type = "text/event-stream";
		reply_header(rep, "Cache-Control", "no-store");
		reply_header(rep, "X-Accel-Buffering", "no"); /* nginx: do not hold events back */
		/* the reconnect delay an EventSource uses, then the events */
		reply_copy_str(rep, "retry: 1000\n\n");
		reply_copy(rep, ev.data, ev.len);
		buf_free(&ev);
		st->sub.cursor = last;
		st->sub.writing = true;
		st->sub.last_send_ms = uv_now(f->loop);
		request_stream_send(r, st->sub.on_drain);
		return;
	}
	if (n == 0) {
		buf_free(&ev);
		on_caught(r);
		return;
	}
	feed_sub_push(f, &st->sub, ev.data, ev.len, last);
	buf_free(&ev);
}

static void sse_fetch(struct request *r)
{
	struct changes_state *st = r->state;
	char after[24], lim[16], budget[24];
	int al = snprintf(after, sizeof after, "%" PRId64, st->sub.cursor);
	int ll = snprintf(lim, sizeof lim, "%d", FEED_BATCH);
	int bl = feed_batch_budget(feed_of(r), budget);
	const char *p[] = {after, lim, budget};
	const int l[] = {al, ll, bl};
	request_query(r, Q_CHANGES_PAGE, 3, p, l, on_sse_rows);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether a weight ("q=0.5") in [p, end) is zero: "0", "0." or "0.0..." */
static bool zero_weight(const char *p, const char *end)
{
	if (p == end || *p++ != '0')
		return false;
	if (p < end && *p == '.')
		p++;
	while (p < end && *p == '0')
		p++;
	return p == end;
}

/* Whether Accept lists text/event-stream (any case, optional white space and
 * parameters) with a weight that is not 0: "text/event-stream;q=0" refuses it
 * (RFC 9110 12.5.1), and "text/event-streamx" is another type. */
static bool wants_events(const struct http_req *h)
{
	static const char type[] = "text/event-stream";
	const size_t k = sizeof type - 1;
	const char *p = buf_rptr(&h->accept), *end = p + buf_rlen(&h->accept);
	while (p < end) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		e = e ? e : end;
		while (p < e && is_ows(*p))
			p++;
		const char *t = p;
		while (p < e && *p != ';' && !is_ows(*p))
			p++;
		bool match = (size_t)(p - t) == k && strncasecmp(t, type, k) == 0;
		bool refused = false;
		while (match && p < e) { /* the parameters: ; name=value */
			while (p < e && (is_ows(*p) || *p == ';'))
				p++;
			const char *v = p;
			while (p < e && *p != ';')
				p++;
			const char *ve = p;
			while (ve > v && is_ows(ve[-1]))
				ve--;
			if (ve - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
				refused = zero_weight(v + 2, ve);
		}
		if (match && !refused)
			return true;
		p = e < end ? e + 1 : end;
	}
	return false;
}

void handle_changes(struct request *r)
{
	int64_t after;
	int limit;
	if (changes_params(r, &after, &limit) < 0)
		return;
	struct changes_state *st = request_state(r, sizeof *st);
	st->after = after;
	r->limit = limit;
	if (!wants_events(r->http) || r->http->head) {
		/* bounded by --max-page-bytes of attachment documents, as items are */
		char a[24], lim[16], budget[24];
		int al = snprintf(a, sizeof a, "%" PRId64, after);
		int ll = snprintf(lim, sizeof lim, "%d", limit + 1);
		int bl = page_budget_param(r, budget);
		const char *p[] = {a, lim, budget};
		const int l[] = {al, ll, bl};
		request_query(r, Q_CHANGES_PAGE, 3, p, l, on_page);
		return;
	}
	struct feed *f = feed_of(r);
	if (!feed_can_subscribe(f)) {
		request_error(r, 503, "unavailable",
			      "too many change streams are open; retry shortly");
		return;
	}
	/* In the group before the first statement: a notification that arrives
	 * while it runs is not lost. */
	/* An endless stream: the client's FIN means it left (an EventSource
	 * never half-closes), so it is not kept until a heartbeat fails. */
	if (r->conn->eof) {
		conn_close(r->conn);
		return;
	}
	r->conn->eof_closes = true;
	feed_sub_join(f, &st->sub, r, after);
	st->sub.on_caught = on_caught;
	/* Out of the group when the connection closes (no push may reach it), and
	 * whenever the request's memory goes (an error reply, the stream's end). */
	r->on_closed = on_sse_closed;
	arena_defer(&r->conn->arena, sub_cleanup, &st->sub);
	sse_fetch(r);
}

/* ---- the admin feed ---- */

struct admin_state {
	char xid[24], n[24];
	struct buf user;
	bool has_cursor;
};

static void admin_cleanup_user(struct admin_state *a)
{
	buf_free(&a->user);
}

static void on_admin_page(struct request *r, PGresult *res)
{
	struct admin_state *a = r->state;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		admin_cleanup_user(a);
		request_db_error(r, res);
		return;
	}
	/* the sweep's mark: an older cursor may have missed changes */
	if (a->has_cursor &&
	    strtoull(PQgetvalue(res, 0, 0), NULL, 10) > strtoull(a->xid, NULL, 10)) {
		PQclear(res);
		admin_cleanup_user(a);
		request_error(r, 410, "gone",
			      "changes after this cursor are past the retention; start again "
			      "without a cursor");
		return;
	}
	int n = PQntuples(res) == 1 && PQgetisnull(res, 0, 1) ? 0 : PQntuples(res);
	int scanned = feed_scanned(res, 10, n);
	if (n > r->limit)
		n = r->limit;
	bool more = scanned > n; /* past the limit, or cut by bytes */
	struct buf body = {0}, cur = {0};
	buf_puts(&body, "{\"data\":[");
	for (int i = 0; i < n; i++) {
		buf_reset(&cur);
		const char *u = PQgetvalue(res, i, 2);
		size_t ul = (size_t)PQgetlength(res, i, 2);
		feed_cursor_admin(&cur, PQgetvalue(res, i, 1), u, ul, PQgetvalue(res, i, 3));
		buf_putc(&cur, '\0');
		if (i > 0)
			buf_putc(&body, ',');
		feed_event_json(&body, res, i, 3, cur.data, u, ul);
	}
	buf_printf(&body, "],\"has_more\":%s,\"after\":", more ? "true" : "false");
	buf_reset(&cur);
	if (n > 0)
		feed_cursor_admin(&cur, PQgetvalue(res, n - 1, 1), PQgetvalue(res, n - 1, 2),
				  (size_t)PQgetlength(res, n - 1, 2), PQgetvalue(res, n - 1, 3));
	else if (a->has_cursor)
		feed_cursor_admin(&cur, a->xid, a->user.data, a->user.len, a->n);
	if (cur.len > 0) {
		buf_putc(&body, '"');
		buf_append(&body, cur.data, cur.len);
		buf_puts(&body, "\"}");
	} else {
		buf_puts(&body, "null}");
	}
	buf_free(&cur);
	PQclear(res);
	admin_cleanup_user(a);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, body.data, body.len);
	buf_free(&body);
	request_reply_send(r);
}

void handle_admin_changes(struct request *r)
{
	struct admin_state *a = request_state(r, sizeof *a);
	struct buf v = {0};
	int limit = CHANGES_DEFAULT_LIMIT;
	int found = router_query_param(r->match.query, "limit", &v);
	if (found != 0 && (found < 0 || (limit = page_count(v.data, v.len, PAGE_MAX_LIMIT)) < 0)) {
		buf_free(&v);
		request_error(r, 400, "bad_request", "limit must be 1 to 1000");
		return;
	}
	buf_reset(&v);
	found = router_query_param(r->match.query, "after", &v);
	strcpy(a->xid, "0");
	strcpy(a->n, "0");
	if (found != 0) {
		a->has_cursor = true;
		if (found < 0 || feed_cursor_admin_parse(v.data ? v.data : "", v.len, a->xid, a->n,
							 &a->user) < 0) {
			buf_free(&v);
			admin_cleanup_user(a);
			request_error(r, 400, "bad_request",
				      "the cursor is not one of this feed's");
			return;
		}
	}
	buf_free(&v);
	r->limit = limit;
	char lim[16], budget[24];
	int ll = snprintf(lim, sizeof lim, "%d", limit + 1);
	int bl = page_budget_param(r, budget);
	const char *p[] = {a->xid, a->user.data ? a->user.data : "", a->n, lim, budget};
	const int l[] = {(int)strlen(a->xid), (int)a->user.len, (int)strlen(a->n), ll, bl};
	request_query_global(r, Q_ADMIN_CHANGES, 5, p, l, on_admin_page);
}
