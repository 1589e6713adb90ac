/* request.h: request dispatch, and the request API that handlers use.
 *
 * A conn (the transport) hands each whole request here (request_conn_ops):
 * its id, the bearer token (401, or a bounded hold while a JWKS fetch is in
 * flight), the route (404), the method (405), limits (413, 415), path ids
 * (400), then the route's handler. Malformed and refused requests (400, 408,
 * 431, 503) get their error reply here too, so every reply is counted and
 * logged in one place.
 *
 * Ownership: a struct request lives in its conn's arena, with everything
 * allocated for it (decoded ids, the user id, handler state from
 * request_state); it all goes in one arena_release when the reply is queued
 * or the connection closes. A handler finishes its request with exactly one
 * request_reply_* / request_error / request_stream_end, now or from the
 * callback of request_query. If the client goes away first, the query is
 * cancelled and the callback never runs. */
#ifndef THREADSTORE_REQUEST_H
#define THREADSTORE_REQUEST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"
#include "list.h"
#include "queries.h"
#include "response.h"
#include "router.h"

struct conn;
struct conn_ops;
struct server;
struct request;
typedef void (*request_result_fn)(struct request *r, PGresult *res);
typedef void (*request_drain_fn)(struct request *r);

/* Bytes in the request's arena, NUL-terminated. */
struct request_str {
	char *data;
	size_t len;
};

struct request {
	struct conn *conn;
	const struct http_req *http;
	struct route_match match;
	struct buf user;	   /* the token's sub */
	struct request_str id;	   /* thread or attachment id, decoded */
	struct buf item_id;	   /* decoded (or the body's, for POST) */
	struct buf after;	   /* page cursor, decoded */
	struct buf scratch;	   /* handler working space (rewritten documents) */
	int limit;		   /* page size asked for */
	uint64_t min_lsn;	   /* Threadstore-Min-LSN: read from a node this far on */
	uint64_t lsn;		   /* the highest WAL position of its writes: Threadstore-LSN */
	uint64_t start_ns;	   /* uv_hrtime() when the request was complete */
	char request_id[72];	   /* X-Request-Id, taken from the request or generated */
	void *state;		   /* the handler's, from request_state */
	request_result_fn on_result;
	struct db_query *query; /* in the pool, until its callback */
	struct list key_wait;	/* in srv->key_waiters while held for keys */
	bool key_waited;	/* held once already */
	bool streaming;		/* the head of a chunked reply went out */
	int stream_status;
	size_t stream_bytes;
	request_drain_fn on_drain;  /* streaming: runs when the last chunk is taken */
	request_drain_fn on_closed; /* the connection is closing with this request in hand */
};

/* The callbacks a conn_host gets (server.c wires them). */
void request_on_conn(struct conn *c);
void request_resume(struct conn *c);
void request_drained(struct conn *c);
/* The conn is closing: drops its request (cancels the query, the key hold). */
void request_conn_closed(struct conn *c);
/* A JWKS fetch ended: verify the held requests again (each waits only once). */
void request_keys_settled(void *server);

/* ---- the request API ---- */
struct server *request_server(struct request *r);
/* fn(arg) runs when the request's memory goes (reply queued, or the conn closed). */
void request_on_release(struct request *r, void (*fn)(void *), void *arg);
/* The handler's state: `size` zeroed bytes in the arena, the same on every call. */
void *request_state(struct request *r, size_t size);
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
/* As request_query, for a statement over all users (queries[qid].global: the
 * admin feed, the operator's list): the values are all its parameters, no
 * user id first; anything else is a 500. */
void request_query_global(struct request *r, enum query_id qid, int n, const char *const *values,
			  const int *lengths, request_result_fn on_result);
/* Answers a PGRES_FATAL_ERROR result: 503 for unavailability, else 500. Frees res. */
void request_db_error(struct request *r, PGresult *res);
/* Whether p[0..n) is text PostgreSQL takes: valid UTF-8, no NUL. */
bool request_text_ok(const char *p, size_t n);

#endif
