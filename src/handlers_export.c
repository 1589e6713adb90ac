/* handlers_export.c: GET /v1/threads/{id}/export streams a whole thread, of
 * any size, as {"thread":{...},"items":[...]} in chunked encoding.
 *
 * Rows come in keyset batches (not one long query): each batch is one short
 * statement on a shared pipelined connection, so an export never holds a
 * connection while its client reads slowly, and the next batch is fetched only
 * after the client has taken the previous one. Memory is one batch: the
 * statement itself stops at EXPORT_BATCH_BYTES of documents (or one row), and
 * the row count asked for follows the documents' size so that a thread of
 * large items does not scan rows it will not send. The item stream is shared
 * with the export of a whole user (handlers_me.c: export_items_start). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "request.h"

#define EXPORT_BATCH_BYTES (1 << 20)
#define EXPORT_BATCH_MIN 1
#define EXPORT_BATCH_MAX 1000
#define EXPORT_BATCH_FIRST 200 /* rows asked for first; the bytes cap still holds */

static void export_next(struct request *r);

static void export_end(struct request *r)
{
	request_stream_end(r);
}

static void on_rows(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		request_stream_abort(r, "an export batch failed");
		return;
	}
	struct export_items *x = request_state(r, sizeof *x);
	int n = PQntuples(res);
	/* All rows the scan found were kept (no byte cut) and fewer than asked: the end. */
	bool last = n == 0 || (atol(PQgetvalue(res, 0, 3)) == n && n < x->batch);
	size_t bytes = 0;
	struct reply *rep = request_reply_begin(r, 200);
	for (int i = 0; i < n; i++) {
		if (x->rows++ > 0)
			reply_copy(rep, ",", 1);
		size_t len = (size_t)PQgetlength(res, i, 0);
		reply_ref(rep, PQgetvalue(res, i, 0), len);
		bytes += len;
	}
	if (n > 0) {
		snprintf(x->us, sizeof x->us, "%s", PQgetvalue(res, n - 1, 1));
		snprintf(x->seq, sizeof x->seq, "%s", PQgetvalue(res, n - 1, 2));
		/* Aim the next batch at EXPORT_BATCH_BYTES of documents. */
		size_t avg = bytes / (size_t)n + 1;
		long want = (long)(EXPORT_BATCH_BYTES / avg);
		x->batch = want < EXPORT_BATCH_MIN   ? EXPORT_BATCH_MIN
			   : want > EXPORT_BATCH_MAX ? EXPORT_BATCH_MAX
						     : (int)want;
	}
	if (last)
		reply_copy(rep, "]}", 2);
	reply_keep_result(rep, res);
	request_stream_send(r, last ? x->done : export_next);
}

static void export_next(struct request *r)
{
	struct export_items *x = request_state(r, sizeof *x);
	char batch[16], bytes[24];
	int bl = snprintf(batch, sizeof batch, "%d", x->batch);
	int yl = snprintf(bytes, sizeof bytes, "%d", EXPORT_BATCH_BYTES);
	const char *p[] = {x->thread, x->us, x->seq, batch, bytes};
	const int l[] = {(int)x->thread_len, (int)strlen(x->us), (int)strlen(x->seq), bl, yl};
	request_query(r, Q_ITEMS_EXPORT, 5, p, l, on_rows);
}

void export_items_start(struct request *r, const char *thread, size_t len,
			void (*done)(struct request *r))
{
	struct export_items *x = request_state(r, sizeof *x);
	strcpy(x->us, "-9223372036854775808");
	strcpy(x->seq, "-1");
	x->rows = 0;
	x->batch = EXPORT_BATCH_FIRST;
	x->thread = thread;
	x->thread_len = len;
	x->done = done;
	export_next(r);
}

static void export_first(struct request *r)
{
	export_items_start(r, r->id.data, r->id.len, export_end);
}

static void on_thread(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		request_error(r, 404, "not_found", "no such thread");
		return;
	}
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy_str(rep, "{\"thread\":");
	reply_ref(rep, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	reply_copy_str(rep, ",\"items\":[");
	reply_keep_result(rep, res);
	request_stream_send(r, export_first);
}

void handle_thread_export(struct request *r)
{
	const char *p[] = {r->id.data};
	const int l[] = {(int)r->id.len};
	request_query(r, Q_THREAD_GET, 1, p, l, on_thread);
}
