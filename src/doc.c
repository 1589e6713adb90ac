/* doc.c: write-path document checks (jansson) and ISO 8601 time parsing. */
#include "doc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool digits(const char *s, size_t n, int *v)
{
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

int doc_parse_time(const char *s, size_t n, int64_t *us)
{
	int y, mo, d, h, mi, sec = 0;
	size_t i = 0;
	if (n < 16 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi))
		return -1;
	i = 16;
	if (i < n && s[i] == ':') {
		if (i + 3 > n || !digits(s + i + 1, 2, &sec))
			return -1;
		i += 3;
	}
	int64_t frac = 0;
	if (i < n && (s[i] == '.' || s[i] == ',')) {
		size_t start = ++i;
		int64_t scale = 100000;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			frac += (s[i] - '0') * scale; /* digits past microseconds are dropped */
			scale /= 10;
			i++;
		}
		if (i == start)
			return -1;
	}
	int64_t offset_s = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int oh, om = 0;
		int sign = s[i] == '-' ? -1 : 1;
		if (i + 3 > n || !digits(s + i + 1, 2, &oh))
			return -1;
		i += 3;
		if (i < n && s[i] == ':') {
			if (i + 3 > n || !digits(s + i + 1, 2, &om))
				return -1;
			i += 3;
		} else if (i + 2 <= n && digits(s + i, 2, &om)) {
			i += 2;
		}
		if (oh > 23 || om > 59)
			return -1;
		offset_s = sign * (oh * 3600 + om * 60);
	}
	if (i != n)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -1;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
	*us = t * 1000000 + frac;
	return 0;
}

/* A string member equal to `want` (when want != NULL). */
static const char *check_string(json_t *obj, const char *key, const char *want, size_t want_len,
				const char *missing, const char *mismatch, size_t *len_out,
				const char **why)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v)) {
		*why = missing;
		return NULL;
	}
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (want != NULL && (len != want_len || memcmp(s, want, len) != 0)) {
		*why = mismatch;
		return NULL;
	}
	if (len_out)
		*len_out = len;
	return s;
}

/* Skips a JSON string starting at s[i] == '"'; returns the index after it. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

/* Skips one JSON value starting at s[i]. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] == '{' || s[i] == '[') {
		int depth = 0;
		for (; i < n; i++) {
			if (s[i] == '"')
				i = skip_string(s, n, i) - 1;
			else if (s[i] == '{' || s[i] == '[')
				depth++;
			else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
				return i + 1;
		}
		return n;
	}
	while (i < n && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
		i++;
	return i;
}

/* Removes the top-level member spelled exactly "key" from a JSON object that
 * jansson has already validated, keeping every other byte as sent. Returns 0,
 * or -1 when no member is spelled that way (an escaped key, say). */
static int strip_member(const char *s, size_t n, const char *key, struct buf *out)
{
	size_t klen = strlen(key);
	size_t i = skip_ws(s, n, 0) + 1; /* past '{' */
	size_t prev_value_end = 0;	 /* end of the previous member's value, 0 if first */
	for (;;) {
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != '"')
			return -1;
		size_t kstart = i;
		size_t kend = skip_string(s, n, i);
		i = skip_ws(s, n, kend) + 1; /* past ':' */
		i = skip_value(s, n, skip_ws(s, n, i));
		size_t vend = i;
		i = skip_ws(s, n, i);
		bool more = i < n && s[i] == ',';
		if (kend - kstart == klen + 2 && memcmp(s + kstart + 1, key, klen) == 0) {
			size_t cut_from, cut_to;
			if (more) { /* "k":v, next  -> next */
				cut_from = kstart;
				cut_to = skip_ws(s, n, i + 1);
			} else if (prev_value_end > 0) { /* prev, "k":v  -> prev */
				cut_from = prev_value_end;
				cut_to = vend;
			} else { /* the only member */
				cut_from = kstart;
				cut_to = vend;
			}
			buf_reset(out);
			buf_append(out, s, cut_from);
			buf_append(out, s + cut_to, n - cut_to);
			return 0;
		}
		if (!more)
			return -1;
		prev_value_end = vend;
		i++;
	}
}

static void trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ws((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*p)[*n - 1]))
		(*n)--;
}

/* A thread's metadata may carry DOC_EXPIRES_AT (issue 13): a date-time, or null for none. */
static int doc_expiry(json_t *root, struct doc_info *out, const char **why)
{
	json_t *meta = json_object_get(root, "metadata");
	json_t *v = json_is_object(meta) ? json_object_get(meta, DOC_EXPIRES_AT) : NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    doc_parse_time(json_string_value(v), json_string_length(v), &out->expires_us) < 0) {
		*why = "metadata \"" DOC_EXPIRES_AT "\" must be an ISO 8601 date-time or null";
		return -1;
	}
	out->has_expiry = true;
	return 0;
}

int doc_check(enum doc_kind kind, const char *body, size_t n, const char *id, size_t id_len,
	      struct buf *id_out, struct doc_info *out, struct buf *scratch, const char **why)
{
	int rc = -1;
	json_error_t err;
	/* JSON_ALLOW_NUL: "\u0000" in text is valid JSON and harmless as stored text. */
	int flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_t *root = json_loadb(body, n, flags, &err);
	if (root == NULL && json_error_code(&err) == json_error_numeric_overflow) {
		/* Integers past 64 bits are valid JSON: we only validate and store the
		 * text, so reading them as doubles loses nothing that is kept. */
		flags |= JSON_DECODE_INT_AS_REAL;
		root = json_loadb(body, n, flags, &err);
	}
	if (root == NULL) {
		*why = "body is not valid JSON";
		return -1;
	}
	if (!json_is_object(root)) {
		*why = "body must be a JSON object";
		goto out;
	}
	size_t body_id_len;
	const char *body_id =
	    check_string(root, "id", id, id_len, "document needs a string \"id\"",
			 "body id does not match the id in the path", &body_id_len, why);
	if (body_id == NULL)
		goto out;
	if (body_id_len == 0 || body_id_len > DOC_MAX_ID || memchr(body_id, '\0', body_id_len)) {
		*why = "id must be 1 to 255 bytes";
		goto out;
	}
	if (id == NULL)
		buf_append(id_out, body_id, body_id_len);
	out->created_us = 0;
	if (kind != DOC_ATTACHMENT) {
		size_t tl;
		const char *ts =
		    check_string(root, "created_at", NULL, 0,
				 "document needs a string \"created_at\"", NULL, &tl, why);
		if (ts == NULL)
			goto out;
		if (doc_parse_time(ts, tl, &out->created_us) < 0) {
			*why = "created_at is not an ISO 8601 date-time";
			goto out;
		}
	}
	out->has_expiry = false;
	if (kind == DOC_THREAD && doc_expiry(root, out, why) < 0)
		goto out;
	if (kind == DOC_ITEM) {
		if (!check_string(root, "type", NULL, 0, "item needs a string \"type\"", NULL, NULL,
				  why) ||
		    !check_string(root, "thread_id", NULL, 0, "item needs a string \"thread_id\"",
				  NULL, NULL, why))
			goto out;
	}
	out->text = body;
	out->text_len = n;
	trim(&out->text, &out->text_len);
	if (kind == DOC_THREAD && json_object_get(root, "items") != NULL) {
		/* A full Thread: its items are stored as item rows, not in the thread. */
		if (strip_member(out->text, out->text_len, "items", scratch) == 0) {
			out->text = scratch->data;
			out->text_len = scratch->len;
		} else if (flags & JSON_DECODE_INT_AS_REAL) {
			*why = "a thread with an escaped \"items\" key and integers past 64 bits";
			goto out;
		} else { /* the key was spelled with escapes: re-encode (exact here) */
			json_object_del(root, "items");
			char *text = json_dumps(root, JSON_COMPACT);
			if (text == NULL) {
				*why = "document could not be re-encoded";
				goto out;
			}
			buf_reset(scratch);
			buf_puts(scratch, text);
			free(text);
			out->text = scratch->data;
			out->text_len = scratch->len;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
