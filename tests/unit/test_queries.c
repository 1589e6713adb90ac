/* Every statement slot is filled, named uniquely, uses exactly $1..$n (the
 * count the pool checks submissions against), and its prepared name follows
 * its text. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "db.h"
#include "log.h"
#include "queries.h"

/* Which $n occur in sql: bit n of the result (n < 32); *bad set on $0 or a huge $n. */
static unsigned params_used(const char *sql, bool *bad)
{
	unsigned used = 0;
	for (const char *s = strchr(sql, '$'); s != NULL; s = strchr(s + 1, '$')) {
		char *end;
		long n = strtol(s + 1, &end, 10);
		if (end == s + 1)
			continue; /* a '$' not followed by digits (none today) */
		if (n < 1 || n > 31)
			*bad = true;
		else
			used |= 1u << n;
	}
	return used;
}

/* Every INSERT INTO in sql names user_id first and inserts $1 into it
 * (VALUES ($1, ...) or SELECT $1, ...). */
static bool inserts_scoped(const char *sql)
{
	int n = 0;
	for (const char *s = strstr(sql, "INSERT INTO "); s != NULL;
	     s = strstr(s + 1, "INSERT INTO ")) {
		const char *cols = strchr(s, '(');
		const char *close = cols ? strchr(cols, ')') : NULL;
		if (cols == NULL || strncmp(cols, "(user_id, ", 10) != 0 || close == NULL ||
		    (strncmp(close, ") VALUES ($1,", 13) != 0 && strncmp(close, ") SELECT $1,", 12) != 0))
			return false;
		n++;
	}
	return n > 0;
}

static void check_params(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		const struct query *q = &queries[i];
		CHECK(q->name != NULL && q->sql != NULL && q->nparams >= 1);
		if (q->name == NULL || q->sql == NULL)
			continue;
		for (int j = 0; j < i; j++)
			CHECK(queries[j].name == NULL || strcmp(queries[j].name, q->name) != 0);
		/* the table's count is exactly the set of $n in the text: $1..$nparams */
		bool bad = false;
		unsigned used = params_used(q->sql, &bad);
		CHECK(!bad);
		CHECK(q->nparams <= DB_MAX_PARAMS);
		if (q->nparams >= 1 && q->nparams < 31)
			CHECK(used == ((1u << (q->nparams + 1)) - 2u));
		if (used != ((1u << (q->nparams + 1)) - 2u))
			fprintf(stderr, "  %s: nparams %d, $n used 0x%x\n", q->name, q->nparams,
				used);
		/* every statement is scoped to the user in $1 (a WHERE on it, or, for
		 * inserts, also in a WITH, every row inserted carries it), but the
		 * global ones (admin feed and user list, the sweeps) that request_query
		 * refuses to run */
		bool global = i == Q_ADMIN_CHANGES || i == Q_CHANGES_SWEEP || i == Q_CHANGES_NOTIFY ||
			      i == Q_SWEEP_LEASE || i == Q_SWEEP_EXPIRED || i == Q_SWEEP_RETAINED ||
			      i == Q_ADMIN_USERS;
		CHECK(q->global == global);
		if (!q->global)
			CHECK(strstr(q->sql, "user_id = $1") != NULL || inserts_scoped(q->sql));
		/* a write that records a change records it for $1 */
		if (strstr(q->sql, "INSERT INTO changes ") != NULL)
			CHECK(
			    strstr(
				q->sql,
				"INSERT INTO change_heads AS h (user_id, n, at_us) SELECT $1, ") !=
			    NULL);
	}
	/* the counter itself */
	bool bad = false;
	CHECK(params_used("SELECT $1, $2, $10", &bad) == ((1u << 1) | (1u << 2) | (1u << 10)));
	CHECK(!bad);
	params_used("SELECT $0", &bad);
	CHECK(bad);
}

static void check_names(void)
{
	char names[Q_COUNT][QUERY_NAME_MAX];
	for (int i = 0; i < Q_COUNT; i++) {
		queries_stmt_name(&queries[i], names[i]);
		size_t stem = strlen(queries[i].name);
		/* the stem, '_', 8 hex digits; within PostgreSQL's 63-byte identifiers */
		CHECK(strncmp(names[i], queries[i].name, stem) == 0 && names[i][stem] == '_');
		CHECK(strlen(names[i]) == stem + 9 && strlen(names[i]) < 64);
		CHECK(strspn(names[i] + stem + 1, "0123456789abcdef") == 8);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(names[i], names[j]) != 0);
		char again[QUERY_NAME_MAX];
		queries_stmt_name(&queries[i], again);
		CHECK(strcmp(again, names[i]) == 0); /* deterministic: same text, same name */
	}
	/* A statement whose text changes (even by one byte) gets another name:
	 * two versions behind one pooler never run each other's statement. */
	for (int i = 0; i < Q_COUNT; i++) {
		struct query changed = queries[i];
		char sql[4096], name[QUERY_NAME_MAX];
		snprintf(sql, sizeof sql, "%s ", queries[i].sql);
		changed.sql = sql;
		queries_stmt_name(&changed, name);
		CHECK(strcmp(name, names[i]) != 0);
		snprintf(sql, sizeof sql, "%s", queries[i].sql);
		sql[strlen(sql) - 1] ^= 1;
		queries_stmt_name(&changed, name);
		CHECK(strcmp(name, names[i]) != 0);
		changed = queries[i];
		changed.nparams++;
		queries_stmt_name(&changed, name);
		CHECK(strcmp(name, names[i]) != 0);
	}
}

/* db_submit refuses a parameter count that is not the statement's (before
 * touching a connection), rather than sending a statement short of values. */
static void check_submit_counts(void)
{
	log_set_level((enum log_level)(LOG_ERROR + 1)); /* the refusals are logged: quiet */
	struct db_pool p;
	memset(&p, 0, sizeof p); /* no connection: a right count gets DB_UNAVAILABLE */
	const char *v[DB_MAX_PARAMS] = {"u", "a", "b", "c", "d", "e"};
	int l[DB_MAX_PARAMS] = {1, 1, 1, 1, 1, 1};
	for (int i = 0; i < Q_COUNT; i++) {
		for (int n = 0; n <= DB_MAX_PARAMS; n++) {
			enum db_status st = DB_OK;
			struct db_query *q =
			    db_submit(&p, (enum query_id)i, n, v, l, NULL, NULL, &st);
			CHECK(q == NULL);
			CHECK(st == (n == queries[i].nparams ? DB_UNAVAILABLE : DB_BAD_PARAMS));
		}
	}
}

/* The pool's own statements take no parameter and read no table (so no
 * user's data): WAL positions, and the session's plan setting. */
static void check_pool_statements(void)
{
	for (int i = Q_COUNT; i < Q_ALL; i++) {
		CHECK(queries[i].name != NULL && queries[i].nparams == 0 && !queries[i].write);
		CHECK(strchr(queries[i].sql, '$') == NULL && strstr(queries[i].sql, "FROM") == NULL);
		CHECK(strstr(queries[i].sql, i == Q_SESSION ? "'plan_cache_mode'" : "lsn()") != NULL);
	}
	/* session-wide (false), never only for one transaction */
	CHECK(strstr(queries[Q_SESSION].sql, "END, false)") != NULL);
}

/* WAL positions as PostgreSQL prints them, both ways. */
static void check_lsn(void)
{
	uint64_t v = 1;
	char out[DB_LSN_MAX];
	CHECK(db_lsn_parse("0/0", 3, &v) == 0 && v == 0);
	CHECK(db_lsn_parse("16/B374D848", 11, &v) == 0 && v == ((uint64_t)0x16 << 32 | 0xB374D848));
	db_lsn_format(v, out);
	CHECK(strcmp(out, "16/B374D848") == 0);
	CHECK(db_lsn_parse("ffffffff/ffffffff", 17, &v) == 0 && v == UINT64_MAX);
	db_lsn_format(v, out);
	CHECK(strcmp(out, "FFFFFFFF/FFFFFFFF") == 0);
	const char *bad[] = {"", "1", "1/", "/1", "1/2/3", "123456789/1", "1/123456789", "1 /2",
			     "g/1", "-1/2", "0x1/2", "1/2 "};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(db_lsn_parse(bad[i], strlen(bad[i]), &v) < 0);
	CHECK(db_lsn_parse("1/2", 2, &v) < 0); /* the length counts, not a NUL */
}

int main(void)
{
	check_pool_statements();
	check_lsn();
	check_params();
	check_submit_counts();
	check_names();
	return check_done();
}
