/* handlers.h: one function per API operation, each: params -> query -> reply.
 * Handlers run with an authenticated request (r->user set, path ids decoded)
 * and finish it with exactly one reply, now or from a query's callback. */
#ifndef THREADSTORE_HANDLERS_H
#define THREADSTORE_HANDLERS_H

#include <stddef.h>

struct request;

void handle_healthz(struct request *r);
void handle_readyz(struct request *r);
void handle_metrics(struct request *r);
void handle_threads_list(struct request *r);
void handle_thread_get(struct request *r);
void handle_thread_put(struct request *r);
void handle_thread_delete(struct request *r);
void handle_thread_export(struct request *r);
void handle_items_list(struct request *r);
void handle_item_add(struct request *r);
void handle_item_get(struct request *r);
void handle_item_put(struct request *r);
void handle_item_delete(struct request *r);
void handle_attachment_get(struct request *r);
void handle_attachment_put(struct request *r);
void handle_attachment_delete(struct request *r);
void handle_search(struct request *r);
void handle_changes(struct request *r);
void handle_admin_changes(struct request *r);
/* issue 13: the caller's own data (handlers_me.c) and the operator's API (handlers_admin.c) */
void handle_me_delete(struct request *r);
void handle_me_export(struct request *r);
void handle_admin_users(struct request *r);
void handle_admin_user_delete(struct request *r);
void handle_admin_user_export(struct request *r);

/* The item stream of the exports (handlers_export.c): a thread's items, oldest
 * first, comma-separated, in keyset batches paced by the client; the last
 * batch's chunk ends with "]}" and, once the client has taken it, `done`
 * runs. Its state is the request's (request_state): a handler with a state of
 * its own puts a struct export_items first in it. `thread` must stay valid
 * until `done`. */
struct export_items {
	char us[24], seq[24]; /* keyset position (created_us, seq) */
	long rows;
	int batch;
	const char *thread;
	size_t thread_len;
	void (*done)(struct request *r);
};
void export_items_start(struct request *r, const char *thread, size_t len,
			void (*done)(struct request *r));

#endif
