/* The change feed's pure parts: cursors (opaque, checked to be this user's),
 * admin cursors, SSE framing, the NOTIFY payload (feed_notify.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "feed.h"

static void user_cursors(void)
{
	char c[FEED_CURSOR_MAX];
	const char *u = "user-1";
	for (int64_t n = 1; n < 5000; n += 97) {
		int len = feed_cursor(u, strlen(u), n, c);
		CHECK(len > 0 && len < FEED_CURSOR_MAX);
		CHECK(feed_cursor_parse(u, strlen(u), c, (size_t)len) == n);
		/* another user's cursor is not this user's */
		CHECK(feed_cursor_parse("user-2", 6, c, (size_t)len) < 0);
		/* truncated, extended, one character changed: not ours */
		CHECK(feed_cursor_parse(u, strlen(u), c, (size_t)len - 1) < 0);
		char longer[FEED_CURSOR_MAX + 1];
		memcpy(longer, c, (size_t)len);
		longer[len] = '0';
		CHECK(feed_cursor_parse(u, strlen(u), longer, (size_t)len + 1) < 0);
		for (int i = 0; i < len; i++) {
			char bad[FEED_CURSOR_MAX];
			memcpy(bad, c, (size_t)len);
			bad[i] = bad[i] == 'a' ? 'b' : 'a';
			CHECK(feed_cursor_parse(u, strlen(u), bad, (size_t)len) < 0);
		}
	}
	int64_t big = INT64_MAX;
	int len = feed_cursor(u, strlen(u), big, c);
	CHECK(feed_cursor_parse(u, strlen(u), c, (size_t)len) == big);
	const char *garbage[] = {
	    "",		  "-",		 "1",		"1-",
	    "0-00000000", "zz-00000000", "01-00000000", "ffffffffffffffff-00000000",
	    NULL};
	for (const char *const *g = garbage; *g; g++)
		CHECK(feed_cursor_parse(u, strlen(u), *g, strlen(*g)) < 0);
}

static void admin_cursors(void)
{
	struct buf c = {0}, user = {0};
	const char u[] = "us\"er\n\xc3\xa9"; /* any bytes of a sub survive the trip */
	feed_cursor_admin(&c, "12345", u, sizeof u - 1, "7");
	char xid[24], n[24];
	CHECK(feed_cursor_admin_parse(c.data, c.len, xid, n, &user) == 0);
	CHECK(strcmp(xid, "12345") == 0 && strcmp(n, "7") == 0);
	CHECK(user.len == sizeof u - 1 && memcmp(user.data, u, user.len) == 0);
	CHECK(strspn(c.data, "0123456789abcdef.") == c.len); /* safe in a URL as it is */
	const char *bad[] = {"",
			     "1",
			     "1.2",
			     "1.2.x",
			     "1.2.abc",
			     "01.2.",
			     "1.02.",
			     "-1.2.",
			     "1.2.00",
			     "123456789012345678901.2.",
			     "18446744073709551616.1.",
			     "1.9223372036854775808.",
			     NULL};
	for (const char *const *b = bad; *b; b++) {
		buf_reset(&user);
		CHECK(feed_cursor_admin_parse(*b, strlen(*b), xid, n, &user) < 0);
	}
	buf_reset(&user);
	CHECK(feed_cursor_admin_parse("0.0.", 4, xid, n, &user) == 0 && user.len == 0);
	buf_reset(&user);
	CHECK(feed_cursor_admin_parse("18446744073709551615.9223372036854775807.", 41, xid, n,
				      &user) == 0);
	buf_free(&c);
	buf_free(&user);
}

static void sse(void)
{
	struct buf b = {0};
	const char json[] = "{\"a\":\n1}";
	feed_sse_event(&b, "1-abc", "item.added", json, sizeof json - 1);
	buf_putc(&b, '\0');
	/* a newline in the JSON continues on another data: line (SSE joins them) */
	CHECK(strcmp(b.data, "id: 1-abc\nevent: item.added\ndata: {\"a\":\ndata: 1}\n\n") == 0);
	buf_free(&b);
}

/* ---- the NOTIFY payload ---- */

#define MAXSEEN 4000
struct seen {
	int n;
	struct feed_notice e[MAXSEEN];
	char text[MAXSEEN][64];
};

static void collect(void *owner, const struct feed_notice *e)
{
	struct seen *s = owner;
	if (s->n == MAXSEEN)
		return;
	s->e[s->n] = *e;
	snprintf(s->text[s->n], sizeof s->text[0], "%.*s|%lld|%.*s|%.*s", (int)e->user_len, e->user,
		 e->has_change ? (long long)e->n : -1LL, (int)e->kind_len,
		 e->has_change ? e->kind : "", (int)e->tail_len, e->has_change ? e->tail : "");
	s->n++;
}

static struct feed_notice change(const char *u, int64_t n, const char *kind, const char *tail)
{
	return (struct feed_notice){.user = u,
				    .user_len = strlen(u),
				    .has_change = true,
				    .n = n,
				    .kind = kind,
				    .kind_len = strlen(kind),
				    .tail = tail,
				    .tail_len = strlen(tail)};
}

static void notify_payload(void)
{
	char mine[FEED_NOTIFY_TOKEN + 1], other[FEED_NOTIFY_TOKEN + 1];
	feed_notify_token(mine);
	feed_notify_token(other);
	CHECK(strlen(mine) == FEED_NOTIFY_TOKEN && strcmp(mine, other) != 0);
	struct buf p = {0};
	struct feed_notice a = change("u1", 7, "item.added", "\"kind\":\"item.added\"}");
	struct feed_notice plain = {.user = "u2", .user_len = 2};
	feed_notify_add(&p, mine, &a);
	feed_notify_add(&p, mine, &plain);
	feed_notify_add(&p, mine, &plain); /* named once */
	struct feed_notice b = change("u1", 8, "item.saved", "{x y}");
	feed_notify_add(&p, mine, &b);
	buf_putc(&p, '\0');
	struct seen s = {0};
	/* its own sender skips it: it delivered when the write committed */
	CHECK(feed_notify_parse(p.data, mine, collect, &s) == 2 && s.n == 0);
	CHECK(feed_notify_parse(p.data, other, collect, &s) == 0 && s.n == 3);
	CHECK(strcmp(s.text[0], "u1|7|item.added|\"kind\":\"item.added\"}") == 0);
	CHECK(strcmp(s.text[1], "u2|-1||") == 0);
	CHECK(strcmp(s.text[2], "u1|8|item.saved|{x y}") == 0);
	/* an older instance's payload: users only */
	s.n = 0;
	CHECK(feed_notify_parse("u1\nu3\n", mine, collect, &s) == 0 && s.n == 2);
	CHECK(strcmp(s.text[1], "u3|-1||") == 0);
	CHECK(feed_notify_parse("*", mine, collect, &s) == 1);
	/* a record line that is not one: the user has news (fetch), never an event */
	s.n = 0;
	CHECK(feed_notify_parse("\x1d"
				"abc\nu1\n\x1ex7 k t\nu2\n\x1e"
				"5 k\nu3\n\x1e"
				"0 k t\n",
				mine, collect, &s) == 0 &&
	      s.n == 3);
	CHECK(!s.e[0].has_change && !s.e[1].has_change && !s.e[2].has_change);
	/* a user that cannot be a line: everyone */
	buf_reset(&p);
	struct feed_notice nl = {.user = "a\nb", .user_len = 3};
	feed_notify_add(&p, mine, &a);
	feed_notify_add(&p, mine, &nl);
	CHECK(feed_notify_everyone(&p));
	feed_notify_add(&p, mine, &a); /* stays everyone */
	CHECK(feed_notify_everyone(&p));
	buf_reset(&p);
	struct feed_notice rs = change("\x1eu", 1, "k", "t");
	feed_notify_add(&p, mine, &rs);
	CHECK(feed_notify_everyone(&p));
	/* full: more payloads (one statement), then user lines, then everyone;
	 * never one past the limit */
	buf_reset(&p);
	char tail[300];
	memset(tail, 'x', sizeof tail - 1);
	tail[sizeof tail - 1] = '\0';
	static char users[3000][8];
	int changes = 0, plains = 0, i = 0;
	for (; i < 3000 && !feed_notify_everyone(&p); i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		struct feed_notice c = change(users[i], i + 1, "item.added", tail);
		feed_notify_add(&p, mine, &c);
	}
	CHECK(feed_notify_everyone(&p) && i > 32 * 7900 / 320);
	/* the batch just before: 32 payloads, each under the limit, with its header */
	buf_reset(&p);
	for (int k = 0; k < i - 1; k++) {
		struct feed_notice c = change(users[k], k + 1, "item.added", tail);
		feed_notify_add(&p, mine, &c);
	}
	CHECK(!feed_notify_everyone(&p));
	buf_putc(&p, '\0');
	int payloads = 0;
	for (char *q = p.data, *sep; q != NULL; q = sep ? sep + 1 : NULL, payloads++) {
		sep = strchr(q, '\x1f');
		if (sep)
			*sep = '\0';
		CHECK(strlen(q) <= FEED_NOTIFY_MAX && strncmp(q, "\x1d", 1) == 0);
		s.n = 0;
		CHECK(feed_notify_parse(q, mine, collect, &s) == 2); /* each one ours */
		CHECK(feed_notify_parse(q, other, collect, &s) == 0);
		for (int k = 0; k < s.n; k++) {
			CHECK(
			    !(s.e[k].has_change && plains > 0)); /* in order: changes, then users */
			changes += s.e[k].has_change;
			plains += !s.e[k].has_change;
		}
	}
	CHECK(payloads == FEED_NOTIFY_PAYLOADS && changes + plains == i - 1 && plains > 0);
	buf_free(&p);
}

int main(void)
{
	user_cursors();
	admin_cursors();
	sse();
	notify_payload();
	return check_done();
}
