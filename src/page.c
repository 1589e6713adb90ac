/* page.c: Page JSON and single-document replies from PostgreSQL rows. */
#include "page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "server.h"

int page_params(struct request *r, bool default_desc, bool *desc)
{
	struct span q = r->match.query;
	struct buf v = {0};
	int rc = -1;
	const char *why = NULL;

	r->limit = PAGE_DEFAULT_LIMIT;
	*desc = default_desc;
	int found = router_query_param(q, "limit", &v);
	if (found < 0) {
		why = "limit is badly encoded";
		goto out;
	}
	if (found > 0) {
		buf_putc(&v, '\0');
		char *end;
		long n = strtol(v.data, &end, 10);
		if (v.len < 2 || *end != '\0' || n < 1 || n > PAGE_MAX_LIMIT) {
			why = "limit must be an integer from 1 to 1000";
			goto out;
		}
		r->limit = (int)n;
	}
	buf_reset(&v);
	found = router_query_param(q, "order", &v);
	if (found < 0 || (found > 0 && !(v.len == 3 && memcmp(v.data, "asc", 3) == 0) &&
			  !(v.len == 4 && memcmp(v.data, "desc", 4) == 0))) {
		why = "order must be asc or desc";
		goto out;
	}
	if (found > 0)
		*desc = v.len == 4;
	found = router_query_param(q, "after", &r->after);
	if (found < 0 || r->after.len > 255 || !request_text_ok(r->after.data, r->after.len)) {
		why = "after must be an id of 1 to 255 bytes of UTF-8";
		goto out;
	}
	rc = 0;
out:
	buf_free(&v);
	if (rc < 0)
		request_error(r, 400, "bad_request", why);
	return rc;
}

int page_budget_param(struct request *r, char out[24])
{
	return snprintf(out, 24, "%zu", request_server(r)->cfg->max_page_bytes);
}

void page_append(struct reply *rep, PGresult *res, int row0, int nrows, int id_col, int doc_col,
		 int n_col, int limit)
{
	/* Cut by bytes: every row kept is shown, and more follow. */
	bool cut = nrows > 0 && atol(PQgetvalue(res, row0, n_col)) > nrows;
	bool has_more = cut || nrows > limit;
	if (nrows > limit)
		nrows = limit;
	reply_copy_str(rep, "{\"data\":[");
	for (int i = 0; i < nrows; i++) {
		if (i > 0)
			reply_copy(rep, ",", 1);
		reply_ref(rep, PQgetvalue(res, row0 + i, doc_col),
			  (size_t)PQgetlength(res, row0 + i, doc_col));
	}
	if (!has_more) {
		reply_copy_str(rep, "],\"has_more\":false,\"after\":null}");
		return;
	}
	struct buf tail = {0};
	int last = row0 + nrows - 1;
	buf_puts(&tail, "],\"has_more\":true,\"after\":\"");
	buf_json_escape(&tail, PQgetvalue(res, last, id_col),
			(size_t)PQgetlength(res, last, id_col));
	buf_puts(&tail, "\"}");
	reply_copy(rep, tail.data, tail.len);
	buf_free(&tail);
}

void page_reply(struct request *r, PGresult *res, bool with_cursor)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	int n = PQntuples(res);
	if (with_cursor && n == 0) {
		PQclear(res);
		request_error(r, 404, "not_found", "the after cursor names no row of this list");
		return;
	}
	if (with_cursor && n == 1 && PQgetisnull(res, 0, 0))
		n = 0;
	struct reply *rep = request_reply_begin(r, 200);
	page_append(rep, res, 0, n, 0, 1, 2, r->limit);
	reply_keep_result(rep, res);
	request_reply_send(r);
}

void page_reply_doc(struct request *r, PGresult *res, const char *what)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		request_error(r, 404, "not_found", what);
		return;
	}
	struct reply *rep = request_reply_begin(r, 200);
	reply_ref(rep, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	reply_keep_result(rep, res);
	request_reply_send(r);
}

void page_reply_write(struct request *r, PGresult *res, int status, const char *what)
{
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (what != NULL && state != NULL && strcmp(state, "23503") == 0) {
			/* foreign key: the thread went away concurrently */
			PQclear(res);
			request_error(r, 404, "not_found", what);
			return;
		}
		request_db_error(r, res);
		return;
	}
	bool affected = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (what != NULL && !affected)
		request_error(r, 404, "not_found", what);
	else
		request_reply_empty(r, status);
}
