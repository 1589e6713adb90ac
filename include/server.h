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
#include "conn.h"
#include "db.h"
#include "list.h"
#include "metrics.h"

struct server {
	uv_loop_t *loop;
	const struct config *cfg;
	struct auth auth;
	struct db_pool pool;
	/* The listening socket is ours, not a uv_tcp_t's, so that accept errors
	 * (EMFILE) reach us: libuv would close such connections silently. */
	uv_poll_t listener;
	uv_os_sock_t listen_fd;
	int spare_fd;		 /* kept open to answer 503 when out of descriptors */
	uv_timer_t accept_retry; /* out of descriptors and no spare: accept again later */
	uint64_t emfile_logged_ms;
	unsigned long emfile_refused;
	struct conn_host host; /* what every conn shares (read buffer, body budget) */
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
};

int server_start(struct server *s, uv_loop_t *loop, const struct config *cfg)
    __attribute__((warn_unused_result));
void server_shutdown(struct server *s);
/* The part of server_start that conns need: the registry and struct conn_host
 * (the fuzz target drives conns on socketpairs with no listener or database). */
void server_host_init(struct server *s, uv_loop_t *loop, const struct config *cfg);
/* Registers an accepted socket as a conn (503 past --max-connections). */
struct conn *server_take(struct server *s, uv_os_sock_t fd);
/* Holds a request whose token may verify once the JWKS fetch in flight ends. */
void server_wait_for_keys(struct server *s, struct list *link);
/* A connection closed: lets a draining server finish. */
void server_conn_closed(struct server *s);

#endif
