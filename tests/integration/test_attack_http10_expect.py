"""Attack: an HTTP/1.0 request with "Expect: 100-continue" gets an interim
"HTTP/1.1 100 Continue". RFC 9110 section 10.1.1: "A server that receives a
100-continue expectation in an HTTP/1.0 request MUST ignore that expectation."
An HTTP/1.0 client (or a 1.0 proxy) does not know 1xx responses and takes the
100 as the final response; the real one is then read as garbage."""

import time

from tshelpers import RawConn


def test_http10_expect_100_continue_is_ignored(server):
    c = RawConn(server.host, server.port)
    try:
        c.send(b"PUT /v1/threads/thr_x HTTP/1.0\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        time.sleep(0.3)  # a 100 would be written now, before the body arrives
        c.send(b"{}")
        while c._fill():
            pass
        first_line = c.buf.split(b"\r\n", 1)[0]
        assert b" 100 " not in first_line + b" ", c.buf[:200]
        assert first_line.startswith(b"HTTP/1.1 401"), c.buf[:200]
    finally:
        c.close()
