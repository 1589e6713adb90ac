/* buf.h: growable byte buffer, the one owner of request/response bytes.
 *
 *   data                 data+off        data+len        data+cap
 *   |--- consumed -------|--- unread -----|--- free -------|
 *
 * Writers reserve then commit (or use the append helpers); readers consume from
 * the front. A buffer is zero-initialised to be empty; buf_free releases it.
 * Allocation failure aborts the process (see buf.c for why). */
#ifndef THREADSTORE_BUF_H
#define THREADSTORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t off; /* first unread byte */
	size_t len; /* end of written bytes */
	size_t cap;
};

void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* empty, keeps the memory */
/* Returns a pointer to at least n writable bytes at the end. */
char *buf_reserve(struct buf *b, size_t n);
/* The same, growing to exactly n free bytes when it must grow (a body whose
 * size is known: no doubling slack). */
char *buf_reserve_exact(struct buf *b, size_t n);
/* The one out-of-memory convention: calloc or abort (see buf.c). */
void *buf_xcalloc(size_t count, size_t size) __attribute__((malloc));
void buf_commit(struct buf *b, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (no quotes), escaping as needed. */
void buf_json_escape(struct buf *b, const char *s, size_t n);

static inline const char *buf_rptr(const struct buf *b)
{
	return b->data ? b->data + b->off : ""; /* NULL + 0 is undefined in C */
}
static inline size_t buf_rlen(const struct buf *b)
{
	return b->len - b->off;
}

#endif
