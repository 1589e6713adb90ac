/* feed.h: the per-user change feed on one instance: its subscribers (SSE
 * streams of GET /v1/changes), their fan-out, heartbeats, the LISTEN
 * connection that tells every instance about every commit, and the retention
 * sweep.
 *
 * Delivery: a write records its change in its own statement (queries.c
 * CHANGE); once it committed, the instance that wrote it adds the user to the
 * next NOTIFY (a batch of users, one notifying statement in flight at a time:
 * PostgreSQL serialises notifying commits, so one per write would cap all
 * writes at one per WAL flush). The instance's one LISTEN connection
 * (feed_listen.h) hands each notification here; if the user has subscribers
 * on this instance, their group fetches the user's changes once, after the
 * lowest cursor among them (one statement per user and notification burst,
 * never one per subscriber), and each subscriber gets the events past its own
 * cursor. Numbers are dense per user and commit in order (sql/010), so
 * "after n" never skips a change that commits later. The direct path: a
 * write that returns its change (feed_note_result) gives it at once to the
 * live streams at the number before it, here and, through the notification
 * that carries it (feed_notify.h), on every other instance; only a stream
 * further back makes its group fetch (the table is the backstop). When the LISTEN
 * connection comes back after a loss, every group fetches once: nothing that
 * committed while it was down is missed.
 *
 * A subscriber first catches up on its own (its own statements, one batch at
 * a time, each sent only once the client took the previous one); only then
 * does it take part in its group's fetches. It is in its group from the start,
 * so a notification that arrives while it catches up is not lost.
 *
 * Bounds: --max-subscribers streams per instance (503 past it); each holds at
 * most --subscriber-buffer bytes not yet taken by its client, past which its
 * stream is closed (the client resumes from its last id) and nobody waits for
 * it; a heartbeat comment every --changes-heartbeat seconds of silence.
 *
 * Ownership: a subscriber (struct feed_sub) lives in its request's arena; the
 * request unlinks it (feed_sub_leave) before the arena goes: at the stream's
 * end or when the connection closes (request's on_closed). A group (one per
 * user with subscribers here) is the feed's, freed with its last subscriber;
 * its query in flight is cancelled then (db_cancel: the callback never runs). */
#ifndef THREADSTORE_FEED_H
#define THREADSTORE_FEED_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "feed_cursor.h"
#include "feed_listen.h"
#include "feed_notify.h"
#include "list.h"

struct db_pool;
struct db_query;
struct config;
struct request;
struct feed_group;

#define FEED_BATCH 100	  /* changes per statement */
#define FEED_BUCKETS 4096 /* user hash buckets (groups chain) */

enum feed_sub_state {
	SUB_CATCHING_UP, /* its own statements, batch after batch */
	SUB_LIVE,	 /* fed by its group */
	SUB_ENDING,	 /* shutting down: ends once what is queued is written */
};

struct feed_sub {
	struct request *req;
	struct feed_group *group;
	struct list group_link; /* in group->subs */
	struct list beat_link;	/* in feed->subs, least recently written first */
	enum feed_sub_state state;
	int64_t cursor;	       /* the last change number queued to the client */
	bool writing;	       /* a chunk is with libuv, not all taken yet */
	struct buf out;	       /* events waiting for that chunk to be taken */
	uint64_t last_send_ms; /* for heartbeats */
	/* catching up: the client took everything; the handler fetches on */
	void (*on_caught)(struct request *r);
	void (*on_drain)(struct request *r); /* feed.c's: the handler sends the head with it */
};

struct feed_group {
	struct feed_group *next; /* hash chain */
	struct feed *feed;
	struct list subs;
	int nsubs;
	bool dirty; /* announced since its statement was sent: fetch again */
	bool stale; /* fetch once more whatever was announced (LISTEN came back) */
	bool busy;  /* its result is being fanned out: not freed meanwhile */
	struct db_query *query;
	int64_t query_after;
	size_t user_len;
	char user[]; /* NUL-terminated */
};

struct feed_stats {
	unsigned long notifications, fetches, events, direct, heartbeats, slow_closed, refused,
	    gone_closed, swept, sweeps, fetch_errors, notifies_sent, notify_errors;
};

struct feed {
	uv_loop_t *loop;
	const struct config *cfg;
	struct db_pool *pool;
	struct feed_listen listen;
	struct feed_group *buckets[FEED_BUCKETS];
	int nsubs, ngroups;
	struct list subs; /* every subscriber, by last write (heartbeats) */
	uv_timer_t tick;  /* heartbeats, stale groups' retries: once a second */
	uv_timer_t sweep; /* retention */
	struct db_query *sweep_query;
	/* Users who wrote here since the last NOTIFY was sent ("user\n" each, or
	 * "*"): one notifying statement in flight, the next batch gathers meanwhile. */
	struct buf notify_pending; /* feed_notify.h's batch */
	struct db_query *notify_query;
	char token[FEED_NOTIFY_TOKEN + 1]; /* names this instance's notifications */
	int open_handles;
	bool closing;
	void (*on_closed)(struct feed *);
	struct feed_stats stats;
};

int feed_init(struct feed *f, uv_loop_t *loop, const struct config *cfg, struct db_pool *pool)
    __attribute__((warn_unused_result));
void feed_start(struct feed *f);
/* SIGTERM, after the drain delay: every stream ends (its last chunk once what
 * is queued is written); no new subscriber is taken. */
void feed_end_streams(struct feed *f);
/* Stops timers, the LISTEN connection and the sweep; on_closed when all handles closed. */
void feed_close(struct feed *f, void (*on_closed)(struct feed *));

/* ---- for the handler (handlers_changes.c) ---- */
/* Whether another stream may open (not past --max-subscribers, not closing). */
bool feed_can_subscribe(struct feed *f);
/* Joins the user's group, catching up (state SUB_CATCHING_UP). */
void feed_sub_join(struct feed *f, struct feed_sub *s, struct request *r, int64_t cursor);
/* The subscriber's own catch-up reached the end: it is fed by its group now. */
void feed_sub_live(struct feed *f, struct feed_sub *s);
/* The request's state must begin with its struct feed_sub (feed.c's drain
 * callback finds it there). Queues events (SSE text) that end at change number `upto` (or a comment:
 * upto < 0). Returns -1 when that closed the stream (over its buffer). */
int feed_sub_push(struct feed *f, struct feed_sub *s, const char *p, size_t n, int64_t upto);
/* Whether everything queued to s was taken by its client. */
bool feed_sub_drained(struct feed *f, struct feed_sub *s);
/* Leaves the group (the stream ends, or the connection closed). */
void feed_sub_leave(struct feed *f, struct feed_sub *s);

/* ---- statements' rows ---- */
/* How many changes the LIMIT of a change statement (queries.c's
 * CHANGES_CAPPED) found: more than the rows kept when it was cut by bytes. */
int feed_scanned(PGresult *res, int col, int kept);
/* A stream's batch of changes is bounded by bytes as well as by FEED_BATCH:
 * its attachment documents total at most --subscriber-buffer (but one change
 * always): the budget parameter of Q_CHANGES_PAGE. Returns its length. */
int feed_batch_budget(const struct feed *f, char out[24]);

/* ---- event text ---- */
/* Appends the JSON object of change row i of a Q_CHANGES_PAGE / Q_ADMIN_CHANGES
 * result (columns from `col`: n, kind, thread, item, attachment id, attachment
 * document, at_us), with "cursor" (cursor given) and, if user, "user_id". */
void feed_event_json(struct buf *out, PGresult *res, int i, int col, const char *cursor,
		     const char *user, size_t ul);
/* Appends one SSE event: id, event, data lines (a newline in the JSON starts another). */
void feed_sse_event(struct buf *out, const char *id, const char *kind, const char *json, size_t n);

/* A write of this user's committed on this instance (request.c, for every
 * write statement that succeeded): its local streams fetch now, and every
 * instance is told with the next batched NOTIFY. */
void feed_note_write(struct feed *f, const char *user, size_t ul);
/* The same with the write's result: a statement that returns its change
 * (queries.c CHANGE_ROW: columns chg_n, kind, thread, item, attachment id,
 * document, at_us) had it recorded or not; a recorded one goes to this
 * instance's streams at the number before it with no statement, and to the
 * others in the notification (feed_notify.h). Other statements: as
 * feed_note_write. Called only once the write committed. */
void feed_note_result(struct feed *f, const char *user, size_t ul, PGresult *res);

/* Metrics lines (Prometheus text). */
void feed_metrics(const struct feed *f, struct buf *out);

#endif
