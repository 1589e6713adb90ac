/* db_deadline.c: query deadlines (--query-timeout). A query past its deadline
 * is answered DB_TIMEOUT at once; the statement the server is running on that
 * connection is cancelled with PQcancel, which blocks (it opens a connection of
 * its own), so it runs on libuv's thread pool. The query stays with the pool
 * until its (error) result arrives, and is then dropped like a cancelled one. */
#include "db_deadline.h"

#include <stdlib.h>

#include "db.h"
#include "log.h"

struct cancel_work {
	uv_work_t work;
	PGcancel *cancel;
	int conn_index;
	int ok;
	char err[256];
	struct db_pool *pool;
};

/* PQcancel blocks (it opens a connection), so it runs on libuv's thread pool. */
static void cancel_run(uv_work_t *w)
{
	struct cancel_work *cw = container_of(w, struct cancel_work, work);
	cw->ok = PQcancel(cw->cancel, cw->err, sizeof cw->err);
}

static void cancel_done(uv_work_t *w, int status)
{
	struct cancel_work *cw = container_of(w, struct cancel_work, work);
	struct db_pool *p = cw->pool;
	if (p->conns != NULL && cw->conn_index < p->nconns)
		p->conns[cw->conn_index].cancelling = false;
	if (!cw->ok || status != 0)
		log_warn("query cancel failed", "conn=%d error=\"%s\"", cw->conn_index, cw->err);
	PQfreeCancel(cw->cancel);
	free(cw);
}

/* Asks the server to stop the statement running on c; its error result will
 * arrive in the pipeline and be dropped (its owner was already answered). */
static void cancel_running(struct db_conn *c)
{
	if (c->cancelling || c->pg == NULL)
		return;
	struct cancel_work *cw = calloc(1, sizeof *cw);
	if (cw == NULL)
		return;
	cw->cancel = PQgetCancel(c->pg);
	cw->conn_index = c->index;
	cw->pool = c->pool;
	if (cw->cancel == NULL ||
	    uv_queue_work(c->pool->loop, &cw->work, cancel_run, cancel_done) != 0) {
		if (cw->cancel)
			PQfreeCancel(cw->cancel);
		free(cw);
		return;
	}
	c->cancelling = true;
}

struct expired {
	db_done_fn done;
	void *owner;
};

/* Takes q's owner for a 504: the query itself stays with the pool (in flight,
 * its late result is dropped like a cancelled one's). */
static void take(struct db_pool *p, struct db_query *q, struct expired *x, size_t *n, size_t cap)
{
	if (*n < cap) {
		x[(*n)++] = (struct expired){q->done, q->owner};
		q->owner = NULL;
		p->timeouts++;
	}
}

void db_deadline_tick(uv_timer_t *t)
{
	struct db_pool *p = container_of(t, struct db_pool, tick);
	uint64_t now = uv_now(p->loop);
	/* Two phases: collect first, call back after. A callback may submit,
	 * fail a connection, free queries: nothing here may be walked then. */
	struct expired x[256];
	size_t n = 0;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		size_t before = n;
		for (struct list *e = c->inflight.next; e != &c->inflight; e = e->next) {
			struct db_query *q = container_of(e, struct db_query, link);
			if (q->done == NULL || q->owner == NULL)
				continue;
			if (q->deadline > now)
				break; /* FIFO: the rest were sent later */
			take(p, q, x, &n, sizeof x / sizeof x[0]);
		}
		if (n > before)
			cancel_running(c); /* the oldest is what the server is running */
	}
	struct list *e, *next;
	for (e = p->waiting.next; e != &p->waiting; e = next) {
		next = e->next;
		struct db_query *q = container_of(e, struct db_query, link);
		if (q->owner != NULL && q->deadline > now)
			break;
		if (q->owner != NULL && n == sizeof x / sizeof x[0])
			break; /* the next tick takes the rest */
		list_remove(e);
		p->nwaiting--;
		if (q->owner != NULL)
			take(p, q, x, &n, sizeof x / sizeof x[0]);
		db_query_free(q);
	}
	for (size_t i = 0; i < n; i++)
		x[i].done(x[i].owner, NULL, DB_TIMEOUT, 0);
}
