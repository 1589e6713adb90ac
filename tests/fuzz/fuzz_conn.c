/* libFuzzer target for the whole connection: bytes go in over a socketpair,
 * cut into up to four reads at fuzzer-chosen points, through conn.c's state
 * machine, request dispatch (request.c: ids, auth, routes, limits) and the real
 * handlers, with the database absent (every query is answered 503), and come
 * out as responses, which must all be HTTP/1.1. Then EOF; a conn still open
 * (lingering, say) is closed, and everything it held must be freed (ASan). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct config cfg;
static struct server srv;

static void setup(void)
{
	static char a0[] = "threadstore", a1[] = "--jwt-secret", a2[] = "fuzzing-secret-0123456789",
		    a3[] = "--no-access-log", a4[] = "--max-body", a5[] = "65536",
		    a6[] = "--max-body-total", a7[] = "131072";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
	if (config_parse(&cfg, 8, argv) < 0)
		abort();
	log_set_level(LOG_ERROR);
	if (uv_loop_init(&loop) != 0)
		abort();
	memset(&srv, 0, sizeof srv);
	server_host_init(&srv, &loop, &cfg);
	auth_init(&srv.auth, cfg.jwt_secret, cfg.jwt_leeway);
	/* Never started: no connection comes up, so every query gets 503. */
	if (db_pool_init(&srv.pool, &loop, &cfg, cfg.database_url, "primary") < 0 ||
	    db_route_init(&srv.route, &loop, &cfg, &srv.pool) < 0)
		abort();
	/* The change feed's registry (never started: no LISTEN, no sweep). */
	if (feed_init(&srv.feed, &loop, &cfg, &srv.pool) < 0)
		abort();
}

/* Reads what the conn wrote; every response starts with a status line. */
static void drain(int fd, struct buf *out)
{
	char b[65536];
	ssize_t n;
	while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0)
		buf_append(out, b, (size_t)n);
}

static void turn(int peer, struct buf *out)
{
	for (int i = 0; i < 4; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		drain(peer, out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (loop.data == NULL) {
		setup();
		loop.data = &srv;
	}
	if (size < 3)
		return 0;
	/* The first three bytes choose where the reads are cut. */
	const uint8_t *in = data + 3;
	size_t len = size - 3, cuts[4];
	int ncuts = 0;
	for (int k = 0; k < 3; k++)
		if (len > 0)
			cuts[ncuts++] = data[k] * len / 256;
	cuts[ncuts++] = len;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		abort();
	if (server_take(&srv, fds[0]) == NULL) {
		close(fds[1]);
		return 0;
	}
	struct buf out = {0};
	size_t at = 0;
	for (int k = 0; k < ncuts; k++) {
		size_t end = cuts[k] < at ? at : cuts[k];
		while (at < end) {
			ssize_t w = send(fds[1], in + at, end - at, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				at += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				at = len; /* the conn closed: the rest is never read */
			turn(fds[1], &out);
			if (w < 0 && errno != EAGAIN)
				break;
		}
		turn(fds[1], &out);
	}
	shutdown(fds[1], SHUT_WR);
	for (int i = 0; i < 8 && srv.nconns > 0; i++)
		turn(fds[1], &out);
	drain(fds[1], &out);
	if (out.len > 0 && (out.len < 9 || memcmp(out.data, "HTTP/1.1 ", 9) != 0))
		abort(); /* a byte before the first status line: framing is broken */
	/* Whatever is still open (lingering, waiting) closes now; handles run out. */
	while (!list_empty(&srv.conns))
		conn_close(container_of(srv.conns.next, struct conn, link));
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_run(&loop, UV_RUN_NOWAIT);
	close(fds[1]);
	if (srv.host.budget.used != 0)
		abort(); /* every body's reservation is given back */
	buf_free(&out);
	return 0;
}
