#include <llhttp.h>
#include <string.h>

#include "check.h"
#include "handlers.h"
#include "router.h"

/* The router's table names handlers; the unit test never calls them. */
#define STUB(name)                                                                                 \
	void name(struct request *r)                                                               \
	{                                                                                          \
		(void)r;                                                                           \
	}
STUB(handle_healthz)
STUB(handle_readyz)
STUB(handle_metrics)
STUB(handle_threads_list) STUB(handle_thread_get) STUB(handle_thread_put) STUB(handle_thread_export)
    STUB(handle_thread_delete) STUB(handle_items_list) STUB(handle_item_add) STUB(handle_item_get)
	STUB(handle_item_put) STUB(handle_item_delete) STUB(handle_attachment_get)
	    STUB(handle_attachment_put) STUB(handle_attachment_delete) STUB(handle_me_delete)
		STUB(handle_me_export) STUB(handle_admin_users) STUB(handle_admin_user_delete)
		    STUB(handle_admin_user_export)

			static int match(const char *url, struct route_match *m)
{
	return router_match(url, strlen(url), m);
}

int main(void)
{
	struct route_match m;
	CHECK(match("/v1/threads", &m) == 0 &&
	      router_handler(m.route, HTTP_GET) == handle_threads_list);
	CHECK(match("/v1/threads?limit=3&order=asc", &m) == 0 && m.query.n == 17);
	CHECK(match("/v1/threads/thr_1", &m) == 0 && m.nargs == 1 && m.args[0].n == 5);
	CHECK(router_handler(m.route, HTTP_PUT) == handle_thread_put);
	CHECK(router_handler(m.route, HTTP_POST) == NULL);
	CHECK(match("/v1/threads/t/items", &m) == 0 &&
	      router_handler(m.route, HTTP_POST) == handle_item_add);
	CHECK(match("/v1/threads/t/items/i", &m) == 0 && m.nargs == 2 &&
	      router_handler(m.route, HTTP_DELETE) == handle_item_delete);
	CHECK(match("/v1/attachments/a", &m) == 0);
	CHECK(match("/v1/me", &m) == 0 && m.nargs == 0 &&
	      router_handler(m.route, HTTP_DELETE) == handle_me_delete &&
	      router_handler(m.route, HTTP_GET) == NULL);
	CHECK(match("/v1/me/export", &m) == 0 &&
	      router_handler(m.route, HTTP_GET) == handle_me_export);
	CHECK(match("/admin/v1/users?limit=2", &m) == 0 && !m.route->auth &&
	      router_handler(m.route, HTTP_GET) == handle_admin_users);
	CHECK(match("/admin/v1/users/u%2F1", &m) == 0 && m.nargs == 1 &&
	      router_handler(m.route, HTTP_DELETE) == handle_admin_user_delete);
	CHECK(match("/admin/v1/users/u1/export", &m) == 0 &&
	      router_handler(m.route, HTTP_GET) == handle_admin_user_export);
	CHECK(match("/v1/threads/", &m) < 0 && router_is_v1(m.path));
	CHECK(match("/v1/threads//items", &m) < 0);
	CHECK(match("/v1/nope", &m) < 0 && router_is_v1(m.path));
	CHECK(match("/v1", &m) < 0 && router_is_v1(m.path));
	CHECK(match("/v10/x", &m) < 0 && !router_is_v1(m.path));
	CHECK(match("/healthz", &m) == 0 && !m.route->auth);

	struct buf b = {0};
	CHECK(router_decode((struct span){"a%20b%2Fc", 9}, false, &b) == 0 && b.len == 5 &&
	      memcmp(b.data, "a b/c", 5) == 0);
	buf_reset(&b);
	CHECK(router_decode((struct span){"a%2", 3}, false, &b) < 0);
	buf_reset(&b);
	CHECK(router_decode((struct span){"a%zz", 4}, false, &b) < 0);
	buf_reset(&b);
	struct span q = {"limit=5&after=thr%5F1&order", 27};
	CHECK(router_query_param(q, "after", &b) == 1 && b.len == 5 &&
	      memcmp(b.data, "thr_1", 5) == 0);
	buf_reset(&b);
	CHECK(router_query_param(q, "order", &b) == 1 && b.len == 0);
	CHECK(router_query_param(q, "lim", &b) == 0);
	buf_free(&b);
	return check_done();
}
