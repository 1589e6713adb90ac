/* migrate.h: applies the sql/ migrations embedded in the binary.
 *
 * Runs before the event loop starts, so it may block. Each migration runs in
 * its own transaction under a transaction-scoped advisory lock, so several
 * instances starting at once (and PgBouncer in transaction mode) are safe. */
#ifndef THREADSTORE_MIGRATE_H
#define THREADSTORE_MIGRATE_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;

/* Returns 0 when the schema is current, -1 after logging why not. */
int migrate_run(const char *conninfo) __attribute__((warn_unused_result));

/* Takes the migrations' lock for the transaction open on pg (waiting up to
 * 10 min for another instance): for steps that run after them (citus.h). */
struct pg_conn;
int migrate_lock(struct pg_conn *pg) __attribute__((warn_unused_result));

#endif
