/* metrics.h: counters and a latency histogram, rendered in the Prometheus
 * text format at GET /metrics. Owned by struct server; updated only on the
 * loop thread, so plain integers suffice. Gauges (connections, queries in
 * flight, database connections up) are read from their owners at scrape time. */
#ifndef THREADSTORE_METRICS_H
#define THREADSTORE_METRICS_H

#include <stdint.h>

#include "buf.h"

#define METRICS_ROUTES 32 /* router routes + "none" */
#define METRICS_BUCKETS 14

enum metrics_status {
	MS_200,
	MS_201,
	MS_204,
	MS_400,
	MS_401,
	MS_404,
	MS_405,
	MS_408,
	MS_413,
	MS_415,
	MS_431,
	MS_500,
	MS_503,
	MS_504,
	MS_OTHER,
	MS_COUNT
};

enum metrics_reject {
	MR_QUEUE_FULL,	     /* 503: too many queries waiting */
	MR_NO_DATABASE,	     /* 503: no connection up, or it was lost */
	MR_MAX_CONNECTIONS,  /* connection refused at accept */
	MR_BODY_TOO_LARGE,   /* 413 */
	MR_HEADER_TOO_LARGE, /* 431 */
	MR_BAD_REQUEST,	     /* malformed HTTP */
	MR_REQUEST_TIMEOUT,  /* 408 */
	MR_QUERY_TIMEOUT,    /* 504 */
	MR_UNAUTHORIZED,     /* 401 */
	MR_BODY_BUDGET,	     /* 503: --max-body-total reached */
	MR_NO_FILES,	     /* 503 at accept: out of file descriptors */
	MR_REPLY_BUDGET,     /* 503: --max-reply-total of replies queued to slow readers */
	MR_COUNT
};

struct metrics {
	uint64_t requests[METRICS_ROUTES][MS_COUNT];
	uint64_t latency_bucket[METRICS_BUCKETS + 1]; /* last: +Inf */
	double latency_sum;
	uint64_t latency_count;
	uint64_t rejected[MR_COUNT];
	uint64_t response_bytes;
};

struct metrics_gauges {
	int connections;
	int queries_in_flight;
	int queries_waiting;
	int db_up;
	int db_total;
	unsigned long db_reconnects;
	int db_statements_lost;		   /* 1: fell back to unnamed statements */
	unsigned long db_statement_errors; /* queries that met a lost prepared statement */
	unsigned long db_generic_sessions; /* connections set to generic plans */
	int draining;
	unsigned long token_cache_hits, token_cache_misses;
	size_t body_bytes, body_budget; /* request-body bytes reserved, and the bound */
	size_t reply_bytes;		/* reply bytes queued to readers */
	unsigned long write_timeouts;
};

void metrics_request(struct metrics *m, int route, int status, double seconds, uint64_t bytes);
void metrics_reject(struct metrics *m, enum metrics_reject why);
/* route_name(i) names route i (i < nroutes); route nroutes is "none". */
void metrics_render(const struct metrics *m, const struct metrics_gauges *g, int nroutes,
		    const char *(*route_name)(int), struct buf *out);

#endif
