/* router.c: the route table and URL decoding. */
#include "router.h"

#include <llhttp.h>
#include <string.h>

#include "handlers.h"

/* clang-format off */
static const struct route routes[] = {
	{.pattern = "/healthz", .name = "/healthz", .allow = "GET", .get = handle_healthz},
	{.pattern = "/readyz", .name = "/readyz", .allow = "GET", .get = handle_readyz},
	{.pattern = "/metrics", .name = "/metrics", .allow = "GET", .get = handle_metrics},
	{.pattern = "/v1/threads", .name = "/v1/threads", .auth = true, .allow = "GET",
	 .get = handle_threads_list},
	{.pattern = "/v1/threads/*", .name = "/v1/threads/{id}", .auth = true,
	 .allow = "GET, PUT, DELETE", .get = handle_thread_get, .put = handle_thread_put,
	 .del = handle_thread_delete, .body = true},
	{.pattern = "/v1/threads/*/items", .name = "/v1/threads/{id}/items", .auth = true,
	 .allow = "GET, POST", .get = handle_items_list, .post = handle_item_add, .body = true},
	{.pattern = "/v1/threads/*/export", .name = "/v1/threads/{id}/export", .auth = true,
	 .allow = "GET", .get = handle_thread_export},
	{.pattern = "/v1/threads/*/items/*", .name = "/v1/threads/{id}/items/{item_id}",
	 .auth = true, .allow = "GET, PUT, DELETE", .get = handle_item_get,
	 .put = handle_item_put, .del = handle_item_delete, .body = true},
	{.pattern = "/v1/attachments/*", .name = "/v1/attachments/{id}", .auth = true,
	 .allow = "GET, PUT, DELETE", .get = handle_attachment_get,
	 .put = handle_attachment_put, .del = handle_attachment_delete, .body = true},
	{.pattern = "/v1/search", .name = "/v1/search", .auth = true, .allow = "GET",
	 .get = handle_search},
	{.pattern = "/v1/changes", .name = "/v1/changes", .auth = true, .allow = "GET",
	 .get = handle_changes},
	/* under /admin: the operator token (admin.h; request.c checks it), else 404 */
	{.pattern = "/admin/v1/changes", .name = "/admin/v1/changes", .allow = "GET",
	 .get = handle_admin_changes},
	/* issue 13: the caller's data, all of it */
	{.pattern = "/v1/me", .name = "/v1/me", .auth = true, .allow = "DELETE",
	 .del = handle_me_delete},
	{.pattern = "/v1/me/export", .name = "/v1/me/export", .auth = true, .allow = "GET",
	 .get = handle_me_export},
	/* the operator's (request.c checks --admin-token-file for every /admin path) */
	{.pattern = "/admin/v1/users", .name = "/admin/v1/users", .allow = "GET",
	 .get = handle_admin_users},
	{.pattern = "/admin/v1/users/*", .name = "/admin/v1/users/{user_id}", .allow = "DELETE",
	 .del = handle_admin_user_delete},
	{.pattern = "/admin/v1/users/*/export", .name = "/admin/v1/users/{user_id}/export",
	 .allow = "GET", .get = handle_admin_user_export},
};
/* clang-format on */

#define NROUTES ((int)(sizeof routes / sizeof routes[0]))

int router_route_count(void)
{
	return NROUTES;
}

int router_route_index(const struct route *r)
{
	return r == NULL ? NROUTES : (int)(r - routes);
}

const char *router_route_name(int i)
{
	return i >= 0 && i < NROUTES ? routes[i].name : "none";
}

/* Matches path against pattern; `*` takes one non-empty segment. */
static bool match(const char *pat, struct span path, struct route_match *m)
{
	const char *p = path.p, *end = path.p + path.n;
	m->nargs = 0;
	while (*pat) {
		if (*pat == '*') {
			const char *seg = p;
			while (p < end && *p != '/')
				p++;
			if (p == seg || m->nargs == 2)
				return false;
			m->args[m->nargs++] = (struct span){seg, (size_t)(p - seg)};
			pat++;
		} else {
			if (p == end || *p != *pat)
				return false;
			p++;
			pat++;
		}
	}
	return p == end;
}

int router_match(const char *url, size_t n, struct route_match *m)
{
	const char *q = memchr(url, '?', n);
	size_t plen = q ? (size_t)(q - url) : n;
	const char *hash = memchr(url, '#', n);
	m->path = (struct span){url, plen};
	m->query = q ? (struct span){q + 1, (size_t)((hash && hash > q ? hash : url + n) - q - 1)}
		     : (struct span){url + n, 0};
	m->route = NULL;
	for (int i = 0; i < NROUTES; i++) {
		if (match(routes[i].pattern, m->path, m)) {
			m->route = &routes[i];
			return 0;
		}
	}
	return -1;
}

bool router_is_v1(struct span path)
{
	return (path.n == 3 && memcmp(path.p, "/v1", 3) == 0) ||
	       (path.n > 3 && memcmp(path.p, "/v1/", 4) == 0);
}

route_handler router_handler(const struct route *r, int method)
{
	switch (method) {
	case HTTP_GET: return r->get;
	case HTTP_PUT: return r->put;
	case HTTP_POST: return r->post;
	case HTTP_DELETE: return r->del;
	default: return NULL;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int router_decode(struct span s, bool plus_is_space, struct buf *out)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];
		if (c == '%') {
			if (i + 2 >= s.n)
				return -1;
			int hi = hexval(s.p[i + 1]);
			int lo = hexval(s.p[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			buf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			buf_putc(out, ' ');
		} else {
			buf_putc(out, c);
		}
	}
	return 0;
}

int router_query_param(struct span query, const char *key, struct buf *out)
{
	size_t klen = strlen(key);
	const char *p = query.p, *end = query.p + query.n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		const char *ke = eq ? eq : pe;
		if ((size_t)(ke - p) == klen && memcmp(p, key, klen) == 0) {
			struct span v = eq ? (struct span){eq + 1, (size_t)(pe - eq - 1)}
					   : (struct span){pe, 0};
			return router_decode(v, true, out) < 0 ? -1 : 1;
		}
		p = pe + 1;
	}
	return 0;
}
