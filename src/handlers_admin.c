/* handlers_admin.c: the operator's API over users (issue 13), under /admin,
 * authorised by --admin-token-file (admin.h; request.c checks it before any
 * handler here runs, and a user's bearer token is never one of its tokens).
 *
 *   GET    /admin/v1/users?limit=&after=   a Page of {"user_id","threads","items",
 *                                          "attachments","updated_at"}, by user id
 *   DELETE /admin/v1/users/{user_id}        the user's own DELETE /v1/me
 *   GET    /admin/v1/users/{user_id}/export the user's own GET /v1/me/export
 *
 * The last two run the user's handlers with the user taken from the path:
 * the same statements, all scoped to that user ($1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "page.h"
#include "request.h"

static void as_user(struct request *r)
{
	buf_reset(&r->user);
	buf_append(&r->user, r->id.data, r->id.len);
}

void handle_admin_user_delete(struct request *r)
{
	as_user(r);
	handle_me_delete(r);
}

void handle_admin_user_export(struct request *r)
{
	as_user(r);
	handle_me_export(r);
}

/* Rows (user_id, threads, items, attachments, activity us or NULL), limit + 1 of them. */
static void on_users(struct request *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	int n = PQntuples(res);
	bool more = n > r->limit;
	if (more)
		n = r->limit;
	struct buf b = {0};
	buf_puts(&b, "{\"data\":[");
	for (int i = 0; i < n; i++) {
		buf_puts(&b, i > 0 ? ",{\"user_id\":\"" : "{\"user_id\":\"");
		buf_json_escape(&b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
		char ts[40], t[44] = "null";
		if (!PQgetisnull(res, i, 4)) {
			page_format_us(atoll(PQgetvalue(res, i, 4)), ts);
			snprintf(t, sizeof t, "\"%s\"", ts);
		}
		char nums[200];
		int nl = snprintf(
		    nums, sizeof nums,
		    "\",\"threads\":%s,\"items\":%s,\"attachments\":%s,\"updated_at\":%s}",
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), t);
		buf_append(&b, nums, (size_t)nl);
	}
	buf_puts(&b, "],\"has_more\":");
	if (more) {
		buf_puts(&b, "true,\"after\":\"");
		buf_json_escape(&b, PQgetvalue(res, n - 1, 0), (size_t)PQgetlength(res, n - 1, 0));
		buf_puts(&b, "\"}");
	} else {
		buf_puts(&b, "false,\"after\":null}");
	}
	PQclear(res);
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy(rep, b.data, b.len);
	buf_free(&b);
	request_reply_send(r);
}

void handle_admin_users(struct request *r)
{
	bool desc;
	if (page_params(r, false, &desc) < 0)
		return;
	if (desc) {
		request_error(r, 400, "bad_request", "users are listed by id, ascending only");
		return;
	}
	char lim[16];
	int ll = snprintf(lim, sizeof lim, "%d", r->limit + 1);
	const char *v[] = {r->after.data ? r->after.data : "", lim};
	const int l[] = {(int)r->after.len, ll};
	request_query_global(r, Q_ADMIN_USERS, 2, v, l, on_users);
}
