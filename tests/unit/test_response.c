/* Replies on the wire: framing per peer (keep-alive, HTTP/1.0, HEAD, 204),
 * chunk framing, part merging, JSON error bodies. */
#include <string.h>

#include "check.h"
#include "response.h"

/* Concatenates what reply_finish hands to the socket. */
static void wire(struct reply *r, unsigned flags, struct buf *out)
{
	uv_buf_t bufs[16];
	size_t n = reply_finish(r, flags, bufs);
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_append(out, bufs[i].base, bufs[i].len);
	buf_putc(out, '\0');
}

int main(void)
{
	struct buf w = {0};
	struct reply r;

	reply_init(&r, 200);
	reply_copy_str(&r, "{\"a\":");
	reply_copy_str(&r, "1}");
	CHECK(r.nparts == 1 && r.body_len == 7); /* adjacent copies merge */
	reply_header(&r, "X-Request-Id", "abc");
	wire(&r, REPLY_KEEP_ALIVE, &w);
	CHECK(strcmp(w.data, "HTTP/1.1 200 OK\r\nX-Request-Id: abc\r\nContent-Type: application/json\r\n"
			     "Content-Length: 7\r\n\r\n{\"a\":1}") == 0);
	wire(&r, 0, &w);
	CHECK(strstr(w.data, "Connection: close\r\n") != NULL);
	wire(&r, REPLY_KEEP_ALIVE | REPLY_HTTP10, &w);
	CHECK(strstr(w.data, "Connection: keep-alive\r\n") != NULL);
	wire(&r, REPLY_HTTP10, &w);
	CHECK(strstr(w.data, "Connection: close\r\n") != NULL &&
	      strstr(w.data, "keep-alive") == NULL);
	/* HEAD: the same Content-Length, no body bytes. */
	wire(&r, REPLY_KEEP_ALIVE | REPLY_NO_BODY, &w);
	CHECK(strstr(w.data, "Content-Length: 7\r\n") != NULL);
	CHECK(strcmp(w.data + strlen(w.data) - 4, "\r\n\r\n") == 0);
	reply_free(&r);

	/* A referenced part is sent from the caller's memory, between copies. */
	static const char doc[] = "{\"id\":\"x\"}";
	reply_init(&r, 200);
	reply_copy_str(&r, "[");
	reply_ref(&r, doc, strlen(doc));
	reply_copy_str(&r, "]");
	CHECK(r.nparts == 3 && r.body_len == strlen(doc) + 2);
	wire(&r, REPLY_KEEP_ALIVE, &w);
	CHECK(strstr(w.data, "\r\n\r\n[{\"id\":\"x\"}]") != NULL);
	reply_free(&r);

	/* 204: neither a type nor a length. */
	reply_init(&r, 204);
	wire(&r, REPLY_KEEP_ALIVE, &w);
	CHECK(strcmp(w.data, "HTTP/1.1 204 No Content\r\n\r\n") == 0);
	reply_free(&r);

	/* Streams: head with chunked framing, a chunk, the last chunk. */
	reply_init(&r, 200);
	r.kind = REPLY_STREAM_HEAD;
	reply_copy_str(&r, "abc");
	wire(&r, REPLY_KEEP_ALIVE, &w);
	CHECK(strstr(w.data, "Transfer-Encoding: chunked\r\n") != NULL);
	CHECK(strstr(w.data, "Content-Length") == NULL);
	CHECK(strcmp(strstr(w.data, "\r\n\r\n"), "\r\n\r\n3\r\nabc\r\n") == 0);
	reply_free(&r);
	reply_init(&r, 200);
	r.kind = REPLY_CHUNK;
	wire(&r, REPLY_KEEP_ALIVE, &w);
	CHECK(strcmp(w.data, "0\r\n\r\n") == 0);
	reply_free(&r);
	/* HTTP/1.0 stream: bare bytes, the close ends the body. */
	reply_init(&r, 200);
	r.kind = REPLY_CHUNK;
	r.raw_stream = true;
	reply_copy_str(&r, "xyz");
	wire(&r, 0, &w);
	CHECK(strcmp(w.data, "xyz") == 0);
	reply_free(&r);

	/* Error bodies are JSON, escaped. */
	reply_init(&r, 400);
	reply_error_body(&r, "bad_request", "a \"quote\"\n");
	wire(&r, 0, &w);
	CHECK(strstr(w.data, "{\"error\":{\"code\":\"bad_request\",\"message\":\"a \\\"quote\\\"\\n\"}}") !=
	      NULL);
	CHECK(strstr(w.data, "HTTP/1.1 400 Bad Request\r\n") == w.data);
	reply_free(&r);
	CHECK(strcmp(reply_status_text(413), "Content Too Large") == 0);
	CHECK(strcmp(reply_status_text(299), "Unknown") == 0);
	buf_free(&w);
	return check_done();
}
