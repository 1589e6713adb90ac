/* db_stmt.h: the pool's prepared statements. Part of the db module (it works
 * on struct db_conn's pipeline): under --statements prepared every statement
 * is parsed once per connection, under its text's name (queries_stmt_name),
 * and a pooler that loses them (SQLSTATE 26000/42P05) switches the whole pool
 * to unnamed statements, said once in the log and in db_degraded. */
#ifndef THREADSTORE_DB_STMT_H
#define THREADSTORE_DB_STMT_H

#include "db.h"

/* Fills p->stmt_name, once at start. */
void db_stmt_names(struct db_pool *p);
/* Queues Q_SESSION, then every statement's Parse (each with its Sync), on a new
 * connection. Q_SESSION is for prepared statements only (an unnamed statement
 * is planned at each execution anyway, with its parameters' values); its
 * result is not waited for: failed, it is logged and the session plans as
 * PostgreSQL's default has it, slower at worst. */
int db_stmt_prepare_all(struct db_conn *c) __attribute__((warn_unused_result));
/* q's batch ended: true when q met a lost statement and was taken care of
 * (sent again, or dropped when it was the pool's own Parse or cancelled). */
bool db_stmt_lost(struct db_conn *c, struct db_query *q);
/* q's batch ended: true when q was one of the pool's own Parses and failed
 * (logged; q freed); Q_SESSION's answer is counted or logged here and is
 * never a failure. A connection without all its statements is
 * not ready (a replica whose schema lags the primary's, until a migration has
 * replayed there): the caller fails it, to be tried again after the backoff;
 * nothing after the Parse is delivered on it (DB_UNAVAILABLE: a replica's
 * reads go to the primary). */
bool db_stmt_failed(struct db_conn *c, struct db_query *q);

#endif
