/* The HTTP front end fed whole, byte by byte, and split at every offset: the
 * same requests must come out every time. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

struct seen {
	int n;
	char urls[8][128];
	char bodies[8][128];
	char auth[8][128];
	int methods[8];
	int keep[8];
	int error;
};

static void record(struct seen *s, const struct http_req *r)
{
	if (s->n >= 8)
		return;
	snprintf(s->urls[s->n], 128, "%.*s", (int)r->url.len, r->url.data ? r->url.data : "");
	snprintf(s->bodies[s->n], 128, "%.*s", (int)buf_rlen(&r->body),
		 r->body.data ? buf_rptr(&r->body) : "");
	snprintf(s->auth[s->n], 128, "%.*s", (int)buf_rlen(&r->authorization),
		 r->authorization.data ? buf_rptr(&r->authorization) : "");
	s->methods[s->n] = r->method;
	s->keep[s->n] = r->keep_alive;
	s->n++;
}

/* Feeds `in` in pieces cut at the given offsets (sorted, < len). */
static void run(const char *in, size_t len, const size_t *cuts, int ncuts, struct seen *s,
		size_t max_body)
{
	struct http_in h;
	struct buf pending = {0};
	http_in_init(&h, 4096, max_body, NULL);
	memset(s, 0, sizeof *s);
	size_t start = 0;
	for (int k = 0; k <= ncuts && !s->error; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		buf_append(&pending, in + start, end - start);
		start = end;
		while (buf_rlen(&pending) > 0) {
			enum http_in_status st;
			size_t used = http_in_feed(&h, buf_rptr(&pending), buf_rlen(&pending), &st);
			buf_consume(&pending, used);
			if (st == HTTP_IN_MORE)
				break;
			if (st == HTTP_IN_ERROR) {
				s->error = h.error_status;
				break;
			}
			record(s, &h.req);
			if (h.req.body_too_large) {
				s->error = 413;
				break;
			}
			http_in_next(&h);
		}
	}
	buf_free(&pending);
	http_in_free(&h);
}

static const char pipelined[] =
    "GET /v1/threads?limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n"
    "PUT /v1/threads/thr_1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 11\r\n\r\n{\"id\":\"a\"}\n"
    "POST /v1/threads/t/items HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"
    "DELETE /v1/attachments/x%20y HTTP/1.1\r\nConnection: close\r\n\r\n";

static void check_expected(const struct seen *s)
{
	CHECK(s->error == 0);
	CHECK(s->n == 4);
	CHECK(strcmp(s->urls[0], "/v1/threads?limit=5") == 0);
	CHECK(strcmp(s->auth[0], "Bearer abc.def.ghi") == 0);
	CHECK(s->methods[0] == HTTP_GET && s->keep[0]);
	CHECK(strcmp(s->bodies[1], "{\"id\":\"a\"}\n") == 0);
	CHECK(s->methods[1] == HTTP_PUT);
	CHECK(strcmp(s->bodies[2], "{\"a\":1}") == 0);
	CHECK(s->methods[2] == HTTP_POST);
	CHECK(strcmp(s->urls[3], "/v1/attachments/x%20y") == 0);
	CHECK(s->methods[3] == HTTP_DELETE && !s->keep[3]);
}

static void test_whole_and_split(void)
{
	size_t len = strlen(pipelined);
	struct seen s;
	run(pipelined, len, NULL, 0, &s, 1024);
	check_expected(&s);

	size_t *cuts = malloc(len * sizeof *cuts);
	for (size_t i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	run(pipelined, len, cuts, (int)len - 1, &s, 1024); /* byte by byte */
	check_expected(&s);
	free(cuts);

	int bad = 0;
	for (size_t i = 1; i < len; i++) { /* one cut at every offset */
		run(pipelined, len, &i, 1, &s, 1024);
		if (s.n != 4 || s.error || strcmp(s.bodies[2], "{\"a\":1}") != 0 ||
		    strcmp(s.auth[0], "Bearer abc.def.ghi") != 0)
			bad++;
	}
	CHECK(bad == 0);
	for (size_t i = 1; i + 1 < len; i += 7) { /* two cuts */
		size_t two[2] = {i, i + 1 + (len - i - 1) / 2};
		run(pipelined, len, two, 2, &s, 1024);
		if (s.n != 4 || s.error)
			bad++;
	}
	CHECK(bad == 0);
}

static void test_limits(void)
{
	struct seen s;
	const char big[] = "PUT /v1/threads/a HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
	run(big, strlen(big), NULL, 0, &s, 1024);
	CHECK(s.error == 413 && s.n == 1);

	/* chunked past the limit */
	struct buf b = {0};
	buf_puts(&b, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 20; i++)
		buf_puts(&b,
			 "64\r\n"
			 "0123456789012345678901234567890123456789012345678901234567890123456789"
			 "012345678901234567890123456789\r\n");
	buf_puts(&b, "0\r\n\r\n");
	run(b.data, b.len, NULL, 0, &s, 1024);
	CHECK(s.error == 413);
	buf_free(&b);

	/* headers past max_header (4096 in run) */
	buf_puts(&b, "GET / HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 5000; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, "\r\n\r\n");
	run(b.data, b.len, NULL, 0, &s, 1024);
	CHECK(s.error == 431);
	buf_free(&b);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	    "GARBAGE\r\n\r\n",
	    "GET / HTTP/9.9\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seen s;
		run(bad[i], strlen(bad[i]), NULL, 0, &s, 1024);
		CHECK(s.error == 400);
	}
}

static void test_keep_alive_rules(void)
{
	struct seen s;
	const char http10[] = "GET /healthz HTTP/1.0\r\n\r\n";
	run(http10, strlen(http10), NULL, 0, &s, 1024);
	CHECK(s.n == 1 && !s.keep[0]);
	const char http10ka[] = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	run(http10ka, strlen(http10ka), NULL, 0, &s, 1024);
	CHECK(s.n == 1 && s.keep[0]);
}

int main(void)
{
	test_whole_and_split();
	test_limits();
	test_malformed();
	test_keep_alive_rules();
	return check_done();
}
