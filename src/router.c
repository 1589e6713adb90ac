/* router.c: the route table and URL decoding. */
#include "router.h"

#include <llhttp.h>
#include <string.h>

#include "handlers.h"

static const struct route routes[] = {
    {"/healthz", false, "GET", handle_healthz, NULL, NULL, NULL, false},
    {"/readyz", false, "GET", handle_readyz, NULL, NULL, NULL, false},
    {"/v1/threads", true, "GET", handle_threads_list, NULL, NULL, NULL, false},
    {"/v1/threads/*", true, "GET, PUT, DELETE", handle_thread_get, handle_thread_put, NULL,
     handle_thread_delete, true},
    {"/v1/threads/*/items", true, "GET, POST", handle_items_list, NULL, handle_item_add, NULL,
     true},
    {"/v1/threads/*/items/*", true, "GET, PUT, DELETE", handle_item_get, handle_item_put, NULL,
     handle_item_delete, true},
    {"/v1/attachments/*", true, "GET, PUT, DELETE", handle_attachment_get, handle_attachment_put,
     NULL, handle_attachment_delete, true},
};

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
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
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
