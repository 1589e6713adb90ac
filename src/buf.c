/* buf.c: growable byte buffers.
 *
 * Out of memory aborts: every allocation here is bounded by a configured limit
 * (header, body, page sizes), so failure means the machine is exhausted, and a
 * crash restarted by the supervisor beats half-handled state in every caller. */
#include "buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void)
{
	fputs("threadstore: out of memory\n", stderr);
	abort();
}

void *buf_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count, size);
	if (p == NULL)
		out_of_memory();
	return p;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

/* Whether n more bytes fit, after reclaiming consumed space if they do not. */
static bool fits_after_compact(struct buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return true;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return b->cap - b->len >= n;
}

char *buf_reserve(struct buf *b, size_t n)
{
	if (fits_after_compact(b, n))
		return b->data + b->len;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL)
		out_of_memory();
	b->data = p;
	b->cap = cap;
	return b->data + b->len;
}

char *buf_reserve_exact(struct buf *b, size_t n)
{
	if (fits_after_compact(b, n))
		return b->data + b->len;
	char *p = realloc(b->data, b->len + n);
	if (p == NULL)
		out_of_memory();
	b->data = p;
	b->cap = b->len + n;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), p, n);
	b->len += n;
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	*buf_reserve(b, 1) = c;
	b->len++;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = buf_reserve(b, 128);
	int n = vsnprintf(p, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		p = buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void buf_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				buf_append(b, e, 6);
			} else {
				buf_putc(b, (char)c);
			}
		}
	}
}
