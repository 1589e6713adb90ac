/* handlers.h: one function per API operation, each: params -> query -> reply.
 * Handlers run with an authenticated request (r->user set, path ids decoded)
 * and finish it with exactly one reply, now or from a query's callback. */
#ifndef THREADSTORE_HANDLERS_H
#define THREADSTORE_HANDLERS_H

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

#endif
