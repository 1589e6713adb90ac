/* handlers_threads.c: load_threads, load_thread (optionally with its first
 * items), save_thread, delete_thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "db.h"
#include "doc.h"
#include "handlers.h"
#include "page.h"

static void on_page(struct request *r, PGresult *res)
{
	page_reply(r, res, r->after.len > 0);
}

void handle_threads_list(struct request *r)
{
	bool desc;
	if (page_params(r, true, &desc) < 0)
		return;
	char lim[16], bytes[24];
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	int bl = page_budget_param(r, bytes);
	if (r->after.len > 0) {
		const char *v[] = {r->after.data, lim, bytes};
		const int l[] = {(int)r->after.len, ll, bl};
		request_query(r, desc ? Q_THREADS_AFTER_DESC : Q_THREADS_AFTER_ASC, 3, v, l,
			      on_page);
	} else {
		const char *v[] = {lim, bytes};
		const int l[] = {ll, bl};
		request_query(r, desc ? Q_THREADS_FIRST_DESC : Q_THREADS_FIRST_ASC, 2, v, l,
			      on_page);
	}
}

static void on_thread(struct request *r, PGresult *res)
{
	page_reply_doc(r, res, "no such thread");
}

/* Rows are (kind, id, doc): kind 0 the thread, kind 1 its items, oldest first.
 * The reply is the stored thread with "items": Page spliced before its final '}'. */
static void on_thread_with_items(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	int n = PQntuples(res), thread_row = -1, first_item = -1, nitems = 0;
	for (int i = 0; i < n; i++) {
		if (PQgetvalue(res, i, 0)[0] == '0') {
			thread_row = i;
		} else {
			if (first_item < 0)
				first_item = i;
			nitems++;
		}
	}
	if (thread_row < 0) {
		PQclear(res);
		request_error(r, 404, "not_found", "no such thread");
		return;
	}
	const char *doc = PQgetvalue(res, thread_row, 2);
	size_t len = (size_t)PQgetlength(res, thread_row, 2);
	while (len > 0 && doc[len - 1] != '}') /* stored trimmed; be safe anyway */
		len--;
	struct reply *rep = request_reply_begin(r, 200);
	reply_ref(rep, doc, len - 1);
	/* An object with members needs a comma; ours always has "id". */
	reply_copy_str(rep, ",\"items\":");
	page_append(rep, res, first_item < 0 ? 0 : first_item, nitems, 1, 2, 3, r->limit);
	reply_copy(rep, "}", 1);
	reply_keep_result(rep, res);
	request_reply_send(r);
}

void handle_thread_get(struct request *r)
{
	struct buf v = {0};
	int found = router_query_param(r->match.query, "items", &v);
	if (found == 0) {
		const char *p[] = {r->id.data};
		const int l[] = {(int)r->id.len};
		request_query(r, Q_THREAD_GET, 1, p, l, on_thread);
		return;
	}
	buf_putc(&v, '\0');
	char *end;
	long n = found > 0 ? strtol(v.data, &end, 10) : -1;
	bool ok = found > 0 && v.len > 1 && *end == '\0' && n >= 1 && n <= PAGE_MAX_LIMIT;
	buf_free(&v);
	if (!ok) {
		request_error(r, 400, "bad_request", "items must be an integer from 1 to 1000");
		return;
	}
	r->limit = (int)n;
	char lim[16], bytes[24];
	int ll = snprintf(lim, sizeof lim, "%ld", n + 1);
	int bl = page_budget_param(r, bytes);
	const char *p[] = {r->id.data, lim, bytes};
	const int l[] = {(int)r->id.len, ll, bl};
	request_query(r, Q_THREAD_GET_WITH_ITEMS, 3, p, l, on_thread_with_items);
}

static void on_saved(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 204, NULL);
}

void handle_thread_put(struct request *r)
{
	const struct http_req *h = r->http;
	struct doc_info d;
	const char *why;
	if (doc_check(DOC_THREAD, buf_rptr(&h->body), buf_rlen(&h->body), r->id.data, r->id.len,
		      NULL, &d, &r->scratch, &why) < 0) {
		request_error(r, 400, "bad_request", why);
		return;
	}
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%" PRId64, d.created_us);
	const char *p[] = {r->id.data, ts, d.text};
	const int l[] = {(int)r->id.len, tl, (int)d.text_len};
	request_query(r, Q_THREAD_PUT, 3, p, l, on_saved);
}

void handle_thread_delete(struct request *r)
{
	const char *p[] = {r->id.data};
	const int l[] = {(int)r->id.len};
	request_query(r, Q_THREAD_DELETE, 1, p, l, on_saved);
}
