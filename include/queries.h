/* queries.h: every SQL statement the service runs, named and $n-parameterised.
 * No SQL is ever assembled from request data. Parameters are text; $1 is
 * always the user id, so every statement is scoped to one user (except the
 * few marked global). */
#ifndef THREADSTORE_QUERIES_H
#define THREADSTORE_QUERIES_H

#include <stdbool.h>
#include <stddef.h>

enum query_id {
	Q_THREAD_GET,
	Q_THREAD_GET_WITH_ITEMS,
	Q_THREAD_PUT,
	Q_THREAD_DELETE,
	Q_THREADS_FIRST_ASC,
	Q_THREADS_FIRST_DESC,
	Q_THREADS_AFTER_ASC,
	Q_THREADS_AFTER_DESC,
	Q_ITEM_GET,
	Q_ITEM_PUT,
	Q_ITEM_ADD,
	Q_ITEM_DELETE,
	Q_ITEMS_FIRST_ASC,
	Q_ITEMS_FIRST_DESC,
	Q_ITEMS_AFTER_ASC,
	Q_ITEMS_AFTER_DESC,
	Q_ITEMS_EXPORT,
	Q_ATTACHMENT_GET,
	Q_ATTACHMENT_PUT,
	Q_ATTACHMENT_DELETE,
	/* thread lists with order_by/filters/before: keep this order (handlers_threads.c) */
	Q_T2_C_FIRST_ASC,
	Q_T2_C_FIRST_DESC,
	Q_T2_C_AFTER_ASC,
	Q_T2_C_AFTER_DESC,
	Q_T2_C_BEFORE_ASC,
	Q_T2_C_BEFORE_DESC,
	Q_T2_U_FIRST_ASC,
	Q_T2_U_FIRST_DESC,
	Q_T2_U_AFTER_ASC,
	Q_T2_U_AFTER_DESC,
	Q_T2_U_BEFORE_ASC,
	Q_T2_U_BEFORE_DESC,
	Q_THREADS_COUNT,
	Q_ITEMS_BEFORE_ASC,
	Q_ITEMS_BEFORE_DESC,
	Q_SEARCH,
	Q_SEARCH_THREAD,
	/* the change feed (sql/010) */
	Q_CHANGES_PAGE,
	/* over all users (global): never through request_query */
	Q_ADMIN_CHANGES,
	Q_CHANGES_SWEEP,
	Q_CHANGES_NOTIFY,
	/* issue 13: erase, export of a user, the retention sweep, the operator's list */
	Q_ERASE_ITEMS,
	Q_ERASE_THREADS,
	Q_ERASE_ATTACHMENTS,
	Q_ERASE_FINAL,
	Q_EXPORT_THREADS,
	Q_EXPORT_ATTACHMENTS,
	Q_SWEEP_LEASE,
	Q_SWEEP_EXPIRED,
	Q_SWEEP_RETAINED,
	Q_SWEEP_ITEMS,
	Q_SWEEP_THREAD,
	Q_ADMIN_USERS,
	Q_COUNT, /* the prepared statements: above; the pool's own (no user data, no table) follow */
	Q_WAL_LSN = Q_COUNT, /* after a write's commit: the primary's WAL insert position */
	Q_WAL_FLUSH,	     /* the replica lag probe's reference: the primary's flushed WAL */
	Q_REPLAY_LSN,	     /* the replica lag probe: how far a standby has replayed */
	Q_SESSION,	     /* first on a new connection: generic plans (queries.c) */
	Q_ALL
};

struct query {
	const char *name; /* the statement's stem; see queries_stmt_name */
	const char *sql;
	int nparams; /* exactly $1..$nparams appear in sql (tests/unit/test_queries.c) */
	bool write;  /* changes data: runs in its own transaction (batch) */
	bool global; /* over all users: $1 is not a user id (admin feed, retention sweep) */
};

/* The LISTEN/NOTIFY channel of the change feed; a payload is the users who
 * wrote, each followed by a newline, or "*" (everyone: catch up). */
#define CHANGES_CHANNEL "threadstore_changes"

/* [0, Q_COUNT): scoped to the user in $1 unless `global`
 * (tests/unit/test_queries.c), prepared under --statements prepared.
 * [Q_COUNT, Q_ALL): the pool's own, without parameters, always sent unnamed
 * (so a pooler's max_prepared_statements needs Q_COUNT). */
extern const struct query queries[Q_ALL];

#define QUERY_NAME_MAX 40 /* stem (under 30 bytes) + '_' + 8 hex digits + NUL */

/* The prepared statement's name: the stem and a hash of the SQL text
 * ("item_get_1f0c93ab"). A pooler that shares prepared statements between
 * clients (PgBouncer >= 1.21 does not; others may) or a server kept across
 * deploys must never run one version's statement under another's name: a
 * changed text is a new name. Pure; the pool computes the names once. */
void queries_stmt_name(const struct query *q, char out[QUERY_NAME_MAX]);

#endif
