/* server.h: the listener, the registry of client connections, the database
 * pool and the shutdown order. One struct server per process, passed to
 * everything that needs shared state (there are no mutable globals).
 *
 * Shutdown (SIGTERM/SIGINT): readiness turns false, the listener closes, idle
 * connections close, busy ones close after their response; after the drain
 * timeout the rest are closed. Then the pool closes and the loop ends. */
#ifndef THREADSTORE_SERVER_H
#define THREADSTORE_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "list.h"
#include "metrics.h"

#define SERVER_READ_BUF (64 * 1024)

struct server {
	uv_loop_t *loop;
	const struct config *cfg;
	struct auth auth;
	struct db_pool pool;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	uv_timer_t drain_timer;
	struct list conns;
	int nconns;
	struct list key_waiters; /* conns holding a request until a JWKS fetch ends */
	bool draining;
	int exit_code;
	struct metrics metrics;
	uint64_t request_seq;	       /* for generated request ids */
	uint32_t instance_id;	       /* random per process: ids from several instances differ */
	char readbuf[SERVER_READ_BUF]; /* shared by all reads: see conn.c on_alloc */
};

int server_start(struct server *s, uv_loop_t *loop, const struct config *cfg)
    __attribute__((warn_unused_result));
void server_shutdown(struct server *s);
/* Holds a request whose token may verify once the JWKS fetch in flight ends. */
void server_wait_for_keys(struct server *s, struct list *link);
/* A connection closed: lets a draining server finish. */
void server_conn_closed(struct server *s);

#endif
