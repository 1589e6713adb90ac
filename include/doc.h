/* doc.h: checks a ChatKit document on the write path and extracts the keys
 * we index. The read path never parses documents: what doc_check accepts is
 * stored as bytes and later sent back as those same bytes.
 *
 * A document is a JSON object with a string "id"; threads and items also need
 * "created_at" (ISO 8601), items string "type" and "thread_id". The stored text is
 * the body as sent, trimmed of surrounding white space, except for a thread
 * carrying "items": that key is dropped (items live in their own rows). A
 * thread's metadata DOC_EXPIRES_AT, when present and not null, must be a
 * date-time too. */
#ifndef THREADSTORE_DOC_H
#define THREADSTORE_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DOC_MAX_ID 255
/* The metadata key of a "temporary chat": the thread is gone once it passes. */
#define DOC_EXPIRES_AT "threadstore:expires_at"

enum doc_kind { DOC_THREAD, DOC_ITEM, DOC_ATTACHMENT };

struct doc_info {
	int64_t created_us; /* microseconds since the epoch, UTC */
	bool has_expiry;    /* a thread's metadata holds DOC_EXPIRES_AT: */
	int64_t expires_us; /* then this, in microseconds since the epoch */
	const char *text;   /* what to store: points into the body or into `scratch` */
	size_t text_len;
};

/* `id` is the path's id: the body's must equal it. With id == NULL (an item
 * POSTed to its thread) the body's id is appended to id_out instead. An item's
 * "thread_id" must be a string, not the path's thread: ChatKit's reference
 * store files an item under the thread it is added to, whatever the document
 * says. Returns 0, or -1 with *why set to a message for a 400. `scratch`
 * holds any rewritten text. */
int doc_check(enum doc_kind kind, const char *body, size_t n, const char *id, size_t id_len,
	      struct buf *id_out, struct doc_info *out, struct buf *scratch, const char **why)
    __attribute__((warn_unused_result));

/* Parses ISO 8601 date-time "YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|±HH[:MM]]";
 * no offset means UTC. Returns 0 or -1. */
int doc_parse_time(const char *s, size_t n, int64_t *us) __attribute__((warn_unused_result));

#endif
