/* http.c: llhttp callbacks, header/body accumulation with limits, pausing
 * between pipelined requests. llhttp span callbacks may fire several times per
 * field (a field can straddle reads), so every span is appended, never assigned. */
#include "http.h"

#include <string.h>
#include <strings.h>

#include "list.h"

enum {
	H_OTHER,
	H_AUTHORIZATION,
	H_CONTENT_TYPE,
	H_REQUEST_ID,
	H_EXPECT,
	H_MIN_LSN,
	H_ACCEPT,
	H_LAST_EVENT_ID
};

/* Longest value we keep for Content-Type and X-Request-Id. Longer ones are
 * not errors of the framing: the request id is replaced, the type is not JSON. */
#define SMALL_HEADER_MAX 256
#define ACCEPT_MAX 1024 /* browsers send a few hundred bytes */
/* A chunked body's buffer (and its reservation) grows at least by this much. */
#define BODY_STEP (64u << 10)

static struct http_in *from_parser(llhttp_t *p)
{
	return container_of(p, struct http_in, parser);
}

static int fail(struct http_in *h, int status, const char *msg)
{
	h->error_status = status;
	h->error_msg = msg;
	llhttp_set_error_reason(&h->parser, msg);
	return HPE_USER;
}

static int count_header_bytes(struct http_in *h, size_t n)
{
	h->header_bytes += n;
	if (h->header_bytes > h->max_header)
		return fail(h, 431, "request line and headers are too large");
	return 0;
}

static void unreserve(struct http_in *h)
{
	if (h->budget != NULL)
		h->budget->used -= h->reserved;
	h->reserved = 0;
}

/* Takes n more bytes of the shared budget for this request's body. */
static int reserve(struct http_in *h, size_t n)
{
	if (h->budget != NULL) {
		if (h->budget->limit - h->budget->used < n)
			return -1;
		h->budget->used += n;
	}
	h->reserved += n;
	return 0;
}

static int over_budget(struct http_in *h)
{
	buf_free(&h->req.body);
	unreserve(h);
	h->req.keep_alive = false;
	h->req.over_budget = true;
	return fail(h, 503, "too many request bodies are being received; retry shortly");
}

static void req_clear(struct http_req *r)
{
	buf_free(&r->url);
	buf_free(&r->authorization);
	buf_free(&r->content_type);
	buf_free(&r->request_id);
	buf_free(&r->min_lsn);
	buf_free(&r->accept);
	buf_free(&r->last_event_id);
	buf_free(&r->body);
	memset(r, 0, sizeof *r);
}

static int on_message_begin(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	req_clear(&h->req);
	unreserve(h);
	h->declared = 0;
	h->header_bytes = 0;
	h->seen = 0;
	h->cur = H_OTHER;
	h->field_len = 0;
	h->headers_done = false;
	h->started = true;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	if (count_header_bytes(h, n))
		return HPE_USER;
	buf_append(&h->req.url, at, n);
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	if (count_header_bytes(h, n))
		return HPE_USER;
	if (h->field_len + n <= sizeof h->field)
		memcpy(h->field + h->field_len, at, n);
	h->field_len += n;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	static const struct {
		const char *name;
		int id;
	} tracked[] = {
	    {"authorization", H_AUTHORIZATION},
	    {"content-type", H_CONTENT_TYPE},
	    {"x-request-id", H_REQUEST_ID},
	    {"expect", H_EXPECT},
	    {"threadstore-min-lsn", H_MIN_LSN},
	    {"accept", H_ACCEPT},
	    {"last-event-id", H_LAST_EVENT_ID},
	};
	struct http_in *h = from_parser(p);
	h->cur = H_OTHER;
	if (h->headers_done) {
		/* A chunked trailer: never lets a field we act on in after the fact. */
		h->field_len = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof tracked / sizeof tracked[0]; i++)
		if (h->field_len == strlen(tracked[i].name) &&
		    strncasecmp(h->field, tracked[i].name, h->field_len) == 0)
			h->cur = tracked[i].id;
	h->field_len = 0;
	if (h->cur != H_OTHER) {
		/* Two Authorization lines would be joined into one value by a proxy
		 * and not by us (or the reverse): refuse to pick one. */
		if (h->seen & (1u << h->cur))
			return fail(h, 400, "a header field we use appears twice");
		h->seen |= 1u << h->cur;
	}
	return 0;
}

static struct buf *value_buf(struct http_in *h)
{
	switch (h->cur) {
	case H_AUTHORIZATION: return &h->req.authorization;
	case H_CONTENT_TYPE: return &h->req.content_type;
	case H_REQUEST_ID: return &h->req.request_id;
	case H_MIN_LSN: return &h->req.min_lsn;
	case H_ACCEPT: return &h->req.accept;
	case H_LAST_EVENT_ID: return &h->req.last_event_id;
	default: return NULL;
	}
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	if (count_header_bytes(h, n))
		return HPE_USER;
	if (h->cur == H_EXPECT) {
		/* Only "100-continue" matters; the value may come in several spans.
		 * field[] is free once the name is classified. */
		if (h->field_len + n <= sizeof h->field)
			memcpy(h->field + h->field_len, at, n);
		h->field_len += n;
		return 0;
	}
	struct buf *b = value_buf(h);
	if (b == NULL)
		return 0;
	size_t max = h->cur == H_ACCEPT ? ACCEPT_MAX : SMALL_HEADER_MAX;
	if (h->cur != H_AUTHORIZATION && buf_rlen(b) + n > max) {
		if (h->cur == H_CONTENT_TYPE)
			h->req.content_type_bad = true;
		if (h->cur == H_LAST_EVENT_ID)
			h->req.last_event_id_bad = true; /* not one of our cursors: 400 */
		buf_free(b); /* a request id is replaced, a type is answered 415 */
		h->cur = H_OTHER;
		return 0;
	}
	buf_append(b, at, n);
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	if (h->cur == H_EXPECT && h->field_len == 12 &&
	    strncasecmp(h->field, "100-continue", 12) == 0)
		h->req.expect_continue = true;
	h->cur = H_OTHER;
	h->field_len = 0;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	struct http_req *r = &h->req;
	h->headers_done = true;
	r->method = llhttp_get_method(p);
	r->head = r->method == HTTP_HEAD;
	r->http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
	/* RFC 9110 10.1.1: a 100-continue expectation from HTTP/1.0 is ignored. */
	r->expect_continue = r->expect_continue && !r->http10;
	/* We speak HTTP/1.1 only: an Upgrade (h2c, websocket) is ignored and the
	 * request answered as it is, so the connection stays in step. CONNECT has
	 * no route; llhttp stops after it and the caller closes. */
	if (r->method != HTTP_CONNECT)
		p->upgrade = 0;
	r->keep_alive = llhttp_should_keep_alive(p);
	r->has_body = (p->flags & (F_CONTENT_LENGTH | F_CHUNKED)) != 0;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > h->max_body) {
		r->body_too_large = true;
		r->keep_alive = false;
		return HPE_PAUSED; /* answer now; the body is never read */
	}
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
		/* A body that cannot fit is refused now (before a 100 Continue: the
		 * client never sends it). One that can is stored in one exact
		 * allocation, but the budget is taken as its bytes arrive (on_body):
		 * headers alone, never followed by a body, must not hold the budget. */
		size_t n = (size_t)p->content_length;
		if (h->budget != NULL && h->budget->limit - h->budget->used < n) {
			over_budget(h);
			return HPE_PAUSED; /* answered at once; the body is never read */
		}
		h->declared = n;
		buf_reserve_exact(&r->body, n);
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	struct http_req *r = &h->req;
	if (buf_rlen(&r->body) + n > h->max_body) {
		buf_free(&r->body);
		unreserve(h);
		r->body_too_large = true;
		r->keep_alive = false;
		return HPE_PAUSED;
	}
	if (r->body.len + n > h->reserved) {
		/* Grow the reservation (and a chunked body's buffer) in steps as bytes
		 * arrive, so the budget counts the memory actually held. */
		size_t want = r->body.len + n,
		       step = h->reserved < BODY_STEP ? BODY_STEP : h->reserved;
		size_t cap = h->declared ? h->declared : h->max_body;
		if (want < h->reserved + step)
			want = h->reserved + step;
		if (want > cap)
			want = cap;
		if (reserve(h, want - h->reserved) < 0 &&
		    (want = r->body.len + n, reserve(h, want - h->reserved) < 0)) {
			over_budget(h); /* not even room for these bytes */
			return HPE_USER;
		}
		buf_reserve_exact(&r->body, want - r->body.len);
	}
	buf_append(&r->body, at, n);
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	/* After a CONNECT llhttp reads no more requests: close after the reply. */
	h->req.keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_in_init(struct http_in *h, size_t max_header, size_t max_body, struct http_budget *budget)
{
	memset(h, 0, sizeof *h);
	llhttp_init(&h->parser, HTTP_REQUEST, &settings);
	h->max_header = max_header;
	h->max_body = max_body;
	h->budget = budget;
}

void http_in_free(struct http_in *h)
{
	req_clear(&h->req);
	unreserve(h);
}

size_t http_in_feed(struct http_in *h, const char *data, size_t len, enum http_in_status *st)
{
	llhttp_errno_t e = llhttp_execute(&h->parser, data, len);
	switch (e) {
	case HPE_OK: *st = HTTP_IN_MORE; return len;
	case HPE_PAUSED:
		if (h->error_status != 0)
			break; /* paused by a failing callback (over the budget) */
		*st = HTTP_IN_REQUEST;
		return (size_t)(llhttp_get_error_pos(&h->parser) - data);
	case HPE_PAUSED_UPGRADE:
	case HPE_PAUSED_H2_UPGRADE:
		/* Only CONNECT gets here (on_headers_complete): serve it (405), then close. */
		h->req.keep_alive = false;
		*st = HTTP_IN_REQUEST;
		return (size_t)(llhttp_get_error_pos(&h->parser) - data);
	default:
		if (h->error_status == 0) { /* else a callback of ours failed (fail()) */
			h->error_status = 400;
			h->error_msg = "malformed HTTP request";
		}
		break;
	}
	*st = HTTP_IN_ERROR;
	const char *pos = llhttp_get_error_pos(&h->parser);
	return pos ? (size_t)(pos - data) : len;
}

void http_in_drop_body(struct http_in *h)
{
	buf_free(&h->req.body);
	unreserve(h);
}

void http_in_next(struct http_in *h)
{
	req_clear(&h->req);
	unreserve(h);
	h->seen = 0;
	h->headers_done = false;
	h->started = false;
	h->header_bytes = 0;
	llhttp_resume(&h->parser);
}

bool http_in_mid_request(const struct http_in *h)
{
	return h->started;
}
