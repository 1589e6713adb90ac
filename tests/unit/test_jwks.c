/* test_jwks.c: JWKS parsing, key lookup and signature checks with real keys
 * generated here by OpenSSL. */
#include <string.h>

#include "check.h"
#include "jwks.h"
#include "jwt_keys.h"

static struct jwks *parse(const char *doc)
{
	const char *why;
	return jwks_parse(doc, strlen(doc), &why);
}

/* A set of the one JWK given, as text. */
static struct jwks *parse_one(const struct buf *jwk)
{
	struct buf doc = {0};
	buf_printf(&doc, "{\"keys\":[%.*s]}", (int)jwk->len, jwk->data);
	buf_putc(&doc, '\0');
	struct jwks *set = parse(doc.data);
	buf_free(&doc);
	return set;
}

/* Verifies a token made by tk_sign with key k of set. */
static int verify_tok(const struct jwks_key *k, enum jwks_alg alg, const struct buf *tok)
{
	const char *dot2 = tok->data + tok->len;
	while (dot2[-1] != '.')
		dot2--;
	dot2--;
	unsigned char sig[JWKS_MAX_SIG];
	long sl = auth_b64url_decode(dot2 + 1, tok->len - (size_t)(dot2 + 1 - tok->data), sig,
				     sizeof sig);
	if (sl < 0)
		return -1;
	return jwks_verify(k, alg, (const unsigned char *)tok->data, (size_t)(dot2 - tok->data),
			   sig, (size_t)sl);
}

static const struct {
	enum jwks_kind kind;
	enum jwks_alg alg;
} cases[] = {
    {JWKS_ED25519, JWKS_EDDSA}, {JWKS_P256, JWKS_ES256}, {JWKS_P384, JWKS_ES384},
    {JWKS_P521, JWKS_ES512},	{JWKS_RSA, JWKS_RS256},	 {JWKS_RSA, JWKS_PS256},
};

static void test_each_alg(void)
{
	EVP_PKEY *rsa = tk_generate(JWKS_RSA);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum jwks_kind kind = cases[i].kind;
		enum jwks_alg alg = cases[i].alg;
		EVP_PKEY *k = kind == JWKS_RSA ? rsa : tk_generate(kind);
		EVP_PKEY *other = tk_generate(kind == JWKS_RSA ? JWKS_P256 : kind);
		struct buf jwk = {0}, tok = {0}, tok2 = {0};
		tk_jwk(k, kind, "k1", NULL, &jwk);
		struct jwks *set = parse_one(&jwk);
		CHECK(set != NULL && set->n == 1 && set->skipped == 0);
		if (set == NULL)
			continue;
		const struct jwks_key *found = NULL;
		CHECK(jwks_find(set, "k1", 2, alg, &found) == 0 && found == &set->keys[0]);
		CHECK(jwks_find(set, NULL, 0, alg, &found) == 0); /* no kid: the only key */
		CHECK(jwks_find(set, "k2", 2, alg, &found) == -1);
		/* Every other alg is refused for this key. */
		for (int a = 0; a < JWKS_NALGS; a++) {
			bool fits = a == (int)alg ||
				    (kind == JWKS_RSA && (a == JWKS_RS256 || a == JWKS_PS256));
			CHECK(jwks_key_allows(&set->keys[0], (enum jwks_alg)a) == fits);
			if (!fits)
				CHECK(jwks_find(set, "k1", 2, (enum jwks_alg)a, &found) == -2);
		}

		tk_sign(k, alg, "{\"alg\":\"x\"}", "{\"sub\":\"u\"}", &tok);
		CHECK(verify_tok(&set->keys[0], alg, &tok) == 0);
		if (kind == JWKS_RSA) /* RS256 and PS256 signatures are not interchangeable */
			CHECK(verify_tok(&set->keys[0], alg == JWKS_RS256 ? JWKS_PS256 : JWKS_RS256,
					 &tok) < 0);
		/* A different key of the same kind. */
		if (kind != JWKS_RSA) {
			tk_sign(other, alg, "{\"alg\":\"x\"}", "{\"sub\":\"u\"}", &tok2);
			CHECK(verify_tok(&set->keys[0], alg, &tok2) < 0);
		}
		/* One flipped bit in the signed bytes, then in the signature. */
		tok.data[5] ^= 1;
		CHECK(verify_tok(&set->keys[0], alg, &tok) < 0);
		tok.data[5] ^= 1;
		char *last = &tok.data[tok.len - 3];
		*last = *last == 'A' ? 'B' : 'A';
		CHECK(verify_tok(&set->keys[0], alg, &tok) < 0);
		/* A signature one byte short. */
		unsigned char sig[JWKS_MAX_SIG] = {0};
		size_t want = kind == JWKS_RSA	     ? 256
			      : kind == JWKS_ED25519 ? 64
						     : 2 * tk_coord(kind);
		CHECK(jwks_verify(&set->keys[0], alg, (const unsigned char *)"a.b", 3, sig,
				  want - 1) < 0);
		CHECK(jwks_verify(&set->keys[0], alg, (const unsigned char *)"a.b", 3, sig, want) <
		      0);

		jwks_free(set);
		buf_free(&jwk);
		buf_free(&tok);
		buf_free(&tok2);
		if (k != rsa)
			EVP_PKEY_free(k);
		EVP_PKEY_free(other);
	}
	EVP_PKEY_free(rsa);
}

/* A JWK's alg narrows the key to that one alg. */
static void test_jwk_alg(void)
{
	EVP_PKEY *rsa = tk_generate(JWKS_RSA);
	struct buf jwk = {0};
	tk_jwk(rsa, JWKS_RSA, "r", "PS256", &jwk);
	struct jwks *set = parse_one(&jwk);
	const struct jwks_key *k;
	CHECK(set != NULL && jwks_find(set, "r", 1, JWKS_PS256, &k) == 0);
	CHECK(set != NULL && jwks_find(set, "r", 1, JWKS_RS256, &k) == -2);
	jwks_free(set);

	/* An alg that does not fit the key type, or that we do not know: skipped. */
	buf_reset(&jwk);
	tk_jwk(rsa, JWKS_RSA, "r", "ES256", &jwk);
	CHECK(parse_one(&jwk) == NULL);
	buf_reset(&jwk);
	tk_jwk(rsa, JWKS_RSA, "r", "RSA-OAEP", &jwk);
	CHECK(parse_one(&jwk) == NULL);
	buf_reset(&jwk);
	tk_jwk(rsa, JWKS_RSA, "r", "HS256", &jwk);
	CHECK(parse_one(&jwk) == NULL);
	buf_free(&jwk);
	EVP_PKEY_free(rsa);
}

static void test_lookup(void)
{
	EVP_PKEY *a = tk_generate(JWKS_ED25519), *b = tk_generate(JWKS_ED25519);
	EVP_PKEY *c = tk_generate(JWKS_P256);
	struct buf doc = {0};
	buf_puts(&doc, "{\"keys\":[");
	tk_jwk(a, JWKS_ED25519, "a", "EdDSA", &doc);
	buf_putc(&doc, ',');
	tk_jwk(b, JWKS_ED25519, "b", NULL, &doc);
	buf_putc(&doc, ',');
	tk_jwk(c, JWKS_P256, "a", NULL, &doc); /* the same kid on another key type */
	buf_puts(&doc, "]}");
	const char *why;
	struct jwks *set = jwks_parse(doc.data, doc.len, &why);
	CHECK(set != NULL && set->n == 3);
	const struct jwks_key *k = NULL;
	CHECK(jwks_find(set, "a", 1, JWKS_EDDSA, &k) == 0 && k == &set->keys[0]);
	CHECK(jwks_find(set, "a", 1, JWKS_ES256, &k) == 0 && k == &set->keys[2]);
	CHECK(jwks_find(set, "b", 1, JWKS_EDDSA, &k) == 0 && k == &set->keys[1]);
	CHECK(jwks_find(set, "b", 1, JWKS_ES256, &k) == -2);
	CHECK(jwks_find(set, "c", 1, JWKS_EDDSA, &k) == -1);
	CHECK(jwks_find(set, "A", 1, JWKS_EDDSA, &k) == -1); /* kids are case-sensitive */
	/* No kid: ambiguous between two Ed25519 keys, unique for P-256. */
	CHECK(jwks_find(set, NULL, 0, JWKS_EDDSA, &k) == -1);
	CHECK(jwks_find(set, NULL, 0, JWKS_ES256, &k) == 0 && k == &set->keys[2]);
	CHECK(strcmp(set->keys[1].kid, "b") == 0 && set->keys[1].kid_len == 1);
	jwks_free(set);
	buf_free(&doc);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
}

/* Keys we cannot use are skipped and counted; the rest of the set still works. */
static void test_skipped(void)
{
	EVP_PKEY *good = tk_generate(JWKS_ED25519), *ec = tk_generate(JWKS_P256);
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	struct buf doc = {0};
	buf_puts(&doc, "{\"keys\":[");
	tk_jwk(good, JWKS_ED25519, "good", NULL, &doc);
	buf_puts(&doc, ",{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"hmac\"}"
		       ",{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AAAA\",\"kid\":\"ed448\"}"
		       ",{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}"
		       ",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\",\"kid\":\"short\"}"
		       ",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"nox\"}"
		       ",{\"kty\":\"EC\",\"crv\":\"P-256K\",\"x\":\"AA\",\"y\":\"AA\"}"
		       ",{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}"
		       ",{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"
		       ",\"not an object\",42,null");
	/* For encryption, or not for verifying. */
	buf_putc(&doc, ',');
	tk_jwk(good, JWKS_ED25519, "enc", NULL, &doc);
	doc.len--; /* reopen the object */
	buf_puts(&doc, ",\"use\":\"enc\"}");
	buf_putc(&doc, ',');
	tk_jwk(good, JWKS_ED25519, "ops", NULL, &doc);
	doc.len--;
	buf_puts(&doc, ",\"key_ops\":[\"sign\"]}");
	buf_putc(&doc, ',');
	tk_jwk(small, JWKS_RSA, "rsa1024", NULL, &doc);
	/* A P-256 point moved off the curve. */
	buf_putc(&doc, ',');
	struct buf bad = {0};
	tk_jwk(ec, JWKS_P256, "offcurve", NULL, &bad);
	char *y = strstr(bad.data, "\"y\":\"") + 5;
	y[3] = y[3] == 'A' ? 'B' : 'A';
	buf_append(&doc, bad.data, bad.len);
	/* A kid that is not a string, and one that is empty. */
	buf_putc(&doc, ',');
	tk_jwk(good, JWKS_ED25519, NULL, NULL, &doc);
	doc.len--;
	buf_puts(&doc, ",\"kid\":7}");
	buf_putc(&doc, ',');
	tk_jwk(good, JWKS_ED25519, "", NULL, &doc);
	/* With "use":"sig" and "key_ops":["verify"]: usable. */
	buf_putc(&doc, ',');
	tk_jwk(good, JWKS_ED25519, "sig", NULL, &doc);
	doc.len--;
	buf_puts(&doc, ",\"use\":\"sig\",\"key_ops\":[\"verify\"]}");
	buf_puts(&doc, "]}");

	const char *why;
	struct jwks *set = jwks_parse(doc.data, doc.len, &why);
	CHECK(set != NULL && set->n == 2 && set->skipped == 17);
	const struct jwks_key *k;
	CHECK(set != NULL && jwks_find(set, "good", 4, JWKS_EDDSA, &k) == 0);
	CHECK(set != NULL && jwks_find(set, "sig", 3, JWKS_EDDSA, &k) == 0);
	CHECK(set != NULL && jwks_find(set, "offcurve", 8, JWKS_ES256, &k) == -1);
	CHECK(set != NULL && jwks_find(set, "hmac", 4, JWKS_HS256, &k) == -1);
	jwks_free(set);
	buf_free(&doc);
	buf_free(&bad);
	EVP_PKEY_free(good);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(small);
}

static void test_documents(void)
{
	const char *why = NULL;
	CHECK(jwks_parse("", 0, &why) == NULL && why != NULL);
	CHECK(parse("not json") == NULL);
	CHECK(parse("[]") == NULL);
	CHECK(parse("{}") == NULL);
	CHECK(parse("{\"keys\":{}}") == NULL);
	CHECK(parse("{\"keys\":[]}") == NULL);
	CHECK(parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}") == NULL);
	/* A duplicate member is ambiguous: the whole document is refused. */
	CHECK(parse("{\"keys\":[],\"keys\":[]}") == NULL);
}

static void test_alg_names(void)
{
	unsigned set = 0;
	const char *bad;
	size_t bad_len;
	CHECK(jwks_algs_parse("EdDSA,ES256", &set, &bad, &bad_len) == 0 &&
	      set == (JWKS_ALG_BIT(JWKS_EDDSA) | JWKS_ALG_BIT(JWKS_ES256)));
	CHECK(jwks_algs_parse(" RS256 , PS256 ,", &set, &bad, &bad_len) == 0 &&
	      set == (JWKS_ALG_BIT(JWKS_RS256) | JWKS_ALG_BIT(JWKS_PS256)));
	CHECK(jwks_algs_parse("EdDSA,none", &set, &bad, &bad_len) < 0 && bad_len == 4 &&
	      memcmp(bad, "none", 4) == 0);
	CHECK(jwks_algs_parse("eddsa", &set, &bad, &bad_len) < 0); /* names are case-sensitive */
	CHECK(jwks_algs_parse("HS512", &set, &bad, &bad_len) < 0);
	CHECK(jwks_algs_parse("", &set, &bad, &bad_len) == 0 && set == 0);
	CHECK(jwks_alg_parse("none", 4) < 0);
	for (int a = 0; a < JWKS_NALGS; a++) {
		const char *n = jwks_alg_name((enum jwks_alg)a);
		CHECK(jwks_alg_parse(n, strlen(n)) == a);
	}
}

int main(void)
{
	test_each_alg();
	test_jwk_alg();
	test_lookup();
	test_skipped();
	test_documents();
	test_alg_names();
	return check_done();
}
