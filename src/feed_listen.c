/* feed_listen.c: the LISTEN connection; see feed_listen.h. */
#include "feed_listen.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "queries.h"

#define CONNECT_DEADLINE_MS 5000
#define BACKOFF_MIN_MS 25
#define BACKOFF_MAX_MS 1000

static void on_timer(uv_timer_t *t);
static void on_poll(uv_poll_t *h, int status, int events);
static void connect_start(struct feed_listen *l);

static void set_state(struct feed_listen *l, enum feed_listen_state st)
{
	l->state = st;
	switch (st) {
	case FL_RESOLVING: uv_timer_start(&l->timer, on_timer, CONNECT_DEADLINE_MS, 0); break;
	case FL_CONNECTING:
		if (!uv_is_active((uv_handle_t *)&l->timer))
			uv_timer_start(&l->timer, on_timer, CONNECT_DEADLINE_MS, 0);
		break;
	case FL_SUBSCRIBING: break; /* the connect deadline still runs */
	case FL_BACKOFF: uv_timer_start(&l->timer, on_timer, l->backoff_ms, 0); break;
	case FL_READY:
	case FL_IDLE:
	case FL_CLOSED: uv_timer_stop(&l->timer); break;
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct feed_listen *l = h->data;
	if (h != (uv_handle_t *)&l->timer)
		free(h);
	if (--l->open_handles == 0 && l->state == FL_CLOSED && l->on_closed)
		l->on_closed(l->owner);
}

static void poll_drop(struct feed_listen *l)
{
	if (l->poll == NULL)
		return;
	uv_poll_stop(l->poll);
	uv_close((uv_handle_t *)l->poll, on_handle_closed);
	l->poll = NULL;
	l->poll_fd = -1;
}

/* Ends what the connection has under way: its socket's watch, the session,
 * a name lookup in flight. */
static void drop_connection(struct feed_listen *l)
{
	poll_drop(l);
	if (l->pg != NULL) {
		PQfinish(l->pg);
		l->pg = NULL;
	}
	if (l->lookup != NULL) {
		db_lookup_abandon(l->lookup);
		l->lookup = NULL;
	}
}

/* Watches the connection's current socket (libpq may open another while it
 * tries the hosts of its list: then a new handle). */
static int poll_watch(struct feed_listen *l, int events)
{
	int fd = PQsocket(l->pg);
	if (fd < 0)
		return -1;
	if (l->poll != NULL && l->poll_fd != fd)
		poll_drop(l);
	if (l->poll == NULL) {
		l->poll = buf_xcalloc(1, sizeof *l->poll);
		if (uv_poll_init(l->loop, l->poll, fd) != 0) {
			free(l->poll);
			l->poll = NULL;
			return -1;
		}
		l->poll->data = l;
		l->open_handles++;
		l->poll_fd = fd;
	}
	return uv_poll_start(l->poll, events, on_poll) == 0 ? 0 : -1;
}

static void fail(struct feed_listen *l, const char *why)
{
	bool was_up = l->state == FL_READY;
	if (was_up)
		l->losses++;
	char q[512];
	log_warn(was_up ? "change feed LISTEN connection lost"
			: "change feed LISTEN connect failed",
		 "error=%s retry_ms=%u", log_quote(q, sizeof q, why, strlen(why)), l->backoff_ms);
	drop_connection(l);
	uv_timer_stop(&l->timer);
	set_state(l, FL_BACKOFF);
	unsigned next = l->backoff_ms * 2;
	l->backoff_ms = next > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : next;
}

static void subscribed(struct feed_listen *l)
{
	set_state(l, FL_READY);
	l->backoff_ms = BACKOFF_MIN_MS;
	l->connects++;
	log_info("change feed listening", "pid=%d", PQbackendPID(l->pg));
	l->on_ready(l->owner);
}

/* Results and notifications, until libpq would block. */
static void consume(struct feed_listen *l)
{
	if (PQconsumeInput(l->pg) == 0) {
		fail(l, PQerrorMessage(l->pg));
		return;
	}
	while (!PQisBusy(l->pg)) {
		PGresult *res = PQgetResult(l->pg);
		if (res == NULL)
			break;
		ExecStatusType st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK) {
			char why[256];
			snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
			PQclear(res);
			fail(l, why); /* LISTEN refused, or the server ended the session */
			return;
		}
		PQclear(res);
		if (l->state == FL_SUBSCRIBING)
			subscribed(l);
		if (l->state != FL_READY)
			return;
	}
	PGnotify *n;
	while (l->state == FL_READY && (n = PQnotifies(l->pg)) != NULL) {
		l->notifications++;
		l->on_notify(l->owner, n->extra);
		PQfreemem(n);
	}
	if (l->state == FL_READY && PQstatus(l->pg) == CONNECTION_BAD)
		fail(l, PQerrorMessage(l->pg));
}

static void connected(struct feed_listen *l)
{
	PQsetNoticeProcessor(l->pg, NULL, NULL);
	if (PQsetnonblocking(l->pg, 1) != 0 || PQsendQuery(l->pg, "LISTEN " CHANGES_CHANNEL) == 0) {
		fail(l, PQerrorMessage(l->pg));
		return;
	}
	set_state(l, FL_SUBSCRIBING);
	int events = UV_READABLE | (PQflush(l->pg) == 1 ? UV_WRITABLE : 0);
	if (poll_watch(l, events) < 0)
		fail(l, "cannot watch the LISTEN socket");
}

static void connect_step(struct feed_listen *l)
{
	switch (PQconnectPoll(l->pg)) {
	case PGRES_POLLING_OK: connected(l); return;
	case PGRES_POLLING_READING:
		if (poll_watch(l, UV_READABLE) < 0)
			fail(l, "cannot watch the LISTEN socket");
		return;
	case PGRES_POLLING_WRITING:
		if (poll_watch(l, UV_WRITABLE) < 0)
			fail(l, "cannot watch the LISTEN socket");
		return;
	default: fail(l, PQerrorMessage(l->pg)); return;
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct feed_listen *l = h->data;
	(void)status; /* an error shows in libpq's next call */
	if (l->pg == NULL)
		return;
	if (l->state == FL_CONNECTING) {
		connect_step(l);
		return;
	}
	if (l->state != FL_SUBSCRIBING && l->state != FL_READY)
		return;
	if (events & UV_WRITABLE) {
		int f = PQflush(l->pg);
		if (f < 0) {
			fail(l, PQerrorMessage(l->pg));
			return;
		}
		if (f == 0 && poll_watch(l, UV_READABLE) < 0) {
			fail(l, "cannot watch the LISTEN socket");
			return;
		}
	}
	if (events & UV_READABLE)
		consume(l);
}

/* As db.c's connect, with TCP keepalives: a LISTEN session is idle for long,
 * and one the network dropped must not go unnoticed. */
static void connect_now(struct feed_listen *l, const char *host, const char *hostaddr,
			const char *port)
{
	set_state(l, FL_CONNECTING);
	l->pg = db_connect_start(l->conninfo, "threadstore-listen", true, host, hostaddr, port);
	if (l->pg == NULL) {
		fail(l, "out of memory");
		return;
	}
	if (PQstatus(l->pg) == CONNECTION_BAD) {
		fail(l, PQerrorMessage(l->pg));
		return;
	}
	if (poll_watch(l, UV_WRITABLE) < 0)
		fail(l, "cannot watch the LISTEN socket");
}

static void on_lookup(void *arg, const char *host, const char *hostaddr, const char *port,
		      const char *err)
{
	struct feed_listen *l = arg;
	l->lookup = NULL;
	if (err != NULL)
		fail(l, err);
	else
		connect_now(l, host, hostaddr, port);
}

static void connect_start(struct feed_listen *l)
{
	if (!l->hosts.lookup) {
		connect_now(l, l->hosts.host, l->hosts.hostaddr, l->hosts.port);
		return;
	}
	set_state(l, FL_RESOLVING);
	const char *err = NULL;
	l->lookup = db_lookup_start(l->loop, &l->hosts, on_lookup, l, &err);
	if (l->lookup == NULL)
		fail(l, err ? err : "cannot look the host up");
}

static void on_timer(uv_timer_t *t)
{
	struct feed_listen *l = t->data;
	switch (l->state) {
	case FL_BACKOFF: connect_start(l); break;
	case FL_RESOLVING:
	case FL_CONNECTING:
	case FL_SUBSCRIBING: fail(l, "connect timed out"); break;
	default: break;
	}
}

int feed_listen_init(struct feed_listen *l, uv_loop_t *loop, const char *conninfo, void *owner)
{
	memset(l, 0, sizeof *l);
	l->loop = loop;
	l->conninfo = conninfo;
	l->owner = owner;
	l->poll_fd = -1;
	l->backoff_ms = BACKOFF_MIN_MS;
	if (db_hosts_parse(&l->hosts, conninfo) < 0 || uv_timer_init(loop, &l->timer) != 0)
		return -1;
	l->timer.data = l;
	l->open_handles = 1;
	return 0;
}

void feed_listen_start(struct feed_listen *l)
{
	connect_start(l);
}

bool feed_listen_ready(const struct feed_listen *l)
{
	return l->state == FL_READY;
}

int feed_listen_pid(const struct feed_listen *l)
{
	return l->state == FL_READY ? PQbackendPID(l->pg) : 0;
}

void feed_listen_close(struct feed_listen *l)
{
	if (l->state == FL_CLOSED)
		return;
	drop_connection(l);
	set_state(l, FL_CLOSED);
	db_hosts_free(&l->hosts);
	uv_close((uv_handle_t *)&l->timer, on_handle_closed);
}
