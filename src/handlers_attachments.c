/* handlers_attachments.c: save_attachment, load_attachment, delete_attachment
 * (metadata only; the bytes live wherever the backend's AttachmentStore puts them). */
#include "request.h"
#include "db.h"
#include "doc.h"
#include "handlers.h"
#include "page.h"

static void on_attachment(struct request *r, PGresult *res)
{
	page_reply_doc(r, res, "no such attachment");
}

void handle_attachment_get(struct request *r)
{
	const char *p[] = {r->id.data};
	const int l[] = {(int)r->id.len};
	request_query(r, Q_ATTACHMENT_GET, 1, p, l, on_attachment);
}

static void on_written(struct request *r, PGresult *res)
{
	page_reply_write(r, res, 204, NULL);
}

void handle_attachment_put(struct request *r)
{
	const struct http_req *h = r->http;
	struct doc_info d;
	const char *why;
	if (doc_check(DOC_ATTACHMENT, buf_rptr(&h->body), buf_rlen(&h->body), r->id.data, r->id.len,
		      NULL, &d, &r->scratch, &why) < 0) {
		request_error(r, 400, "bad_request", why);
		return;
	}
	const char *p[] = {r->id.data, d.text};
	const int l[] = {(int)r->id.len, (int)d.text_len};
	request_query(r, Q_ATTACHMENT_PUT, 2, p, l, on_written);
}

void handle_attachment_delete(struct request *r)
{
	const char *p[] = {r->id.data};
	const int l[] = {(int)r->id.len};
	request_query(r, Q_ATTACHMENT_DELETE, 1, p, l, on_written);
}
