/* admin.c: the /admin credential; see admin.h. */
#include "admin.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define ADMIN_MAX_TOKEN 4096

/* White space around a token, in the file as in the header (HTTP's OWS). */
static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int admin_load(struct admin *a, const char *path)
{
	memset(a, 0, sizeof *a);
	if (path == NULL)
		return 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		log_error("admin token file unreadable", "path=%s errno=%d", path, errno);
		return -1;
	}
	char line[ADMIN_MAX_TOKEN + 3]; /* the longest token, "\r\n", NUL */
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
		size_t n = strlen(line);
		bool cut = n == sizeof line - 1 && line[n - 1] != '\n';
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || blank(line[n - 1])))
			n--;
		size_t from = 0;
		while (from < n && blank(line[from]))
			from++;
		if (cut || n - from > ADMIN_MAX_TOKEN) {
			log_error("admin token file", "path=%s reason=\"a token over %d bytes\"",
				  path, ADMIN_MAX_TOKEN);
			rc = -1;
			break;
		}
		if (from == n)
			continue;
		if (a->ntokens == ADMIN_MAX_TOKENS) {
			log_error("admin token file", "path=%s reason=\"more than %d tokens\"",
				  path, ADMIN_MAX_TOKENS);
			rc = -1;
			break;
		}
		SHA256((const unsigned char *)line + from, n - from, a->digest[a->ntokens++]);
	}
	OPENSSL_cleanse(line, sizeof line);
	if (ferror(f))
		rc = -1;
	fclose(f);
	if (rc == 0 && a->ntokens == 0) {
		log_error("admin token file", "path=%s reason=\"no token in it\"", path);
		rc = -1;
	}
	a->enabled = rc == 0;
	return rc;
}

enum admin_auth admin_check(const struct admin *a, const char *authz, size_t n)
{
	if (!a->enabled || n < 7 || strncasecmp(authz, "Bearer ", 7) != 0)
		return ADMIN_MISSING;
	const char *tok = authz + 7;
	size_t tl = n - 7;
	while (tl > 0 && blank(*tok)) {
		tok++;
		tl--;
	}
	while (tl > 0 && blank(tok[tl - 1]))
		tl--;
	if (tl == 0)
		return ADMIN_MISSING;
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)tok, tl, d);
	int match = 0;
	for (int i = 0; i < a->ntokens; i++) /* every one: no early exit */
		match |= CRYPTO_memcmp(d, a->digest[i], sizeof d) == 0;
	OPENSSL_cleanse(d, sizeof d);
	return match ? ADMIN_OK : ADMIN_WRONG;
}

bool admin_path(const char *path, size_t n)
{
	return (n == 6 && memcmp(path, "/admin", 6) == 0) ||
	       (n > 6 && memcmp(path, "/admin/", 7) == 0);
}
