/* http.c: llhttp callbacks, header/body accumulation with limits, pausing
 * between pipelined requests. llhttp span callbacks may fire several times per
 * field (a field can straddle reads), so every span is appended, never assigned. */
#include "http.h"

#include <string.h>
#include <strings.h>

#include "list.h"

enum { H_OTHER, H_AUTHORIZATION, H_CONTENT_TYPE, H_REQUEST_ID, H_EXPECT };

/* Longest value we keep for the small headers; longer ones are a 400/431. */
#define SMALL_HEADER_MAX 256

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

static void req_clear(struct http_req *r)
{
	buf_free(&r->url);
	buf_free(&r->authorization);
	buf_free(&r->content_type);
	buf_free(&r->request_id);
	buf_free(&r->body);
	memset(r, 0, sizeof *r);
}

static int on_message_begin(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	req_clear(&h->req);
	h->header_bytes = 0;
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
	};
	struct http_in *h = from_parser(p);
	h->cur = H_OTHER;
	for (size_t i = 0; i < sizeof tracked / sizeof tracked[0]; i++)
		if (h->field_len == strlen(tracked[i].name) &&
		    strncasecmp(h->field, tracked[i].name, h->field_len) == 0)
			h->cur = tracked[i].id;
	return 0;
}

static struct buf *value_buf(struct http_in *h)
{
	switch (h->cur) {
	case H_AUTHORIZATION: return &h->req.authorization;
	case H_CONTENT_TYPE: return &h->req.content_type;
	case H_REQUEST_ID: return &h->req.request_id;
	default: return NULL;
	}
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	if (count_header_bytes(h, n))
		return HPE_USER;
	if (h->cur == H_EXPECT) {
		/* Only "100-continue" matters; compare on completion via field[]. */
		if (n <= sizeof h->field - 1) {
			memcpy(h->field, at, n); /* field[] is free once the name is classified */
			h->field_len = n;
		} else {
			h->field_len = sizeof h->field + 1;
		}
		return 0;
	}
	struct buf *b = value_buf(h);
	if (b == NULL)
		return 0;
	if (h->cur != H_AUTHORIZATION && buf_rlen(b) + n > SMALL_HEADER_MAX)
		return fail(h, 431, "a header value is too large");
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
	r->keep_alive = llhttp_should_keep_alive(p);
	r->has_body = (p->flags & (F_CONTENT_LENGTH | F_CHUNKED)) != 0;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > h->max_body) {
		r->body_too_large = true;
		r->keep_alive = false;
		return HPE_PAUSED; /* answer now; the body is never read */
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_in *h = from_parser(p);
	struct http_req *r = &h->req;
	if (buf_rlen(&r->body) + n > h->max_body) {
		buf_free(&r->body);
		r->body_too_large = true;
		r->keep_alive = false;
		return HPE_PAUSED;
	}
	buf_append(&r->body, at, n);
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http_in *h = from_parser(p);
	h->req.keep_alive = llhttp_should_keep_alive(p);
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

void http_in_init(struct http_in *h, size_t max_header, size_t max_body)
{
	memset(h, 0, sizeof *h);
	llhttp_init(&h->parser, HTTP_REQUEST, &settings);
	h->max_header = max_header;
	h->max_body = max_body;
}

void http_in_free(struct http_in *h)
{
	req_clear(&h->req);
}

size_t http_in_feed(struct http_in *h, const char *data, size_t len, enum http_in_status *st)
{
	llhttp_errno_t e = llhttp_execute(&h->parser, data, len);
	switch (e) {
	case HPE_OK: *st = HTTP_IN_MORE; return len;
	case HPE_PAUSED:
		*st = HTTP_IN_REQUEST;
		return (size_t)(llhttp_get_error_pos(&h->parser) - data);
	case HPE_PAUSED_UPGRADE:
	case HPE_PAUSED_H2_UPGRADE:
		/* We speak only HTTP/1.1: serve the request, then close. */
		h->req.keep_alive = false;
		*st = HTTP_IN_REQUEST;
		return (size_t)(llhttp_get_error_pos(&h->parser) - data);
	case HPE_USER: break;
	default:
		h->error_status = 400;
		h->error_msg = "malformed HTTP request";
		break;
	}
	*st = HTTP_IN_ERROR;
	const char *pos = llhttp_get_error_pos(&h->parser);
	return pos ? (size_t)(pos - data) : len;
}

void http_in_next(struct http_in *h)
{
	req_clear(&h->req);
	h->headers_done = false;
	h->started = false;
	h->header_bytes = 0;
	llhttp_resume(&h->parser);
}

bool http_in_mid_request(const struct http_in *h)
{
	return h->started;
}
