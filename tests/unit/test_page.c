/* Page JSON from rows (a PGresult built by hand, no server): documents are
 * spliced, not re-serialised; has_more and after follow limit+1 rows. */
#include <libpq-fe.h>
#include <string.h>

#include "check.h"
#include "page.h"

static PGresult *rows(int n)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	static char id_name[] = "id", doc_name[] = "doc";
	PGresAttDesc attrs[2] = {{.name = id_name, .typid = 25, .typlen = -1, .format = 0},
				 {.name = doc_name, .typid = 25, .typlen = -1, .format = 0}};
	PQsetResultAttrs(res, 2, attrs);
	for (int i = 0; i < n; i++) {
		char id[16], doc[64];
		int il = snprintf(id, sizeof id, "i\"%d", i); /* a quote: must be escaped in after */
		int dl = snprintf(doc, sizeof doc, "{\"n\":%d}", i);
		PQsetvalue(res, i, 0, id, il);
		PQsetvalue(res, i, 1, doc, dl);
	}
	return res;
}

static void body(struct reply *r, struct buf *out)
{
	uv_buf_t bufs[64];
	size_t n = reply_finish(r, REPLY_KEEP_ALIVE, bufs);
	buf_reset(out);
	for (size_t i = 1; i < n; i++) /* bufs[0] is the head */
		buf_append(out, bufs[i].base, bufs[i].len);
	buf_putc(out, '\0');
}

int main(void)
{
	struct buf b = {0};
	struct reply r;
	PGresult *res = rows(3);

	reply_init(&r, 200);
	page_append(&r, res, 0, 3, 0, 1, 5); /* fewer than the limit: the end */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[{\"n\":0},{\"n\":1},{\"n\":2}],\"has_more\":false,"
			     "\"after\":null}") == 0);
	reply_free(&r);

	reply_init(&r, 200);
	page_append(&r, res, 0, 3, 0, 1, 2); /* limit+1 rows: more, after the last shown */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[{\"n\":0},{\"n\":1}],\"has_more\":true,"
			     "\"after\":\"i\\\"1\"}") == 0);
	reply_free(&r);

	reply_init(&r, 200);
	page_append(&r, res, 1, 0, 0, 1, 2); /* no rows */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[],\"has_more\":false,\"after\":null}") == 0);
	reply_free(&r);

	/* The documents are referenced in the result, not copied. */
	reply_init(&r, 200);
	page_append(&r, res, 0, 1, 0, 1, 1);
	int referenced = 0;
	for (size_t i = 0; i < r.nparts; i++)
		referenced += r.parts[i].ptr == PQgetvalue(res, 0, 1);
	CHECK(referenced == 1);
	reply_keep_result(&r, res); /* the reply frees it */
	reply_free(&r);
	buf_free(&b);
	return check_done();
}
