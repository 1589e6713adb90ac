/* db_resolve.h: where the pool's connections go, found without blocking the loop.
 *
 * libpq resolves every host name of its host list with a blocking
 * getaddrinfo() inside PQconnectPoll. Part of the db module: the host list is
 * read once at start as libpq itself would read it (DATABASE_URL, then the
 * PG* environment and PGSERVICE's service file), and before each connect
 * every name in it is looked up on libuv's thread pool; the pool then hands
 * libpq `host`/`hostaddr`/`port` lists of the same length, one entry per
 * address (a name repeated once per address it has). libpq still tries the
 * entries in order, applies target_session_attrs to each, and checks TLS
 * certificates against the name; it never looks a name up.
 *
 * Ownership: the pool owns its db_hosts; a lookup reads them only until it
 * reports or is abandoned, and frees itself. */
#ifndef THREADSTORE_DB_RESOLVE_H
#define THREADSTORE_DB_RESOLVE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

struct db_host {
	char *host;	/* as written ("" for libpq's default socket) */
	char *hostaddr; /* "" unless given, or host is an address itself */
	char *port;
	bool lookup; /* a name only getaddrinfo can turn into addresses */
};

struct db_hosts {
	int n;
	struct db_host *h;
	bool lookup;		      /* some entry needs a lookup */
	bool unknown;		      /* a service named in DATABASE_URL: libpq reads its hosts */
	char *host, *hostaddr, *port; /* the lists to pass when no entry needs a lookup */
};

/* Reads the host list of conninfo as libpq would. A conninfo libpq would
 * reject leaves hs empty (n == 0): libpq reports the error when connecting,
 * before any lookup. Returns -1 only when out of memory. */
int db_hosts_parse(struct db_hosts *hs, const char *conninfo) __attribute__((warn_unused_result));
void db_hosts_free(struct db_hosts *hs);

/* Called once, on the loop: the lists to connect with (each entry an address
 * or a socket), or NULL lists and err when no entry could be resolved. */
typedef void (*db_lookup_fn)(void *arg, const char *host, const char *hostaddr, const char *port,
			     const char *err);

struct db_lookup;
/* Looks up every name of hs at once. NULL with *err set when it cannot start. */
struct db_lookup *db_lookup_start(uv_loop_t *loop, const struct db_hosts *hs, db_lookup_fn done,
				  void *arg, const char **err);
/* done is never called; the lookup frees itself when its requests end. */
void db_lookup_abandon(struct db_lookup *l);

/* Starts libpq's nonblocking connect (PQconnectStartParams) to conninfo, as
 * the pool's connections and the change feed's LISTEN do: UTF8, appname as
 * the fallback application name, with keepalives TCP keepalives (20 s idle,
 * 5 s interval, 3 probes: a connection the network dropped is noticed within
 * a minute or so; conninfo's own settings win), and with host (then hostaddr
 * and port: a lookup's lists, one length, every entry an address or a
 * socket) libpq looks no name up, still tries every entry in turn, and
 * verifies TLS certificates against the name; with host NULL, conninfo names
 * no host that needs a lookup. NULL when out of memory. */
PGconn *db_connect_start(const char *conninfo, const char *appname, bool keepalives,
			 const char *host, const char *hostaddr, const char *port);

#endif
