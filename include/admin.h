/* admin.h: the operator credential of the /admin paths (--admin-token-file).
 *
 * The file holds one token a line (blank lines and a trailing CR ignored),
 * read once at start. Without a file the /admin paths do not exist (404).
 * A request's token is compared with every configured one in constant time
 * (SHA-256 of each, compared with CRYPTO_memcmp, no early exit), so neither
 * the bytes nor the length of a token leak through timing. Tokens are never
 * logged; only their digests are kept. */
#ifndef THREADSTORE_ADMIN_H
#define THREADSTORE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#define ADMIN_MAX_TOKENS 64

struct admin {
	bool enabled; /* a token file was configured */
	int ntokens;
	unsigned char digest[ADMIN_MAX_TOKENS][32];
};

enum admin_auth {
	ADMIN_OK = 0,
	ADMIN_MISSING = -1, /* no bearer token: 401 */
	ADMIN_WRONG = -2,   /* a token, not one of ours: 403 */
};

/* Reads the token file (path NULL: admin disabled). Returns 0, or -1 after a
 * log line (unreadable, empty, too many tokens, a token over 4096 bytes). */
int admin_load(struct admin *a, const char *path) __attribute__((warn_unused_result));
/* Checks an Authorization header value ("Bearer <token>"). */
enum admin_auth admin_check(const struct admin *a, const char *authz, size_t n);
/* Whether a path is under /admin (404 when admin is disabled). */
bool admin_path(const char *path, size_t n);

#endif
