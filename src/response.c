/* response.c: status line, headers, JSON error bodies, body parts. */
#include "response.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void reply_init(struct reply *r, int status)
{
	memset(r, 0, sizeof *r);
	r->status = status;
	r->content_type = "application/json";
}

void reply_free(struct reply *r)
{
	buf_free(&r->head);
	buf_free(&r->own);
	free(r->parts);
	if (r->res)
		PQclear(r->res);
	memset(r, 0, sizeof *r);
}

/* Decimal digits of v, without printf (this runs for every response). */
static void put_uint(struct buf *b, size_t v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v > 0);
	char *p = buf_reserve(b, (size_t)n);
	for (int i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	buf_commit(b, (size_t)n);
}

/* The status line opens the head; headers follow it as they are added. */
static void start_head(struct reply *r)
{
	if (r->head_fixed > 0)
		return;
	buf_reset(&r->head);
	buf_append(&r->head, "HTTP/1.1 ", 9);
	put_uint(&r->head, (size_t)r->status, 10);
	buf_putc(&r->head, ' ');
	buf_puts(&r->head, reply_status_text(r->status));
	buf_append(&r->head, "\r\n", 2);
	r->head_fixed = r->head.len;
}

void reply_header(struct reply *r, const char *name, const char *value)
{
	start_head(r);
	r->head.len = r->head_fixed; /* after a reply_finish: drop its framing lines */
	buf_puts(&r->head, name);
	buf_append(&r->head, ": ", 2);
	buf_puts(&r->head, value);
	buf_append(&r->head, "\r\n", 2);
	r->head_fixed = r->head.len;
}

static struct reply_part *add_part(struct reply *r)
{
	if (r->nparts == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 48; /* a 20-row page in one allocation */
		struct reply_part *p = realloc(r->parts, cap * sizeof *p);
		if (p == NULL)
			abort(); /* see buf.c: allocation failure is fatal */
		r->parts = p;
		r->cap = cap;
	}
	return &r->parts[r->nparts++];
}

void reply_ref(struct reply *r, const char *p, size_t n)
{
	if (n == 0)
		return;
	struct reply_part *part = add_part(r);
	*part = (struct reply_part){.ptr = p, .len = n};
	r->body_len += n;
}

void reply_copy(struct reply *r, const char *p, size_t n)
{
	if (n == 0)
		return;
	/* Extend the previous copied part when adjacent: fewer iovecs. */
	if (r->nparts > 0 && r->parts[r->nparts - 1].ptr == NULL &&
	    r->parts[r->nparts - 1].off + r->parts[r->nparts - 1].len == r->own.len) {
		r->parts[r->nparts - 1].len += n;
	} else {
		struct reply_part *part = add_part(r);
		*part = (struct reply_part){.ptr = NULL, .off = r->own.len, .len = n};
	}
	buf_append(&r->own, p, n);
	r->body_len += n;
}

void reply_copy_str(struct reply *r, const char *s)
{
	reply_copy(r, s, strlen(s));
}

void reply_keep_result(struct reply *r, PGresult *res)
{
	if (r->res)
		PQclear(r->res);
	r->res = res;
}

const char *reply_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

size_t reply_finish(struct reply *r, unsigned flags, uv_buf_t *bufs)
{
	bool keep_alive = (flags & REPLY_KEEP_ALIVE) != 0;
	bool chunked = !r->raw_stream && r->kind != REPLY_FULL;
	if (r->kind != REPLY_CHUNK) {
		start_head(r);
		r->head.len = r->head_fixed; /* finish may run again (tests) */
		if (r->status != 204 && (r->body_len > 0 || r->kind == REPLY_STREAM_HEAD)) {
			buf_append(&r->head, "Content-Type: ", 14);
			buf_puts(&r->head, r->content_type);
			buf_append(&r->head, "\r\n", 2);
		}
		if (r->kind == REPLY_STREAM_HEAD && chunked) {
			buf_puts(&r->head, "Transfer-Encoding: chunked\r\n");
		} else if (r->status != 204 && r->kind == REPLY_FULL) {
			buf_append(&r->head, "Content-Length: ", 16);
			put_uint(&r->head, r->body_len, 10);
			buf_append(&r->head, "\r\n", 2);
		}
		if (!keep_alive)
			buf_puts(&r->head, "Connection: close\r\n");
		else if (flags & REPLY_HTTP10)
			buf_puts(&r->head, "Connection: keep-alive\r\n");
		buf_append(&r->head, "\r\n", 2);
	} else {
		buf_reset(&r->head);
	}
	size_t n = 0;
	if (flags & REPLY_NO_BODY) {
		bufs[n++] = uv_buf_init(r->head.data, (unsigned)r->head.len);
		return n;
	}
	if (chunked && (r->body_len > 0 || r->kind == REPLY_CHUNK)) {
		put_uint(&r->head, r->body_len, 16); /* 0 ends the body */
		buf_append(&r->head, "\r\n", 2);
	}

	bufs[n++] = uv_buf_init(r->head.data, (unsigned)r->head.len);
	for (size_t i = 0; i < r->nparts; i++) {
		const struct reply_part *p = &r->parts[i];
		const char *base = p->ptr ? p->ptr : r->own.data + p->off;
		/* uv_buf_t is not const-correct; libuv only reads these bytes. */
		bufs[n++] = uv_buf_init((char *)(uintptr_t)base, (unsigned)p->len);
	}
	if (chunked && (r->body_len > 0 || r->kind == REPLY_CHUNK))
		bufs[n++] = uv_buf_init((char *)(uintptr_t) "\r\n", 2);
	return n;
}

void reply_error_body(struct reply *r, const char *code, const char *message)
{
	struct buf b = {0};
	buf_puts(&b, "{\"error\":{\"code\":\"");
	buf_json_escape(&b, code, strlen(code));
	buf_puts(&b, "\",\"message\":\"");
	buf_json_escape(&b, message, strlen(message));
	buf_puts(&b, "\"}}");
	reply_copy(r, b.data, b.len);
	buf_free(&b);
}
