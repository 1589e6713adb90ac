/* handlers_search.c: GET /v1/search, full-text search over the caller's
 * thread titles and message texts (queries.c SEARCH).
 *
 * A page of hits is {"data":[hit,...],"has_more":bool,"after":cursor|null};
 * the cursor is "<rank>:<seq>" of the last hit (opaque to clients): rank as
 * PostgreSQL prints a real (shortest text that reads back exactly), seq the
 * row's unique sequence number, so the next page starts strictly after it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "db.h"
#include "handlers.h"
#include "page.h"
#include "server.h"

#define SEARCH_MAX_LIMIT 100
#define SEARCH_MAX_QUERY 1000 /* bytes of q */
#define FIRST_CURSOR "Infinity:9223372036854775807" /* before every hit */

/* Columns of Q_SEARCH rows. */
enum { C_THREAD, C_ITEM, C_RANK, C_SEQ, C_CREATED, C_SNIPPET };

static void json_str(struct buf *b, PGresult *res, int row, int col)
{
	buf_putc(b, '"');
	buf_json_escape(b, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
	buf_putc(b, '"');
}

static void on_hits(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "42704") == 0) { /* undefined_object */
			PQclear(res);
			request_error(r, 500, "internal",
				      "--search-language names no text search configuration of the"
				      " database");
			return;
		}
		request_db_error(r, res);
		return;
	}
	int n = PQntuples(res), kept = n > r->limit ? r->limit : n;
	struct buf b = {0};
	char ts[40];
	buf_puts(&b, "{\"data\":[");
	for (int i = 0; i < kept; i++) {
		buf_puts(&b, i > 0 ? ",{\"thread_id\":" : "{\"thread_id\":");
		json_str(&b, res, i, C_THREAD);
		buf_puts(&b, ",\"item_id\":");
		if (PQgetisnull(res, i, C_ITEM))
			buf_puts(&b, "null");
		else
			json_str(&b, res, i, C_ITEM);
		buf_puts(&b, ",\"snippet\":");
		json_str(&b, res, i, C_SNIPPET);
		page_format_us(atoll(PQgetvalue(res, i, C_CREATED)), ts);
		buf_printf(&b, ",\"rank\":%s,\"created_at\":\"%s\"}", PQgetvalue(res, i, C_RANK),
			   ts);
	}
	if (n > kept)
		buf_printf(&b, "],\"has_more\":true,\"after\":\"%s:%s\"}",
			   PQgetvalue(res, kept - 1, C_RANK), PQgetvalue(res, kept - 1, C_SEQ));
	else
		buf_puts(&b, "],\"has_more\":false,\"after\":null}");
	PQclear(res);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, b.data, b.len);
	buf_free(&b);
	request_reply_send(r);
}

/* A cursor is "<rank>:<seq>", a finite real and a non-negative integer: 0 or -1. */
static int check_cursor(const struct buf *c)
{
	char rank[32], seq[24];
	const char *colon = memchr(c->data, ':', c->len);
	if (colon == NULL)
		return -1;
	size_t rl = (size_t)(colon - c->data), sl = c->len - rl - 1;
	if (rl == 0 || rl >= sizeof rank || sl == 0 || sl >= sizeof seq)
		return -1;
	memcpy(rank, c->data, rl);
	rank[rl] = '\0';
	memcpy(seq, colon + 1, sl);
	seq[sl] = '\0';
	char *end;
	errno = 0;
	double v = strtod(rank, &end);
	if (*end != '\0' || errno != 0 || !isfinite(v) || strspn(rank, "0123456789.eE+-") != rl)
		return -1;
	long long s = strtoll(seq, &end, 10);
	if (*end != '\0' || errno != 0 || s < 0 || strspn(seq, "0123456789") != sl)
		return -1;
	return 0;
}

void handle_search(struct request *r)
{
	struct span qs = r->match.query;
	struct buf q = {0}, tid = {0};
	const char *why = NULL;
	char lim[16];
	bool desc;
	if (page_params(r, true, &desc) < 0) /* limit and after; order is ignored */
		goto out;
	int found = router_query_param(qs, "q", &q);
	if (found <= 0 || q.len == 0 || q.len > SEARCH_MAX_QUERY || !page_text_ok(q.data, q.len))
		why = "q must be 1 to 1000 bytes of UTF-8 text (websearch_to_tsquery syntax)";
	else if (r->limit > SEARCH_MAX_LIMIT)
		why = "limit must be an integer from 1 to 100 for search";
	else if (r->after.len > 0 && check_cursor(&r->after) < 0)
		why = "after must be the after of a previous search page";
	else if ((found = router_query_param(qs, "thread_id", &tid)) < 0 || tid.len > 255 ||
		 (found > 0 && tid.len == 0) || (tid.len && memchr(tid.data, '\0', tid.len)))
		why = "thread_id must be an id of 1 to 255 bytes";
	if (why != NULL) {
		request_error(r, 400, "bad_request", why);
		goto out;
	}
	const char *lang = request_server(r)->cfg->search_language;
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	const char *cur = r->after.len > 0 ? r->after.data : FIRST_CURSOR;
	size_t cl = r->after.len > 0 ? r->after.len : strlen(FIRST_CURSOR);
	const char *v[] = {lang, q.data, cur, lim, tid.data};
	const int l[] = {(int)strlen(lang), (int)q.len, (int)cl, ll, (int)tid.len};
	request_query(r, tid.len > 0 ? Q_SEARCH_THREAD : Q_SEARCH, tid.len > 0 ? 5 : 4, v, l,
		      on_hits);
out:
	buf_free(&q);
	buf_free(&tid);
}
