/* auth.c: JWS compact tokens, HS256, claims checks. HMAC comes from OpenSSL
 * and the comparison is constant-time (CRYPTO_memcmp). */
#include "auth.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void auth_init(struct auth *a, const char *secret, long leeway)
{
	a->secret = (const unsigned char *)secret;
	a->secret_len = strlen(secret);
	a->leeway = leeway;
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

static int check_claims(const struct auth *a, json_t *claims, time_t now, struct buf *sub,
			const char **why)
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
	return 0;
}

int auth_verify(const struct auth *a, const char *tok, size_t n, time_t now, struct buf *sub,
		const char **why)
{
	const char *dot1 = memchr(tok, '.', n);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - tok)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - tok)) != NULL) {
		*why = "token is not a compact JWS (header.payload.signature)";
		return -1;
	}
	json_t *hdr = segment_json(tok, (size_t)(dot1 - tok));
	if (hdr == NULL) {
		*why = "token header is not base64url JSON";
		return -1;
	}
	json_t *alg = json_object_get(hdr, "alg");
	int alg_ok = json_is_string(alg) && strcmp(json_string_value(alg), "HS256") == 0;
	json_decref(hdr);
	if (!alg_ok) {
		*why = "token alg is not accepted";
		return -1;
	}

	unsigned char sig[64];
	long sl = auth_b64url_decode(dot2 + 1, n - (size_t)(dot2 + 1 - tok), sig, sizeof sig);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)tok,
		 (size_t)(dot2 - tok), mac, &maclen) == NULL) {
		*why = "token signature could not be computed";
		return -1;
	}
	if (sl != (long)maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
		*why = "token signature is invalid";
		return -1;
	}

	json_t *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (claims == NULL) {
		*why = "token payload is not base64url JSON";
		return -1;
	}
	int rc = check_claims(a, claims, now, sub, why);
	json_decref(claims);
	return rc;
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
