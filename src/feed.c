/* feed.c: subscribers, groups, fan-out, heartbeats, the retention sweep; see feed.h. */
#include "feed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "page.h"
#include "queries.h"
#include "request.h"

#define TICK_MS 1000
#define SWEEP_BATCH 1000
#define SWEEP_AGAIN_MS 100 /* after a full batch: at most SWEEP_BATCH rows per this */
#define SWEEP_EVERY_MAX_MS 60000

int feed_scanned(PGresult *res, int col, int kept)
{
	return kept > 0 && !PQgetisnull(res, 0, col) ? atoi(PQgetvalue(res, 0, col)) : kept;
}

/* ---- event text --------------------------------------------------------------------------- */

static void json_str_or_null(struct buf *out, PGresult *res, int i, int col)
{
	if (PQgetisnull(res, i, col)) {
		buf_puts(out, "null");
		return;
	}
	buf_putc(out, '"');
	buf_json_escape(out, PQgetvalue(res, i, col), (size_t)PQgetlength(res, i, col));
	buf_putc(out, '"');
}

/* The event's JSON after its cursor (and user): "kind":...,"at":"..."} */
static void event_tail(struct buf *out, PGresult *res, int i, int col)
{
	char at[40];
	page_format_us(atoll(PQgetvalue(res, i, col + 6)), at);
	buf_puts(out, "\"kind\":\"");
	buf_json_escape(out, PQgetvalue(res, i, col + 1), (size_t)PQgetlength(res, i, col + 1));
	buf_puts(out, "\",\"thread_id\":");
	json_str_or_null(out, res, i, col + 2);
	buf_puts(out, ",\"item_id\":");
	json_str_or_null(out, res, i, col + 3);
	buf_puts(out, ",\"attachment_id\":");
	json_str_or_null(out, res, i, col + 4);
	if (!PQgetisnull(res, i, col + 5)) { /* the stored document: JSON already */
		buf_puts(out, ",\"attachment\":");
		buf_append(out, PQgetvalue(res, i, col + 5), (size_t)PQgetlength(res, i, col + 5));
	}
	buf_puts(out, ",\"at\":\"");
	buf_puts(out, at);
	buf_puts(out, "\"}");
}

void feed_event_json(struct buf *out, PGresult *res, int i, int col, const char *cursor,
		     const char *user, size_t ul)
{
	buf_puts(out, "{\"cursor\":\"");
	buf_puts(out, cursor);
	buf_puts(out, "\",");
	if (user != NULL) {
		buf_puts(out, "\"user_id\":\"");
		buf_json_escape(out, user, ul);
		buf_puts(out, "\",");
	}
	event_tail(out, res, i, col);
}

/* The SSE event of change n of user u from its JSON tail (event_tail). */
static void sse_from_tail(struct buf *ev, const char *u, size_t ul, const struct feed_notice *e)
{
	char cur[FEED_CURSOR_MAX], kind[32];
	feed_cursor(u, ul, e->n, cur);
	snprintf(kind, sizeof kind, "%.*s", (int)e->kind_len, e->kind);
	struct buf json = {0};
	buf_printf(&json, "{\"cursor\":\"%s\",", cur);
	buf_append(&json, e->tail, e->tail_len);
	feed_sse_event(ev, cur, kind, json.data, json.len);
	buf_free(&json);
}

void feed_sse_event(struct buf *out, const char *id, const char *kind, const char *json, size_t n)
{
	buf_printf(out, "id: %s\nevent: %s\n", id, kind);
	size_t start = 0;
	for (size_t k = 0; k <= n; k++) {
		if (k == n || json[k] == '\n' || json[k] == '\r') {
			buf_puts(out, "data: ");
			buf_append(out, json + start, k - start);
			buf_putc(out, '\n');
			start = k + 1;
		}
	}
	buf_putc(out, '\n');
}

int feed_batch_budget(const struct feed *f, char out[24])
{
	return snprintf(out, 24, "%zu", f->cfg->subscriber_buffer);
}

/* ---- groups -------------------------------------------------------------------------------- */

static size_t bucket_of(const char *u, size_t ul)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < ul; i++)
		h = (h ^ (unsigned char)u[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29)) % FEED_BUCKETS;
}

static struct feed_group **group_slot(struct feed *f, const char *u, size_t ul)
{
	struct feed_group **g = &f->buckets[bucket_of(u, ul)];
	while (*g != NULL && ((*g)->user_len != ul || memcmp((*g)->user, u, ul) != 0))
		g = &(*g)->next;
	return g;
}

static void group_free(struct feed *f, struct feed_group *g)
{
	struct feed_group **slot = group_slot(f, g->user, g->user_len);
	*slot = g->next;
	if (g->query != NULL)
		db_cancel(g->query); /* the pool still owns it; its callback never runs */
	f->ngroups--;
	free(g);
}

static void group_fetch(struct feed *f, struct feed_group *g);

static void sub_end(struct feed *f, struct feed_sub *s)
{
	struct request *r = s->req;
	feed_sub_leave(f, s);
	request_stream_end(r);
}

static void sub_close(struct feed_sub *s, const char *why)
{
	request_stream_abort(s->req, why); /* the connection closes: on_closed leaves */
}

/* The group's result: each live subscriber gets the events past its cursor. */
static void on_group_rows(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct feed_group *g = owner;
	struct feed *f = g->feed;
	g->query = NULL;
	if (st != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
		f->stats.fetch_errors++;
		g->stale = true; /* the tick tries again */
		PQclear(res);
		return;
	}
	int rows = PQntuples(res);
	int64_t head = rows > 0 && !PQgetisnull(res, 0, 0) ? atoll(PQgetvalue(res, 0, 0)) : 0;
	int64_t lo = rows > 0 && !PQgetisnull(res, 0, 1) ? atoll(PQgetvalue(res, 0, 1)) : 0;
	int nch = rows > 0 && PQgetisnull(res, 0, 2) ? 0 : rows;
	int scanned = feed_scanned(res, 9, nch); /* more than nch: cut by bytes */
	/* The events once, as SSE text; off[i] is where change i starts. */
	struct buf ev = {0};
	size_t *off = buf_xcalloc((size_t)nch + 1, sizeof *off);
	int64_t *num = buf_xcalloc((size_t)nch + 1, sizeof *num);
	struct buf json = {0};
	for (int i = 0; i < nch; i++) {
		char cur[FEED_CURSOR_MAX];
		num[i] = atoll(PQgetvalue(res, i, 2));
		feed_cursor(g->user, g->user_len, num[i], cur);
		buf_reset(&json);
		feed_event_json(&json, res, i, 2, cur, NULL, 0);
		off[i] = ev.len;
		feed_sse_event(&ev, cur, PQgetvalue(res, i, 3), json.data, json.len);
	}
	off[nch] = ev.len;
	buf_free(&json);
	PQclear(res);
	f->stats.fetches++;
	/* A push may close a stream, which leaves the group: busy keeps it. */
	g->busy = true;
	struct list *e, *next;
	for (e = g->subs.next; e != &g->subs; e = next) {
		next = e->next;
		struct feed_sub *s = container_of(e, struct feed_sub, group_link);
		if (s->state != SUB_LIVE || s->cursor >= head)
			continue;
		if (s->cursor < g->query_after) {
			/* Live since the statement was sent, and further back than the
			 * cursor it was sent for (its catch-up ended at an older head):
			 * these rows start past changes it has not seen. Pushing them
			 * skipped those for good (a stream that waited for them to the
			 * end: test_exactly_once_in_order_under_16_writers); the next
			 * statement starts from it. */
			g->dirty = true;
			continue;
		}
		if (lo == 0 || lo > s->cursor + 1) { /* retention passed it: 410 on resume */
			f->stats.gone_closed++;
			sub_end(f, s);
			continue;
		}
		int i = 0;
		while (i < nch && num[i] <= s->cursor)
			i++;
		if (i < nch) {
			f->stats.events += (unsigned long)(nch - i);
			feed_sub_push(f, s, ev.data + off[i], ev.len - off[i], num[nch - 1]);
		}
	}
	buf_free(&ev);
	free(off);
	free(num);
	g->busy = false;
	/* Another round: the batch was full, or more was announced than seen. */
	if (g->nsubs > 0 && (scanned == FEED_BATCH || scanned > nch || g->stale || g->dirty))
		group_fetch(f, g);
	else if (g->nsubs == 0)
		group_free(f, g);
}

static void group_fetch(struct feed *f, struct feed_group *g)
{
	if (g->query != NULL) {
		g->dirty = true; /* the statement in flight may have missed it */
		return;
	}
	if (f->closing)
		return;
	int64_t min = -1;
	struct list *e;
	for (e = g->subs.next; e != &g->subs; e = e->next) {
		struct feed_sub *s = container_of(e, struct feed_sub, group_link);
		if (s->state == SUB_LIVE && (min < 0 || s->cursor < min))
			min = s->cursor;
	}
	if (min < 0)
		return; /* nobody is live yet: each catches up on its own */
	char after[24], lim[16], budget[24];
	int al = snprintf(after, sizeof after, "%" PRId64, min);
	int ll = snprintf(lim, sizeof lim, "%d", FEED_BATCH);
	int bl = feed_batch_budget(f, budget);
	const char *v[] = {g->user, after, lim, budget};
	const int l[] = {(int)g->user_len, al, ll, bl};
	enum db_status st;
	g->stale = false;
	g->dirty = false;
	g->query_after = min;
	g->query = db_submit(f->pool, Q_CHANGES_PAGE, 4, v, l, on_group_rows, g, &st);
	if (g->query == NULL) {
		f->stats.fetch_errors++;
		g->stale = true; /* no database now: the tick tries again */
	}
}

/* Change n of g's user committed (a write's result here, or another
 * instance's notification). Numbers are dense and commit in order, so a live
 * subscriber at n - 1 takes it now, with no statement; one further back needs
 * what lies between from the table: the group fetches (the backstop, as for a
 * notification without the change). One already at n or past it has it. */
static void group_deliver(struct feed *f, struct feed_group *g, int64_t n, const char *ev,
			  size_t len)
{
	bool behind = false;
	g->busy = true; /* a push may close a stream, which leaves the group */
	struct list *e, *next;
	for (e = g->subs.next; e != &g->subs; e = next) {
		next = e->next;
		struct feed_sub *s = container_of(e, struct feed_sub, group_link);
		if (s->state != SUB_LIVE)
			continue; /* catching up: its group fetch when live covers n */
		if (s->cursor == n - 1) {
			f->stats.events++;
			f->stats.direct++;
			feed_sub_push(f, s, ev, len, n);
		} else if (s->cursor < n - 1) {
			behind = true;
		}
	}
	g->busy = false;
	if (g->nsubs == 0)
		group_free(f, g);
	else if (behind)
		group_fetch(f, g);
}

/* ---- subscribers ------------------------------------------------------------------------- */

static void on_drained(struct request *r);

bool feed_can_subscribe(struct feed *f)
{
	if (!f->closing && f->nsubs < f->cfg->max_subscribers)
		return true;
	f->stats.refused++;
	return false;
}

void feed_sub_join(struct feed *f, struct feed_sub *s, struct request *r, int64_t cursor)
{
	const char *u = r->user.data;
	size_t ul = r->user.len;
	struct feed_group **slot = group_slot(f, u, ul);
	struct feed_group *g = *slot;
	if (g == NULL) {
		g = buf_xcalloc(1, sizeof *g + ul + 1);
		g->feed = f;
		list_init(&g->subs);
		memcpy(g->user, u, ul);
		g->user_len = ul;
		*slot = g;
		f->ngroups++;
	}
	*s = (struct feed_sub){.req = r,
			       .group = g,
			       .state = SUB_CATCHING_UP,
			       .cursor = cursor,
			       .on_drain = on_drained};
	list_push_back(&g->subs, &s->group_link);
	g->nsubs++;
	list_push_back(&f->subs, &s->beat_link);
	s->last_send_ms = uv_now(f->loop);
	f->nsubs++;
}

void feed_sub_live(struct feed *f, struct feed_sub *s)
{
	s->state = SUB_LIVE;
	/* A notification during its catch-up may have been fetched for the others
	 * only: one statement makes sure (and nothing new costs one empty row). */
	group_fetch(f, s->group);
}

void feed_sub_leave(struct feed *f, struct feed_sub *s)
{
	struct feed_group *g = s->group;
	if (g == NULL)
		return;
	s->group = NULL;
	list_remove(&s->group_link);
	list_remove(&s->beat_link);
	buf_free(&s->out);
	f->nsubs--;
	if (--g->nsubs == 0 && !g->busy)
		group_free(f, g);
}

/* Hands bytes to the connection as the next chunk; s may be gone after it. */
static void sub_send(struct feed *f, struct feed_sub *s, const char *p, size_t n)
{
	struct request *r = s->req;
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, p, n);
	s->writing = true;
	s->last_send_ms = uv_now(f->loop);
	list_remove(&s->beat_link);
	list_push_back(&f->subs, &s->beat_link);
	request_stream_send(r, on_drained);
}

int feed_sub_push(struct feed *f, struct feed_sub *s, const char *p, size_t n, int64_t upto)
{
	if (upto >= 0)
		s->cursor = upto;
	if (!s->writing) {
		sub_send(f, s, p, n);
		return 0;
	}
	if (s->out.len + n > f->cfg->subscriber_buffer) {
		/* It does not read: close; it resumes from its last id elsewhere or later. */
		f->stats.slow_closed++;
		log_info("change stream closed", "reason=\"slow reader\" queued=%zu",
			 s->out.len + n);
		sub_close(s, "a change stream's reader fell behind its buffer");
		return -1;
	}
	buf_append(&s->out, p, n);
	return 0;
}

/* The request's drain callback: its state is the handler's, which starts with the sub. */
static void on_drained(struct request *r)
{
	struct feed_sub *s = r->state;
	struct feed *f = s->group ? s->group->feed : NULL;
	if (f == NULL)
		return;
	s->writing = false;
	if (s->out.len > 0) {
		struct buf pending = s->out;
		s->out = (struct buf){0};
		sub_send(f, s, buf_rptr(&pending), buf_rlen(&pending));
		buf_free(&pending);
		return;
	}
	if (s->state == SUB_ENDING) {
		sub_end(f, s);
		return;
	}
	if (s->state == SUB_CATCHING_UP && s->on_caught != NULL)
		s->on_caught(r);
}

bool feed_sub_drained(struct feed *f, struct feed_sub *s)
{
	(void)f;
	return !s->writing && s->out.len == 0;
}

/* ---- notifications ------------------------------------------------------------------------ */

static void mark_all(struct feed *f);

static void on_listen_ready(void *owner)
{
	struct feed *f = owner;
	/* Whatever committed while nobody listened is in the table: every group
	 * fetches once (and a subscriber still catching up does when it is live). */
	mark_all(f);
}

static void mark_all(struct feed *f)
{
	for (int b = 0; b < FEED_BUCKETS; b++)
		for (struct feed_group *g = f->buckets[b]; g != NULL; g = g->next) {
			g->stale = true;
			group_fetch(f, g);
		}
}

static void user_wrote(struct feed *f, const char *u, size_t ul)
{
	struct feed_group *g = *group_slot(f, u, ul);
	if (g != NULL) /* nobody here listens for this user: nothing to do */
		group_fetch(f, g);
}

/* An entry of another instance's notification. */
static void on_notice(void *owner, const struct feed_notice *e)
{
	struct feed *f = owner;
	struct feed_group *g = *group_slot(f, e->user, e->user_len);
	if (g == NULL)
		return;
	if (!e->has_change || e->kind_len >= 32) {
		group_fetch(f, g);
		return;
	}
	struct buf ev = {0};
	sse_from_tail(&ev, e->user, e->user_len, e);
	group_deliver(f, g, e->n, ev.data, ev.len);
	buf_free(&ev);
}

static void on_notify(void *owner, const char *payload)
{
	struct feed *f = owner;
	f->stats.notifications++;
	if (feed_notify_parse(payload, f->token, on_notice, f) == 1)
		mark_all(f);
}

/* ---- telling the other instances ------------------------------------------------------- */

static void notify_send(struct feed *f);

static void on_notified(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct feed *f = owner;
	f->notify_query = NULL;
	if (st != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
		/* Not sent: everyone catches up with the next batch instead. */
		f->stats.notify_errors++;
		buf_reset(&f->notify_pending);
		buf_puts(&f->notify_pending, "*");
	}
	PQclear(res);
	if (!f->closing)
		notify_send(f);
}

static void notify_send(struct feed *f)
{
	if (f->notify_query != NULL || f->notify_pending.len == 0 || f->closing)
		return;
	struct buf payload = f->notify_pending;
	f->notify_pending = (struct buf){0};
	const char *v[] = {payload.data};
	const int l[] = {(int)payload.len};
	enum db_status st;
	f->notify_query = db_submit(f->pool, Q_CHANGES_NOTIFY, 1, v, l, on_notified, f, &st);
	if (f->notify_query == NULL) { /* no database now: the tick tries again */
		f->notify_pending = payload;
		f->stats.notify_errors++;
		return;
	}
	f->stats.notifies_sent++;
	buf_free(&payload); /* db_submit copied it */
}

void feed_note_write(struct feed *f, const char *u, size_t ul)
{
	user_wrote(f, u, ul); /* this instance's streams need no round trip */
	struct feed_notice e = {.user = u, .user_len = ul};
	feed_notify_add(&f->notify_pending, f->token, &e);
	notify_send(f);
}

void feed_note_result(struct feed *f, const char *u, size_t ul, PGresult *res)
{
	int c = PQfnumber(res, "chg_n");
	if (c < 0 || PQntuples(res) != 1 || PQnfields(res) < c + 7) {
		feed_note_write(f, u, ul); /* the statement does not say: the user has news */
		return;
	}
	if (PQgetisnull(res, 0, c))
		return; /* it recorded no change (nothing changed): nothing to tell */
	if (!PQgetisnull(res, 0, c + 5)) { /* a document: too big for a notification */
		feed_note_write(f, u, ul);
		return;
	}
	struct buf tail = {0}, ev = {0};
	event_tail(&tail, res, 0, c);
	struct feed_notice e = {.user = u,
				.user_len = ul,
				.has_change = true,
				.n = atoll(PQgetvalue(res, 0, c)),
				.kind = PQgetvalue(res, 0, c + 1),
				.kind_len = (size_t)PQgetlength(res, 0, c + 1),
				.tail = tail.data,
				.tail_len = tail.len};
	struct feed_group *g = *group_slot(f, u, ul);
	if (g != NULL) { /* this instance's streams: directly, or a fetch */
		sse_from_tail(&ev, u, ul, &e);
		group_deliver(f, g, e.n, ev.data, ev.len);
	}
	feed_notify_add(&f->notify_pending, f->token, &e);
	buf_free(&tail);
	buf_free(&ev);
	notify_send(f);
}

/* ---- the tick: heartbeats, retries ------------------------------------------------------- */

static void notify_send(struct feed *f);

static const char HEARTBEAT[] = ": heartbeat\n\n";

static void on_tick(uv_timer_t *t)
{
	struct feed *f = container_of(t, struct feed, tick);
	uint64_t now = uv_now(f->loop), every = f->cfg->changes_heartbeat_ms;
	/* Least recently written first: stop at the first one written lately. */
	for (int k = 0, n = f->nsubs; k < n && !list_empty(&f->subs); k++) {
		struct feed_sub *s = container_of(f->subs.next, struct feed_sub, beat_link);
		if (now - s->last_send_ms < every)
			break;
		if (s->writing || s->state == SUB_ENDING || s->req->query != NULL) {
			/* busy (writing, or its own statement runs): that is traffic enough */
			s->last_send_ms = now;
			list_remove(&s->beat_link);
			list_push_back(&f->subs, &s->beat_link);
			continue;
		}
		f->stats.heartbeats++;
		feed_sub_push(f, s, HEARTBEAT, sizeof HEARTBEAT - 1, -1);
	}
	notify_send(f); /* a batch the database refused earlier */
	if (!feed_listen_ready(&f->listen))
		return; /* catch-up waits for the LISTEN: on_listen_ready does it */
	for (int b = 0; b < FEED_BUCKETS; b++)
		for (struct feed_group *g = f->buckets[b]; g != NULL; g = g->next)
			if (g->stale)
				group_fetch(f, g);
}

/* ---- retention ----------------------------------------------------------------------------- */

static uint64_t sweep_every(const struct feed *f)
{
	uint64_t ms = f->cfg->changes_retention_ms / 10;
	return ms < 1000 ? 1000 : ms > SWEEP_EVERY_MAX_MS ? SWEEP_EVERY_MAX_MS : ms;
}

static void on_sweep_timer(uv_timer_t *t);

static void on_swept(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct feed *f = owner;
	f->sweep_query = NULL;
	long n = -1;
	if (st == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = atol(PQgetvalue(res, 0, 0));
	else if (st == DB_OK)
		log_warn("change retention sweep failed", "error=\"%s\"",
			 PQresultErrorField(res, PG_DIAG_SQLSTATE) ?: "?");
	PQclear(res);
	if (f->closing)
		return;
	f->stats.sweeps++;
	if (n > 0) {
		f->stats.swept += (unsigned long)n;
		log_info("change retention sweep", "removed=%ld", n);
	}
	uv_timer_start(&f->sweep, on_sweep_timer,
		       n == SWEEP_BATCH ? SWEEP_AGAIN_MS : sweep_every(f), 0);
}

static void on_sweep_timer(uv_timer_t *t)
{
	struct feed *f = container_of(t, struct feed, sweep);
	if (f->sweep_query != NULL || f->closing)
		return;
	char keep[24], lim[16];
	int kl = snprintf(keep, sizeof keep, "%" PRIu64, f->cfg->changes_retention_ms * 1000);
	int ll = snprintf(lim, sizeof lim, "%d", SWEEP_BATCH);
	const char *v[] = {keep, lim};
	const int l[] = {kl, ll};
	enum db_status st;
	f->sweep_query = db_submit(f->pool, Q_CHANGES_SWEEP, 2, v, l, on_swept, f, &st);
	if (f->sweep_query == NULL)
		uv_timer_start(&f->sweep, on_sweep_timer, sweep_every(f), 0);
}

/* ---- life ------------------------------------------------------------------------------------ */

static void on_closed_handle(uv_handle_t *h)
{
	struct feed *f = h->data;
	if (--f->open_handles == 0 && f->on_closed)
		f->on_closed(f);
}

static void on_listen_closed(void *owner)
{
	struct feed *f = owner;
	if (--f->open_handles == 0 && f->on_closed)
		f->on_closed(f);
}

int feed_init(struct feed *f, uv_loop_t *loop, const struct config *cfg, struct db_pool *pool)
{
	memset(f, 0, sizeof *f);
	f->loop = loop;
	f->cfg = cfg;
	f->pool = pool;
	list_init(&f->subs);
	feed_notify_token(f->token);
	const char *url = cfg->listen_database_url ? cfg->listen_database_url : cfg->database_url;
	if (feed_listen_init(&f->listen, loop, url, f) < 0 || uv_timer_init(loop, &f->tick) != 0 ||
	    uv_timer_init(loop, &f->sweep) != 0)
		return -1;
	f->listen.on_ready = on_listen_ready;
	f->listen.on_notify = on_notify;
	f->listen.on_closed = on_listen_closed;
	f->tick.data = f->sweep.data = f;
	f->open_handles = 3;
	return 0;
}

void feed_start(struct feed *f)
{
	feed_listen_start(&f->listen);
	uv_timer_start(&f->tick, on_tick, TICK_MS, TICK_MS);
	/* the first sweep after one interval: no database work at start-up */
	uv_timer_start(&f->sweep, on_sweep_timer, sweep_every(f), 0);
}

void feed_end_streams(struct feed *f)
{
	f->closing = true;
	struct list all, *e;
	list_init(&all);
	while ((e = list_pop_front(&f->subs)) != NULL)
		list_push_back(&all, e);
	while ((e = list_pop_front(&all)) != NULL) {
		struct feed_sub *s = container_of(e, struct feed_sub, beat_link);
		list_push_back(&f->subs, e);
		s->state = SUB_ENDING;
		/* Ends now unless a chunk is being written (it ends once taken) or
		 * its own statement runs (the handler ends it with the result). */
		if (!s->writing && s->req->query == NULL)
			sub_end(f, s);
	}
}

void feed_close(struct feed *f, void (*on_closed)(struct feed *))
{
	f->closing = true;
	f->on_closed = on_closed;
	if (f->sweep_query != NULL) {
		db_cancel(f->sweep_query);
		f->sweep_query = NULL;
	}
	if (f->notify_query != NULL) {
		db_cancel(f->notify_query);
		f->notify_query = NULL;
	}
	buf_free(&f->notify_pending);
	uv_close((uv_handle_t *)&f->tick, on_closed_handle);
	uv_close((uv_handle_t *)&f->sweep, on_closed_handle);
	feed_listen_close(&f->listen);
}

void feed_metrics(const struct feed *f, struct buf *out)
{
	const struct feed_stats *s = &f->stats;
	buf_printf(out,
		   "# TYPE threadstore_change_subscribers gauge\n"
		   "threadstore_change_subscribers %d\n"
		   "# TYPE threadstore_change_subscribers_max gauge\n"
		   "threadstore_change_subscribers_max %d\n"
		   "# TYPE threadstore_change_users gauge\n"
		   "threadstore_change_users %d\n"
		   "# TYPE threadstore_change_listen_up gauge\n"
		   "threadstore_change_listen_up %d\n"
		   "# TYPE threadstore_change_listen_connects_total counter\n"
		   "threadstore_change_listen_connects_total %lu\n"
		   "# TYPE threadstore_change_listen_losses_total counter\n"
		   "threadstore_change_listen_losses_total %lu\n"
		   "# TYPE threadstore_change_notifications_total counter\n"
		   "threadstore_change_notifications_total %lu\n"
		   "# TYPE threadstore_change_fetches_total counter\n"
		   "threadstore_change_fetches_total %lu\n"
		   "# TYPE threadstore_change_fetch_errors_total counter\n"
		   "threadstore_change_fetch_errors_total %lu\n"
		   "# TYPE threadstore_change_events_total counter\n"
		   "threadstore_change_events_total %lu\n"
		   "# TYPE threadstore_change_direct_events_total counter\n"
		   "threadstore_change_direct_events_total %lu\n"
		   "# TYPE threadstore_change_heartbeats_total counter\n"
		   "threadstore_change_heartbeats_total %lu\n"
		   "# TYPE threadstore_change_streams_closed_total counter\n"
		   "threadstore_change_streams_closed_total{reason=\"slow_reader\"} %lu\n"
		   "threadstore_change_streams_closed_total{reason=\"gone\"} %lu\n"
		   "# TYPE threadstore_change_streams_refused_total counter\n"
		   "threadstore_change_streams_refused_total %lu\n"
		   "# TYPE threadstore_change_notifies_total counter\n"
		   "threadstore_change_notifies_total %lu\n"
		   "# TYPE threadstore_change_notify_errors_total counter\n"
		   "threadstore_change_notify_errors_total %lu\n"
		   "# TYPE threadstore_change_sweeps_total counter\n"
		   "threadstore_change_sweeps_total %lu\n"
		   "# TYPE threadstore_change_swept_total counter\n"
		   "threadstore_change_swept_total %lu\n",
		   f->nsubs, f->cfg->max_subscribers, f->ngroups,
		   feed_listen_ready(&f->listen) ? 1 : 0, f->listen.connects, f->listen.losses,
		   s->notifications, s->fetches, s->fetch_errors, s->events, s->direct,
		   s->heartbeats, s->slow_closed, s->gone_closed, s->refused, s->notifies_sent,
		   s->notify_errors, s->sweeps, s->swept);
}
