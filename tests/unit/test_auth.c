#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "check.h"
#include "jwks.h"
#include "jwt_keys.h"

static int verify(const struct auth *a, const char *tok, time_t now, const char **why)
{
	struct buf sub = {0};
	int rc = auth_verify(a, tok, strlen(tok), now, &sub, why);
	buf_free(&sub);
	return rc;
}

/* verify() that also wants a particular reason. */
static bool fails_with(const struct auth *a, const char *tok, time_t now, const char *reason)
{
	const char *why = "";
	if (verify(a, tok, now, &why) == 0) {
		fprintf(stderr, "  accepted, expected: %s\n", reason);
		return false;
	}
	if (strstr(why, reason) == NULL) {
		fprintf(stderr, "  failed with '%s', expected '%s'\n", why, reason);
		return false;
	}
	return true;
}

/* A signed token with the given header and claims texts, NUL-terminated. */
static void sign(EVP_PKEY *k, enum jwks_alg alg, const char *header, const char *claims,
		 struct buf *out)
{
	buf_reset(out);
	tk_sign(k, alg, header, claims, out);
	buf_putc(out, '\0');
}

/* An unsigned "header.payload." from JSON texts, plus a signature given as text. */
static void forge(const char *header, const char *claims, const char *sig, struct buf *out)
{
	buf_reset(out);
	auth_b64url_encode((const unsigned char *)header, strlen(header), out);
	buf_putc(out, '.');
	auth_b64url_encode((const unsigned char *)claims, strlen(claims), out);
	buf_putc(out, '.');
	buf_puts(out, sig);
	buf_putc(out, '\0');
}

static void hs256(const char *secret, size_t secret_len, const char *header, const char *claims,
		  struct buf *out)
{
	buf_reset(out);
	auth_b64url_encode((const unsigned char *)header, strlen(header), out);
	buf_putc(out, '.');
	auth_b64url_encode((const unsigned char *)claims, strlen(claims), out);
	unsigned char mac[32];
	unsigned ml = 0;
	HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)out->data, out->len, mac,
	     &ml);
	buf_putc(out, '.');
	auth_b64url_encode(mac, ml, out);
	buf_putc(out, '\0');
}

static const struct {
	enum jwks_kind kind;
	enum jwks_alg alg;
	const char *kid;
} keyspecs[] = {
    {JWKS_ED25519, JWKS_EDDSA, "ed"}, {JWKS_P256, JWKS_ES256, "p256"},
    {JWKS_P384, JWKS_ES384, "p384"},  {JWKS_P521, JWKS_ES512, "p521"},
    {JWKS_RSA, JWKS_RS256, "rsa"},    {JWKS_RSA, JWKS_PS256, "rsa"},
};
#define NSPECS (sizeof keyspecs / sizeof keyspecs[0])

/* Public-key tokens end to end: every alg, then each check that can fail. */
static void test_public_keys(void)
{
	const time_t now = 1750000000;
	EVP_PKEY *keys[NSPECS];
	struct buf doc = {0}, tok = {0}, hdr = {0}, claims = {0};
	buf_puts(&doc, "{\"keys\":[");
	for (size_t i = 0; i < NSPECS; i++) {
		keys[i] = i > 0 && keyspecs[i].kind == keyspecs[i - 1].kind
			      ? keys[i - 1]
			      : tk_generate(keyspecs[i].kind);
		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		if (i > 0)
			buf_putc(&doc, ',');
		tk_jwk(keys[i], keyspecs[i].kind, keyspecs[i].kid, NULL, &doc);
	}
	buf_puts(&doc, "]}");
	const char *why;
	struct jwks *set = jwks_parse(doc.data, doc.len, &why);
	CHECK(set != NULL && set->n == 5);

	struct auth a;
	auth_init(&a, NULL, 10);
	a.algs = JWKS_ALGS_ASYMMETRIC;
	a.issuer = "https://auth.example.com";
	a.audience = "https://auth.example.com";
	auth_set_keys(&a, set);

	const char *good =
	    "{\"sub\":\"user-1\",\"iat\":1750000000,\"exp\":1750000900,"
	    "\"iss\":\"https://auth.example.com\",\"aud\":\"https://auth.example.com\","
	    "\"email\":\"u@example.com\"}";
	for (size_t i = 0; i < NSPECS; i++) {
		buf_reset(&hdr);
		buf_printf(&hdr, "{\"alg\":\"%s\",\"kid\":\"%s\"}", jwks_alg_name(keyspecs[i].alg),
			   keyspecs[i].kid);
		buf_putc(&hdr, '\0');
		sign(keys[i], keyspecs[i].alg, hdr.data, good, &tok);
		struct buf sub = {0};
		CHECK(auth_verify(&a, tok.data, tok.len - 1, now, &sub, &why) == 0 &&
		      sub.len == 6 && memcmp(sub.data, "user-1", 6) == 0);
		buf_free(&sub);
		/* The allow-list: the same token without its alg on the list. */
		unsigned saved = a.algs;
		a.algs &= ~JWKS_ALG_BIT(keyspecs[i].alg);
		CHECK(fails_with(&a, tok.data, now, "alg is not accepted"));
		a.algs = saved;
		/* A tampered payload (sub changed), then a tampered signature. */
		char *p = strchr(tok.data, '.') + 1;
		p[4] ^= 1;
		CHECK(fails_with(&a, tok.data, now, "signature is invalid"));
		p[4] ^= 1;
		tok.data[tok.len - 3] = tok.data[tok.len - 3] == 'A' ? 'B' : 'A';
		CHECK(fails_with(&a, tok.data, now, "signature is invalid"));
		/* Truncated: the last signature characters, or the signature, cut off. */
		tok.data[tok.len - 5] = '\0';
		CHECK(verify(&a, tok.data, now, &why) < 0);
		*strrchr(tok.data, '.') = '\0';
		CHECK(fails_with(&a, tok.data, now, "not a compact JWS"));
		/* Signed by a key of the same kind that is not in the set. */
		EVP_PKEY *stranger = tk_generate(keyspecs[i].kind);
		sign(stranger, keyspecs[i].alg, hdr.data, good, &tok);
		CHECK(fails_with(&a, tok.data, now, "signature is invalid"));
		EVP_PKEY_free(stranger);
	}

	/* Claims, with an Ed25519 token. */
	const char *ed = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
	static const struct {
		const char *claims, *reason;
	} bad[] = {
	    {"{\"sub\":\"u\",\"exp\":1749999980,\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://auth.example.com\"}",
	     "expired"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"nbf\":1750000011,"
	     "\"iss\":\"https://auth.example.com\",\"aud\":\"https://auth.example.com\"}",
	     "not valid yet"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"iss\":\"https://evil.example.com\","
	     "\"aud\":\"https://auth.example.com\"}",
	     "iss claim"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"aud\":\"https://auth.example.com\"}",
	     "iss claim"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://other.example.com\"}",
	     "aud claim"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"iss\":\"https://auth.example.com\","
	     "\"aud\":[\"a\",\"b\"]}",
	     "aud claim"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"iss\":\"https://auth.example.com\"}",
	     "aud claim"},
	    {"{\"sub\":\"u\",\"exp\":1750000900,\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://auth.example.com/\"}",
	     "aud claim"},
	    {"{\"sub\":\"\",\"exp\":1750000900,\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://auth.example.com\"}",
	     "no sub"},
	    {"{\"exp\":1750000900,\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://auth.example.com\"}",
	     "no sub"},
	    {"{\"sub\":\"u\",\"iss\":\"https://auth.example.com\","
	     "\"aud\":\"https://auth.example.com\"}",
	     "no exp"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sign(keys[0], JWKS_EDDSA, ed, bad[i].claims, &tok);
		CHECK(fails_with(&a, tok.data, now, bad[i].reason));
	}
	/* Within the leeway on both ends, and aud as an array. */
	sign(keys[0], JWKS_EDDSA, ed,
	     "{\"sub\":\"u\",\"exp\":1749999991,\"nbf\":1750000009,"
	     "\"iss\":\"https://auth.example.com\",\"aud\":[\"x\",\"https://auth.example.com\"]}",
	     &tok);
	CHECK(verify(&a, tok.data, now, &why) == 0);

	/* Headers. */
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"nobody\"}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "kid is not in the key set"));
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"EdDSA\"}", good, &tok); /* no kid: one Ed25519 key */
	CHECK(verify(&a, tok.data, now, &why) == 0);
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"crit\":[\"exp\"]}", good,
	     &tok);
	CHECK(fails_with(&a, tok.data, now, "crit"));
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":7}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "kid is not a string"));
	sign(keys[0], JWKS_EDDSA, "{\"kid\":\"ed\"}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "no alg"));
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\",\"kid\":\"ed\"}", good,
	     &tok);
	CHECK(fails_with(&a, tok.data, now, "header is not base64url JSON"));
	/* alg must match the key the kid names: an ES256 token naming the Ed25519 key. */
	sign(keys[1], JWKS_ES256, "{\"alg\":\"ES256\",\"kid\":\"ed\"}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "alg does not match its key"));
	/* An Ed25519 signature presented as ES256 under the P-256 key's kid. */
	sign(keys[0], JWKS_EDDSA, "{\"alg\":\"ES256\",\"kid\":\"p256\"}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "signature is invalid"));

	/* alg none, with and without a signature. */
	forge("{\"alg\":\"none\"}", good, "", &tok);
	CHECK(fails_with(&a, tok.data, now, "alg is not accepted"));
	forge("{\"alg\":\"none\",\"kid\":\"ed\"}", good, "AAAA", &tok);
	CHECK(fails_with(&a, tok.data, now, "alg is not accepted"));
	forge("{\"alg\":\"None\",\"kid\":\"ed\"}", good, "AAAA", &tok);
	CHECK(fails_with(&a, tok.data, now, "alg is not accepted"));
	/* HS256 made with the public key as the secret: no secret is configured, so HS256 is
	 * not on the list; with a secret configured it is checked against the secret only. */
	const char *jwk0 = doc.data + strlen("{\"keys\":[");
	const char *jwk0_end = strchr(jwk0, '}') + 1;
	hs256(jwk0, (size_t)(jwk0_end - jwk0), "{\"alg\":\"HS256\",\"kid\":\"ed\"}", good, &tok);
	CHECK(fails_with(&a, tok.data, now, "alg is not accepted"));
	a.secret = (const unsigned char *)"0123456789abcdef-secret";
	a.secret_len = strlen((const char *)a.secret);
	a.algs |= JWKS_ALG_BIT(JWKS_HS256);
	CHECK(fails_with(&a, tok.data, now, "signature is invalid"));
	hs256((const char *)a.secret, a.secret_len, "{\"alg\":\"HS256\"}", good, &tok);
	CHECK(verify(&a, tok.data, now, &why) == 0);

	/* Malformed encodings. */
	sign(keys[0], JWKS_EDDSA, ed, good, &tok);
	char *sig = strrchr(tok.data, '.') + 1;
	sig[2] = '+'; /* base64, not base64url */
	CHECK(fails_with(&a, tok.data, now, "signature is missing or not base64url"));
	forge(ed, good, "AAAA", &tok);
	tok.data[3] = '!';
	CHECK(fails_with(&a, tok.data, now, "header is not base64url JSON"));
	sign(keys[0], JWKS_EDDSA, ed, "[1,2]", &tok);
	CHECK(fails_with(&a, tok.data, now, "payload is not base64url JSON"));
	sign(keys[0], JWKS_EDDSA, ed, "not json", &tok);
	CHECK(fails_with(&a, tok.data, now, "payload is not base64url JSON"));
	/* Too long: rejected before any decoding. */
	buf_reset(&tok);
	sign(keys[0], JWKS_EDDSA, ed, good, &tok);
	tok.len--;
	while (tok.len <= AUTH_MAX_TOKEN)
		buf_putc(&tok, 'A');
	buf_putc(&tok, '\0');
	CHECK(fails_with(&a, tok.data, now, "too long"));

	/* No keys loaded (a JWKS URL not fetched yet). */
	auth_set_keys(&a, NULL);
	sign(keys[0], JWKS_EDDSA, ed, good, &tok);
	CHECK(fails_with(&a, tok.data, now, "no signing keys are loaded"));

	auth_close(&a);
	for (size_t i = 0; i < NSPECS; i++)
		if (i == 0 || keys[i] != keys[i - 1])
			EVP_PKEY_free(keys[i]);
	buf_free(&doc);
	buf_free(&tok);
	buf_free(&hdr);
	buf_free(&claims);
}

/* The verified-token cache: a hit needs the same bytes, an unexpired exp and the same
 * key set; it never turns a failure into a success. */
static void test_cache(void)
{
	const time_t now = 1750000000;
	EVP_PKEY *k = tk_generate(JWKS_ED25519), *k2 = tk_generate(JWKS_ED25519);
	struct buf doc = {0}, tok = {0}, sub = {0};
	buf_puts(&doc, "{\"keys\":[");
	tk_jwk(k, JWKS_ED25519, "a", NULL, &doc);
	buf_puts(&doc, "]}");
	const char *why;
	struct auth a;
	auth_init(&a, NULL, 10);
	a.algs = JWKS_ALGS_ASYMMETRIC;
	auth_enable_cache(&a);
	auth_set_keys(&a, jwks_parse(doc.data, doc.len, &why));
	unsigned long hits, misses;

	sign(k, JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"a\"}",
	     "{\"sub\":\"user-1\",\"exp\":1750000060}", &tok);
	buf_puts(&sub, "x:"); /* auth_verify appends, hit or miss */
	CHECK(auth_verify(&a, tok.data, tok.len - 1, now, &sub, &why) == 0);
	CHECK(auth_verify(&a, tok.data, tok.len - 1, now + 30, &sub, &why) == 0);
	CHECK(sub.len == 14 && memcmp(sub.data, "x:user-1user-1", 14) == 0);
	auth_cache_stats(&a, &hits, &misses);
	CHECK(hits == 1 && misses == 1);
	/* Past exp + leeway, the cached entry does not count: the full check says why. */
	CHECK(fails_with(&a, tok.data, now + 71, "expired"));
	CHECK(verify(&a, tok.data, now + 70, &why) == 0);
	auth_cache_stats(&a, &hits, &misses);
	CHECK(hits == 2 && misses == 2);
	/* One byte more or less is another token. */
	CHECK(auth_verify(&a, tok.data, tok.len - 2, now, &sub, &why) < 0);
	/* A new key set (the key was rotated out): the cached token fails at once. */
	buf_reset(&doc);
	buf_puts(&doc, "{\"keys\":[");
	tk_jwk(k2, JWKS_ED25519, "b", NULL, &doc);
	buf_puts(&doc, "]}");
	auth_set_keys(&a, jwks_parse(doc.data, doc.len, &why));
	CHECK(fails_with(&a, tok.data, now, "kid is not in the key set"));
	/* A sub longer than a cache entry holds still verifies, every time in full. */
	char claims[400];
	snprintf(claims, sizeof claims, "{\"sub\":\"%0200d\",\"exp\":1750000060}", 7);
	sign(k2, JWKS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"b\"}", claims, &tok);
	auth_cache_stats(&a, &hits, &misses);
	CHECK(verify(&a, tok.data, now, &why) == 0 && verify(&a, tok.data, now, &why) == 0);
	unsigned long hits2;
	auth_cache_stats(&a, &hits2, &misses);
	CHECK(hits2 == hits);

	auth_close(&a);
	buf_free(&doc);
	buf_free(&tok);
	buf_free(&sub);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
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

	test_public_keys();
	test_cache();
	return check_done();
}
