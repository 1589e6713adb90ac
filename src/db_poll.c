/* db_poll.c: the uv_poll_t that watches a database connection's socket. */
#include "db_poll.h"

#include <stdlib.h>
#include <sys/stat.h>

static void on_poll_closed(uv_handle_t *h)
{
	free(h);
}

void db_poll_drop(struct db_conn *c)
{
	if (c->poll == NULL)
		return;
	uv_poll_stop(c->poll); /* removes the fd from epoll before PQfinish closes it */
	uv_close((uv_handle_t *)c->poll, on_poll_closed);
	c->poll = NULL;
	c->poll_fd = -1;
	c->poll_events = 0;
}

int db_poll_watch(struct db_conn *c, int events, uv_poll_cb cb)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return -1;
	if (c->poll != NULL && c->poll_fd != fd)
		db_poll_drop(c);
	if (c->poll != NULL && c->state == DBC_CONNECTING) {
		/* While connecting, libpq may close its socket and open another (next
		 * address or host, SSL retry) that gets the same descriptor number; the
		 * kernel dropped the old one from epoll, so the old handle would wait
		 * forever. The inode tells sockets apart. */
		struct stat st;
		if (fstat(fd, &st) != 0 || st.st_ino != c->poll_ino)
			db_poll_drop(c);
	}
	if (c->poll == NULL) {
		c->poll = malloc(sizeof *c->poll);
		if (c->poll == NULL)
			return -1;
		if (uv_poll_init(c->pool->loop, c->poll, fd) != 0) {
			free(c->poll);
			c->poll = NULL;
			return -1;
		}
		c->poll->data = c;
		c->poll_fd = fd;
		c->poll_events = 0;
		struct stat st;
		c->poll_ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
	}
	if (c->poll_events == events)
		return 0;
	if (uv_poll_start(c->poll, events, cb) != 0)
		return -1;
	c->poll_events = events;
	return 0;
}
