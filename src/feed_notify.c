/* feed_notify.c: the NOTIFY payload's format; see feed_notify.h. */
#define _GNU_SOURCE /* memrchr */
#include "feed_notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define HEADER '\x1d'
#define RECORD '\x1e'
#define NEXT '\x1f' /* between a batch's payloads */

void feed_notify_token(char out[FEED_NOTIFY_TOKEN + 1])
{
	uint64_t v = 0;
	if (uv_random(NULL, NULL, &v, sizeof v, 0, NULL) != 0) {
		/* no entropy source: the time and the process still tell instances apart */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 40);
	}
	snprintf(out, FEED_NOTIFY_TOKEN + 1, "%016" PRIx64, v);
}

bool feed_notify_everyone(const struct buf *p)
{
	return p->len == 1 && p->data[0] == '*';
}

/* Whether "u\n" is one of the lines of p. */
static bool named(const struct buf *p, const char *u, size_t ul)
{
	for (size_t i = 0; i + ul < p->len;) {
		if (memcmp(p->data + i, u, ul) == 0 && p->data[i + ul] == '\n')
			return true;
		const char *nl = memchr(p->data + i, '\n', p->len - i);
		if (nl == NULL)
			break;
		i = (size_t)(nl - p->data) + 1;
	}
	return false;
}

static void everyone(struct buf *p)
{
	buf_reset(p);
	buf_putc(p, '*');
}

/* Where the batch's last payload starts. */
static size_t last_payload(const struct buf *p)
{
	const char *sep = p->len > 0 ? memrchr(p->data, NEXT, p->len) : NULL;
	return sep != NULL ? (size_t)(sep - p->data) + 1 : 0;
}

/* Whether the batch may take another payload. */
static bool room_for_payload(const struct buf *p)
{
	int count = 1;
	for (const char *q = p->data, *end = p->data + p->len;
	     (q = memchr(q, NEXT, (size_t)(end - q))) != NULL; q++)
		count++;
	return count < FEED_NOTIFY_PAYLOADS;
}

static void header(struct buf *p, const char *token)
{
	buf_putc(p, HEADER);
	buf_puts(p, token);
	buf_putc(p, '\n');
}

void feed_notify_add(struct buf *p, const char *token, const struct feed_notice *e)
{
	const char *u = e->user;
	size_t ul = e->user_len;
	if (feed_notify_everyone(p))
		return; /* everyone catches up already */
	if (memchr(u, '\n', ul) != NULL || memchr(u, NEXT, ul) != NULL ||
	    (ul > 0 && (u[0] == HEADER || u[0] == RECORD))) {
		everyone(p); /* a user id that cannot be a line of it */
		return;
	}
	if (p->len == 0)
		header(p, token);
	size_t start = last_payload(p);
	if (e->has_change && memchr(e->tail, '\n', e->tail_len) == NULL &&
	    memchr(e->tail, NEXT, e->tail_len) == NULL &&
	    memchr(e->kind, ' ', e->kind_len) == NULL) {
		char num[24];
		int nl = snprintf(num, sizeof num, "%" PRId64, e->n);
		size_t need = ul + 2 + (size_t)nl + 1 + e->kind_len + 1 + e->tail_len + 1;
		if (p->len - start + need > FEED_NOTIFY_MAX &&
		    need + FEED_NOTIFY_TOKEN + 2 <= FEED_NOTIFY_MAX && room_for_payload(p)) {
			buf_putc(p, NEXT); /* the next payload of the batch */
			header(p, token);
			start = p->len - FEED_NOTIFY_TOKEN - 2;
		}
		if (p->len - start + need <= FEED_NOTIFY_MAX) {
			buf_append(p, u, ul);
			buf_putc(p, '\n');
			buf_putc(p, RECORD);
			buf_append(p, num, (size_t)nl);
			buf_putc(p, ' ');
			buf_append(p, e->kind, e->kind_len);
			buf_putc(p, ' ');
			buf_append(p, e->tail, e->tail_len);
			buf_putc(p, '\n');
			return;
		}
	}
	if (named(p, u, ul))
		return; /* a user writing often is named once */
	if (p->len - start + ul + 1 > FEED_NOTIFY_MAX) {
		if (!room_for_payload(p)) {
			everyone(p); /* too many users for one batch */
			return;
		}
		buf_putc(p, NEXT);
		header(p, token);
	}
	buf_append(p, u, ul);
	buf_putc(p, '\n');
}

/* "n kind tail" of a record line [p, end): 0, or -1 when it is not one. */
static int record(const char *p, const char *end, struct feed_notice *e)
{
	int64_t n = 0;
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9' && p - s < 18)
		n = n * 10 + (*p++ - '0');
	if (p == s || p == end || *p++ != ' ' || n <= 0)
		return -1;
	const char *k = p;
	while (p < end && *p != ' ')
		p++;
	if (p == k || p == end)
		return -1;
	e->n = n;
	e->kind = k;
	e->kind_len = (size_t)(p - k);
	e->tail = p + 1;
	e->tail_len = (size_t)(end - p - 1);
	e->has_change = e->tail_len > 0;
	return e->has_change ? 0 : -1;
}

int feed_notify_parse(const char *payload, const char *token,
		      void (*fn)(void *owner, const struct feed_notice *e), void *owner)
{
	if (strcmp(payload, "*") == 0)
		return 1;
	const char *p = payload, *nl;
	if (*p == HEADER && (nl = strchr(p, '\n')) != NULL) {
		size_t tl = strlen(token);
		if ((size_t)(nl - p - 1) == tl && memcmp(p + 1, token, tl) == 0)
			return 2; /* ours: this instance delivered it when it committed */
		p = nl + 1;
	}
	while ((nl = strchr(p, '\n')) != NULL) {
		struct feed_notice e = {.user = p, .user_len = (size_t)(nl - p)};
		p = nl + 1;
		const char *end;
		if (*p == RECORD && (end = strchr(p, '\n')) != NULL) {
			if (record(p + 1, end, &e) < 0)
				e.has_change = false; /* not one we read: the user has news */
			p = end + 1;
		}
		fn(owner, &e);
	}
	return 0;
}
