/* db_deadline.h: the pool's deadline check, run by its tick timer.
 *
 * Part of the db module (it works on struct db_pool's connections and queues):
 * past --query-timeout a query's owner gets DB_TIMEOUT and the connection's
 * running statement is cancelled off the loop. */
#ifndef THREADSTORE_DB_DEADLINE_H
#define THREADSTORE_DB_DEADLINE_H

#include <uv.h>

/* The tick timer callback; the timer is embedded in struct db_pool as `tick`. */
void db_deadline_tick(uv_timer_t *tick);

#endif
