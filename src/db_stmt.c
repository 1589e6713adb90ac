/* db_stmt.c: the pool's prepared statements (--statements prepared): their
 * names, the Parse of each sent when a connection opens, and the fall back
 * to unnamed statements when a pooler turns out not to keep them. */
#include "db_stmt.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

void db_stmt_names(struct db_pool *p)
{
	for (int i = 0; i < Q_COUNT; i++)
		queries_stmt_name(&queries[i], p->stmt_name[i]);
}

/* Queues one of the connection's set-up queries, with its Sync: a statement's
 * Parse, or the pool's own Q_SESSION. */
static int send_setup(struct db_conn *c, enum query_id qid)
{
	struct db_query *q = calloc(1, sizeof *q);
	if (q == NULL)
		return -1;
	q->qid = qid;
	q->prepared = qid < Q_COUNT;
	int ok = q->prepared ? PQsendPrepare(c->pg, c->pool->stmt_name[qid], queries[qid].sql,
					     queries[qid].nparams, NULL)
			     : PQsendQueryParams(c->pg, queries[qid].sql, 0, NULL, NULL, NULL,
						 NULL, 0);
	if (!ok || !PQpipelineSync(c->pg)) {
		free(q);
		return -1;
	}
	q->sync_after = true;
	list_push_back(&c->inflight, &q->link);
	c->ninflight++;
	if (c->receiving == NULL)
		c->receiving = q;
	return 0;
}

/* Sends the session's setting, then every statement's Parse, up front;
 * queries pipelined after them see them. */
int db_stmt_prepare_all(struct db_conn *c)
{
	if (send_setup(c, Q_SESSION) < 0)
		return -1;
	for (int i = 0; i < Q_COUNT; i++)
		if (send_setup(c, (enum query_id)i) < 0)
			return -1;
	return 0;
}

/* Q_SESSION's answer: counted when the session took generic plans (not on
 * Citus, which keeps its own setting); a failure is logged and changes
 * nothing else (the session plans as PostgreSQL's default has it). */
static void session_result(struct db_conn *c, const PGresult *res)
{
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "force_generic_plan") == 0)
			c->pool->generic_sessions++;
		return;
	}
	char m[256];
	const char *e = res ? PQresultErrorMessage(res) : "no result";
	log_quote(m, sizeof m, e, strlen(e));
	log_warn("session left to plan_cache_mode's default (plans may be made at every "
		 "execution)", "pool=%s conn=%d error=%s", c->pool->name, c->index, m);
}

/* A prepared statement the server does not have (26000), or a name it has
 * already (42P05, on our Parse): a pooler in transaction mode that does not
 * keep prepared statements per client (PgBouncer before 1.21, or with
 * max_prepared_statements = 0) gave this connection another server. Said
 * once, loudly, with the fix; from then on the pool sends unnamed statements
 * (a parse per query, as --statements unnamed does), so requests stop
 * failing. The query met a statement that was not there, so it did not run
 * (a write neither): it is sent again. */
bool db_stmt_lost(struct db_conn *c, struct db_query *q)
{
	struct db_pool *p = c->pool;
	if (!q->prepared || q->res == NULL || PQresultStatus(q->res) != PGRES_FATAL_ERROR)
		return false;
	const char *st = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
	if (st == NULL || (strcmp(st, "26000") != 0 && strcmp(st, "42P05") != 0))
		return false;
	p->statement_errors++;
	if (p->prepared) {
		p->prepared = false;
		p->statements_lost = true;
		log_error(
		    "prepared statements lost: the pooler in front of PostgreSQL does not keep "
		    "them",
		    "conn=%d sqlstate=%s statement=%s fix=\"run with --statements unnamed, or "
		    "set max_prepared_statements in PgBouncer 1.21 or later\" "
		    "now=\"unnamed statements\"",
		    c->index, st, p->stmt_name[q->qid]);
	}
	PQclear(q->res);
	q->res = NULL;
	if (q->done == NULL || q->owner == NULL) {
		db_query_free(q); /* our own Parse, or a cancelled query */
		return true;
	}
	list_push_front(&p->waiting, &q->link);
	p->nwaiting++;
	return true;
}

bool db_stmt_failed(struct db_conn *c, struct db_query *q)
{
	if (q->qid == Q_SESSION && q->done == NULL)
		session_result(c, q->res);
	if (q->done != NULL || q->qid >= Q_COUNT || q->res == NULL ||
	    PQresultStatus(q->res) == PGRES_COMMAND_OK)
		return false;
	char m[512];
	const char *e = PQresultErrorMessage(q->res);
	log_quote(m, sizeof m, e, strlen(e));
	if (c->pool->fallback != NULL)
		log_warn("replica connection not ready: a statement did not prepare (its schema "
			 "may lag the primary's)",
			 "pool=%s conn=%d statement=%s error=%s", c->pool->name, c->index,
			 queries[q->qid].name, m);
	else
		log_error("statement failed to prepare", "pool=%s conn=%d statement=%s error=%s",
			  c->pool->name, c->index, queries[q->qid].name, m);
	db_query_free(q);
	return true;
}

const char *db_degraded(const struct db_pool *p)
{
	return p->statements_lost
		   ? "the pooler in front of PostgreSQL does not keep prepared statements: running "
		     "with unnamed statements; set --statements unnamed (or "
		     "max_prepared_statements "
		     "in PgBouncer 1.21 or later)"
		   : NULL;
}
