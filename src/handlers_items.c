/* handlers_items.c: load_thread_items, add_thread_item, save_item, load_item,
 * delete_thread_item. Items are keyed by (user, thread, id). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "request.h"
#include "db.h"
#include "doc.h"
#include "handlers.h"
#include "page.h"
#include "server.h"

#define NO_THREAD "no such thread"

static void on_page(struct request *r, PGresult *res)
{
	page_reply(r, res, r->after.len > 0);
}

static void on_before_page(struct request *r, PGresult *res)
{
	static const struct page_cols cols = {.id = 0, .doc = 1, .n = 2, .act = -1};
	page_reply_cursor(r, res, PAGE_BEFORE, &cols);
}

/* before=: the items just before the cursor (see page.h PAGE_BEFORE). Returns
 * 1 when the page was asked for, 0 without before=, -1 after a 400. */
static int items_before(struct request *r, bool desc, const char *lim, int ll, const char *bytes,
			int bl)
{
	struct buf b = {0};
	int found = router_query_param(r->match.query, "before", &b);
	const char *why = NULL;
	if (found < 0 || b.len > 255 || (b.len && memchr(b.data, '\0', b.len)))
		why = "before must be an id of 1 to 255 bytes";
	else if (b.len > 0 && r->after.len > 0)
		why = "after and before cannot be used together";
	if (why != NULL) {
		buf_free(&b);
		request_error(r, 400, "bad_request", why);
		return -1;
	}
	if (b.len == 0) {
		buf_free(&b);
		return 0;
	}
	const char *v[] = {r->id.data, b.data, lim, bytes};
	const int l[] = {(int)r->id.len, (int)b.len, ll, bl};
	request_query(r, desc ? Q_ITEMS_BEFORE_DESC : Q_ITEMS_BEFORE_ASC, 4, v, l, on_before_page);
	buf_free(&b);
	return 1;
}

void handle_items_list(struct request *r)
{
	bool desc;
	if (page_params(r, false, &desc) < 0)
		return;
	char lim[16], bytes[24];
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	int bl = page_budget_param(r, bytes);
	if (items_before(r, desc, lim, ll, bytes, bl) != 0)
		return;
	if (r->after.len > 0) {
		const char *v[] = {r->id.data, r->after.data, lim, bytes};
		const int l[] = {(int)r->id.len, (int)r->after.len, ll, bl};
		request_query(r, desc ? Q_ITEMS_AFTER_DESC : Q_ITEMS_AFTER_ASC, 4, v, l, on_page);
	} else {
		const char *v[] = {r->id.data, lim, bytes};
		const int l[] = {(int)r->id.len, ll, bl};
		request_query(r, desc ? Q_ITEMS_FIRST_DESC : Q_ITEMS_FIRST_ASC, 3, v, l, on_page);
	}
}

/* (inserted, same): see Q_ITEM_ADD. A retried add of the same document is
 * harmless (201); a different document under an existing id changes nothing
 * (409), as ChatKit's add_thread_item is an insert, not save_item's upsert. */
static void on_added(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "23503") == 0) { /* no such thread */
			PQclear(res);
			request_error(r, 404, "not_found", NO_THREAD);
			return;
		}
		request_db_error(r, res);
		return;
	}
	bool inserted = PQgetvalue(res, 0, 0)[0] == 't';
	bool known = !PQgetisnull(res, 0, 1);
	bool same = known && PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (inserted || same)
		request_reply_empty(r, 201);
	else if (known)
		request_error(r, 409, "conflict",
			      "an item with this id exists in the thread with a different document;"
			      " save_item (PUT) replaces it");
	else /* added by a transaction that committed after this statement began */
		request_error(r, 503, "unavailable",
			      "the same item id is being added concurrently; retry shortly");
}

static void on_saved(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 204, NO_THREAD);
}

/* POST has no item id in the path (the body's is used); PUT has one. The
 * body's thread_id is not checked against the path: like ChatKit's reference
 * store, the item is filed under the thread it is added to, stored as sent. */
static void write_item(struct request *r, bool from_path, enum query_id qid, request_result_fn done)
{
	const struct http_req *h = r->http;
	struct doc_info d;
	const char *why;
	if (doc_check(DOC_ITEM, buf_rptr(&h->body), buf_rlen(&h->body),
		      from_path ? r->item_id.data : NULL, r->item_id.len, &r->item_id, &d,
		      &r->scratch, &why) < 0) {
		request_error(r, 400, "bad_request", why);
		return;
	}
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%" PRId64, d.created_us);
	const char *lang = request_server(r)->cfg->search_language; /* the search index */
	const char *p[] = {r->id.data, r->item_id.data, ts, d.text, lang};
	const int l[] = {(int)r->id.len, (int)r->item_id.len, tl, (int)d.text_len,
			 (int)strlen(lang)};
	request_query(r, qid, 5, p, l, done);
}

void handle_item_add(struct request *r)
{
	write_item(r, false, Q_ITEM_ADD, on_added);
}

void handle_item_put(struct request *r)
{
	write_item(r, true, Q_ITEM_PUT, on_saved);
}

static void on_item(struct request *r, PGresult *res)
{
	page_reply_doc(r, res, "no such item");
}

void handle_item_get(struct request *r)
{
	const char *p[] = {r->id.data, r->item_id.data};
	const int l[] = {(int)r->id.len, (int)r->item_id.len};
	request_query(r, Q_ITEM_GET, 2, p, l, on_item);
}

static void on_deleted(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 204, NULL);
}

void handle_item_delete(struct request *r)
{
	const char *p[] = {r->id.data, r->item_id.data};
	const int l[] = {(int)r->id.len, (int)r->item_id.len};
	request_query(r, Q_ITEM_DELETE, 2, p, l, on_deleted);
}
