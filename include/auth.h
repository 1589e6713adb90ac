/* auth.h: bearer token -> user id.
 *
 * Verifies compact JWS tokens (HS256 with a configured secret) and their
 * claims: exp (required), nbf (optional), sub (required, non-empty). Every
 * failure names the check that failed; no message ever contains the token.
 * The struct auth is immutable after auth_init and may be shared. */
#ifndef THREADSTORE_AUTH_H
#define THREADSTORE_AUTH_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define AUTH_MAX_TOKEN 8192
#define AUTH_MAX_SUB 255

struct auth {
	const unsigned char *secret;
	size_t secret_len;
	long leeway; /* seconds of clock skew tolerated on exp/nbf */
};

void auth_init(struct auth *a, const char *secret, long leeway);
/* Extracts the token from an Authorization header value. 0 or -1 (*why set). */
int auth_bearer(const char *hdr, size_t n, const char **tok, size_t *tok_len, const char **why)
    __attribute__((warn_unused_result));
/* Verifies a token; on success appends the sub claim to `sub` and returns 0.
 * On failure returns -1 and sets *why to a short, token-free reason. */
int auth_verify(const struct auth *a, const char *tok, size_t n, time_t now, struct buf *sub,
		const char **why) __attribute__((warn_unused_result));
/* Mints an HS256 token for development and tests. */
void auth_mint(const struct auth *a, const char *sub, time_t now, long ttl, struct buf *out);
/* base64url without padding. Decode returns the length or -1. */
long auth_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz);
void auth_b64url_encode(const unsigned char *in, size_t n, struct buf *out);

#endif
