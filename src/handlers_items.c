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

#define NO_THREAD "no such thread"

static void on_page(struct request *r, PGresult *res)
{
	page_reply(r, res, r->after.len > 0);
}

void handle_items_list(struct request *r)
{
	bool desc;
	if (page_params(r, false, &desc) < 0)
		return;
	char lim[16];
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	if (r->after.len > 0) {
		const char *v[] = {r->id.data, r->after.data, lim};
		const int l[] = {(int)r->id.len, (int)r->after.len, ll};
		request_query(r, desc ? Q_ITEMS_AFTER_DESC : Q_ITEMS_AFTER_ASC, 3, v, l, on_page);
	} else {
		const char *v[] = {r->id.data, lim};
		const int l[] = {(int)r->id.len, ll};
		request_query(r, desc ? Q_ITEMS_FIRST_DESC : Q_ITEMS_FIRST_ASC, 2, v, l, on_page);
	}
}

static void on_added(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 201, NO_THREAD);
}

static void on_saved(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 204, NO_THREAD);
}

/* POST has no item id in the path (the body's is used); PUT has one. */
static void upsert(struct request *r, bool from_path, request_result_fn done)
{
	const struct http_req *h = r->http;
	struct doc_info d;
	const char *why;
	if (doc_check(DOC_ITEM, buf_rptr(&h->body), buf_rlen(&h->body),
		      from_path ? r->item_id.data : NULL, r->item_id.len, r->id.data, r->id.len,
		      &r->item_id, &d, &r->scratch, &why) < 0) {
		request_error(r, 400, "bad_request", why);
		return;
	}
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%" PRId64, d.created_us);
	const char *p[] = {r->id.data, r->item_id.data, ts, d.text};
	const int l[] = {(int)r->id.len, (int)r->item_id.len, tl, (int)d.text_len};
	request_query(r, Q_ITEM_PUT, 4, p, l, done);
}

void handle_item_add(struct request *r)
{
	upsert(r, false, on_added);
}

void handle_item_put(struct request *r)
{
	upsert(r, true, on_saved);
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
