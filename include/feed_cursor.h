/* feed_cursor.h: the change feed's cursors, opaque to clients and checked to
 * be ours: a user's cursor names one change number of that user (a tag over
 * the user and the number: garbage, another user's or a truncated cursor is
 * refused, not a secret); the admin feed's names (xid, user, n). */
#ifndef THREADSTORE_FEED_CURSOR_H
#define THREADSTORE_FEED_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FEED_CURSOR_MAX 40
/* The cursor of change n of user u. */
int feed_cursor(const char *u, size_t ul, int64_t n, char out[FEED_CURSOR_MAX]);
/* Its number, or -1 when it is not one of this user's cursors. */
int64_t feed_cursor_parse(const char *u, size_t ul, const char *c, size_t cl);
/* The admin feed's cursor (xid, user, n): hex fields; out is grown. */
void feed_cursor_admin(struct buf *out, const char *xid, const char *u, size_t ul, const char *n);
/* Splits an admin cursor: decimal xid and n, the user (decoded, into user). -1: not ours. */
int feed_cursor_admin_parse(const char *c, size_t cl, char xid[24], char n[24], struct buf *user);

#endif
