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

/* Feeds one whole input to h; returns the status of the first stop. */
static enum http_in_status feed_all(struct http_in *h, const char *in)
{
	enum http_in_status st = HTTP_IN_MORE;
	http_in_feed(h, in, strlen(in), &st);
	return st;
}

static void test_body_budget(void)
{
	struct http_budget b = {.limit = 100, .used = 0};
	struct http_in h1, h2;
	http_in_init(&h1, 4096, 1000, &b);
	http_in_init(&h2, 4096, 1000, &b);
	/* Headers alone hold nothing: a Content-Length is reserved as its bytes
	 * arrive (up to the declared length), so sockets that never send a body
	 * cannot take the budget. */
	CHECK(feed_all(&h1, "PUT /a HTTP/1.1\r\nContent-Length: 60\r\n\r\n") == HTTP_IN_MORE);
	CHECK(b.used == 0);
	CHECK(feed_all(&h1, "0123456789") == HTTP_IN_MORE);
	CHECK(b.used >= 10 && b.used <= 60);
	CHECK(feed_all(&h1, "01234567890123456789012345678901234567890123456789") ==
	      HTTP_IN_REQUEST);
	CHECK(b.used == 60);
	/* A second body that does not fit the rest: 503 at the headers, nothing held. */
	CHECK(feed_all(&h2, "PUT /b HTTP/1.1\r\nContent-Length: 50\r\n\r\n") == HTTP_IN_ERROR);
	CHECK(h2.error_status == 503 && h2.req.over_budget && b.used == 60);
	/* Dropping the answered request's body gives its bytes back (conn.c does
	 * it for every answered request, lingering or not). */
	http_in_drop_body(&h1);
	CHECK(b.used == 0 && h1.req.body.data == NULL);
	http_in_free(&h1);
	CHECK(b.used == 0);
	http_in_free(&h2);
	/* Chunked bodies reserve as they grow, and fail past the budget. */
	http_in_init(&h1, 4096, 1000, &b);
	CHECK(feed_all(&h1, "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "a\r\n0123456789\r\n") == HTTP_IN_MORE);
	CHECK(b.used >= 10 && b.used <= 100);
	http_in_free(&h1);
	CHECK(b.used == 0);
	b.limit = 1 << 20;
	http_in_init(&h1, 4096, 1 << 20, &b);
	b.limit = 70000; /* room for the first step (64 KiB), not the second */
	CHECK(feed_all(&h1, "PUT /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
	      HTTP_IN_MORE);
	char chunk[8192 + 16];
	int n = snprintf(chunk, sizeof chunk, "2000\r\n");
	memset(chunk + n, 'x', 8192);
	memcpy(chunk + n + 8192, "\r\n", 3);
	enum http_in_status st = HTTP_IN_MORE;
	for (int i = 0; i < 16 && st == HTTP_IN_MORE; i++)
		st = feed_all(&h1, chunk);
	CHECK(st == HTTP_IN_ERROR && h1.error_status == 503 && b.used == 0);
	http_in_free(&h1);
}

static void test_hostile_headers(void)
{
	struct http_in h;
	/* Trailers never set a field we act on. */
	http_in_init(&h, 4096, 1000, NULL);
	CHECK(feed_all(&h, "PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
			   "Authorization: Bearer t\r\n\r\n") == HTTP_IN_REQUEST);
	CHECK(h.req.authorization.len == 0);
	http_in_free(&h);
	/* Two Authorization lines: 400, never joined. */
	http_in_init(&h, 4096, 1000, NULL);
	CHECK(feed_all(&h, "GET /a HTTP/1.1\r\nAuthorization: Bearer a\r\n"
			   "authorization: Bearer b\r\n\r\n") == HTTP_IN_ERROR);
	CHECK(h.error_status == 400);
	http_in_free(&h);
	/* Expect split anywhere still asks for 100 Continue. */
	const char *req = "PUT /a HTTP/1.1\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n";
	for (size_t cut = 1; cut < strlen(req); cut++) {
		enum http_in_status st;
		http_in_init(&h, 4096, 1000, NULL);
		http_in_feed(&h, req, cut, &st);
		http_in_feed(&h, req + cut, strlen(req) - cut, &st);
		CHECK(h.req.expect_continue && h.headers_done);
		http_in_free(&h);
	}
	/* Over-long X-Request-Id and Content-Type are no framing errors. */
	char big[1024];
	snprintf(big, sizeof big,
		 "GET /a HTTP/1.1\r\nX-Request-Id: %0300d\r\nContent-Type: %0300d\r\n\r\n", 1, 2);
	http_in_init(&h, 4096, 1000, NULL);
	CHECK(feed_all(&h, big) == HTTP_IN_REQUEST);
	CHECK(h.req.request_id.len == 0 && h.req.content_type_bad);
	http_in_free(&h);
	/* Upgrade is ignored: the request is a plain one, and the next one follows. */
	http_in_init(&h, 4096, 1000, NULL);
	const char *up = "GET /a HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
			 "GET /b HTTP/1.1\r\n\r\n";
	enum http_in_status st;
	size_t used = http_in_feed(&h, up, strlen(up), &st);
	CHECK(st == HTTP_IN_REQUEST && h.req.keep_alive);
	http_in_next(&h);
	http_in_feed(&h, up + used, strlen(up) - used, &st);
	CHECK(st == HTTP_IN_REQUEST && h.req.url.len == 2 && memcmp(h.req.url.data, "/b", 2) == 0);
	http_in_free(&h);
	/* CONNECT: answered, then the connection closes (llhttp parses no more). */
	http_in_init(&h, 4096, 1000, NULL);
	CHECK(feed_all(&h, "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n") ==
	      HTTP_IN_REQUEST);
	CHECK(!h.req.keep_alive);
	http_in_free(&h);
	/* Strict chunk framing: chunk data must end with CRLF. */
	http_in_init(&h, 4096, 1000, NULL);
	CHECK(feed_all(&h, "PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nAAAAAXX0\r\n\r\n") == HTTP_IN_ERROR);
	http_in_free(&h);
}

int main(void)
{
	test_whole_and_split();
	test_limits();
	test_malformed();
	test_keep_alive_rules();
	test_body_budget();
	test_hostile_headers();
	return check_done();
}
