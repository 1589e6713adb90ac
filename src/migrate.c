/* migrate.c: schema migrations, applied in order, each exactly once.
 *
 * A migration runs in one transaction, unless its first line is NO_TXN_MARK:
 * then (for CREATE INDEX CONCURRENTLY, which refuses a transaction block) its
 * statements run one by one under a session advisory lock, and it is recorded
 * as applied only after the last one; such a file must be safe to run again
 * from the start (DROP ... IF EXISTS before CREATE). */
#include "migrate.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MIGRATE_LOCK_KEY "7283946510"
#define LOCK_WAIT_S 600 /* another instance may be building an index */
#define NO_TXN_MARK "-- threadstore: no-transaction\n"
#define BOOKKEEPING                                                                                \
	"CREATE TABLE IF NOT EXISTS threadstore_migrations ("                                      \
	" version int PRIMARY KEY, name text NOT NULL,"                                            \
	" applied_at timestamptz NOT NULL DEFAULT now())"

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
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

/* Takes the migration lock with `fn` (pg_try_advisory_lock or its _xact_
 * form), retrying every 100 ms for up to LOCK_WAIT_S. Never waits inside
 * PostgreSQL: a session blocked on an advisory lock holds a snapshot, and
 * CREATE INDEX CONCURRENTLY in the lock holder would wait for it (deadlock). */
static int take_lock(PGconn *pg, const char *fn)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT %s(" MIGRATE_LOCK_KEY ")", fn);
	for (int i = 0; i < LOCK_WAIT_S * 10; i++) {
		PGresult *r = PQexec(pg, sql);
		int st = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (st > 0)
			return 0;
		if (st < 0) {
			log_error("migration failed", "step=lock");
			return -1;
		}
		if (i == 0)
			log_info("migration waits", "for=another instance migrating");
		usleep(100 * 1000);
	}
	log_error("migration failed", "step=lock waited_s=%d", LOCK_WAIT_S);
	return -1;
}

int migrate_lock(PGconn *pg)
{
	return take_lock(pg, "pg_try_advisory_xact_lock");
}

/* 1 when the migration is recorded as applied, 0 when not, -1 on error. */
static int is_applied(PGconn *pg, const char *version)
{
	const char *params[1] = {version};
	PGresult *r = PQexecParams(pg, "SELECT 1 FROM threadstore_migrations WHERE version = $1", 1,
				   NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r) > 0;
	PQclear(r);
	if (rc < 0)
		log_error("migration failed", "step=check version=%s", version);
	return rc;
}

static int record(PGconn *pg, const char *version, const char *name)
{
	const char *params[2] = {version, name};
	PGresult *r = PQexecParams(pg, "INSERT INTO threadstore_migrations (version, name) VALUES ($1, $2)",
				   2, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

/* Length of the statement at sql: up to and with the first ';' that ends a
 * line outside a $$-quoted body (DO blocks hold many). */
static size_t statement_len(const char *sql)
{
	bool quoted = false;
	for (size_t i = 0; sql[i] != '\0'; i++) {
		if (sql[i] == '$' && sql[i + 1] == '$') {
			quoted = !quoted;
			i++;
		} else if (!quoted && sql[i] == ';' && sql[i + 1] == '\n') {
			return i + 1;
		}
	}
	return strlen(sql);
}

/* Runs each statement of sql on its own (each its own transaction). */
static int exec_each(PGconn *pg, const char *sql, const char *what)
{
	const char *p = sql;
	while (*p) {
		size_t n = statement_len(p);
		char *stmt = strndup(p, n);
		if (stmt == NULL)
			return -1;
		int rc = exec_ok(pg, stmt, what);
		free(stmt);
		if (rc < 0)
			return -1;
		p += n;
	}
	return 0;
}

/* A no-transaction migration: statements one by one, under a session lock. */
static int apply_outside_transaction(PGconn *pg, const struct migration *m, const char *version)
{
	if (take_lock(pg, "pg_try_advisory_lock") < 0)
		return -1;
	int rc = -1, done;
	if (exec_ok(pg, BOOKKEEPING, "bookkeeping") < 0 || (done = is_applied(pg, version)) < 0)
		goto out;
	if (!done) {
		if (exec_each(pg, m->sql, m->name) < 0 || record(pg, version, m->name) < 0)
			goto out;
		log_info("migration applied", "version=%d name=%s", m->version, m->name);
	}
	rc = 0;
out:
	PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return rc;
}

/* Applies one migration unless another instance already did. */
static int apply_one(PGconn *pg, const struct migration *m)
{
	char version[16];
	snprintf(version, sizeof version, "%d", m->version);
	if (strncmp(m->sql, NO_TXN_MARK, strlen(NO_TXN_MARK)) == 0)
		return apply_outside_transaction(pg, m, version);
	int done;
	if (exec_ok(pg, "BEGIN", "begin") < 0)
		return -1;
	if (take_lock(pg, "pg_try_advisory_xact_lock") < 0 ||
	    exec_ok(pg, BOOKKEEPING, "bookkeeping") < 0 || (done = is_applied(pg, version)) < 0)
		goto fail;
	if (done)
		return exec_ok(pg, "COMMIT", "commit");
	if (exec_ok(pg, m->sql, m->name) < 0 || record(pg, version, m->name) < 0 ||
	    exec_ok(pg, "COMMIT", "commit") < 0)
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
