/* handlers_health.c: liveness and readiness, for the load balancer. */
#include <string.h>

#include "request.h"
#include "db.h"
#include "handlers.h"
#include "metrics.h"
#include "router.h"
#include "feed.h"
#include "server.h"

void handle_healthz(struct request *r)
{
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy_str(rep, "{\"status\":\"ok\"}");
	request_reply_send(r);
}

void handle_readyz(struct request *r)
{
	struct server *s = request_server(r);
	const char *why;
	if (!server_ready(s, &why)) {
		request_error(r, 503, "unavailable", why);
		return;
	}
	/* Degraded but serving (the pool fell back to unnamed statements): still
	 * ready, or every instance behind that pooler would leave the balancer. */
	why = db_degraded(&s->pool);
	struct reply *rep = request_reply_begin(r, 200);
	struct buf b = {0};
	buf_puts(&b, "{\"status\":\"ready\"");
	if (why != NULL) {
		buf_puts(&b, ",\"degraded\":\"");
		buf_json_escape(&b, why, strlen(why));
		buf_puts(&b, "\"");
	}
	/* A replica down or stale leaves the instance ready: the primary serves. */
	if (s->route.nreplicas > 0) {
		buf_puts(&b, ",");
		db_route_readyz(&s->route, &b);
	}
	buf_puts(&b, "}");
	reply_copy(rep, b.data, b.len);
	buf_free(&b);
	request_reply_send(r);
}

void handle_metrics(struct request *r)
{
	struct server *s = request_server(r);
	struct metrics_gauges g = {
	    .connections = s->nconns,
	    .db_up = s->pool.nready,
	    .db_total = s->pool.nconns,
	    .db_reconnects = s->pool.reconnects,
	    .db_statements_lost = s->pool.statements_lost,
	    .db_statement_errors = s->pool.statement_errors,
	    .db_generic_sessions = s->pool.generic_sessions,
	    .draining = s->draining,
	    .body_bytes = s->host.budget.used,
	    .body_budget = s->host.budget.limit,
	    .reply_bytes = s->host.reply_bytes,
	    .write_timeouts = s->host.write_timeouts,
	};
	db_gauges(&s->pool, &g.queries_in_flight, &g.queries_waiting);
	auth_cache_stats(&s->auth, &g.token_cache_hits, &g.token_cache_misses);
	struct buf text = {0};
	metrics_render(&s->metrics, &g, router_route_count(), router_route_name, &text);
	if (s->route.nreplicas > 0)
		db_route_metrics(&s->route, &text);
	feed_metrics(&s->feed, &text);
	sweep_metrics(&s->sweep, &text);
	struct reply *rep = request_reply_begin(r, 200);
	rep->content_type = "text/plain; version=0.0.4";
	reply_copy(rep, text.data, text.len);
	buf_free(&text);
	request_reply_send(r);
}
