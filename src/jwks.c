/* jwks.c: JWK -> EVP_PKEY (OpenSSL 3 providers API), and JWS signature checks
 * with EVP_DigestVerify. No cryptography is done here by hand: this file only
 * moves bytes between the JOSE encodings and OpenSSL's. */
#include "jwks.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h" /* the base64url helpers */

static const struct {
	const char *name;
	const char *md; /* digest for EVP_DigestVerifyInit_ex; NULL for EdDSA */
} algs[JWKS_NALGS] = {
    [JWKS_HS256] = {"HS256", "SHA256"}, [JWKS_EDDSA] = {"EdDSA", NULL},
    [JWKS_ES256] = {"ES256", "SHA256"}, [JWKS_ES384] = {"ES384", "SHA384"},
    [JWKS_ES512] = {"ES512", "SHA512"}, [JWKS_RS256] = {"RS256", "SHA256"},
    [JWKS_PS256] = {"PS256", "SHA256"},
};

/* Per key kind: what JWK says, what OpenSSL calls it, what it may verify. */
static const struct {
	const char *kty, *crv, *group;
	size_t coord; /* bytes of x (and y) */
	unsigned algs;
} kinds[] = {
    [JWKS_ED25519] = {"OKP", "Ed25519", NULL, 32, JWKS_ALG_BIT(JWKS_EDDSA)},
    [JWKS_P256] = {"EC", "P-256", "P-256", 32, JWKS_ALG_BIT(JWKS_ES256)},
    [JWKS_P384] = {"EC", "P-384", "P-384", 48, JWKS_ALG_BIT(JWKS_ES384)},
    [JWKS_P521] = {"EC", "P-521", "P-521", 66, JWKS_ALG_BIT(JWKS_ES512)},
    [JWKS_RSA] = {"RSA", NULL, NULL, 0, JWKS_ALG_BIT(JWKS_RS256) | JWKS_ALG_BIT(JWKS_PS256)},
};

#define RSA_MIN_BITS 2048 /* shorter keys are refused */
#define RSA_MAX_BYTES (JWKS_MAX_SIG)

int jwks_alg_parse(const char *name, size_t n)
{
	for (int i = 0; i < JWKS_NALGS; i++)
		if (strlen(algs[i].name) == n && memcmp(algs[i].name, name, n) == 0)
			return i;
	return -1;
}

const char *jwks_alg_name(enum jwks_alg a)
{
	return (unsigned)a < JWKS_NALGS ? algs[a].name : "?";
}

int jwks_algs_parse(const char *list, unsigned *out, const char **bad, size_t *bad_len)
{
	unsigned set = 0;
	const char *p = list;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t n = strcspn(p, ", ");
		int a = jwks_alg_parse(p, n);
		if (a < 0) {
			*bad = p;
			*bad_len = n;
			return -1;
		}
		set |= JWKS_ALG_BIT(a);
		p += n;
	}
	*out = set;
	return 0;
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* A base64url member of a JWK, decoded into out (at most outsz bytes); its length or -1. */
static long member_bytes(json_t *jwk, const char *name, unsigned char *out, size_t outsz)
{
	json_t *v = json_object_get(jwk, name);
	if (!json_is_string(v))
		return -1;
	return auth_b64url_decode(json_string_value(v), json_string_length(v), out, outsz);
}

static bool member_is(json_t *jwk, const char *name, const char *want)
{
	json_t *v = json_object_get(jwk, name);
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (pkey == NULL)
		return NULL;
	/* fromdata checks an EC point is on its curve; this adds RSA's sanity checks. */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk, enum jwks_kind kind)
{
	size_t c = kinds[kind].coord;
	unsigned char pt[1 + 2 * 66];
	pt[0] = 0x04; /* uncompressed point: 04 || x || y */
	if (member_bytes(jwk, "x", pt + 1, c) != (long)c ||
	    member_bytes(jwk, "y", pt + 1 + c, c) != (long)c)
		return NULL;
	char group[8]; /* OSSL_PARAM wants a mutable pointer, though it only reads */
	snprintf(group, sizeof group, "%s", kinds[kind].group);
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c),
	    OSSL_PARAM_construct_end(),
	};
	return from_params("EC", params);
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
	/* One spare byte: some libraries prefix a zero octet to n (RFC 7518 6.3.1.1 says they
	 * should not, but being strict here would only lock users out). */
	unsigned char n[RSA_MAX_BYTES + 1], e[8];
	long nl = member_bytes(jwk, "n", n, sizeof n);
	long el = member_bytes(jwk, "e", e, sizeof e);
	if (nl < 1 || el < 1)
		return NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	if (bn != NULL && be != NULL && bld != NULL && BN_num_bits(bn) >= RSA_MIN_BITS &&
	    BN_num_bits(bn) <= RSA_MAX_BYTES * 8 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
		pkey = from_params("RSA", params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

/* The kind of a JWK, or -1 for key types and curves we do not verify with. */
static int jwk_kind(json_t *jwk)
{
	json_t *crv = json_object_get(jwk, "crv");
	for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++) {
		if (!member_is(jwk, "kty", kinds[k].kty))
			continue;
		if (kinds[k].crv == NULL ||
		    (json_is_string(crv) && strcmp(json_string_value(crv), kinds[k].crv) == 0))
			return k;
	}
	return -1;
}

/* Whether the JWK is meant for verifying signatures ("use", "key_ops"). */
static bool for_signatures(json_t *jwk)
{
	json_t *use = json_object_get(jwk, "use");
	if (use != NULL && !member_is(jwk, "use", "sig"))
		return false;
	json_t *ops = json_object_get(jwk, "key_ops");
	if (ops == NULL)
		return true;
	size_t i;
	json_t *op;
	json_array_foreach(ops, i, op)
	{
		if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
			return true;
	}
	return false;
}

/* Adds one JWK to the set; -1 when it is skipped. */
static int add_key(struct jwks *set, json_t *jwk)
{
	if (!json_is_object(jwk) || !for_signatures(jwk) || set->n == JWKS_MAX_KEYS)
		return -1;
	int kind = jwk_kind(jwk);
	if (kind < 0)
		return -1;
	int alg = -1;
	json_t *a = json_object_get(jwk, "alg");
	if (a != NULL) {
		/* An alg we do not know or that does not fit the key: the key is not ours to use. */
		if (!json_is_string(a))
			return -1;
		alg = jwks_alg_parse(json_string_value(a), json_string_length(a));
		if (alg < 0 || !(kinds[kind].algs & JWKS_ALG_BIT(alg)))
			return -1;
	}
	json_t *kid = json_object_get(jwk, "kid");
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0 ||
			    json_string_length(kid) > JWKS_MAX_KID))
		return -1;

	EVP_PKEY *pkey = NULL;
	if (kind == JWKS_ED25519) {
		unsigned char x[32];
		if (member_bytes(jwk, "x", x, sizeof x) == (long)sizeof x)
			pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, sizeof x);
	} else if (kind == JWKS_RSA) {
		pkey = rsa_key(jwk);
	} else {
		pkey = ec_key(jwk, (enum jwks_kind)kind);
	}
	if (pkey == NULL)
		return -1;
	struct jwks_key *k = &set->keys[set->n++];
	k->kind = (enum jwks_kind)kind;
	k->alg = alg;
	k->pkey = pkey;
	if (kid != NULL) {
		k->kid_len = json_string_length(kid);
		k->kid = malloc(k->kid_len + 1);
		if (k->kid == NULL)
			abort(); /* as buf.c: sizes are bounded, so this is a broken process */
		memcpy(k->kid, json_string_value(kid), k->kid_len + 1);
	}
	return 0;
}

struct jwks *jwks_parse(const char *json, size_t len, const char **why)
{
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *keys = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;
	if (!json_is_array(keys)) {
		json_decref(doc);
		*why = "not a JWKS document (an object with a keys array)";
		return NULL;
	}
	struct jwks *set = calloc(1, sizeof *set);
	if (set == NULL)
		abort();
	size_t i;
	json_t *jwk;
	json_array_foreach(keys, i, jwk)
	{
		if (add_key(set, jwk) < 0)
			set->skipped++;
	}
	json_decref(doc);
	if (set->n == 0) {
		jwks_free(set);
		*why = "the JWKS holds no usable signature key";
		return NULL;
	}
	return set;
}

void jwks_free(struct jwks *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->keys[i].kid);
		EVP_PKEY_free(set->keys[i].pkey);
	}
	free(set);
}

/* ---- lookup and verification ------------------------------------------------------------- */

bool jwks_key_allows(const struct jwks_key *k, enum jwks_alg alg)
{
	if (!(kinds[k->kind].algs & JWKS_ALG_BIT(alg)))
		return false;
	return k->alg < 0 || k->alg == (int)alg;
}

int jwks_find(const struct jwks *set, const char *kid, size_t kid_len, enum jwks_alg alg,
	      const struct jwks_key **out)
{
	const struct jwks_key *fit = NULL;
	size_t fits = 0;
	bool kid_seen = false;
	for (size_t i = 0; i < set->n; i++) {
		const struct jwks_key *k = &set->keys[i];
		if (kid != NULL) {
			if (k->kid == NULL || k->kid_len != kid_len ||
			    memcmp(k->kid, kid, kid_len) != 0)
				continue;
			kid_seen = true;
		}
		if (jwks_key_allows(k, alg) && fits++ == 0)
			fit = k;
	}
	/* With a kid, the first fitting key of that kid wins (kids should be unique, but a
	 * set may reuse one across key types); without a kid, only an unambiguous key. */
	if (fit != NULL && (kid != NULL || fits == 1)) {
		*out = fit;
		return 0;
	}
	return kid_seen ? -2 : -1;
}

/* JWS ECDSA signatures are r || s, each the curve's size; OpenSSL wants DER. */
static int ecdsa_der(const unsigned char *sig, size_t half, unsigned char **der, int *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es); /* frees r and s too */
	return *der_len > 0 ? 0 : -1;
}

int jwks_verify(const struct jwks_key *k, enum jwks_alg alg, const unsigned char *msg,
		size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	if (!jwks_key_allows(k, alg))
		return -1;
	unsigned char *der = NULL;
	size_t want = k->kind == JWKS_RSA	? (size_t)EVP_PKEY_get_size(k->pkey)
		      : k->kind == JWKS_ED25519 ? 64
						: 2 * kinds[k->kind].coord;
	if (sig_len != want)
		return -1;
	if (k->kind != JWKS_RSA && k->kind != JWKS_ED25519) {
		int der_len;
		if (ecdsa_der(sig, sig_len / 2, &der, &der_len) < 0)
			return -1;
		sig = der;
		sig_len = (size_t)der_len;
	}
	int rc = -1;
	EVP_PKEY_CTX *pctx = NULL; /* owned by md */
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestVerifyInit_ex(md, &pctx, algs[alg].md, NULL, NULL, k->pkey, NULL) != 1)
		goto out;
	if (alg == JWKS_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (EVP_DigestVerify(md, sig, sig_len, msg, msg_len) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return rc;
}
