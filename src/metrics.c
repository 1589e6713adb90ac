/* metrics.c: request counters, latency histogram, Prometheus text output. */
#include "metrics.h"

static const double bucket_le[METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static const int status_code[MS_COUNT] = {
    200, 201, 204, 400, 401, 404, 405, 408, 413, 415, 431, 500, 503, 504, 0,
};

static const char *const reject_name[MR_COUNT] = {
    "queue_full",  "no_database",     "max_connections", "body_too_large", "header_too_large",
    "bad_request", "request_timeout", "query_timeout",	 "unauthorized",
    "body_budget", "no_file_descriptors", "reply_budget",
};

static int status_index(int status)
{
	for (int i = 0; i < MS_OTHER; i++)
		if (status_code[i] == status)
			return i;
	return MS_OTHER;
}

void metrics_request(struct metrics *m, int route, int status, double seconds, uint64_t bytes)
{
	if (route < 0 || route >= METRICS_ROUTES)
		route = METRICS_ROUTES - 1;
	m->requests[route][status_index(status)]++;
	int b = 0;
	while (b < METRICS_BUCKETS && seconds > bucket_le[b])
		b++;
	m->latency_bucket[b]++;
	m->latency_sum += seconds;
	m->latency_count++;
	m->response_bytes += bytes;
}

void metrics_reject(struct metrics *m, enum metrics_reject why)
{
	m->rejected[why]++;
}

void metrics_render(const struct metrics *m, const struct metrics_gauges *g, int nroutes,
		    const char *(*route_name)(int), struct buf *out)
{
	buf_puts(out,
		 "# HELP threadstore_requests_total HTTP requests answered, by route and status.\n"
		 "# TYPE threadstore_requests_total counter\n");
	for (int r = 0; r <= nroutes && r < METRICS_ROUTES; r++) {
		const char *name = r < nroutes ? route_name(r) : "none";
		for (int s = 0; s < MS_COUNT; s++) {
			if (m->requests[r][s] == 0)
				continue;
			if (s == MS_OTHER)
				buf_printf(out,
					   "threadstore_requests_total{route=\"%s\",status="
					   "\"other\"} %llu\n",
					   name, (unsigned long long)m->requests[r][s]);
			else
				buf_printf(
				    out,
				    "threadstore_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    name, status_code[s], (unsigned long long)m->requests[r][s]);
		}
	}
	buf_puts(out, "# HELP threadstore_request_duration_seconds Time from a request's last byte "
		      "to its reply.\n"
		      "# TYPE threadstore_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (int b = 0; b < METRICS_BUCKETS; b++) {
		cum += m->latency_bucket[b];
		buf_printf(out, "threadstore_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			   bucket_le[b], (unsigned long long)cum);
	}
	cum += m->latency_bucket[METRICS_BUCKETS];
	buf_printf(out, "threadstore_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		   (unsigned long long)cum);
	buf_printf(out, "threadstore_request_duration_seconds_sum %.6f\n", m->latency_sum);
	buf_printf(out, "threadstore_request_duration_seconds_count %llu\n",
		   (unsigned long long)m->latency_count);
	buf_puts(out,
		 "# HELP threadstore_rejected_total Requests or connections refused, by reason.\n"
		 "# TYPE threadstore_rejected_total counter\n");
	for (int i = 0; i < MR_COUNT; i++)
		buf_printf(out, "threadstore_rejected_total{reason=\"%s\"} %llu\n", reject_name[i],
			   (unsigned long long)m->rejected[i]);
	buf_printf(
	    out,
	    "# HELP threadstore_response_bytes_total Response body bytes sent.\n"
	    "# TYPE threadstore_response_bytes_total counter\n"
	    "threadstore_response_bytes_total %llu\n"
	    "# HELP threadstore_connections Open client connections.\n"
	    "# TYPE threadstore_connections gauge\n"
	    "threadstore_connections %d\n"
	    "# HELP threadstore_queries_in_flight Queries sent to PostgreSQL, not yet answered.\n"
	    "# TYPE threadstore_queries_in_flight gauge\n"
	    "threadstore_queries_in_flight %d\n"
	    "# HELP threadstore_queries_waiting Queries waiting for room on a connection.\n"
	    "# TYPE threadstore_queries_waiting gauge\n"
	    "threadstore_queries_waiting %d\n"
	    "# HELP threadstore_db_connections_up PostgreSQL connections ready.\n"
	    "# TYPE threadstore_db_connections_up gauge\n"
	    "threadstore_db_connections_up %d\n"
	    "# HELP threadstore_db_connections PostgreSQL connections configured.\n"
	    "# TYPE threadstore_db_connections gauge\n"
	    "threadstore_db_connections %d\n"
	    "# HELP threadstore_db_reconnects_total PostgreSQL connection attempts after a "
	    "failure.\n"
	    "# TYPE threadstore_db_reconnects_total counter\n"
	    "threadstore_db_reconnects_total %lu\n"
	    "# HELP threadstore_db_prepared_statements_lost 1 once a pooler lost prepared "
	    "statements and the pool switched to unnamed ones (see the log).\n"
	    "# TYPE threadstore_db_prepared_statements_lost gauge\n"
	    "threadstore_db_prepared_statements_lost %d\n"
	    "# HELP threadstore_db_statement_lost_total Queries that met a prepared statement "
	    "the server did not have (SQLSTATE 26000/42P05), and were sent again.\n"
	    "# TYPE threadstore_db_statement_lost_total counter\n"
	    "threadstore_db_statement_lost_total %lu\n"
	    "# HELP threadstore_db_generic_plan_sessions_total Connections whose session was "
	    "set to generic plans (plan_cache_mode; none on Citus).\n"
	    "# TYPE threadstore_db_generic_plan_sessions_total counter\n"
	    "threadstore_db_generic_plan_sessions_total %lu\n"
	    "# HELP threadstore_draining 1 after SIGTERM, while requests finish.\n"
	    "# TYPE threadstore_draining gauge\n"
	    "threadstore_draining %d\n"
	    "# HELP threadstore_token_cache_total Bearer tokens looked up in the verified-token "
	    "cache.\n"
	    "# TYPE threadstore_token_cache_total counter\n"
	    "threadstore_token_cache_total{result=\"hit\"} %lu\n"
	    "threadstore_token_cache_total{result=\"miss\"} %lu\n",
	    (unsigned long long)m->response_bytes, g->connections, g->queries_in_flight,
	    g->queries_waiting, g->db_up, g->db_total, g->db_reconnects, g->db_statements_lost,
	    g->db_statement_errors, g->db_generic_sessions, g->draining,
	    g->token_cache_hits, g->token_cache_misses);
	buf_printf(out,
		   "# HELP threadstore_request_body_bytes Request-body bytes held, all "
		   "connections.\n"
		   "# TYPE threadstore_request_body_bytes gauge\n"
		   "threadstore_request_body_bytes %zu\n"
		   "# HELP threadstore_request_body_budget_bytes The bound on them "
		   "(--max-body-total).\n"
		   "# TYPE threadstore_request_body_budget_bytes gauge\n"
		   "threadstore_request_body_budget_bytes %zu\n"
		   "# HELP threadstore_write_timeouts_total Connections closed because the client "
		   "took no byte of its response for --write-timeout.\n"
		   "# TYPE threadstore_write_timeouts_total counter\n"
		   "threadstore_write_timeouts_total %lu\n"
		   "# HELP threadstore_reply_bytes_queued Reply bytes queued to readers, all "
		   "connections (bounded by --max-reply-total).\n"
		   "# TYPE threadstore_reply_bytes_queued gauge\n"
		   "threadstore_reply_bytes_queued %zu\n",
		   g->body_bytes, g->body_budget, g->write_timeouts, g->reply_bytes);
}
