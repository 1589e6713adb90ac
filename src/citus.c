/* citus.c: distributes the tables by user_id (see citus.h).
 *
 * Every table keyed by user is distributed by user_id and co-located with
 * threads, so every statement of queries.c (which all name user_id = $1) is
 * a single-shard router query and the foreign keys (which include user_id)
 * hold within a shard. The threadstore_* functions (sql/) are distributed
 * first: shard queries and index expressions call them on the workers.
 * Stays local on the coordinator: threadstore_seq (every nextval of a
 * router statement is evaluated there, so seq stays one sequence: insertion
 * order and search cursors as on PostgreSQL), threadstore_migrations and
 * change_sweeps (the admin feed's one-row mark: the admin statement reads
 * its snapshot's xmin through it, so on the coordinator, where the changes'
 * xid defaults are evaluated too; queries.c).
 *
 * Triggers: threads has sql/008's row trigger (an older binary's activity)
 * and sql/009's statement triggers with transition tables (the counts).
 * Citus refuses to distribute a table with triggers unless
 * citus.enable_unsafe_triggers is on (set for this transaction only); it
 * then creates them on every shard, where they run on the worker in the
 * shard's transaction. Their bodies write thread_activity and thread_counts
 * of the same user_id only: co-located shards on the same worker, which
 * Citus executes locally in that transaction (they see its rows). That is
 * the condition Citus puts on "unsafe" triggers; test_citus.py checks the
 * counts and the activity on a cluster. */
#include "citus.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "migrate.h"

/* The tables to distribute, in order; the first is the co-location group's
 * anchor. A migration that adds a per-user table adds it here (it must have
 * a user_id column, and user_id in its primary and unique keys). */
static const char *const citus_tables[] = {"threads",	      "items",	       "attachments",
					   "thread_activity", "thread_counts", "change_heads",
					   "changes"};

#define HAS_CITUS "SELECT 1 FROM pg_extension WHERE extname = 'citus'"
/* Functions of the current schema named threadstore_*, not yet distributed. */
#define LOCAL_FUNCTIONS                                                                            \
	"SELECT p.oid::regprocedure::text FROM pg_proc p"                                          \
	" WHERE p.pronamespace = current_schema()::regnamespace"                                   \
	" AND p.proname LIKE 'threadstore\\_%' AND NOT EXISTS (SELECT 1 FROM pg_dist_object o"     \
	" WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid)"
#define UNSAFE_TRIGGERS "SET LOCAL citus.enable_unsafe_triggers = on"
#define DISTRIBUTE_FUNCTION "SELECT create_distributed_function($1::regprocedure)"
#define DISTRIBUTE_TABLE                                                                           \
	"SELECT create_distributed_table($1::regclass, 'user_id', colocate_with => $2)"            \
	" WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)"

/* Runs sql with params; returns the result (tuples or command) or NULL after logging. */
static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *params,
		     const char *what)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	char q[512];
	const char *m = PQresultErrorMessage(r);
	log_error("citus distribution failed", "step=%s error=%s", what,
		  log_quote(q, sizeof q, m, strlen(m)));
	PQclear(r);
	return NULL;
}

static int distribute(PGconn *pg)
{
	PGresult *r = run(pg, HAS_CITUS, 0, NULL, "extension");
	if (r == NULL)
		return -1;
	int has = PQntuples(r) > 0;
	PQclear(r);
	if (!has) {
		log_error("citus distribution failed",
			  "step=extension error=\"the database has no citus extension: CREATE "
			  "EXTENSION citus and citus_add_node for each worker first\"");
		return -1;
	}
	if ((r = run(pg, LOCAL_FUNCTIONS, 0, NULL, "functions")) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *fn = PQgetvalue(r, i, 0);
		PGresult *d = run(pg, DISTRIBUTE_FUNCTION, 1, &fn, "function");
		if (d == NULL) {
			PQclear(r);
			return -1;
		}
		PQclear(d);
		log_info("citus function distributed", "function=%s", fn);
	}
	PQclear(r);
	if ((r = run(pg, UNSAFE_TRIGGERS, 0, NULL, "triggers")) == NULL)
		return -1;
	PQclear(r);
	size_t n = sizeof citus_tables / sizeof citus_tables[0];
	for (size_t i = 0; i < n; i++) {
		const char *params[2] = {citus_tables[i], i == 0 ? "none" : citus_tables[0]};
		PGresult *d = run(pg, DISTRIBUTE_TABLE, 2, params, citus_tables[i]);
		if (d == NULL)
			return -1;
		if (PQntuples(d) > 0)
			log_info("citus table distributed", "table=%s colocate_with=%s", params[0],
				 params[1]);
		PQclear(d);
	}
	return 0;
}

int citus_distribute(const char *conninfo)
{
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		char q[512];
		const char *m = PQerrorMessage(pg);
		log_error("citus distribution cannot connect", "error=%s",
			  log_quote(q, sizeof q, m, strlen(m)));
		PQfinish(pg);
		return -1;
	}
	int rc = -1;
	PGresult *r = PQexec(pg, "BEGIN");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok && migrate_lock(pg) == 0 && distribute(pg) == 0) {
		r = PQexec(pg, "COMMIT");
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
		PQclear(r);
	}
	if (rc < 0)
		PQclear(PQexec(pg, "ROLLBACK"));
	PQfinish(pg);
	return rc;
}
