/* server.h: the listener, the registry of client connections, the database
 * pool and the start and shutdown order. One struct server per process, passed
 * to everything that needs shared state (there are no mutable globals).
 *
 * Start: the listening socket is bound at once (a taken port fails start-up),
 * but listen(2) waits until the instance is ready (a database connection up,
 * the first JWKS loaded), the first database connect fails, or START_WAIT_MS
 * passes: until then connects are refused, so a balancer that still has the
 * instance in rotation (a crash and a quick restart) sends it no traffic it
 * would answer with 503. After a database failure or the wait it listens
 * anyway: /healthz answers and /readyz says 503 and why.
 *
 * Shutdown (SIGTERM/SIGINT), in two steps so a load balancer sees it coming:
 *   draining: /readyz turns 503, the listener stays open and requests are
 *     served for --drain-delay, each response with `Connection: close` (so
 *     keep-alive connections move away after an answer, never in the middle
 *     of one); idle connections are left open, since a balancer may still
 *     send a request on them;
 *   closing_connections: the listener and idle connections close (the
 *     balancer has marked the instance down by now), requests in flight
 *     finish, for at most --drain-timeout; then the pool closes and the loop
 *     ends. A second signal skips what is left of the drain delay. */
#ifndef THREADSTORE_SERVER_H
#define THREADSTORE_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "admin.h"
#include "auth.h"
#include "config.h"
#include "conn.h"
#include "db.h"
#include "db_route.h"
#include "feed.h"
#include "list.h"
#include "metrics.h"
#include "sweep.h"

struct server {
	uv_loop_t *loop;
	const struct config *cfg;
	struct auth auth;
	struct admin admin;    /* the /admin credential (--admin-token-file) */
	struct db_pool pool;   /* the primary's */
	struct db_route route; /* the read replicas', and where each statement runs */
	struct feed feed;      /* the change feed: subscribers, LISTEN, retention */
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
	uv_timer_t drain_timer; /* the drain delay, then the drain timeout */
	uv_check_t start_check; /* before listening: is the instance ready yet? */
	uv_timer_t start_timer; /* bounds that wait */
	struct list conns;
	int nconns;
	struct list key_waiters;  /* conns holding a request until a JWKS fetch ends */
	bool listening;		  /* listen(2) was called: a balancer may send traffic */
	bool draining;		  /* signalled: not ready, no more keep-alive */
	bool closing_connections; /* after the drain delay: idle connections close */
	int exit_code;
	struct metrics metrics;
	struct sweep sweep; /* expired and retained threads (sweep.h) */
	uint64_t request_seq;	       /* for generated request ids */
	uint32_t instance_id;	       /* random per process: ids from several instances differ */
};

int server_start(struct server *s, uv_loop_t *loop, const struct config *cfg)
    __attribute__((warn_unused_result));
void server_shutdown(struct server *s);
/* What /readyz answers: true, or false with *why (for the 503's message). */
bool server_ready(const struct server *s, const char **why);
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
