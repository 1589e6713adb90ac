/* libFuzzer target for the request front end: arbitrary bytes go through the
 * HTTP parser (split at a fuzzer-chosen offset), and every request that comes
 * out through the router, the query-string reader, the bearer extractor, the
 * token verifier and the document checker, as the server would. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "doc.h"
#include "http.h"
#include "page.h"
#include "router.h"

/* The router's table names handlers; the fuzzer never calls them. */
#define STUB(name) \
	void name(struct request *r) { (void)r; }
STUB(handle_healthz) STUB(handle_readyz) STUB(handle_metrics) STUB(handle_threads_list) STUB(handle_thread_get)
STUB(handle_thread_put) STUB(handle_thread_export) STUB(handle_thread_delete) STUB(handle_items_list)
STUB(handle_item_add) STUB(handle_item_get) STUB(handle_item_put) STUB(handle_item_delete)
STUB(handle_attachment_get) STUB(handle_attachment_put) STUB(handle_attachment_delete)
STUB(handle_search) STUB(handle_changes) STUB(handle_admin_changes) STUB(handle_me_delete)
STUB(handle_me_export) STUB(handle_admin_users) STUB(handle_admin_user_delete)
STUB(handle_admin_user_export)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct http_req *r)
{
	struct route_match m;
	router_match(r->url.data ? r->url.data : "", r->url.len, &m);
	struct buf v = {0}, id = {0}, scratch = {0}, sub = {0};
	(void)router_query_param(m.query, "after", &v);
	buf_reset(&v);
	uint64_t sig = 0; /* the history filters' JSON and their signature bits */
	(void)page_metadata_filters(m.query, &v, &sig);
	buf_reset(&v);
	if (router_query_param(m.query, "q", &v) > 0)
		(void)page_text_ok(v.data, v.len);
	for (int i = 0; i < m.nargs; i++)
		(void)router_decode(m.args[i], false, &id);

	struct auth a;
	auth_init(&a, "fuzzing-secret-0123456789", 10);
	const char *tok, *why;
	size_t tl;
	if (auth_bearer(buf_rptr(&r->authorization), buf_rlen(&r->authorization), &tok, &tl, &why) == 0)
		(void)auth_verify(&a, tok, tl, (time_t)1750000000, &sub, &why);

	struct doc_info d;
	for (int k = DOC_THREAD; k <= DOC_ATTACHMENT; k++) {
		buf_reset(&id);
		(void)doc_check((enum doc_kind)k, buf_rptr(&r->body), buf_rlen(&r->body),
				k == DOC_ITEM ? NULL : "t", 1, &id, &d, &scratch, &why);
	}
	buf_free(&v);
	buf_free(&id);
	buf_free(&scratch);
	buf_free(&sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = data[0] % (size);
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	struct http_in h;
	http_in_init(&h, 4096, 65536, NULL);
	size_t pos = 0;
	int served = 0;
	for (int piece = 0; piece < 2 && served < 64; piece++) {
		size_t end = piece == 0 ? (cut < len ? cut : len) : len;
		while (pos < end && served < 64) {
			enum http_in_status st;
			pos += http_in_feed(&h, in + pos, end - pos, &st);
			if (st == HTTP_IN_MORE)
				break;
			if (st == HTTP_IN_ERROR) {
				http_in_free(&h);
				return 0;
			}
			exercise(&h.req);
			served++;
			if (h.req.body_too_large || !h.req.keep_alive)
				break;
			http_in_next(&h);
		}
	}
	http_in_free(&h);
	return 0;
}
