/* jwks.h: JSON Web Key Sets -> OpenSSL public keys, and JWS signature checks.
 *
 * Pure: no I/O, no logging. jwks_parse turns a JWKS document (RFC 7517) into a
 * struct jwks of EVP_PKEYs; keys we cannot use for verifying signatures (other
 * key types or curves, "use" other than "sig", malformed members) are skipped
 * and counted, so one odd key does not take the whole set down. A struct jwks
 * is immutable once parsed and owned by whoever holds the pointer (struct auth
 * swaps in a whole new set on every refresh); jwks_free releases it.
 *
 * Which algorithm goes with which key (RFC 7518, RFC 8037):
 *   EdDSA  OKP Ed25519      ES256  EC P-256      ES384  EC P-384
 *   ES512  EC P-521         RS256, PS256  RSA (2048 to 8192 bits)
 * A JWK's own "alg", when present, narrows that to exactly one. HS256 is in
 * the enum for allow-lists only: no JWK ever verifies an HMAC ("oct" keys are
 * skipped), so a public key can never be used as an HMAC secret. */
#ifndef THREADSTORE_JWKS_H
#define THREADSTORE_JWKS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

enum jwks_alg {
	JWKS_HS256,
	JWKS_EDDSA,
	JWKS_ES256,
	JWKS_ES384,
	JWKS_ES512,
	JWKS_RS256,
	JWKS_PS256,
	JWKS_NALGS
};
#define JWKS_ALG_BIT(a) (1u << (a))
#define JWKS_ALGS_ASYMMETRIC (((1u << JWKS_NALGS) - 1) & ~JWKS_ALG_BIT(JWKS_HS256))

enum jwks_kind { JWKS_ED25519, JWKS_P256, JWKS_P384, JWKS_P521, JWKS_RSA };

#define JWKS_MAX_KEYS 64
#define JWKS_MAX_KID 255
#define JWKS_MAX_SIG 1024 /* an RSA-8192 signature */

struct jwks_key {
	char *kid; /* NUL-terminated; NULL when the JWK has none */
	size_t kid_len;
	enum jwks_kind kind;
	int alg; /* the JWK's "alg" as an enum jwks_alg, or -1: any its kind allows */
	EVP_PKEY *pkey;
};

struct jwks {
	struct jwks_key keys[JWKS_MAX_KEYS];
	size_t n;
	size_t skipped; /* keys in the document that we cannot use */
};

/* An algorithm name ("EdDSA", "ES256", ...) -> enum jwks_alg, or -1. */
int jwks_alg_parse(const char *name, size_t n);
const char *jwks_alg_name(enum jwks_alg a);
/* Parses a comma-separated list of algorithm names into a bit set; -1 if a
 * name is unknown (including "none"), setting *bad to it. */
int jwks_algs_parse(const char *list, unsigned *out, const char **bad, size_t *bad_len)
    __attribute__((warn_unused_result));

/* Parses a JWKS document. NULL (and *why) when it is not a JWKS at all or
 * holds no usable key; a set with n >= 1 otherwise. */
struct jwks *jwks_parse(const char *json, size_t len, const char **why)
    __attribute__((warn_unused_result));
void jwks_free(struct jwks *set);

/* Whether key k may verify alg. */
bool jwks_key_allows(const struct jwks_key *k, enum jwks_alg alg);
/* Finds the key for a token's kid (kid == NULL: the token has none, and the
 * set must hold exactly one key that allows alg). 0 and *out set; -1 when no
 * key has that kid (or, without a kid, none or several fit); -2 when keys
 * with that kid exist but none allows alg. */
int jwks_find(const struct jwks *set, const char *kid, size_t kid_len, enum jwks_alg alg,
	      const struct jwks_key **out) __attribute__((warn_unused_result));
/* Verifies a JWS signature (raw r||s for ECDSA, as JWS encodes it) over msg.
 * 0 when valid, -1 when not (wrong length, malformed, or a mismatch). */
int jwks_verify(const struct jwks_key *k, enum jwks_alg alg, const unsigned char *msg,
		size_t msg_len, const unsigned char *sig, size_t sig_len)
    __attribute__((warn_unused_result));

#endif
