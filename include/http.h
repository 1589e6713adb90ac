/* http.h: the request front end. Bytes in, whole requests out; no I/O here.
 *
 * A struct http_in wraps one llhttp parser for one client connection. The
 * connection feeds it whatever bytes arrived; it accumulates the URL, the few
 * headers we use and the body, each within its limit, and stops (pauses)
 * after each complete request so that pipelined requests are served one at a
 * time, in order. The bytes it did not consume belong to the caller, who feeds
 * them again after http_in_next().
 *
 * Ownership: the http_in owns the struct http_req buffers; they stay valid
 * until http_in_next() or http_in_free().
 *
 * Body memory is bounded twice: per request by max_body (413), and across all
 * connections by a shared struct http_budget: a body's bytes are reserved
 * before they are stored, in steps as they arrive, and given back when the
 * request is forgotten. A Content-Length that does not fit what is left is
 * refused at the headers; past the budget the request fails with 503 (the
 * caller adds Retry-After). */
#ifndef THREADSTORE_HTTP_H
#define THREADSTORE_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Request-body bytes held at once, across every connection. */
struct http_budget {
	size_t limit;
	size_t used;
};

enum http_in_status {
	HTTP_IN_MORE,	 /* all bytes consumed, request not complete yet */
	HTTP_IN_REQUEST, /* a request is ready in h->req; parser paused */
	HTTP_IN_ERROR,	 /* malformed or over a limit: answer error_status, then close */
};

struct http_req {
	int method; /* llhttp_method_t */
	struct buf url;
	struct buf authorization;
	struct buf content_type;
	struct buf request_id;
	struct buf min_lsn; /* Threadstore-Min-LSN (read-your-writes: db_route.h) */
	struct buf accept;	  /* for text/event-stream (the change feed) */
	struct buf last_event_id; /* an EventSource's resume point */
	struct buf body;
	bool keep_alive;
	bool has_body;		/* Content-Length or chunked framing was present */
	bool expect_continue;	/* client waits for "100 Continue" before the body */
	bool body_too_large;	/* body over max_body: answer 413 and close */
	bool content_type_bad;	/* over-long Content-Type: never application/json (415) */
	bool head;		/* HEAD: answer as GET, without the body */
	bool last_event_id_bad; /* over 256 bytes: never one of our cursors */
	bool http10;		/* HTTP/1.0: keep-alive must be said in the response */
	bool over_budget;	/* 503: the shared body budget had no room for it */
};

struct http_in {
	llhttp_t parser;
	struct http_req req;
	size_t max_header, max_body;
	struct http_budget *budget; /* may be NULL: no shared bound */
	size_t reserved;	    /* bytes of the budget this request holds */
	size_t declared;	    /* the body's Content-Length, or 0 (chunked, none) */
	size_t header_bytes;
	int cur;	  /* which header the value spans belong to */
	unsigned seen;	  /* tracked headers seen in this request (duplicates: 400) */
	char field[32];	  /* the header name, then the Expect value */
	size_t field_len; /* > sizeof field means "a name we do not track" */
	int error_status; /* for HTTP_IN_ERROR: 400, 431, ... */
	const char *error_msg;
	bool headers_done;
	bool started; /* a request has begun and is not yet served */
};

void http_in_init(struct http_in *h, size_t max_header, size_t max_body,
		  struct http_budget *budget);
void http_in_free(struct http_in *h);
/* Parses up to len bytes; returns how many were consumed and sets *st. */
size_t http_in_feed(struct http_in *h, const char *data, size_t len, enum http_in_status *st);
/* The request is answered: its body (and its share of the budget) goes now,
 * even if the connection lingers before it closes. */
void http_in_drop_body(struct http_in *h);
/* After an HTTP_IN_REQUEST was served: forget it and resume parsing. */
void http_in_next(struct http_in *h);
/* True while a request has started but is not complete (for timeouts, EOF). */
bool http_in_mid_request(const struct http_in *h);

#endif
