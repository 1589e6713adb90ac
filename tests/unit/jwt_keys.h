/* jwt_keys.h: test-only helpers: real keys generated with OpenSSL, their JWKs,
 * and tokens signed with them (the signing side, which threadstore never
 * does). Shared by test_auth.c, test_jwks.c and bench/bench_verify.c. */
#ifndef THREADSTORE_TEST_JWT_KEYS_H
#define THREADSTORE_TEST_JWT_KEYS_H

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "jwks.h"

static inline EVP_PKEY *tk_generate(enum jwks_kind kind)
{
	EVP_PKEY *k = NULL;
	switch (kind) {
	case JWKS_ED25519: k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
	case JWKS_P256: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
	case JWKS_P384: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
	case JWKS_P521: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"); break;
	case JWKS_RSA: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
	}
	if (k == NULL)
		abort();
	return k;
}

static inline size_t tk_coord(enum jwks_kind kind)
{
	return kind == JWKS_P256 ? 32 : kind == JWKS_P384 ? 48 : 66;
}

static inline void tk_put_b64(struct buf *out, const char *name, const unsigned char *p, size_t n)
{
	buf_printf(out, ",\"%s\":\"", name);
	auth_b64url_encode(p, n, out);
	buf_putc(out, '"');
}

static inline void tk_put_bn(struct buf *out, const char *name, EVP_PKEY *k, const char *param,
			     int pad)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
		abort();
	unsigned char b[1100];
	int n = pad ? BN_bn2binpad(bn, b, pad) : BN_bn2bin(bn, b);
	BN_free(bn);
	tk_put_b64(out, name, b, (size_t)n);
}

/* Appends the public JWK of k; kid and alg may be NULL (left out). */
static inline void tk_jwk(EVP_PKEY *k, enum jwks_kind kind, const char *kid, const char *alg,
			  struct buf *out)
{
	static const char *crv[] = {"Ed25519", "P-256", "P-384", "P-521", NULL};
	if (kind == JWKS_ED25519) {
		unsigned char x[32];
		size_t n = sizeof x;
		if (EVP_PKEY_get_raw_public_key(k, x, &n) != 1)
			abort();
		buf_printf(out, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"");
		tk_put_b64(out, "x", x, n);
	} else if (kind == JWKS_RSA) {
		buf_printf(out, "{\"kty\":\"RSA\"");
		tk_put_bn(out, "n", k, OSSL_PKEY_PARAM_RSA_N, 0);
		tk_put_bn(out, "e", k, OSSL_PKEY_PARAM_RSA_E, 0);
	} else {
		buf_printf(out, "{\"kty\":\"EC\",\"crv\":\"%s\"", crv[kind]);
		tk_put_bn(out, "x", k, OSSL_PKEY_PARAM_EC_PUB_X, (int)tk_coord(kind));
		tk_put_bn(out, "y", k, OSSL_PKEY_PARAM_EC_PUB_Y, (int)tk_coord(kind));
	}
	if (kid)
		buf_printf(out, ",\"kid\":\"%s\"", kid);
	if (alg)
		buf_printf(out, ",\"alg\":\"%s\"", alg);
	buf_putc(out, '}');
}

/* Signs header.payload (both JSON texts) with k as alg; appends the token. */
static inline void tk_sign(EVP_PKEY *k, enum jwks_alg alg, const char *header, const char *payload,
			   struct buf *out)
{
	static const char *md[] = {"SHA256", NULL,     "SHA256", "SHA384",
				   "SHA512", "SHA256", "SHA256"};
	size_t start = out->len;
	auth_b64url_encode((const unsigned char *)header, strlen(header), out);
	buf_putc(out, '.');
	auth_b64url_encode((const unsigned char *)payload, strlen(payload), out);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	if (EVP_DigestSignInit_ex(ctx, &pctx, md[alg], NULL, NULL, k, NULL) != 1)
		abort();
	if (alg == JWKS_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1))
		abort();
	unsigned char sig[1100];
	size_t sl = sizeof sig;
	if (EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)out->data + start,
			   out->len - start) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	if (alg == JWKS_ES256 || alg == JWKS_ES384 || alg == JWKS_ES512) {
		size_t c = alg == JWKS_ES256 ? 32 : alg == JWKS_ES384 ? 48 : 66;
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
		if (es == NULL)
			abort();
		unsigned char raw[132];
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)c);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + c, (int)c);
		ECDSA_SIG_free(es);
		memcpy(sig, raw, 2 * c);
		sl = 2 * c;
	}
	buf_putc(out, '.');
	auth_b64url_encode(sig, sl, out);
}

#endif
