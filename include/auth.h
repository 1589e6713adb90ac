/* auth.h: bearer token -> user id.
 *
 * Verifies compact JWS tokens: HS256 with a configured secret, and EdDSA,
 * ES256/384/512, RS256, PS256 with the public keys of a JWKS (a file read at
 * start, or a URL fetched on the loop by keyfetch). Checks, in order: token
 * shape, header (alg on the allow-list and never "none", no "crit"), key
 * (by kid; alg must fit it), signature, then claims: exp (required) and nbf
 * with leeway, iss and aud when configured (aud a string or an array), sub
 * non-empty. Every failure names the check that failed; no message ever
 * contains the token or any part of it. Tokens that passed are remembered
 * (by their SHA-256) until exp, so a busy user pays one signature check.
 *
 * Ownership: struct auth owns its key set and its fetcher. The configuration
 * is fixed after auth_setup; only the key set changes, swapped whole by
 * auth_set_keys (a refresh) on the loop thread, between requests, so a
 * verification never sees a half-replaced set. */
#ifndef THREADSTORE_AUTH_H
#define THREADSTORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "buf.h"

#define AUTH_MAX_TOKEN 8192
#define AUTH_MAX_SUB 255

struct auth_cache;
struct config;
struct jwks;
struct keyfetch;

struct auth {
	const unsigned char *secret; /* HS256; NULL when none is configured */
	size_t secret_len;
	long leeway;		  /* seconds of clock skew tolerated on exp/nbf */
	const char *issuer;	  /* required iss, or NULL */
	const char *audience;	  /* required in aud, or NULL */
	unsigned algs;		  /* allow-list: JWKS_ALG_BIT(enum jwks_alg) bits */
	struct jwks *keys;	  /* NULL until a JWKS is loaded */
	struct keyfetch *fetch;	  /* NULL unless the JWKS comes from a URL */
	struct auth_cache *cache; /* verified tokens, or NULL (see auth.c) */
	/* Called when a JWKS fetch ends (new keys or not): requests that waited
	 * for it may be verified again. Set by the server. */
	void (*on_settled)(void *arg);
	void *settled_arg;
};

/* HS256 only, with `secret` (may be NULL: then nothing verifies until keys
 * and algs are set). For dev-token and tests. */
void auth_init(struct auth *a, const char *secret, long leeway);
/* From the configuration: secret, issuer, audience, leeway, allow-list, and
 * the JWKS file if one is configured (read here, before the loop runs).
 * 0, or -1 after logging why. */
int auth_setup(struct auth *a, const struct config *cfg) __attribute__((warn_unused_result));
/* Starts fetching the JWKS URL if one is configured. 0 or -1 (logged). */
int auth_start(struct auth *a, uv_loop_t *loop, const struct config *cfg)
    __attribute__((warn_unused_result));
/* Remembers verified tokens until their exp (auth_setup turns it on). */
void auth_enable_cache(struct auth *a);
void auth_cache_stats(const struct auth *a, unsigned long *hits, unsigned long *misses);
/* Installs a new key set (taking ownership), frees the old one, and forgets
 * the tokens verified so far. */
void auth_set_keys(struct auth *a, struct jwks *keys);
/* Stops the fetcher (its handles close on the loop and free themselves) and
 * frees the keys. Safe to call twice. */
void auth_close(struct auth *a);
/* A JWKS fetch is in flight or about to start (an unknown kid during the
 * cooldown): a token that just failed may verify once it ends. Returns how
 * long to hold such a request at most, or 0 when no fetch is coming. */
unsigned auth_keys_wait_ms(const struct auth *a);

/* Extracts the token from an Authorization header value. 0 or -1 (*why set). */
int auth_bearer(const char *hdr, size_t n, const char **tok, size_t *tok_len, const char **why)
    __attribute__((warn_unused_result));
/* Verifies a token; on success appends the sub claim to `sub` and returns 0.
 * On failure returns -1 and sets *why to a short, token-free reason. A token
 * whose kid is not in the key set asks the fetcher for a refresh (rate
 * limited there) and fails now: the client's retry finds the new key. */
int auth_verify(const struct auth *a, const char *tok, size_t n, time_t now, struct buf *sub,
		const char **why) __attribute__((warn_unused_result));
/* Mints an HS256 token for development and tests. */
void auth_mint(const struct auth *a, const char *sub, time_t now, long ttl, struct buf *out);
/* base64url without padding. Decode returns the length or -1. */
long auth_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz);
void auth_b64url_encode(const unsigned char *in, size_t n, struct buf *out);

#endif
