/* handlers_health.c: liveness and readiness, for the load balancer. */
#include "conn.h"
#include "db.h"
#include "handlers.h"
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
	if (s->draining) {
		request_error(r, 503, "unavailable", "shutting down");
		return;
	}
	if (!db_ready(&s->pool)) {
		request_error(r, 503, "unavailable", "no database connection is ready");
		return;
	}
	struct reply *rep = request_reply_begin(r, 200);
	reply_copy_str(rep, "{\"status\":\"ready\"}");
	request_reply_send(r);
}
