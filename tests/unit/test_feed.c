/* The change feed's pure parts: cursors (opaque, checked to be this user's),
 * admin cursors, SSE framing. */
#include <stdint.h>
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
	feed_admin_cursor(&c, "12345", u, sizeof u - 1, "7");
	char xid[24], n[24];
	CHECK(feed_admin_cursor_parse(c.data, c.len, xid, n, &user) == 0);
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
		CHECK(feed_admin_cursor_parse(*b, strlen(*b), xid, n, &user) < 0);
	}
	buf_reset(&user);
	CHECK(feed_admin_cursor_parse("0.0.", 4, xid, n, &user) == 0 && user.len == 0);
	buf_reset(&user);
	CHECK(feed_admin_cursor_parse("18446744073709551615.9223372036854775807.", 41, xid, n,
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

int main(void)
{
	user_cursors();
	admin_cursors();
	sse();
	return check_done();
}
