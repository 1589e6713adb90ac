/* bench_verify.c: what one auth_verify costs per algorithm, on one core, for a
 * Better Auth-shaped token; and, for comparison, a hit in the cache of
 * verified tokens (auth.c).
 *
 *   build/bench_verify [iterations]          (default 20000 per alg) */
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "jwks.h"
#include "jwt_keys.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char claims[] =
    "{\"iat\":1750000000,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
    "\"emailVerified\":true,\"image\":null,\"createdAt\":\"2025-06-01T12:00:00.000Z\","
    "\"updatedAt\":\"2025-06-01T12:00:00.000Z\",\"id\":\"3cF1lQyXrRkq0mB2hZp7sVt9\","
    "\"sub\":\"3cF1lQyXrRkq0mB2hZp7sVt9\",\"exp\":1750000900,"
    "\"iss\":\"https://auth.example.com\",\"aud\":\"https://auth.example.com\"}";

static void report(const char *name, double secs, long n, size_t toklen)
{
	double us = secs / (double)n * 1e6;
	printf("%-8s %8.2f us/verify %10.0f verifies/s  (token %zu bytes)\n", name, us, 1e6 / us,
	       toklen);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	const time_t t = 1750000100;
	static const struct {
		enum jwks_kind kind;
		enum jwks_alg alg;
	} specs[] = {
	    {JWKS_ED25519, JWKS_EDDSA}, {JWKS_P256, JWKS_ES256}, {JWKS_P384, JWKS_ES384},
	    {JWKS_P521, JWKS_ES512},	{JWKS_RSA, JWKS_RS256},	 {JWKS_RSA, JWKS_PS256},
	};
	struct buf tok = {0}, sub = {0};
	const char *why;

	struct auth hs;
	auth_init(&hs, "0123456789abcdef-secret-0123456789abcdef", 10);
	{
		/* An HS256 token with the same claims (auth_mint's claims are smaller). */
		const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
		auth_b64url_encode((const unsigned char *)hdr, strlen(hdr), &tok);
		buf_putc(&tok, '.');
		auth_b64url_encode((const unsigned char *)claims, sizeof claims - 1, &tok);
		unsigned char mac[32];
		unsigned ml;
		HMAC(EVP_sha256(), hs.secret, (int)hs.secret_len, (const unsigned char *)tok.data,
		     tok.len, mac, &ml);
		buf_putc(&tok, '.');
		auth_b64url_encode(mac, ml, &tok);
	}
	double t0 = now_s();
	for (long i = 0; i < iters; i++) {
		buf_reset(&sub);
		if (auth_verify(&hs, tok.data, tok.len, t, &sub, &why) != 0) {
			fprintf(stderr, "HS256: %s\n", why);
			return 1;
		}
	}
	report("HS256", now_s() - t0, iters, tok.len);

	for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
		EVP_PKEY *k = tk_generate(specs[s].kind);
		struct buf doc = {0};
		buf_puts(&doc, "{\"keys\":[");
		tk_jwk(k, specs[s].kind, "kid-1", NULL, &doc);
		buf_puts(&doc, "]}");
		struct auth a;
		auth_init(&a, NULL, 10);
		a.algs = JWKS_ALGS_ASYMMETRIC;
		a.issuer = a.audience = "https://auth.example.com";
		auth_set_keys(&a, jwks_parse(doc.data, doc.len, &why));
		char hdr[64];
		snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"kid-1\"}",
			 jwks_alg_name(specs[s].alg));
		buf_reset(&tok);
		tk_sign(k, specs[s].alg, hdr, claims, &tok);
		long n = specs[s].kind == JWKS_P521 ? iters / 4 : iters;
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			buf_reset(&sub);
			if (auth_verify(&a, tok.data, tok.len, t, &sub, &why) != 0) {
				fprintf(stderr, "%s: %s\n", jwks_alg_name(specs[s].alg), why);
				return 1;
			}
		}
		report(jwks_alg_name(specs[s].alg), now_s() - t0, n, tok.len);
		if (specs[s].alg == JWKS_EDDSA) { /* the same token again and again: cache hits */
			auth_enable_cache(&a);
			t0 = now_s();
			for (long i = 0; i < iters * 10; i++) {
				buf_reset(&sub);
				if (auth_verify(&a, tok.data, tok.len, t, &sub, &why) != 0)
					return 1;
			}
			report("cached", now_s() - t0, iters * 10, tok.len);
		}
		auth_close(&a);
		buf_free(&doc);
		EVP_PKEY_free(k);
	}

	buf_free(&tok);
	buf_free(&sub);
	return 0;
}
