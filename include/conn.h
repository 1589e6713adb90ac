/* conn.h: one client connection: the transport, and nothing above it.
 *
 * A conn owns its uv_tcp_t and uv_timer_t (embedded; freed only in the last
 * close callback), its llhttp front end, the bytes received but not yet
 * parsed, the reply being written, and the arena of the request in hand.
 * What a request means (auth, routes, handlers, the database) is its owner's
 * business: the conn hands each whole request to ops->request and is told
 * back through conn_reply_send / conn_stream_* / conn_hold.
 *
 *   IDLE -> READING -> SERVING [-> KEY_WAIT -> SERVING] -> reply:
 *     keep-alive: IDLE (all written at once) or WRITING -> IDLE
 *     stream:     STREAMING (chunk by chunk) -> IDLE / WRITING / CLOSING
 *     otherwise:  CLOSING (being written) -> LINGER (FIN sent) -> CLOSED
 * (the full diagram is in docs/ARCHITECTURE.md, "The connection's states").
 *
 * Timers, one per state (conn_set_state arms it; nothing else writes state):
 *   IDLE --idle-timeout--> close        READING --request-timeout--> 408
 *   KEY_WAIT --hold ms--> ops->resume    SERVING: none (the pool's query deadline answers)
 *   WRITING, STREAMING, CLOSING --write-timeout without one byte taken--> close
 *   LINGER --2 s--> close
 * Any state may go to CLOSED (peer reset, write error, timeouts): conn_close,
 * the one close path. */
#ifndef THREADSTORE_CONN_H
#define THREADSTORE_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "http.h"
#include "list.h"
#include "response.h"

struct config;
struct conn;
struct conn_host;
struct request; /* the owner's, allocated in c->arena */

#define CONN_READ_BUF (64 * 1024)

enum conn_state {
	CONN_IDLE,	/* between requests, no byte of the next one yet */
	CONN_READING,	/* a request is arriving */
	CONN_SERVING,	/* the owner has the whole request (handler, database) */
	CONN_KEY_WAIT,	/* the owner holds the request until keys arrive (bounded) */
	CONN_WRITING,	/* a keep-alive reply is queued to a slow reader */
	CONN_STREAMING, /* a chunked reply is under way */
	CONN_CLOSING,	/* the last reply is being written */
	CONN_LINGER,	/* FIN sent, reading until the peer's FIN */
	CONN_CLOSED,
};

struct conn_ops {
	/* A whole request is in c->in.req, or c->in.error_status says why there
	 * is none (400/408/431/503 ...): answer it with one reply. */
	void (*request)(struct conn *c);
	/* KEY_WAIT's time is up: serve the held request now. */
	void (*resume)(struct conn *c);
	/* STREAMING: the client took everything written; make the next chunk. */
	void (*drained)(struct conn *c);
	/* conn_close is closing c (c->req may be set: drop it, cancel its query). */
	void (*closed)(struct conn *c);
	/* The last handle of a closed conn closed; its memory is gone. */
	void (*freed)(struct conn_host *host);
};

/* What every conn shares: the owner's callbacks, limits, the read buffer. */
struct conn_host {
	uv_loop_t *loop;
	const struct config *cfg;
	const struct conn_ops *ops;
	struct http_budget budget; /* request-body bytes held, all conns */
	size_t reply_bytes;	   /* reply bodies queued in uv_write, all conns */
	bool draining;		   /* shutting down: no keep-alive */
	unsigned long write_timeouts;
	char readbuf[CONN_READ_BUF]; /* shared by all reads: see conn.c on_alloc */
};

struct out;

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct conn_host *host;
	struct list link; /* the owner's registry of conns */
	enum conn_state state;
	int open_handles;
	struct http_in in;
	struct buf pending;  /* received, not parsed yet */
	struct arena arena;  /* the current request's memory */
	struct request *req; /* the owner's request object, in arena; NULL between requests */
	struct out *out;     /* reply under construction */
	int writes;	     /* uv_write requests in flight */
	bool driving;	     /* inside conn_drive: a synchronous reply must not re-enter */
	bool reading;	     /* uv_read_start is on */
	bool eof;	     /* the peer sent FIN */
	bool continue_sent;  /* "100 Continue" went out for this request */
	bool stream_keep;    /* the stream's head said keep-alive: so does its end */
	bool eof_closes;     /* this request's stream is endless: the peer's FIN ends it */
	/* write timer: the queue size when last looked at, and when it last shrank */
	size_t write_queued;
	uint64_t write_progress_ms;
};

/* Takes an accepted, nonblocking socket. Returns the conn (reading), or NULL
 * after closing fd (out of handles: nothing to answer on). */
struct conn *conn_accept(struct conn_host *host, uv_os_sock_t fd);
/* Answers a request that cannot be served (c->in gets the status): used for
 * 503 at accept when over --max-connections. */
void conn_fail(struct conn *c, int status, const char *message);
/* Closes now if idle, else once the current response is written. */
void conn_shutdown(struct conn *c);
void conn_close(struct conn *c);

/* ---- for the owner, while it holds a request (SERVING/KEY_WAIT/STREAMING) ---- */
/* The reply under construction (reset if one was begun). */
struct reply *conn_reply(struct conn *c, int status);
/* The reply begun with conn_reply (a 500 is begun if none was). */
struct reply *conn_reply_current(struct conn *c);
/* Whether this request's framing allows another on the connection. */
bool conn_can_keep_alive(const struct conn *c);
/* Sends the reply as the whole response and ends the request: the next one
 * is read, or the connection closes after it (keep false). Frees c->arena. */
void conn_reply_send(struct conn *c, bool keep);
/* Sends the reply as the stream's head (first call: `keep` says whether the
 * owner allows keep-alive, and the head promises what it and the framing
 * allow) or its next chunk; ops->drained runs once the client has taken it all. */
void conn_stream_send(struct conn *c, bool first, bool keep);
/* Sends the last chunk (or nothing, for HTTP/1.0's close-delimited body, or
 * after a HEAD) and ends the request as conn_reply_send does, keeping the
 * connection if the head promised to. */
void conn_stream_end(struct conn *c);
/* KEY_WAIT for at most ms (ops->resume then), and back to SERVING. */
void conn_hold(struct conn *c, unsigned ms);
void conn_unhold(struct conn *c);

#endif
