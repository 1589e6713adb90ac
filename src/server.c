/* server.c: listener, accept, connection registry, the start and shutdown order. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

/* The longest a starting instance keeps its port closed waiting to be ready.
 * db.c gives a first connect 5 s; a refused one ends the wait at once. */
#define START_WAIT_MS 5000

static void on_connection(uv_stream_t *l, int status)
{
	struct server *s = container_of((uv_tcp_t *)l, struct server, listener);
	if (status < 0) {
		log_warn("accept failed", "error=%s", uv_strerror(status));
		return;
	}
	if (conn_accept(s, l) < 0)
		log_warn("connection refused", "conns=%d", s->nconns);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;
	log_info("shutting down", "signal=%d conns=%d", signum, s->nconns);
	server_shutdown(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_pool_closed(struct db_pool *p)
{
	struct server *s = container_of(p, struct server, pool);
	uv_close((uv_handle_t *)&s->sigterm, on_handle_closed);
	uv_close((uv_handle_t *)&s->sigint, on_handle_closed);
	uv_close((uv_handle_t *)&s->drain_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->start_check, on_handle_closed);
	uv_close((uv_handle_t *)&s->start_timer, on_handle_closed);
	log_info("stopped", "%s", "");
}

static void maybe_finish(struct server *s)
{
	if (s->closing_connections && s->nconns == 0 && !s->pool.closing) {
		uv_timer_stop(&s->drain_timer);
		auth_close(&s->auth); /* no request is left to verify; closes the JWKS fetcher */
		db_pool_close(&s->pool, on_pool_closed);
	}
}

/* A JWKS fetch ended: verify the held requests again (each waits only once). */
static void on_keys_settled(void *arg)
{
	struct server *s = arg;
	struct list waiting, *e;
	list_init(&waiting);
	while ((e = list_pop_front(&s->key_waiters)) != NULL)
		list_push_back(&waiting, e);
	while ((e = list_pop_front(&waiting)) != NULL)
		conn_resume(container_of(e, struct conn, key_wait));
}

void server_wait_for_keys(struct server *s, struct list *link)
{
	list_push_back(&s->key_waiters, link);
}

void server_conn_closed(struct server *s)
{
	maybe_finish(s);
}

bool server_ready(const struct server *s, const char **why)
{
	const char *w = NULL;
	if (s->draining)
		w = "shutting down";
	else if (!db_ready(&s->pool))
		w = "no database connection is ready";
	else if (s->cfg->jwks_url != NULL && s->auth.keys == NULL)
		w = "the JWKS has not been loaded yet"; /* every token would get 401 */
	if (why != NULL)
		*why = w;
	return w == NULL;
}

/* ---- shutdown ------------------------------------------------------------------------- */

static void on_drain_timeout(uv_timer_t *t)
{
	struct server *s = container_of(t, struct server, drain_timer);
	log_warn("drain timeout, closing connections", "conns=%d", s->nconns);
	struct list *e, *next;
	for (e = s->conns.next; e != &s->conns; e = next) {
		next = e->next;
		conn_close(container_of(e, struct conn, link));
	}
}

/* The second step: no new connections, idle ones closed, busy ones closed
 * after their response (conn_shutdown), the rest after --drain-timeout. */
static void close_connections(struct server *s)
{
	s->closing_connections = true;
	log_info("closing connections", "conns=%d", s->nconns);
	uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	uv_timer_start(&s->drain_timer, on_drain_timeout, s->cfg->drain_timeout_ms, 0);
	struct list *e, *next;
	for (e = s->conns.next; e != &s->conns; e = next) {
		next = e->next;
		conn_shutdown(container_of(e, struct conn, link));
	}
	maybe_finish(s);
}

static void on_drain_delay(uv_timer_t *t)
{
	close_connections(container_of(t, struct server, drain_timer));
}

void server_shutdown(struct server *s)
{
	if (s->draining) {
		if (!s->closing_connections) {
			log_info("drain delay cut short", "conns=%d", s->nconns);
			uv_timer_stop(&s->drain_timer);
			close_connections(s);
		}
		return;
	}
	s->draining = true;
	uv_check_stop(&s->start_check);
	uv_timer_stop(&s->start_timer);
	/* Never listened: no balancer can have sent us anything, nothing to wait for. */
	if (!s->listening || s->cfg->drain_delay_ms == 0) {
		close_connections(s);
		return;
	}
	/* Keep serving while the balancer's checks see /readyz 503 and take us out:
	 * closing the listener now would show it only refused connections, and
	 * requests it had already sent our way would fail. */
	log_info("draining", "delay_ms=%u conns=%d", s->cfg->drain_delay_ms, s->nconns);
	uv_timer_start(&s->drain_timer, on_drain_delay, s->cfg->drain_delay_ms, 0);
}

/* ---- start ---------------------------------------------------------------------------- */

static void log_listening(struct server *s)
{
	struct sockaddr_storage bound;
	int len = sizeof bound;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) == 0) {
		if (bound.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bound;
			uv_ip6_name(a, ip, sizeof ip);
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&bound;
			uv_ip4_name(a, ip, sizeof ip);
			port = ntohs(a->sin_port);
		}
	}
	const char *why;
	bool ready = server_ready(s, &why);
	log_info("listening", "addr=%s:%d pool=%d ready=%s", ip, port, s->cfg->pool_size,
		 ready ? "yes" : "no");
	if (!ready)
		log_warn("listening before the instance is ready", "reason=\"%s\"", why);
}

static void start_listening(struct server *s)
{
	uv_check_stop(&s->start_check);
	uv_timer_stop(&s->start_timer);
	if (s->listening || s->draining)
		return;
	int rc = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
	if (rc != 0) {
		log_error("cannot listen", "addr=%s port=%d error=%s", s->cfg->listen_host,
			  s->cfg->listen_port, uv_strerror(rc));
		s->exit_code = 1;
		server_shutdown(s);
		return;
	}
	s->listening = true;
	log_listening(s);
}

/* Runs after every loop turn until listening: readiness changes only in I/O
 * callbacks, so this sees it in the same turn, without polling. A failed
 * database connect also ends the wait: the database is down, and /healthz and
 * /readyz should say so rather than refuse connections. */
static void on_start_check(uv_check_t *h)
{
	struct server *s = container_of(h, struct server, start_check);
	if (server_ready(s, NULL) || s->pool.reconnects > 0)
		start_listening(s);
}

static void on_start_timeout(uv_timer_t *t)
{
	start_listening(container_of(t, struct server, start_timer));
}

/* Binds the listening socket, but does not listen yet (start_listening). The
 * socket is made here rather than by uv_tcp_bind, which defers EADDRINUSE to
 * uv_listen: a port in use must fail start-up at once. */
static int bind_listener(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;
	if (strchr(cfg->listen_host, ':')) {
		rc = uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&ss);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		rc = uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&ss);
		sslen = sizeof(struct sockaddr_in);
	}
	if (rc != 0) {
		log_error("bad listen address", "addr=%s error=%s", cfg->listen_host,
			  uv_strerror(rc));
		return -1;
	}
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		log_error("cannot listen", "addr=%s port=%d error=%s", cfg->listen_host,
			  cfg->listen_port, uv_strerror(rc));
		return -1;
	}
	if ((rc = uv_tcp_init(s->loop, &s->listener)) != 0 ||
	    (rc = uv_tcp_open(&s->listener, fd)) != 0) {
		close(fd);
		log_error("cannot listen", "addr=%s port=%d error=%s", cfg->listen_host,
			  cfg->listen_port, uv_strerror(rc));
		return -1;
	}
	return 0;
}

int server_start(struct server *s, uv_loop_t *loop, const struct config *cfg)
{
	memset(s, 0, sizeof *s);
	s->loop = loop;
	s->cfg = cfg;
	list_init(&s->conns);
	list_init(&s->key_waiters);
	if (uv_random(NULL, NULL, &s->instance_id, sizeof s->instance_id, 0, NULL) != 0)
		s->instance_id = (uint32_t)uv_os_getpid();
	if (auth_setup(&s->auth, cfg) < 0)
		return -1;
	if (db_pool_init(&s->pool, loop, cfg) < 0)
		return -1;
	if (uv_signal_init(loop, &s->sigterm) != 0 || uv_signal_init(loop, &s->sigint) != 0 ||
	    uv_timer_init(loop, &s->drain_timer) != 0 ||
	    uv_check_init(loop, &s->start_check) != 0 || uv_timer_init(loop, &s->start_timer) != 0)
		return -1;
	s->sigterm.data = s->sigint.data = s;
	if (uv_signal_start(&s->sigterm, on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&s->sigint, on_signal, SIGINT) != 0)
		return -1;
	if (bind_listener(s) < 0)
		return -1;
	s->auth.on_settled = on_keys_settled;
	s->auth.settled_arg = s;
	if (auth_start(&s->auth, loop, cfg) < 0)
		return -1;
	db_pool_start(&s->pool);
	if (uv_check_start(&s->start_check, on_start_check) != 0 ||
	    uv_timer_start(&s->start_timer, on_start_timeout, START_WAIT_MS, 0) != 0)
		return -1;
	log_info("waiting for the database before listening", "max_ms=%d", START_WAIT_MS);
	return 0;
}
