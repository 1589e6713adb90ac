/* router.h: static route table: method + path pattern -> handler, 404/405.
 *
 * Patterns are fixed segments and `*` captures; captures point into the raw
 * (still percent-encoded) path. Decoding helpers for path segments and query
 * values live here too, since both come from the URL. */
#ifndef THREADSTORE_ROUTER_H
#define THREADSTORE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct request;
typedef void (*route_handler)(struct request *r);

struct span {
	const char *p;
	size_t n;
};

struct route {
	const char *pattern;
	const char *name;  /* for logs and metrics: "/v1/threads/{id}" */
	bool auth;	   /* under /v1: a bearer token is required */
	const char *allow; /* for 405 */
	route_handler get, put, post, del;
	bool body; /* PUT/POST take a JSON body */
};

struct route_match {
	const struct route *route;
	struct span args[2];
	int nargs;
	struct span path, query;
};

/* Splits the URL and finds its route. Returns 0, or -1 when no route matches
 * (m->path is still set, so the caller can tell /v1 paths apart). */
int router_match(const char *url, size_t n, struct route_match *m);
route_handler router_handler(const struct route *r, int method);
bool router_is_v1(struct span path);
/* Routes are numbered 0..count-1; router_route_index(NULL) == count ("none"). */
int router_route_count(void);
int router_route_index(const struct route *r);
const char *router_route_name(int i);
/* Percent-decodes into out (appended). Returns -1 on a bad escape. */
int router_decode(struct span s, bool plus_is_space, struct buf *out)
    __attribute__((warn_unused_result));
/* Finds key in a query string: 1 found (decoded value appended to out), 0 absent, -1 bad. */
int router_query_param(struct span query, const char *key, struct buf *out)
    __attribute__((warn_unused_result));

#endif
