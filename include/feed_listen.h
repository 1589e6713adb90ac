/* feed_listen.h: the change feed's LISTEN connection (one per instance).
 *
 * One nonblocking libpq connection, outside the pool (a LISTEN must stay on
 * one session: never through a transaction-mode pooler, hence
 * --listen-database-url), driven by one uv_poll_t on the loop: names looked up
 * off the loop (db_resolve.h), PQconnectStart/PQconnectPoll, then `LISTEN
 * threadstore_changes`. Once the LISTEN has committed, on_ready runs: every
 * notification from then on arrives, so the owner catches up from the table
 * what it may have missed before. Each notification's payload goes to
 * on_notify. A lost connection is reopened with jittered backoff (25 ms to
 * 1 s) and on_ready runs again; while it is down the owner is told nothing.
 *
 *   IDLE -> [RESOLVING ->] CONNECTING -> SUBSCRIBING -> READY
 *              (5 s connect deadline)          | lost / refused
 *   BACKOFF <----------------------------------+  (timer) -> RESOLVING/CONNECTING
 *   any -> CLOSED (feed_listen_close) */
#ifndef THREADSTORE_FEED_LISTEN_H
#define THREADSTORE_FEED_LISTEN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

#include "db_resolve.h"

enum feed_listen_state {
	FL_IDLE,
	FL_RESOLVING,
	FL_CONNECTING,
	FL_SUBSCRIBING, /* LISTEN sent, its result not in yet */
	FL_READY,
	FL_BACKOFF,
	FL_CLOSED
};

struct feed_listen {
	uv_loop_t *loop;
	const char *conninfo;
	enum feed_listen_state state; /* written only by set_state */
	struct db_hosts hosts;
	struct db_lookup *lookup;
	PGconn *pg;
	uv_poll_t *poll; /* heap: a new socket needs a new handle while the old closes */
	int poll_fd;
	uv_timer_t timer; /* connect deadline or backoff */
	unsigned backoff_ms;
	int open_handles;
	void *owner;
	void (*on_ready)(void *owner);
	void (*on_notify)(void *owner, const char *payload);
	void (*on_closed)(void *owner);
	unsigned long connects, losses, notifications;
};

int feed_listen_init(struct feed_listen *l, uv_loop_t *loop, const char *conninfo, void *owner)
    __attribute__((warn_unused_result));
void feed_listen_start(struct feed_listen *l);
bool feed_listen_ready(const struct feed_listen *l);
/* The server-side process id of the LISTEN session (0 when down): for tests. */
int feed_listen_pid(const struct feed_listen *l);
/* Drops the connection; on_closed runs once every handle is closed. */
void feed_listen_close(struct feed_listen *l);

#endif
