/* migrate.c: schema migrations, applied in order, each exactly once. */
#include "migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MIGRATE_LOCK_KEY "7283946510"

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char q[512];
		const char *m = PQresultErrorMessage(r);
		log_error("migration failed", "step=%s error=%s", what,
			  log_quote(q, sizeof q, m, strlen(m)));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Applies one migration unless another instance already did. */
static int apply_one(PGconn *pg, const struct migration *m)
{
	char version[16];
	snprintf(version, sizeof version, "%d", m->version);
	if (exec_ok(pg, "BEGIN", "begin") < 0)
		return -1;
	if (exec_ok(pg, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", "lock") < 0 ||
	    exec_ok(pg,
		    "CREATE TABLE IF NOT EXISTS threadstore_migrations ("
		    " version int PRIMARY KEY, name text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())",
		    "bookkeeping") < 0)
		goto fail;
	const char *params[2] = {version, m->name};
	PGresult *r = PQexecParams(pg, "SELECT 1 FROM threadstore_migrations WHERE version = $1", 1,
				   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		log_error("migration failed", "step=check version=%d", m->version);
		goto fail;
	}
	int done = PQntuples(r) > 0;
	PQclear(r);
	if (done)
		return exec_ok(pg, "COMMIT", "commit");
	if (exec_ok(pg, m->sql, m->name) < 0)
		goto fail;
	r = PQexecParams(pg, "INSERT INTO threadstore_migrations (version, name) VALUES ($1, $2)",
			 2, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok || exec_ok(pg, "COMMIT", "commit") < 0)
		goto fail;
	log_info("migration applied", "version=%d name=%s", m->version, m->name);
	return 0;
fail:
	PQclear(PQexec(pg, "ROLLBACK"));
	return -1;
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "already exists, skipping" notices are expected */
}

int migrate_run(const char *conninfo)
{
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		char q[512];
		const char *m = PQerrorMessage(pg);
		log_error("migration cannot connect", "error=%s",
			  log_quote(q, sizeof q, m, strlen(m)));
		PQfinish(pg);
		return -1;
	}
	PQsetNoticeProcessor(pg, quiet_notice, NULL);
	int rc = 0;
	for (int i = 0; i < migrations_count && rc == 0; i++)
		rc = apply_one(pg, &migrations[i]);
	PQfinish(pg);
	return rc;
}
