/* page.c: Page JSON and single-document replies from PostgreSQL rows. */
#include "page.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "request.h"
#include "server.h"

int page_count(const char *s, size_t n, int max)
{
	if (n == 0 || n > 9)
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= max ? (int)v : -1;
}

int page_params(struct request *r, bool default_desc, bool *desc)
{
	struct span q = r->match.query;
	struct buf v = {0};
	int rc = -1;
	const char *why = NULL;

	r->limit = PAGE_DEFAULT_LIMIT;
	*desc = default_desc;
	int found = router_query_param(q, "limit", &v);
	if (found < 0) {
		why = "limit is badly encoded";
		goto out;
	}
	if (found > 0) {
		int n = page_count(v.data, v.len, PAGE_MAX_LIMIT);
		if (n < 0) {
			why = "limit must be an integer from 1 to 1000";
			goto out;
		}
		r->limit = n;
	}
	buf_reset(&v);
	found = router_query_param(q, "order", &v);
	if (found < 0 || (found > 0 && !(v.len == 3 && memcmp(v.data, "asc", 3) == 0) &&
			  !(v.len == 4 && memcmp(v.data, "desc", 4) == 0))) {
		why = "order must be asc or desc";
		goto out;
	}
	if (found > 0)
		*desc = v.len == 4;
	found = router_query_param(q, "after", &r->after);
	if (found < 0 || r->after.len > 255 || !request_text_ok(r->after.data, r->after.len)) {
		why = "after must be an id of 1 to 255 bytes of UTF-8";
		goto out;
	}
	rc = 0;
out:
	buf_free(&v);
	if (rc < 0)
		request_error(r, 400, "bad_request", why);
	return rc;
}

int page_budget_param(struct request *r, char out[24])
{
	return snprintf(out, 24, "%zu", request_server(r)->cfg->max_page_bytes);
}

void page_append(struct reply *rep, PGresult *res, int row0, int nrows, int id_col, int doc_col,
		 int n_col, int limit)
{
	/* Cut by bytes: every row kept is shown, and more follow. */
	bool cut = nrows > 0 && atol(PQgetvalue(res, row0, n_col)) > nrows;
	bool has_more = cut || nrows > limit;
	if (nrows > limit)
		nrows = limit;
	reply_copy_str(rep, "{\"data\":[");
	for (int i = 0; i < nrows; i++) {
		if (i > 0)
			reply_copy(rep, ",", 1);
		reply_ref(rep, PQgetvalue(res, row0 + i, doc_col),
			  (size_t)PQgetlength(res, row0 + i, doc_col));
	}
	if (!has_more) {
		reply_copy_str(rep, "],\"has_more\":false,\"after\":null}");
		return;
	}
	struct buf tail = {0};
	int last = row0 + nrows - 1;
	buf_puts(&tail, "],\"has_more\":true,\"after\":\"");
	buf_json_escape(&tail, PQgetvalue(res, last, id_col),
			(size_t)PQgetlength(res, last, id_col));
	buf_puts(&tail, "\"}");
	reply_copy(rep, tail.data, tail.len);
	buf_free(&tail);
}

void page_reply(struct request *r, PGresult *res, bool with_cursor)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	int n = PQntuples(res);
	if (with_cursor && n == 0) {
		PQclear(res);
		request_error(r, 404, "not_found", "the after cursor names no row of this list");
		return;
	}
	if (with_cursor && n == 1 && PQgetisnull(res, 0, 0))
		n = 0;
	struct reply *rep = request_reply_begin(r, 200);
	page_append(rep, res, 0, n, 0, 1, 2, r->limit);
	reply_keep_result(rep, res);
	request_reply_send(r);
}

void page_reply_doc(struct request *r, PGresult *res, const char *what)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		request_error(r, 404, "not_found", what);
		return;
	}
	struct reply *rep = request_reply_begin(r, 200);
	reply_ref(rep, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	reply_keep_result(rep, res);
	request_reply_send(r);
}

void page_reply_write(struct request *r, PGresult *res, int status, const char *what)
{
	/* rows: a write that returns its change (queries.c CHANGE_ROW) */
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (what != NULL && state != NULL && strcmp(state, "23503") == 0) {
			/* foreign key: the thread went away concurrently */
			PQclear(res);
			request_error(r, 404, "not_found", what);
			return;
		}
		request_db_error(r, res);
		return;
	}
	bool affected = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (what != NULL && !affected)
		request_error(r, 404, "not_found", what);
	else
		request_reply_empty(r, status);
}

int page_format_us(long long us, char out[40])
{
	long long sec = us / 1000000, frac = us % 1000000;
	if (frac < 0) { /* before 1970: floor */
		frac += 1000000;
		sec -= 1;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return snprintf(out, 40, "1970-01-01T00:00:00.000000Z");
	return snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

bool page_text_ok(const char *s, size_t n)
{
	if (n == 0) /* s may be NULL (an empty buf) */
		return true;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p;
		int more;
		unsigned min;
		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			more = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, min = 0x10000, c &= 0x07;
		} else {
			return false;
		}
		if (end - p <= more)
			return false;
		for (int i = 1; i <= more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		p += more + 1;
	}
	return true;
}

/* One document, with its activity time spliced in when cols->act >= 0. */
static void append_doc(struct reply *rep, PGresult *res, int row, const struct page_cols *cols)
{
	const char *doc = PQgetvalue(res, row, cols->doc);
	size_t len = (size_t)PQgetlength(res, row, cols->doc);
	if (cols->act < 0 || len < 2 || doc[len - 1] != '}') { /* stored trimmed: always '}' */
		reply_ref(rep, doc, len);
		return;
	}
	size_t k = len - 1;
	while (k > 0 && (doc[k - 1] == ' ' || doc[k - 1] == '\n' || doc[k - 1] == '\r' ||
			 doc[k - 1] == '\t'))
		k--;
	bool empty = k > 0 && doc[k - 1] == '{';
	char tail[96], ts[40];
	page_format_us(atoll(PQgetvalue(res, row, cols->act)), ts);
	int tl = snprintf(tail, sizeof tail, "%s\"" PAGE_ACTIVITY_MEMBER "\":\"%s\"}",
			  empty ? "" : ",", ts);
	reply_ref(rep, doc, len - 1);
	reply_copy(rep, tail, (size_t)tl);
}

static void append_id(struct buf *b, PGresult *res, int row, int col)
{
	buf_putc(b, '"');
	buf_json_escape(b, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
	buf_putc(b, '"');
}

void page_reply_cursor(struct request *r, PGresult *res, enum page_cursor mode,
		       const struct page_cols *cols)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		request_db_error(r, res);
		return;
	}
	int nrows = PQntuples(res);
	if (mode != PAGE_FIRST && nrows == 0) {
		PQclear(res);
		request_error(r, 404, "not_found",
			      mode == PAGE_BEFORE ? "the before cursor names no row of this list"
						  : "the after cursor names no row of this list");
		return;
	}
	if (mode != PAGE_FIRST && nrows == 1 && PQgetisnull(res, 0, cols->id))
		nrows = 0;
	bool cut = nrows > 0 && atol(PQgetvalue(res, 0, cols->n)) > nrows;
	bool has_more = cut || nrows > r->limit;
	int kept = nrows > r->limit ? r->limit : nrows;
	struct reply *rep = request_reply_begin(r, 200);
	struct buf tail = {0};
	reply_copy_str(rep, "{\"data\":[");
	for (int i = 0; i < kept; i++) {
		if (i > 0)
			reply_copy(rep, ",", 1);
		append_doc(rep, res, mode == PAGE_BEFORE ? kept - 1 - i : i, cols);
	}
	buf_printf(&tail, "],\"has_more\":%s,\"after\":", has_more ? "true" : "false");
	if (mode == PAGE_BEFORE ? kept > 0 : has_more)
		append_id(&tail, res, mode == PAGE_BEFORE ? 0 : kept - 1, cols->id);
	else
		buf_puts(&tail, "null");
	if (mode == PAGE_BEFORE) {
		buf_puts(&tail, ",\"before\":");
		if (has_more)
			append_id(&tail, res, kept - 1, cols->id);
		else
			buf_puts(&tail, "null");
	}
	buf_putc(&tail, '}');
	reply_copy(rep, tail.data, tail.len);
	buf_free(&tail);
	reply_keep_result(rep, res);
	request_reply_send(r);
}

/* ---- metadata.<key>=<value> filters ---- */

#define MAX_FILTERS 32
#define MAX_NUMBER 100 /* bytes of a value compared as a JSON number */

/* A JSON number of at most MAX_NUMBER bytes with an exponent of at most 4
 * digits: within PostgreSQL's numeric, so the filter never fails to parse. */
static bool is_number(const char *s, size_t n)
{
	size_t i = 0, digits;
	if (n == 0 || n > MAX_NUMBER)
		return false;
	if (s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		for (digits = 0, i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 4)
			return false;
	}
	return i == n;
}

static bool is_word(const struct buf *v, const char *w)
{
	return v->len == strlen(w) && memcmp(v->data, w, v->len) == 0;
}

/* ---- the filter's signature: sql/016's threadstore_sig, in C ----
 * A condition's text is what threadstore_sig hashes: "s" + status, or "m" +
 * the key as jsonb prints a string + ":" + the value as jsonb prints it (a
 * number as trim_scale(numeric) prints it). They must match byte for byte: a
 * bit the SQL side did not set would hide a thread that matches
 * (tests/unit/test_page.c: PostgreSQL's own answers; test_history.py: the
 * escapes and number forms end to end). */

/* A string as PostgreSQL's jsonb prints it (escape_json): \b \f \n \r \t,
 * \uXXXX for the other controls, DEL and everything else as is. */
static void pg_json_quote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
			      : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '"' ? "\\\""
			      : c == '\\' ? "\\\\" : NULL;
		if (e != NULL) {
			buf_puts(b, e);
		} else if (c < 0x20) {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			buf_append(b, u, 6);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

/* A JSON number (is_number's) as trim_scale(numeric) prints it: no exponent,
 * no leading or trailing zeros, "0" for any zero. */
static void pg_numeric_text(struct buf *b, const char *s, size_t n)
{
	char dig[MAX_NUMBER];
	size_t i = 0, nd = 0, lo = 0;
	long exp = 0;
	bool neg = s[0] == '-';
	for (i = neg; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		dig[nd++] = s[i];
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, exp--)
			dig[nd++] = s[i];
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		long e = 0, sign = 1;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			sign = s[i++] == '-' ? -1 : 1;
		for (; i < n; i++)
			e = e * 10 + (s[i] - '0');
		exp += sign * e;
	}
	while (lo < nd && dig[lo] == '0')
		lo++;
	while (nd > lo && dig[nd - 1] == '0')
		nd--, exp++;
	if (lo == nd) {
		buf_putc(b, '0');
		return;
	}
	long len = (long)(nd - lo);
	if (neg)
		buf_putc(b, '-');
	if (exp >= 0) {
		buf_append(b, dig + lo, (size_t)len);
		for (long k = 0; k < exp; k++)
			buf_putc(b, '0');
	} else if (len > -exp) {
		buf_append(b, dig + lo, (size_t)(len + exp));
		buf_putc(b, '.');
		buf_append(b, dig + lo + len + exp, (size_t)-exp);
	} else {
		buf_puts(b, "0.");
		for (long k = 0; k < -exp - len; k++)
			buf_putc(b, '0');
		buf_append(b, dig + lo, (size_t)len);
	}
}

uint64_t page_facet_bits(const char *cond, size_t n)
{
	static EVP_MD *md5; /* fetched once: a fetch per digest costs more than the digest */
	unsigned char d[EVP_MAX_MD_SIZE];
	if (md5 == NULL)
		md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	if (md5 == NULL || EVP_Digest(cond, n, d, NULL, md5, NULL) != 1)
		return 0; /* no digest (an OpenSSL without MD5): no bits required, so the
			   * mask rejects nothing and the exact filter decides */
	uint32_t h = (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
	return (uint64_t)1 << (h & 63) | (uint64_t)1 << ((h >> 6) & 63) |
	       (uint64_t)1 << ((h >> 12) & 63);
}

/* Appends value v as the filter's JSON: a string, or a number/true/false/null
 * when it reads as one; "..." forces the string between the quotes. The
 * condition's text for the signature goes to cond. */
static void append_value(struct buf *f, struct buf *cond, const struct buf *v)
{
	if (is_word(v, "true") || is_word(v, "false") || is_word(v, "null")) {
		buf_append(f, v->data, v->len);
		buf_append(cond, v->data, v->len);
		return;
	}
	if (is_number(v->data, v->len)) {
		buf_append(f, v->data, v->len);
		pg_numeric_text(cond, v->data, v->len);
		return;
	}
	const char *p = v->data;
	size_t n = v->len;
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		p++, n -= 2;
	buf_putc(f, '"');
	buf_json_escape(f, p, n);
	buf_putc(f, '"');
	pg_json_quote(cond, p, n);
}

const char *page_metadata_filters(struct span q, struct buf *f, uint64_t *sig)
{
	static const char prefix[] = "metadata.";
	const size_t plen = sizeof prefix - 1;
	struct buf keys[MAX_FILTERS] = {{0}};
	struct buf v = {0};
	const char *why = NULL;
	int nkeys = 0;
	const char *p = q.p, *end = q.p + q.n;
	while (p < end && why == NULL) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		const char *ke = eq ? eq : pe;
		struct buf k = {0};
		if (router_decode((struct span){p, (size_t)(ke - p)}, true, &k) < 0) {
			why = "a query parameter is badly encoded";
		} else if (k.len >= plen && memcmp(k.data, prefix, plen) == 0) {
			buf_reset(&v);
			if (eq == NULL ||
			    router_decode((struct span){eq + 1, (size_t)(pe - eq - 1)}, true, &v) < 0)
				why = "a metadata filter needs a well-encoded value: metadata.<key>=<value>";
			else if (k.len == plen)
				why = "a metadata filter needs a key: metadata.<key>=<value>";
			else if (!page_text_ok(k.data + plen, k.len - plen) || !page_text_ok(v.data, v.len))
				why = "metadata filter keys and values must be UTF-8 text without NUL";
			else if (nkeys == MAX_FILTERS)
				why = "at most 32 metadata filters";
			for (int i = 0; i < nkeys && why == NULL; i++)
				if (keys[i].len == k.len - plen &&
				    memcmp(keys[i].data, k.data + plen, keys[i].len) == 0)
					why = "a metadata key is given twice (filters are ANDed: one value per key)";
			if (why == NULL) {
				buf_puts(f, nkeys == 0 ? "\"m\":{\"" : ",\"");
				buf_json_escape(f, k.data + plen, k.len - plen);
				buf_puts(f, "\":");
				struct buf cond = {0};
				buf_putc(&cond, 'm');
				pg_json_quote(&cond, k.data + plen, k.len - plen);
				buf_putc(&cond, ':');
				append_value(f, &cond, &v);
				*sig |= page_facet_bits(cond.data, cond.len);
				buf_free(&cond);
				buf_append(&keys[nkeys++], k.data + plen, k.len - plen);
			}
		}
		buf_free(&k);
		p = pe + 1;
	}
	if (why == NULL && nkeys > 0)
		buf_putc(f, '}');
	for (int i = 0; i < nkeys; i++)
		buf_free(&keys[i]);
	buf_free(&v);
	return why;
}

