#include <string.h>

#include "auth.h"
#include "check.h"

static int verify(const struct auth *a, const char *tok, time_t now, const char **why)
{
	struct buf sub = {0};
	int rc = auth_verify(a, tok, strlen(tok), now, &sub, why);
	buf_free(&sub);
	return rc;
}

int main(void)
{
	struct auth a, other;
	auth_init(&a, "0123456789abcdef-secret", 10);
	auth_init(&other, "another-secret-of-length", 10);
	const time_t now = 1750000000;
	const char *why;

	struct buf tok = {0};
	auth_mint(&a, "user-1", now, 60, &tok);
	buf_putc(&tok, '\0');
	struct buf sub = {0};
	CHECK(auth_verify(&a, tok.data, tok.len - 1, now, &sub, &why) == 0 && sub.len == 6 &&
	      memcmp(sub.data, "user-1", 6) == 0);
	buf_free(&sub);
	CHECK(verify(&other, tok.data, now, &why) < 0 && strstr(why, "signature"));
	CHECK(verify(&a, tok.data, now + 3600, &why) < 0 && strstr(why, "expired"));
	CHECK(verify(&a, tok.data, now + 65, &why) == 0); /* within leeway */

	/* tamper with one payload character */
	char *dot = strchr(tok.data, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	CHECK(verify(&a, tok.data, now, &why) < 0);
	buf_free(&tok);

	/* alg none, and garbage */
	CHECK(verify(&a, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.", now, &why) <
	      0);
	CHECK(verify(&a, "a.b", now, &why) < 0);
	CHECK(verify(&a, "a.b.c.d", now, &why) < 0);
	CHECK(verify(&a, "!!!.@@@.###", now, &why) < 0);

	const char *t;
	size_t tl;
	CHECK(auth_bearer("Bearer abc", 10, &t, &tl, &why) == 0 && tl == 3);
	CHECK(auth_bearer("bearer   abc  ", 14, &t, &tl, &why) == 0 && tl == 3);
	CHECK(auth_bearer("Basic abc", 9, &t, &tl, &why) < 0);
	CHECK(auth_bearer("Bearer ", 7, &t, &tl, &why) < 0);
	CHECK(auth_bearer("", 0, &t, &tl, &why) < 0);

	unsigned char out[16];
	CHECK(auth_b64url_decode("aGk", 3, out, sizeof out) == 2 && memcmp(out, "hi", 2) == 0);
	CHECK(auth_b64url_decode("aGk=", 4, out, sizeof out) < 0);
	CHECK(auth_b64url_decode("aGl", 3, out, sizeof out) < 0); /* non-canonical */
	CHECK(auth_b64url_decode("a", 1, out, sizeof out) < 0);
	return check_done();
}
