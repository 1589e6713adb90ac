/* handlers_threads.c: load_threads, load_thread (optionally with its first
 * items), save_thread, delete_thread, and the history API's thread list
 * (order_by, metadata/status filters, before=: the T2 queries) and count. A
 * list with only limit/after/order is v1's, byte for byte. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "doc.h"
#include "handlers.h"
#include "page.h"
#include "request.h"
#include "server.h"

static void on_page(struct request *r, PGresult *res)
{
	page_reply(r, res, r->after.len > 0);
}

/* ---- the history parameters: order_by, metadata.<key>, status, before ---- */

static bool is_word(const struct buf *v, const char *w)
{
	return v->len == strlen(w) && memcmp(v->data, w, v->len) == 0;
}

struct history {
	bool v2;	  /* any parameter beyond limit/after/order: the T2 queries */
	bool by_activity; /* order_by=updated_at */
	struct buf before;
	struct buf filter; /* {"m":{...},"s":"..."} or {} */
	uint64_t sig;	   /* the filter's bits of the facet signature (0: no filter) */
};

/* Reads the history parameters (the filters always; order_by and before when
 * `listing`). Returns 0, or -1 after answering 400. */
static int history_params(struct request *r, bool listing, struct history *h)
{
	struct span q = r->match.query;
	struct buf v = {0};
	const char *why = NULL;
	*h = (struct history){0};
	buf_putc(&h->filter, '{');
	why = page_metadata_filters(q, &h->filter, &h->sig);
	if (why == NULL && h->filter.len > 1)
		h->v2 = true;
	int found = why ? 0 : router_query_param(q, "status", &v);
	if (found < 0 || (found > 0 && !is_word(&v, "active") && !is_word(&v, "locked") &&
			  !is_word(&v, "closed"))) {
		why = "status must be active, locked or closed";
	} else if (found > 0) {
		buf_puts(&h->filter, h->v2 ? ",\"s\":\"" : "\"s\":\"");
		buf_append(&h->filter, v.data, v.len);
		buf_putc(&h->filter, '"');
		char cond[8] = "s";
		memcpy(cond + 1, v.data, v.len); /* active, locked or closed */
		h->sig |= page_facet_bits(cond, v.len + 1);
		h->v2 = true;
	}
	buf_putc(&h->filter, '}');
	buf_reset(&v);
	found = why || !listing ? 0 : router_query_param(q, "order_by", &v);
	if (found < 0 || (found > 0 && !is_word(&v, "created_at") && !is_word(&v, "updated_at"))) {
		why = "order_by must be created_at or updated_at";
	} else if (found > 0) {
		h->by_activity = is_word(&v, "updated_at");
		h->v2 = true;
	}
	found = why || !listing ? 0 : router_query_param(q, "before", &h->before);
	if (found < 0 || h->before.len > 255 ||
	    (h->before.len && memchr(h->before.data, '\0', h->before.len))) {
		why = "before must be an id of 1 to 255 bytes";
	} else if (h->before.len > 0) {
		h->v2 = true;
		if (r->after.len > 0)
			why = "after and before cannot be used together";
	}
	buf_free(&v);
	if (why == NULL)
		return 0;
	buf_free(&h->before);
	buf_free(&h->filter);
	request_error(r, 400, "bad_request", why);
	return -1;
}

static const struct page_cols T2_COLS = {.id = 0, .doc = 1, .act = 2, .n = 3};

static void on_t2_first(struct request *r, PGresult *res)
{
	page_reply_cursor(r, res, PAGE_FIRST, &T2_COLS);
}

static void on_t2_after(struct request *r, PGresult *res)
{
	page_reply_cursor(r, res, PAGE_AFTER, &T2_COLS);
}

static void on_t2_before(struct request *r, PGresult *res)
{
	page_reply_cursor(r, res, PAGE_BEFORE, &T2_COLS);
}

/* The T2 queries are laid out by order, then cursor, then direction (queries.h).
 * The activity order takes one more parameter, the mask of the filter's
 * signature (~sig: -1 for none), which its index-only scan ORs with each
 * thread's signature. */
static void threads_list_v2(struct request *r, bool desc, struct history *h, const char *lim,
			    int ll)
{
	int base = h->by_activity ? Q_T2_U_FIRST_ASC : Q_T2_C_FIRST_ASC;
	const struct buf *cur = h->before.len > 0 ? &h->before : &r->after;
	enum page_cursor mode = h->before.len > 0  ? PAGE_BEFORE
				: r->after.len > 0 ? PAGE_AFTER
						   : PAGE_FIRST;
	enum query_id qid = (enum query_id)(base + 2 * (int)mode + (desc ? 1 : 0));
	char mask[24];
	int ml = snprintf(mask, sizeof mask, "%" PRId64, (int64_t)~h->sig);
	int extra = h->by_activity ? 1 : 0;
	if (mode == PAGE_FIRST) {
		const char *v[] = {h->filter.data, lim, mask};
		const int l[] = {(int)h->filter.len, ll, ml};
		request_query(r, qid, 2 + extra, v, l, on_t2_first);
	} else {
		const char *v[] = {cur->data, h->filter.data, lim, mask};
		const int l[] = {(int)cur->len, (int)h->filter.len, ll, ml};
		request_query(r, qid, 3 + extra, v, l, mode == PAGE_AFTER ? on_t2_after : on_t2_before);
	}
}

void handle_threads_list(struct request *r)
{
	bool desc;
	struct history h;
	if (page_params(r, true, &desc) < 0 || history_params(r, true, &h) < 0)
		return;
	char lim[16];
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	if (h.v2) {
		threads_list_v2(r, desc, &h, lim, ll);
	} else if (r->after.len > 0) {
		const char *v[] = {r->after.data, lim};
		const int l[] = {(int)r->after.len, ll};
		request_query(r, desc ? Q_THREADS_AFTER_DESC : Q_THREADS_AFTER_ASC, 2, v, l,
			      on_page);
	} else {
		const char *v[] = {lim};
		const int l[] = {ll};
		request_query(r, desc ? Q_THREADS_FIRST_DESC : Q_THREADS_FIRST_ASC, 1, v, l,
			      on_page);
	}
	buf_free(&h.before);
	buf_free(&h.filter);
}

static void on_count(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	char body[48];
	int n = snprintf(body, sizeof body, "{\"count\":%s}", PQgetvalue(res, 0, 0));
	PQclear(res);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, body, (size_t)n);
	request_reply_send(r);
}

/* GET /v1/threads/count: routed here by handle_thread_get (the path segment
 * "count" spelled plainly; a thread named count is /v1/threads/%63ount). */
static void handle_threads_count(struct request *r)
{
	struct history h;
	if (history_params(r, false, &h) < 0)
		return;
	const char *v[] = {h.filter.data};
	const int l[] = {(int)h.filter.len};
	request_query(r, Q_THREADS_COUNT, 1, v, l, on_count);
	buf_free(&h.before);
	buf_free(&h.filter);
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
	if (r->match.args[0].n == 5 && memcmp(r->match.args[0].p, "count", 5) == 0) {
		handle_threads_count(r);
		return;
	}
	struct buf v = {0};
	int found = router_query_param(r->match.query, "items", &v);
	if (found == 0) {
		const char *p[] = {r->id.data};
		const int l[] = {(int)r->id.len};
		request_query(r, Q_THREAD_GET, 1, p, l, on_thread);
		return;
	}
	int n = found > 0 ? page_count(v.data, v.len, PAGE_MAX_LIMIT) : -1;
	bool ok = n > 0;
	buf_free(&v);
	if (!ok) {
		request_error(r, 400, "bad_request", "items must be an integer from 1 to 1000");
		return;
	}
	r->limit = n;
	char lim[16], bytes[24];
	int ll = snprintf(lim, sizeof lim, "%d", n + 1);
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
	char ts[24], exp[24] = "";
	int tl = snprintf(ts, sizeof ts, "%" PRId64, d.created_us);
	int el = d.has_expiry ? snprintf(exp, sizeof exp, "%" PRId64, d.expires_us) : 0;
	const char *lang = request_server(r)->cfg->search_language;
	const char *p[] = {r->id.data, ts, d.text, lang, exp};
	const int l[] = {(int)r->id.len, tl, (int)d.text_len, (int)strlen(lang), el};
	request_query(r, Q_THREAD_PUT, 5, p, l, on_saved);
}

void handle_thread_delete(struct request *r)
{
	const char *p[] = {r->id.data};
	const int l[] = {(int)r->id.len};
	request_query(r, Q_THREAD_DELETE, 1, p, l, on_saved);
}
