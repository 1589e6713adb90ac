/* Page JSON from rows (a PGresult built by hand, no server): documents are
 * spliced, not re-serialised; has_more and after follow limit+1 rows. */
#include <libpq-fe.h>
#include <string.h>

#include "check.h"
#include "page.h"

/* n rows of (id, doc, found): `found` is how many rows the scan found before
 * the byte cut (queries.c CAPPED); more than the rows returned means cut. */
static PGresult *rows(int n, int found)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	static char id_name[] = "id", doc_name[] = "doc", n_name[] = "n";
	PGresAttDesc attrs[3] = {{.name = id_name, .typid = 25, .typlen = -1, .format = 0},
				 {.name = doc_name, .typid = 25, .typlen = -1, .format = 0},
				 {.name = n_name, .typid = 20, .typlen = 8, .format = 0}};
	PQsetResultAttrs(res, 3, attrs);
	for (int i = 0; i < n; i++) {
		char id[16], doc[64], f[16];
		int il = snprintf(id, sizeof id, "i\"%d", i); /* a quote: must be escaped in after */
		int dl = snprintf(doc, sizeof doc, "{\"n\":%d}", i);
		int fl = snprintf(f, sizeof f, "%d", found);
		PQsetvalue(res, i, 0, id, il);
		PQsetvalue(res, i, 1, doc, dl);
		PQsetvalue(res, i, 2, f, fl);
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
	PGresult *res = rows(3, 3);

	reply_init(&r, 200);
	page_append(&r, res, 0, 3, 0, 1, 2, 5); /* fewer than the limit: the end */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[{\"n\":0},{\"n\":1},{\"n\":2}],\"has_more\":false,"
			     "\"after\":null}") == 0);
	reply_free(&r);

	reply_init(&r, 200);
	page_append(&r, res, 0, 3, 0, 1, 2, 2); /* limit+1 rows: more, after the last shown */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[{\"n\":0},{\"n\":1}],\"has_more\":true,"
			     "\"after\":\"i\\\"1\"}") == 0);
	reply_free(&r);

	reply_init(&r, 200);
	page_append(&r, res, 1, 0, 0, 1, 2, 2); /* no rows */
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[],\"has_more\":false,\"after\":null}") == 0);
	reply_free(&r);

	/* Cut by bytes: the scan found 5 rows, 3 were kept: all shown, and more follow. */
	PGresult *cut = rows(3, 5);
	reply_init(&r, 200);
	page_append(&r, cut, 0, 3, 0, 1, 2, 20);
	body(&r, &b);
	CHECK(strcmp(b.data, "{\"data\":[{\"n\":0},{\"n\":1},{\"n\":2}],\"has_more\":true,"
			     "\"after\":\"i\\\"2\"}") == 0);
	reply_free(&r);
	PQclear(cut);

	/* The documents are referenced in the result, not copied. */
	reply_init(&r, 200);
	page_append(&r, res, 0, 1, 0, 1, 2, 1);
	int referenced = 0;
	for (size_t i = 0; i < r.nparts; i++)
		referenced += r.parts[i].ptr == PQgetvalue(res, 0, 1);
	CHECK(referenced == 1);
	reply_keep_result(&r, res); /* the reply frees it */
	reply_free(&r);
	buf_free(&b);
	return check_done();
}
