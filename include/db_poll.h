/* db_poll.h: the uv_poll_t watching a database connection's socket (part of
 * the db module: it works on struct db_conn). The handle is on the heap: a
 * socket change needs a new handle while the old one closes. */
#ifndef THREADSTORE_DB_POLL_H
#define THREADSTORE_DB_POLL_H

#include "db.h"

/* Watches the connection's current socket for `events` (calling cb); a new
 * socket (another descriptor, or while connecting another inode behind the
 * same number) gets a new handle. 0, or -1 when it cannot. */
int db_poll_watch(struct db_conn *c, int events, uv_poll_cb cb)
    __attribute__((warn_unused_result));
/* Stops and closes the handle (before PQfinish closes the socket). */
void db_poll_drop(struct db_conn *c);

#endif
