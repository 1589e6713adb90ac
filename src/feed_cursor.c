/* feed_cursor.c: the change feed's cursors; see feed_cursor.h. */
#include "feed_cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

/* FNV-1a over the user and the number: a check that a cursor is ours and this
 * user's (garbage, another user's or a truncated cursor is 400), not a secret. */
static uint32_t cursor_tag(const char *u, size_t ul, int64_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < ul; i++)
		h = (h ^ (unsigned char)u[i]) * 1099511628211ull;
	for (int i = 0; i < 8; i++)
		h = (h ^ (((uint64_t)n >> (i * 8)) & 0xff)) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32));
}

int feed_cursor(const char *u, size_t ul, int64_t n, char out[FEED_CURSOR_MAX])
{
	return snprintf(out, FEED_CURSOR_MAX, "%" PRIx64 "-%08x", (uint64_t)n,
			cursor_tag(u, ul, n));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int64_t feed_cursor_parse(const char *u, size_t ul, const char *c, size_t cl)
{
	size_t i = 0;
	uint64_t n = 0;
	while (i < cl && i < 16 && hexval(c[i]) >= 0)
		n = n << 4 | (uint64_t)hexval(c[i++]);
	if (i == 0 || i >= cl || c[i] != '-' || cl - i - 1 != 8 || n == 0 || n > INT64_MAX)
		return -1;
	uint32_t tag = 0;
	for (size_t k = i + 1; k < cl; k++) {
		int v = hexval(c[k]);
		if (v < 0)
			return -1;
		tag = tag << 4 | (uint32_t)v;
	}
	char again[FEED_CURSOR_MAX];
	int len = feed_cursor(u, ul, (int64_t)n, again);
	if (tag != cursor_tag(u, ul, (int64_t)n) || (size_t)len != cl || memcmp(again, c, cl) != 0)
		return -1; /* also refuses leading zeros: one cursor per change */
	return (int64_t)n;
}

void feed_cursor_admin(struct buf *out, const char *xid, const char *u, size_t ul, const char *n)
{
	static const char hex[] = "0123456789abcdef";
	buf_printf(out, "%s.%s.", xid, n);
	for (size_t i = 0; i < ul; i++) {
		buf_putc(out, hex[(unsigned char)u[i] >> 4]);
		buf_putc(out, hex[(unsigned char)u[i] & 15]);
	}
}

/* Up to 20 decimal digits, no sign or leading zero (but "0"), at most max
 * (the column's range: a number past it is refused here, not by PostgreSQL). */
static const char *decimal(const char *p, const char *end, char out[24], uint64_t max)
{
	size_t k = 0;
	uint64_t v = 0;
	while (p + k < end && p[k] >= '0' && p[k] <= '9' && k < 20) {
		uint64_t d = (uint64_t)(p[k] - '0');
		if (v > (max - d) / 10)
			return NULL;
		v = v * 10 + d;
		k++;
	}
	if (k == 0 || (k > 1 && p[0] == '0'))
		return NULL;
	memcpy(out, p, k);
	out[k] = '\0';
	return p + k;
}

int feed_cursor_admin_parse(const char *c, size_t cl, char xid[24], char n[24], struct buf *user)
{
	const char *p = c, *end = c + cl;
	/* xid: an xid8 (unsigned 64 bits); n: a bigint */
	if ((p = decimal(p, end, xid, UINT64_MAX)) == NULL || p == end || *p++ != '.' ||
	    (p = decimal(p, end, n, INT64_MAX)) == NULL || p == end || *p++ != '.')
		return -1;
	if ((end - p) % 2 != 0 || end - p > 2 * 255)
		return -1;
	for (; p < end; p += 2) {
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		buf_putc(user, (char)(hi << 4 | lo));
	}
	return request_text_ok(user->data, user->len) ? 0 : -1;
}
