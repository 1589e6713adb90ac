/* handlers_me.c: a user's data, all of it (issue 13): DELETE /v1/me erases
 * it, GET /v1/me/export streams it. The operator's API (handlers_admin.c)
 * runs the same two with the user taken from its path.
 *
 * Erase: one bounded statement at a time (queries.c: Q_ERASE_*), each its own
 * transaction on a shared pipelined connection, the next sent when the last
 * one's result is in and as long again has passed (ERASE_DUTY_PERCENT of
 * one backend at most: a timer, closed with the request), so no lock,
 * transaction or connection is held for longer than one batch (a few
 * milliseconds), and a 1,000,000-item user costs other users one batch's
 * place in a pipeline at a time and half a backend. The phases:
 *
 *   ITEMS (keyset in items_by_time order; each batch also walks over the
 *   one before in both indexes the thread's cascade may use: queries.c)
 *   -> THREADS (keyset; cascades items written behind the item
 *   walk) -> ATTACHMENTS (keyset) -> FINAL
 *
 * FINAL deletes threads and attachments without a cursor, in one statement,
 * until one finds none: at that statement's snapshot the user had nothing
 * (an item needs its thread), and the answer is sent after it. So nothing
 * written before the answer is readable after it; a write that commits
 * later was concurrent with the erase and is ordered after it. While the
 * erase runs, reads see the user's data shrink. A client that hangs up stops
 * the erase where it is (its next statement is not sent); the call is
 * idempotent, so asking again finishes it.
 *
 * Export: {"user_id":...,"threads":[{<thread>,"items":[...]},...],
 * "attachments":[...]}, chunked. One thread per statement (the next in
 * creation order after the keyset), then its items through the thread
 * export's item stream (export_items_start), then attachments in keyset
 * batches: each statement is sent once the client has taken the previous
 * chunk, so the client paces the database and memory is one batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "request.h"
#include "server.h"

#define ERASE_ITEMS_BATCH 500
#define ERASE_ROWS_BATCH 500
#define ERASE_FINAL_ROUNDS 100 /* past it the user is writing as fast as we erase: 503 */
#define ERASE_DUTY_PERCENT 50  /* of the time, at most, with a statement of the erase running */
#define EXPORT_ATT_BATCH 200
#define EXPORT_ATT_BYTES (1 << 20)
#define ID_MAX 256 /* ids are at most 255 bytes */
/* An item key as JSON: ["<thread id, escaped: at most 6 bytes a byte>",created_us,seq] */
#define ITEM_KEY_MAX (8 + 6 * ID_MAX + 2 * 24)
#define ITEM_KEY_START "[\"\",-9223372036854775808,-1]" /* before every item */

/* ---- erase ------------------------------------------------------------------------------ */

enum erase_phase { ERASE_ITEMS, ERASE_THREADS, ERASE_ATTACHMENTS, ERASE_FINAL };

struct erase_state {
	enum erase_phase phase;
	char k1[ID_MAX]; /* threads, attachments: the keyset position */
	int k1len;
	/* items: where the next batch starts (the start of the last one), and where the last
	 * one ended (the start of the next but one) */
	char from[ITEM_KEY_MAX], last[ITEM_KEY_MAX];
	long threads, items, attachments;
	int rounds;
	uint64_t sent_ns;  /* when the statement in flight was sent */
	uv_timer_t *pause; /* between two statements; closed when the request goes */
	struct request *r;
};

static void erase_step(struct request *r);

static void on_pause_closed(uv_handle_t *h)
{
	free(h);
}

static void pause_release(void *arg)
{
	struct erase_state *e = arg;
	uv_close((uv_handle_t *)e->pause, on_pause_closed);
}

static void on_pause(uv_timer_t *t)
{
	struct erase_state *e = t->data;
	erase_step(e->r);
}

/* The next statement once as long as the last one took has passed again. */
static void erase_next(struct request *r, struct erase_state *e)
{
	uint64_t took_ms = (uv_hrtime() - e->sent_ns) / 1000000;
	uint64_t wait = took_ms * (100 - ERASE_DUTY_PERCENT) / ERASE_DUTY_PERCENT;
	if (wait == 0) {
		erase_step(r);
		return;
	}
	if (e->pause == NULL) {
		e->pause = buf_xcalloc(1, sizeof *e->pause);
		if (uv_timer_init(request_server(r)->loop, e->pause) != 0) {
			free(e->pause);
			e->pause = NULL;
			erase_step(r);
			return;
		}
		e->pause->data = e;
		request_on_release(r, pause_release, e);
	}
	uv_timer_start(e->pause, on_pause, wait, 0);
}

static void copy_key(char *dst, int *len, PGresult *res, int row, int col)
{
	int n = PQgetlength(res, row, col);
	if (n >= ID_MAX)
		n = ID_MAX - 1; /* cannot happen: ids are checked on the way in */
	memcpy(dst, PQgetvalue(res, row, col), (size_t)n);
	dst[n] = '\0';
	*len = n;
}

static void next_phase(struct erase_state *e, enum erase_phase p)
{
	e->phase = p;
	e->k1[0] = '\0';
	e->k1len = 0;
	strcpy(e->from, ITEM_KEY_START);
	strcpy(e->last, ITEM_KEY_START);
}

static void erase_done(struct request *r)
{
	struct erase_state *e = request_state(r, sizeof *e);
	char body[96];
	int n = snprintf(body, sizeof body, "{\"threads\":%ld,\"items\":%ld,\"attachments\":%ld}",
			 e->threads, e->items, e->attachments);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, body, (size_t)n);
	request_reply_send(r);
}

static void on_erase_batch(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		request_db_error(r, res);
		return;
	}
	struct erase_state *e = request_state(r, sizeof *e);
	long deleted = atol(PQgetvalue(res, 0, 0));
	switch (e->phase) {
	case ERASE_ITEMS:
		e->items += deleted;
		if (atol(PQgetvalue(res, 0, 2)) < ERASE_ITEMS_BATCH) {
			next_phase(e, ERASE_THREADS);
			break;
		}
		strcpy(e->from, e->last); /* one batch behind: it walks over this one's */
		if (PQgetlength(res, 0, 1) >= ITEM_KEY_MAX) { /* cannot happen: ids are bounded */
			PQclear(res);
			request_error(r, 500, "internal", "an item key is too long");
			return;
		}
		memcpy(e->last, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1) + 1);
		/* this batch's keys, for the next one to walk over (r->scratch: freed with r) */
		buf_reset(&r->scratch);
		buf_append(&r->scratch, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
		break;
	case ERASE_THREADS:
	case ERASE_ATTACHMENTS:
		*(e->phase == ERASE_THREADS ? &e->threads : &e->attachments) += deleted;
		copy_key(e->k1, &e->k1len, res, 0, 1);
		if (atol(PQgetvalue(res, 0, 2)) < ERASE_ROWS_BATCH)
			next_phase(e, e->phase == ERASE_THREADS ? ERASE_ATTACHMENTS : ERASE_FINAL);
		break;
	case ERASE_FINAL: {
		long atts = atol(PQgetvalue(res, 0, 1));
		e->threads += deleted;
		e->attachments += atts;
		if (deleted == 0 && atts == 0) {
			PQclear(res);
			erase_done(r);
			return;
		}
		if (++e->rounds >= ERASE_FINAL_ROUNDS) {
			PQclear(res);
			request_error(r, 503, "unavailable",
				      "the user's data is being written faster than it is erased; "
				      "retry");
			return;
		}
		break;
	}
	}
	PQclear(res);
	erase_next(r, e);
}

static void erase_step(struct request *r)
{
	struct erase_state *e = request_state(r, sizeof *e);
	e->sent_ns = uv_hrtime();
	char n[16];
	int nl = snprintf(n, sizeof n, "%d",
			  e->phase == ERASE_ITEMS ? ERASE_ITEMS_BATCH : ERASE_ROWS_BATCH);
	switch (e->phase) {
	case ERASE_ITEMS: {
		bool keys = r->scratch.len > 0;
		const char *p[] = {e->from, n, keys ? r->scratch.data : "[]"};
		const int l[] = {(int)strlen(e->from), nl, keys ? (int)r->scratch.len : 2};
		request_query(r, Q_ERASE_ITEMS, 3, p, l, on_erase_batch);
		break;
	}
	case ERASE_THREADS:
	case ERASE_ATTACHMENTS: {
		const char *p[] = {e->k1, n};
		const int l[] = {e->k1len, nl};
		request_query(r, e->phase == ERASE_THREADS ? Q_ERASE_THREADS : Q_ERASE_ATTACHMENTS,
			      2, p, l, on_erase_batch);
		break;
	}
	case ERASE_FINAL: {
		const char *p[] = {n};
		const int l[] = {nl};
		request_query(r, Q_ERASE_FINAL, 1, p, l, on_erase_batch);
		break;
	}
	}
}

void handle_me_delete(struct request *r)
{
	struct erase_state *e = request_state(r, sizeof *e);
	e->r = r;
	next_phase(e, ERASE_ITEMS);
	erase_step(r);
}

/* ---- export ----------------------------------------------------------------------------- */

struct me_export {
	struct export_items items; /* first: the item stream's state (handlers.h) */
	char us[24], seq[24];	   /* the threads' keyset position */
	char thread[ID_MAX];	   /* the thread whose items are streaming */
	int thread_len;
	long nthreads, natts;
	char after[ID_MAX]; /* the attachments' keyset position */
	int after_len;
};

static void next_thread(struct request *r);
static void next_attachments(struct request *r);

static void export_end(struct request *r)
{
	request_stream_end(r);
}

static void thread_items(struct request *r)
{
	struct me_export *x = request_state(r, sizeof *x);
	export_items_start(r, x->thread, (size_t)x->thread_len, next_thread);
}

/* Fails before the head (a status can still say why) or after it (cut short). */
static bool export_failed(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return false;
	if (r->streaming) {
		PQclear(res);
		request_stream_abort(r, "an export batch failed");
	} else {
		request_db_error(r, res);
	}
	return true;
}

static void on_thread(struct request *r, PGresult *res)
{
	if (export_failed(r, res))
		return;
	struct me_export *x = request_state(r, sizeof *x);
	struct reply *rep = request_reply_begin(r, 200);
	if (!r->streaming) {
		struct buf head = {0};
		buf_puts(&head, "{\"user_id\":\"");
		buf_json_escape(&head, r->user.data, r->user.len);
		buf_puts(&head, "\",\"threads\":[");
		reply_copy(rep, head.data, head.len);
		buf_free(&head);
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		reply_copy_str(rep, "],\"attachments\":[");
		request_stream_send(r, next_attachments);
		return;
	}
	copy_key(x->thread, &x->thread_len, res, 0, 0);
	snprintf(x->us, sizeof x->us, "%s", PQgetvalue(res, 0, 2));
	snprintf(x->seq, sizeof x->seq, "%s", PQgetvalue(res, 0, 3));
	const char *doc = PQgetvalue(res, 0, 1);
	size_t len = (size_t)PQgetlength(res, 0, 1);
	while (len > 0 && doc[len - 1] != '}') /* stored trimmed; be safe anyway */
		len--;
	if (x->nthreads++ > 0)
		reply_copy(rep, ",", 1);
	reply_ref(rep, doc, len > 0 ? len - 1 : 0);
	reply_copy_str(rep, ",\"items\":["); /* the item stream closes it and the thread */
	reply_keep_result(rep, res);
	request_stream_send(r, thread_items);
}

static void next_thread(struct request *r)
{
	struct me_export *x = request_state(r, sizeof *x);
	const char *p[] = {x->us, x->seq};
	const int l[] = {(int)strlen(x->us), (int)strlen(x->seq)};
	request_query(r, Q_EXPORT_THREADS, 2, p, l, on_thread);
}

static void on_attachments(struct request *r, PGresult *res)
{
	if (export_failed(r, res))
		return;
	struct me_export *x = request_state(r, sizeof *x);
	int n = PQntuples(res);
	/* All rows the scan found were kept (no byte cut) and fewer than asked: the end. */
	bool last = n == 0 || (atol(PQgetvalue(res, 0, 2)) == n && n < EXPORT_ATT_BATCH);
	struct reply *rep = request_reply_begin(r, 200);
	for (int i = 0; i < n; i++) {
		if (x->natts++ > 0)
			reply_copy(rep, ",", 1);
		reply_ref(rep, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
	}
	if (n > 0)
		copy_key(x->after, &x->after_len, res, n - 1, 0);
	if (last)
		reply_copy(rep, "]}", 2);
	reply_keep_result(rep, res);
	request_stream_send(r, last ? export_end : next_attachments);
}

static void next_attachments(struct request *r)
{
	struct me_export *x = request_state(r, sizeof *x);
	char batch[16], bytes[24];
	int bl = snprintf(batch, sizeof batch, "%d", EXPORT_ATT_BATCH);
	int yl = snprintf(bytes, sizeof bytes, "%d", EXPORT_ATT_BYTES);
	const char *p[] = {x->after, batch, bytes};
	const int l[] = {x->after_len, bl, yl};
	request_query(r, Q_EXPORT_ATTACHMENTS, 3, p, l, on_attachments);
}

void handle_me_export(struct request *r)
{
	struct me_export *x = request_state(r, sizeof *x);
	strcpy(x->us, "-9223372036854775808");
	strcpy(x->seq, "-1");
	next_thread(r);
}
