/* response.h: one HTTP response under construction.
 *
 * A reply is a status, extra header lines and a body made of parts. A part
 * either points at bytes someone else keeps alive (static strings, or values
 * inside the PGresult the reply holds) or is copied into the reply's own
 * buffer. Pages of stored documents are thus sent straight from libpq's
 * result memory, never copied or re-serialised. The reply owns `res` and
 * frees it in reply_free, after the bytes are written. */
#ifndef THREADSTORE_RESPONSE_H
#define THREADSTORE_RESPONSE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"

struct reply_part {
	const char *ptr; /* NULL: bytes at `off` in own */
	size_t off;
	size_t len;
};

enum reply_kind {
	REPLY_FULL,        /* status, headers, Content-Length body */
	REPLY_STREAM_HEAD, /* status, headers, Transfer-Encoding: chunked, first chunk */
	REPLY_CHUNK,       /* one more chunk (an empty one ends the body) */
};

struct reply {
	int status;
	enum reply_kind kind;
	bool raw_stream; /* HTTP/1.0 peer: no chunk framing, the close ends the body */
	/* The status line and the headers added so far (head_fixed bytes);
	 * reply_finish appends the framing headers after them. */
	struct buf head;
	size_t head_fixed;
	struct buf own;
	struct reply_part *parts;
	size_t nparts, cap;
	size_t body_len;
	PGresult *res;
	const char *content_type;
};

void reply_init(struct reply *r, int status);
void reply_free(struct reply *r);
void reply_header(struct reply *r, const char *name, const char *value);
void reply_ref(struct reply *r, const char *p, size_t n);  /* kept alive by caller/res */
void reply_copy(struct reply *r, const char *p, size_t n); /* copied */
void reply_copy_str(struct reply *r, const char *s);
/* The reply takes ownership of res (at most one per reply). */
void reply_keep_result(struct reply *r, PGresult *res);
/* How the reply is framed for this peer (reply_finish flags). */
enum {
	REPLY_KEEP_ALIVE = 1, /* else "Connection: close" */
	REPLY_HTTP10 = 2,     /* an HTTP/1.0 peer: keep-alive must be said */
	REPLY_NO_BODY = 4,    /* HEAD: the headers a GET would get, no body bytes */
};
/* Builds the head and fills bufs (2 + nparts entries, caller-allocated). */
size_t reply_finish(struct reply *r, unsigned flags, uv_buf_t *bufs);
/* {"error":{"code":...,"message":...}} */
void reply_error_body(struct reply *r, const char *code, const char *message);
const char *reply_status_text(int status);

#endif
