/* auth.c: JWS compact tokens: header, key, signature, claims. HS256 is an
 * OpenSSL HMAC compared in constant time (CRYPTO_memcmp); public-key
 * signatures are checked by jwks.c; keys come from jwks.c (file) or
 * keyfetch.c (URL). */
#include "auth.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "jwks.h"
#include "keyfetch.h"
#include "log.h"

#define JWKS_FILE_MAX (1u << 20)

/* ---- verified tokens ----------------------------------------------------------------------
 *
 * A signature check costs 20 to 600 us (bench/bench_verify.c: EdDSA ~75, ES256 ~55,
 * ES512 ~340, RS256 ~22), while a whole GET /v1/threads costs the loop ~24 us, and a busy
 * user sends the same token for its whole life (15 minutes with Better Auth). So a token
 * that passed every check is remembered by the SHA-256 of its bytes (~1 us) until its
 * exp (+ leeway).
 * Direct-mapped: a collision just evicts. A new key set empties the cache (generation
 * bump), so a key removed from the JWKS stops working at once. Nothing else a check
 * depends on changes at run time, and nbf was already past when the token was stored. */

#define CACHE_SLOTS 4096 /* power of two */
#define CACHE_SUB 128	 /* longer subs are not cached (Better Auth ids are 32 bytes) */

struct cache_entry {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	double until; /* exp + leeway */
	unsigned gen; /* valid while equal to the cache's */
	unsigned char sub_len;
	char sub[CACHE_SUB];
};

struct auth_cache {
	unsigned gen;
	unsigned long hits, misses;
	/* SHA256() looks its algorithm up in OpenSSL 3's provider tables on every
	 * call (EVP_MD_fetch: a third of its ~11,000 instructions under callgrind,
	 * bench/callgrind.sh): fetch it once, and reuse one context. */
	EVP_MD *sha256;
	EVP_MD_CTX *ctx;
	struct cache_entry e[CACHE_SLOTS];
};

/* The slot a token maps to; d receives the token's digest. */
static struct cache_entry *cache_slot(struct auth_cache *c, const char *tok, size_t n,
				      unsigned char d[SHA256_DIGEST_LENGTH])
{
	unsigned dl;
	if (EVP_DigestInit_ex2(c->ctx, c->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(c->ctx, tok, n) != 1 || EVP_DigestFinal_ex(c->ctx, d, &dl) != 1)
		SHA256((const unsigned char *)tok, n, d); /* cannot happen; stay correct anyway */
	unsigned i;
	memcpy(&i, d, sizeof i);
	return &c->e[i & (CACHE_SLOTS - 1)];
}

static bool cache_hit(struct auth_cache *c, const struct cache_entry *e,
		      const unsigned char d[SHA256_DIGEST_LENGTH], time_t now)
{
	if (e->gen == c->gen && memcmp(e->digest, d, SHA256_DIGEST_LENGTH) == 0 &&
	    (double)now <= e->until) {
		c->hits++;
		return true;
	}
	c->misses++; /* an expired entry also lands here, for the full check's reason */
	return false;
}

static void cache_fill(const struct auth *a, struct cache_entry *e,
		       const unsigned char d[SHA256_DIGEST_LENGTH], const char *sub, size_t sub_len,
		       double exp)
{
	if (sub_len > CACHE_SUB)
		return;
	memcpy(e->digest, d, SHA256_DIGEST_LENGTH);
	e->until = exp + (double)a->leeway;
	e->gen = a->cache->gen;
	e->sub_len = (unsigned char)sub_len;
	memcpy(e->sub, sub, sub_len);
}

void auth_enable_cache(struct auth *a)
{
	if (a->cache != NULL)
		return;
	a->cache = calloc(1, sizeof *a->cache);
	if (a->cache == NULL)
		abort();   /* as buf.c */
	a->cache->gen = 1; /* zeroed entries are never valid */
	a->cache->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	a->cache->ctx = EVP_MD_CTX_new();
	if (a->cache->sha256 == NULL || a->cache->ctx == NULL)
		abort();
}

void auth_cache_stats(const struct auth *a, unsigned long *hits, unsigned long *misses)
{
	*hits = a->cache ? a->cache->hits : 0;
	*misses = a->cache ? a->cache->misses : 0;
}

void auth_init(struct auth *a, const char *secret, long leeway)
{
	memset(a, 0, sizeof *a);
	a->secret = (const unsigned char *)secret;
	a->secret_len = secret ? strlen(secret) : 0;
	a->leeway = leeway;
	a->algs = secret ? JWKS_ALG_BIT(JWKS_HS256) : 0;
}

void auth_set_keys(struct auth *a, struct jwks *keys)
{
	jwks_free(a->keys);
	a->keys = keys;
	if (a->cache != NULL)
		a->cache->gen++; /* tokens verified with the old keys must be checked again */
}

static int load_file(struct auth *a, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		log_error("cannot open the JWKS file", "path=%s", path);
		return -1;
	}
	struct buf b = {0};
	size_t n;
	do {
		n = fread(buf_reserve(&b, 65536), 1, 65536, f);
		buf_commit(&b, n);
	} while (n > 0 && b.len <= JWKS_FILE_MAX);
	int err = ferror(f);
	fclose(f);
	const char *why = "it is larger than 1 MiB";
	struct jwks *set = NULL;
	if (!err && b.len <= JWKS_FILE_MAX)
		set = jwks_parse(b.data, b.len, &why);
	buf_free(&b);
	if (set == NULL) {
		log_error("cannot use the JWKS file", "path=%s reason=\"%s\"", path,
			  err ? "read error" : why);
		return -1;
	}
	log_info("jwks loaded", "source=%s keys=%zu skipped=%zu", path, set->n, set->skipped);
	auth_set_keys(a, set);
	return 0;
}

int auth_setup(struct auth *a, const struct config *cfg)
{
	auth_init(a, cfg->jwt_secret, cfg->jwt_leeway);
	a->issuer = cfg->jwt_issuer;
	a->audience = cfg->jwt_audience;
	/* config_parse checked the list against what is configured. */
	a->algs = cfg->jwt_algs;
	auth_enable_cache(a);
	if (cfg->jwks_file != NULL && load_file(a, cfg->jwks_file) < 0)
		return -1;
	return 0;
}

static void on_fetched_keys(void *arg, struct jwks *keys)
{
	auth_set_keys(arg, keys);
}

static void on_fetch_settled(void *arg)
{
	struct auth *a = arg;
	if (a->on_settled != NULL)
		a->on_settled(a->settled_arg);
}

int auth_start(struct auth *a, uv_loop_t *loop, const struct config *cfg)
{
	if (cfg->jwks_url == NULL)
		return 0;
	struct keyfetch_options o = {
	    .url = cfg->jwks_url,
	    .refresh_ms = cfg->jwks_refresh_ms,
	    .cooldown_ms = cfg->jwks_cooldown_ms,
	    .timeout_ms = 10000,
	    .on_keys = on_fetched_keys,
	    .on_settled = on_fetch_settled,
	    .arg = a,
	};
	a->fetch = keyfetch_start(loop, &o);
	return a->fetch ? 0 : -1;
}

void auth_close(struct auth *a)
{
	if (a->fetch != NULL) {
		keyfetch_close(a->fetch);
		a->fetch = NULL;
	}
	auth_set_keys(a, NULL);
	if (a->cache != NULL) {
		EVP_MD_free(a->cache->sha256);
		EVP_MD_CTX_free(a->cache->ctx);
	}
	free(a->cache);
	a->cache = NULL;
}

int auth_bearer(const char *hdr, size_t n, const char **tok, size_t *tok_len, const char **why)
{
	if (n == 0) {
		*why = "missing Authorization header";
		return -1;
	}
	if (n < 7 || strncasecmp(hdr, "Bearer ", 7) != 0) {
		*why = "Authorization must use the Bearer scheme";
		return -1;
	}
	size_t i = 7;
	while (i < n && hdr[i] == ' ')
		i++;
	size_t end = n;
	while (end > i && (hdr[end - 1] == ' ' || hdr[end - 1] == '\t'))
		end--;
	if (end == i) {
		*why = "empty bearer token";
		return -1;
	}
	if (end - i > AUTH_MAX_TOKEN) {
		*why = "bearer token is too long";
		return -1;
	}
	*tok = hdr + i;
	*tok_len = end - i;
	return 0;
}

static signed char b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (signed char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (signed char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (signed char)(c - '0' + 52);
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long auth_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz)
{
	if (n % 4 == 1)
		return -1;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outsz)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		signed char v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-canonical trailing bits */
		return -1;
	return (long)o;
}

void auth_b64url_encode(const unsigned char *in, size_t n, struct buf *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			buf_putc(out, tbl[(acc >> bits) & 63]);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		buf_putc(out, tbl[(acc << (6 - bits)) & 63]);
}

/* Decodes one base64url segment and parses it as a JSON object. */
static json_t *segment_json(const char *p, size_t n)
{
	unsigned char tmp[AUTH_MAX_TOKEN];
	long len = auth_b64url_decode(p, n, tmp, sizeof tmp);
	if (len < 0)
		return NULL;
	json_t *j = json_loadb((const char *)tmp, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A NumericDate claim: absent (0), a number (1, *out set), or wrong (-1). */
static int numeric_date(json_t *claims, const char *name, double *out)
{
	json_t *v = json_object_get(claims, name);
	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) ? 1 : -1;
}

static bool string_is(json_t *v, const char *want)
{
	size_t n = strlen(want);
	return json_is_string(v) && json_string_length(v) == n &&
	       memcmp(json_string_value(v), want, n) == 0;
}

/* aud is a string or an array of strings (RFC 7519 4.1.3). */
static bool audience_matches(json_t *aud, const char *want)
{
	if (!json_is_array(aud))
		return string_is(aud, want);
	size_t i;
	json_t *v;
	json_array_foreach(aud, i, v)
	{
		if (string_is(v, want))
			return true;
	}
	return false;
}

static int check_claims(const struct auth *a, json_t *claims, time_t now, struct buf *sub,
			double *exp_out, const char **why)
{
	double exp, nbf;
	int r = numeric_date(claims, "exp", &exp);
	if (r == 0) {
		*why = "token has no exp claim";
		return -1;
	}
	if (r < 0) {
		*why = "token exp claim is not a number";
		return -1;
	}
	if ((double)now > exp + (double)a->leeway) {
		*why = "token has expired";
		return -1;
	}
	r = numeric_date(claims, "nbf", &nbf);
	if (r < 0) {
		*why = "token nbf claim is not a number";
		return -1;
	}
	if (r > 0 && (double)now + (double)a->leeway < nbf) {
		*why = "token is not valid yet (nbf)";
		return -1;
	}
	if (a->issuer != NULL && !string_is(json_object_get(claims, "iss"), a->issuer)) {
		*why = "token iss claim is not the configured issuer";
		return -1;
	}
	if (a->audience != NULL && !audience_matches(json_object_get(claims, "aud"), a->audience)) {
		*why = "token aud claim does not name the configured audience";
		return -1;
	}
	json_t *s = json_object_get(claims, "sub");
	if (!json_is_string(s) || json_string_length(s) == 0) {
		*why = "token has no sub claim";
		return -1;
	}
	size_t sl = json_string_length(s);
	if (sl > AUTH_MAX_SUB || memchr(json_string_value(s), '\0', sl) != NULL) {
		*why = "token sub claim is too long or malformed";
		return -1;
	}
	buf_append(sub, json_string_value(s), sl);
	*exp_out = exp;
	return 0;
}

/* What the JOSE header says, copied out of its JSON. */
struct jose_header {
	enum jwks_alg alg;
	char kid[JWKS_MAX_KID + 1];
	size_t kid_len;
	bool has_kid;
};

static int check_header(const struct auth *a, const char *p, size_t n, struct jose_header *h,
			const char **why)
{
	json_t *hdr = segment_json(p, n);
	if (hdr == NULL) {
		*why = "token header is not base64url JSON";
		return -1;
	}
	int rc = -1;
	json_t *alg = json_object_get(hdr, "alg");
	json_t *kid = json_object_get(hdr, "kid");
	int ai = json_is_string(alg)
		     ? jwks_alg_parse(json_string_value(alg), json_string_length(alg))
		     : -1;
	if (!json_is_string(alg))
		*why = "token header has no alg";
	else if (ai < 0 || !(a->algs & JWKS_ALG_BIT(ai)))
		*why = "token alg is not accepted"; /* "none" is never in the list */
	else if (json_object_get(hdr, "crit") != NULL)
		/* RFC 7515 4.1.11: extensions we do not implement must be refused. */
		*why = "token header has crit extensions, which are not supported";
	else if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) > JWKS_MAX_KID))
		*why = "token kid is not a string of at most 255 bytes";
	else
		rc = 0;
	if (rc == 0) {
		h->alg = (enum jwks_alg)ai;
		h->has_kid = kid != NULL;
		h->kid_len = h->has_kid ? json_string_length(kid) : 0;
		if (h->has_kid)
			memcpy(h->kid, json_string_value(kid), h->kid_len);
	}
	json_decref(hdr);
	return rc;
}

static int check_hmac(const struct auth *a, const char *input, size_t n, const unsigned char *sig,
		      size_t sl, const char **why)
{
	if (a->secret == NULL) { /* the allow-list should have said so already */
		*why = "token alg is not accepted";
		return -1;
	}
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)input, n, mac,
		 &maclen) == NULL) {
		*why = "token signature could not be computed";
		return -1;
	}
	if (sl != maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
		*why = "token signature is invalid";
		return -1;
	}
	return 0;
}

static int check_public_key(const struct auth *a, const struct jose_header *h, const char *input,
			    size_t n, const unsigned char *sig, size_t sl, const char **why)
{
	if (a->keys == NULL) {
		if (a->fetch != NULL)
			keyfetch_kick(a->fetch);
		*why = "no signing keys are loaded yet";
		return -1;
	}
	const struct jwks_key *k;
	int r = jwks_find(a->keys, h->has_kid ? h->kid : NULL, h->kid_len, h->alg, &k);
	if (r == -1 && h->has_kid) {
		/* Perhaps the auth server rotated its keys: look again (rate limited). */
		if (a->fetch != NULL)
			keyfetch_kick(a->fetch);
		*why = "token kid is not in the key set";
		return -1;
	}
	if (r == -1) {
		*why = "token has no kid and no single key fits its alg";
		return -1;
	}
	if (r < 0) {
		*why = "token alg does not match its key";
		return -1;
	}
	if (jwks_verify(k, h->alg, (const unsigned char *)input, n, sig, sl) < 0) {
		*why = "token signature is invalid";
		return -1;
	}
	return 0;
}

static int verify_token(const struct auth *a, const char *tok, size_t n, time_t now,
			struct buf *sub, double *exp, const char **why)
{
	const char *dot1 = memchr(tok, '.', n);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - tok)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - tok)) != NULL) {
		*why = "token is not a compact JWS (header.payload.signature)";
		return -1;
	}
	struct jose_header h;
	if (check_header(a, tok, (size_t)(dot1 - tok), &h, why) < 0)
		return -1;

	unsigned char sig[JWKS_MAX_SIG];
	long sl = auth_b64url_decode(dot2 + 1, n - (size_t)(dot2 + 1 - tok), sig, sizeof sig);
	if (sl <= 0) {
		*why = "token signature is missing or not base64url";
		return -1;
	}
	size_t input_len = (size_t)(dot2 - tok);
	int rc = h.alg == JWKS_HS256
		     ? check_hmac(a, tok, input_len, sig, (size_t)sl, why)
		     : check_public_key(a, &h, tok, input_len, sig, (size_t)sl, why);
	if (rc < 0)
		return -1;

	json_t *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (claims == NULL) {
		*why = "token payload is not base64url JSON";
		return -1;
	}
	rc = check_claims(a, claims, now, sub, exp, why);
	json_decref(claims);
	return rc;
}

int auth_verify(const struct auth *a, const char *tok, size_t n, time_t now, struct buf *sub,
		const char **why)
{
	if (n > AUTH_MAX_TOKEN) {
		*why = "bearer token is too long";
		return -1;
	}
	unsigned char d[SHA256_DIGEST_LENGTH];
	struct cache_entry *e = a->cache ? cache_slot(a->cache, tok, n, d) : NULL;
	if (e != NULL && cache_hit(a->cache, e, d, now)) {
		buf_append(sub, e->sub, e->sub_len);
		return 0;
	}
	size_t sub_start = sub->len;
	double exp;
	if (verify_token(a, tok, n, now, sub, &exp, why) < 0)
		return -1;
	if (e != NULL)
		cache_fill(a, e, d, sub->data + sub_start, sub->len - sub_start, exp);
	return 0;
}

void auth_mint(const struct auth *a, const char *sub, time_t now, long ttl, struct buf *out)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	json_t *claims = json_pack("{s:s, s:I, s:I}", "sub", sub, "iat", (json_int_t)now, "exp",
				   (json_int_t)(now + ttl));
	char *payload = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	size_t start = out->len;
	auth_b64url_encode((const unsigned char *)header, sizeof header - 1, out);
	buf_putc(out, '.');
	auth_b64url_encode((const unsigned char *)payload, strlen(payload), out);
	free(payload);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)out->data + start,
	     out->len - start, mac, &maclen);
	buf_putc(out, '.');
	auth_b64url_encode(mac, maclen, out);
}

unsigned auth_keys_wait_ms(const struct auth *a)
{
	return a->fetch != NULL ? keyfetch_wait_ms(a->fetch) : 0;
}

