/* feed_notify.h: the NOTIFY payload by which an instance tells every
 * instance (itself included: it skips its own) of the changes it committed.
 *
 * A payload is a batch of entries, one or two lines each:
 *
 *   "\x1d" token "\n"                 the sender (first line; its own LISTEN skips it)
 *   user "\n"                         this user has news: fetch from the table
 *   user "\n" "\x1e" n " " kind " " tail "\n"
 *                                     ... and here it is: change n, kind, the
 *                                     event's JSON after its cursor (feed.c)
 *
 * or exactly "*": everyone has news (a batch that did not fit or was lost).
 * An instance of an older version reads every line as a user and fetches for
 * the users it knows: the header and record lines name nobody, so it still
 * fetches exactly what it did (a mixed version deployment loses nothing). A
 * user id that cannot be a line (a newline in it, or a first byte of 0x1d or
 * 0x1e, or a 0x1f anywhere) makes the batch "*". The JSON tail has no
 * newline (control characters are escaped).
 *
 * Payloads stay under PostgreSQL's 8000 bytes: a batch (what gathers while
 * the previous NOTIFY statement runs) is up to FEED_NOTIFY_PAYLOADS payloads,
 * separated by 0x1f, each with its header, sent by one statement
 * (Q_CHANGES_NOTIFY: one pg_notify each, in order, one transaction). Past
 * that, changes go as their plain user lines, and when those do not fit
 * either the batch is "*". */
#ifndef THREADSTORE_FEED_NOTIFY_H
#define THREADSTORE_FEED_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FEED_NOTIFY_MAX 7900	/* PostgreSQL's payload limit is 8000 bytes */
#define FEED_NOTIFY_TOKEN 16	/* hex characters naming the sending instance */
#define FEED_NOTIFY_PAYLOADS 32 /* payloads a batch (one statement) holds at most */

/* One entry of a payload. */
struct feed_notice {
	const char *user;
	size_t user_len;
	bool has_change; /* the fields below are set */
	int64_t n;
	const char *kind, *tail;
	size_t kind_len, tail_len;
};

/* A fresh random token for this instance (NUL-terminated). */
void feed_notify_token(char out[FEED_NOTIFY_TOKEN + 1]);
/* Appends an entry (a change when e->has_change) to the pending batch p
 * (payloads separated by 0x1f, each starting with the sender's header); the
 * plain user line when the change does not fit (and is not named yet), "*"
 * when that does not fit either. */
void feed_notify_add(struct buf *p, const char *token, const struct feed_notice *e);
/* Whether p is "*" (everyone). */
bool feed_notify_everyone(const struct buf *p);
/* Reads a payload: returns 1 when it is "*", 2 when token sent it (nothing
 * called), else 0 after calling fn for each entry in order. */
int feed_notify_parse(const char *payload, const char *token,
		      void (*fn)(void *owner, const struct feed_notice *e), void *owner);

#endif
