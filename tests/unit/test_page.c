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

/* The filter's signature bits equal sql/016's threadstore_sig: expected values
 * are PostgreSQL's answers (SELECT threadstore_sig('<the filter as jsonb>')). */
static uint64_t sig_of(const char *query)
{
	struct buf f = {0};
	uint64_t sig = 0;
	const char *why = page_metadata_filters((struct span){query, strlen(query)}, &f, &sig);
	CHECK(why == NULL);
	buf_free(&f);
	return sig;
}

static void test_signature(void)
{
	CHECK(sig_of("metadata.project=p7") == 288230376153939968u);
	/* numbers by value, as jsonb's @> compares them (trim_scale) */
	CHECK(sig_of("metadata.a=7.50") == 703687442038784u);
	CHECK(sig_of("metadata.a=75e-1") == 703687442038784u);
	CHECK(sig_of("metadata.a=%227%22") == 72057594172178432u); /* the string "7" */
	CHECK(sig_of("metadata.a=7") != sig_of("metadata.a=%227%22"));
	CHECK(sig_of("metadata.x=1E%2B3") == 4629700416945258496u);
	CHECK(sig_of("metadata.x=1000") == 4629700416945258496u);
	CHECK(sig_of("metadata.x=10.00e2") == 4629700416945258496u);
	/* jsonb's escapes (\b \f, \u00XX, DEL as is), in the key and the value */
	CHECK(sig_of("metadata.k%01%7F=x%08%0C%22%5C%0A%09%0D%1F%7F") == 576495953855381504u);
	CHECK(sig_of("metadata.%C3%A9=%E2%9C%93") == 18014450049089536u);
	CHECK(sig_of("metadata.b=true&metadata.n=null&metadata.z=-0&metadata.e=1e-3"
		     "&metadata.big=12345678901234567890.000") == 3602879814715327168u);
	CHECK(sig_of("limit=5") == 0);
	CHECK(page_facet_bits("sactive", 7) == 288230376151810048u);
	CHECK(page_facet_bits("sclosed", 7) == 72058143797936128u);
}

int main(void)
{
	test_signature();
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
