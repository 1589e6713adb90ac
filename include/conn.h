/* conn.h: one client connection, and the request API that handlers use.
 *
 * A conn owns its uv_tcp_t and uv_timer_t (embedded; freed only in the last
 * close callback), its llhttp front end, the bytes received but not yet parsed,
 * and the one request being served. Requests on a connection are served one at
 * a time, in order; pipelined ones wait in `pending`.
 *
 * States: READING (parsing; no request being served) -> BUSY (a handler or its
 * query is working) -> READING again, or LINGER (final response sent, waiting
 * for the peer's FIN) -> CLOSED. conn_set_state is the one place that changes it.
 *
 * A handler finishes its request with exactly one request_reply_* or
 * request_error call, now or from the callback of request_query. If the client
 * goes away first, its query is cancelled and the callback never runs. */
#ifndef THREADSTORE_CONN_H
#define THREADSTORE_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

#include "buf.h"
#include "http.h"
#include "list.h"
#include "queries.h"
#include "response.h"
#include "router.h"

struct server;
struct request;
typedef void (*request_result_fn)(struct request *r, PGresult *res);
typedef void (*request_drain_fn)(struct request *r);

struct request {
	const struct http_req *http;
	struct route_match match;
	struct buf user;     /* the token's sub */
	struct buf id;	     /* thread or attachment id, decoded */
	struct buf item_id;  /* decoded */
	struct buf after;    /* page cursor, decoded */
	struct buf scratch;  /* handler working space (rewritten documents) */
	int limit;	     /* page size asked for */
	uint64_t start_ns;   /* uv_hrtime() when the request was complete */
	char request_id[72]; /* X-Request-Id, taken from the request or generated */
	/* export: the keyset position (created_us, seq) as text, and progress */
	char export_us[24], export_seq[24];
	long export_rows;
	int export_batch;
	request_result_fn on_result;
};

enum conn_state { CONN_READING, CONN_BUSY, CONN_LINGER, CONN_CLOSED };

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct server *srv;
	struct list link;
	enum conn_state state;
	int open_handles;
	struct http_in in;
	struct buf pending;
	struct request req;
	struct db_query *query;
	struct out *out; /* reply under construction */
	int writes;	 /* uv_write requests in flight */
	bool driving;	 /* inside conn_drive: do not re-enter */
	bool reading;	 /* uv_read_start is on */
	bool eof;
	bool close_after_write; /* last response queued: linger and close once written */
	bool streaming;		/* a chunked response is under way */
	int stream_status;
	bool stream_keep; /* the head said keep-alive: so does the end */
	size_t stream_bytes;
	request_drain_fn on_drain; /* streaming: called when the last chunk is written */
	bool continue_sent;
	bool request_timer;   /* the timer is timing a request, not idleness */
	struct list key_wait; /* in srv->key_waiters while its request waits for keys */
	bool key_waited;      /* this request waited once already */
};

int conn_accept(struct server *srv, uv_stream_t *listener) __attribute__((warn_unused_result));
/* Closes now if idle, else once the current response is written. */
void conn_shutdown(struct conn *c);
void conn_close(struct conn *c);
/* Serves the held request again (after a JWKS fetch, or the hold's time limit). */
void conn_resume(struct conn *c);

/* ---- the request API ---- */
struct server *request_server(struct request *r);
struct reply *request_reply_begin(struct request *r, int status);
void request_reply_send(struct request *r);
void request_reply_empty(struct request *r, int status);
/* Streaming: build a reply with request_reply_begin, then send it as the head
 * (first call) or the next chunk. `next` runs once the client has taken it all,
 * so a slow reader paces the producer and memory stays at one chunk. */
void request_stream_send(struct request *r, request_drain_fn next);
void request_stream_end(struct request *r);
/* Mid-stream failure: the status is sent already, so close without the last chunk. */
void request_stream_abort(struct request *r, const char *why);
void request_error(struct request *r, int status, const char *code, const char *message);
/* Runs a statement with $1 = the user id followed by `n` text params; on_result
 * gets the result (owning it). A refusal (no database, queue full) is answered 503 here. */
void request_query(struct request *r, enum query_id qid, int n, const char *const *values,
		   const int *lengths, request_result_fn on_result);
/* Answers a PGRES_FATAL_ERROR result: 503 for unavailability, else 500. Frees res. */
void request_db_error(struct request *r, PGresult *res);

#endif
