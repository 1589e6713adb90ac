/* citus.h: `threadstore migrate --citus`, the distribution step for Citus.
 *
 * Run on the coordinator after the migrations (migrate.h), under the same
 * lock. Idempotent: what is distributed already is left as it is, so it runs
 * again after every upgrade and distributes what a new migration added. The
 * database must have the citus extension and its workers (citus_add_node);
 * the service then talks to the coordinator only (docs/SCALING.md says why:
 * threadstore_seq lives there). Blocking libpq: never call it on the loop. */
#ifndef THREADSTORE_CITUS_H
#define THREADSTORE_CITUS_H

/* Returns 0 when every table of the list is distributed, -1 after logging why not. */
int citus_distribute(const char *conninfo) __attribute__((warn_unused_result));

#endif
