/* server.c: listener, accept, connection registry, the start and shutdown order. */
#define _GNU_SOURCE /* accept4 */
#include "server.h"

#include <arpa/inet.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections accepted per wake-up of the listener, so that a flood of new
 * connections cannot starve the ones already open. */
#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100
/* The longest a starting instance keeps its port closed waiting to be ready.
 * db.c gives a first connect 5 s; a refused one ends the wait at once. */
#define START_WAIT_MS 5000

static void on_conn_closed(struct conn *c)
{
	struct server *s = container_of(c->host, struct server, host);
	request_conn_closed(c);
	list_remove(&c->link);
	s->nconns--;
}

static void on_conn_freed(struct conn_host *h)
{
	server_conn_closed(container_of(h, struct server, host));
}

static const struct conn_ops conn_ops = {
    .request = request_on_conn,
    .resume = request_resume,
    .drained = request_drained,
    .closed = on_conn_closed,
    .freed = on_conn_freed,
};

static struct conn *take(struct server *s, uv_os_sock_t fd)
{
	struct conn *c = conn_accept(&s->host, fd);
	if (c == NULL) {
		log_warn("connection dropped", "conns=%d", s->nconns);
		return NULL;
	}
	list_push_back(&s->conns, &c->link);
	s->nconns++;
	if (s->nconns > s->cfg->max_connections) {
		/* Say why, then close: a bare reset looks like a network fault. */
		metrics_reject(&s->metrics, MR_MAX_CONNECTIONS);
		conn_fail(c, 503, "too many connections");
	}
	return c;
}

static int open_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept_retry(uv_timer_t *t);

/* Out of file descriptors (EMFILE/ENFILE): the classic reserve-fd trick. The
 * spare descriptor is closed to make room for one accept, that client gets a
 * 503 (so it backs off instead of seeing a silent reset), and the spare is
 * opened again. Without a spare the listener rests for ACCEPT_RETRY_MS, since
 * a level-triggered listener would otherwise spin. */
static void refuse_no_files(struct server *s, int err)
{
	static const char reply[] =
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	    "Retry-After: 1\r\nConnection: close\r\nContent-Length: 83\r\n\r\n"
	    "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of file descriptors; retry "
	    "shortly\"}}";
	s->emfile_refused++;
	metrics_reject(&s->metrics, MR_NO_FILES);
	uint64_t now = uv_now(s->loop);
	if (s->emfile_logged_ms == 0 || now - s->emfile_logged_ms >= 1000) {
		s->emfile_logged_ms = now;
		log_warn("out of file descriptors, refusing connections",
			 "error=%s conns=%d refused=%lu", strerror(err), s->nconns,
			 s->emfile_refused);
	}
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		s->spare_fd = -1;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			/* Best effort: a fresh socket's buffer takes these bytes. Read what
			 * the client sent, so the close is a FIN and not a reset. */
			ssize_t w = send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL);
			(void)w;
			shutdown(fd, SHUT_WR);
			char sink[4096];
			while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
				;
			close(fd);
		}
		s->spare_fd = open_spare();
	}
	if (s->spare_fd < 0 && uv_poll_stop(&s->listener) == 0)
		uv_timer_start(&s->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
}

static void on_listener(uv_poll_t *p, int status, int events)
{
	(void)events;
	struct server *s = container_of(p, struct server, listener);
	if (status < 0) {
		log_warn("accept failed", "error=%s", uv_strerror(status));
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			take(s, fd);
			continue;
		}
		int err = errno;
		if (err == EINTR || err == ECONNABORTED || err == EPROTO)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return;
		if (err == EMFILE || err == ENFILE) {
			refuse_no_files(s, err);
			if (s->spare_fd < 0)
				return;
			continue;
		}
		log_warn("accept failed", "error=%s", strerror(err));
		return; /* the listener stays armed: the next wake-up tries again */
	}
}

static void on_accept_retry(uv_timer_t *t)
{
	struct server *s = container_of(t, struct server, accept_retry);
	if (s->spare_fd < 0)
		s->spare_fd = open_spare();
	if (uv_poll_start(&s->listener, UV_READABLE, on_listener) != 0)
		log_error("cannot watch the listener", "%s", "");
}

static void on_listener_closed(uv_handle_t *h)
{
	struct server *s = container_of((uv_poll_t *)h, struct server, listener);
	close(s->listen_fd);
	s->listen_fd = -1;
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	s->spare_fd = -1;
}

static void on_handle_closed(uv_handle_t *h);

/* Stops accepting: the listening socket, its spare and its retry timer go. */
static void listener_close(struct server *s)
{
	uv_close((uv_handle_t *)&s->listener, on_listener_closed);
	uv_close((uv_handle_t *)&s->accept_retry, on_handle_closed);
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
		sweep_stop(&s->sweep); /* before the pool: its statement is cancelled */
		db_route_close(&s->route);
		feed_close(&s->feed, NULL);
		db_pool_close(&s->pool, on_pool_closed);
	}
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
	s->host.draining = true;
	log_info("closing connections", "conns=%d", s->nconns);
	listener_close(s);
	uv_timer_start(&s->drain_timer, on_drain_timeout, s->cfg->drain_timeout_ms, 0);
	feed_end_streams(&s->feed); /* each ends with its last chunk: clients resume elsewhere */
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
	s->draining = true; /* /readyz 503, and replies say Connection: close */
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
	socklen_t len = sizeof bound;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getsockname(s->listen_fd, (struct sockaddr *)&bound, &len) == 0) {
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
	int rc = 0;
	if (listen(s->listen_fd, 4096) != 0)
		rc = -errno;
	else
		rc = uv_poll_start(&s->listener, UV_READABLE, on_listener);
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

/* Binds the listening socket, but does not listen yet (start_listening): a
 * port in use fails start-up at once, and no connection is taken before the
 * instance can serve it. */
static int bind_listener(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct sockaddr_storage ss;
	int rc;
	if (strchr(cfg->listen_host, ':'))
		rc = uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&ss);
	if (rc != 0) {
		log_error("bad listen address", "addr=%s error=%s", cfg->listen_host,
			  uv_strerror(rc));
		return -1;
	}
	socklen_t slen =
	    ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 ||
	    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&ss, slen) != 0) {
		log_error("cannot listen", "addr=%s port=%d error=%s", cfg->listen_host,
			  cfg->listen_port, uv_strerror(-errno));
		return -1;
	}
	if ((rc = uv_poll_init_socket(s->loop, &s->listener, s->listen_fd)) != 0 ||
	    (rc = uv_timer_init(s->loop, &s->accept_retry)) != 0) {
		log_error("cannot watch the listener", "error=%s", uv_strerror(rc));
		return -1;
	}
	s->spare_fd = open_spare();
	return 0;
}

void server_host_init(struct server *s, uv_loop_t *loop, const struct config *cfg)
{
	s->loop = loop;
	s->cfg = cfg;
	list_init(&s->conns);
	list_init(&s->key_waiters);
	s->listen_fd = -1;
	s->spare_fd = -1;
	s->host.loop = loop;
	s->host.cfg = cfg;
	s->host.ops = &conn_ops;
	s->host.budget.limit = cfg->max_body_total;
}

struct conn *server_take(struct server *s, uv_os_sock_t fd)
{
	return take(s, fd);
}

int server_start(struct server *s, uv_loop_t *loop, const struct config *cfg)
{
	memset(s, 0, sizeof *s);
	server_host_init(s, loop, cfg);
	if (uv_random(NULL, NULL, &s->instance_id, sizeof s->instance_id, 0, NULL) != 0)
		s->instance_id = (uint32_t)uv_os_getpid();
	if (auth_setup(&s->auth, cfg) < 0 || admin_load(&s->admin, cfg->admin_token_file) < 0)
		return -1;
	if (db_pool_init(&s->pool, loop, cfg, cfg->database_url, "primary") < 0 ||
	    db_route_init(&s->route, loop, cfg, &s->pool) < 0 ||
	    feed_init(&s->feed, loop, cfg, &s->pool) < 0)
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
	s->auth.on_settled = request_keys_settled;
	s->auth.settled_arg = s;
	if (auth_start(&s->auth, loop, cfg) < 0)
		return -1;
	db_pool_start(&s->pool);
	db_route_start(&s->route);
	feed_start(&s->feed);
	if (sweep_init(&s->sweep, loop, &s->pool, &s->feed, cfg, s->instance_id) != 0)
		return -1;
	sweep_start(&s->sweep, 1000); /* the pool is connecting; a refusal waits a pass */
	if (uv_check_start(&s->start_check, on_start_check) != 0 ||
	    uv_timer_start(&s->start_timer, on_start_timeout, START_WAIT_MS, 0) != 0)
		return -1;
	log_info("waiting for the database before listening", "max_ms=%d", START_WAIT_MS);
	return 0;
}
