"""Attack: GET /v1/changes chose Server-Sent Events when the Accept value
contained "text/event-stream" anywhere, weight and type boundaries ignored.
"text/event-stream;q=0" (RFC 9110 12.5.1: q=0 means "not acceptable") and
another type such as "text/event-streamx" got an endless event stream instead
of the Page: a client that asked for the Page with a read timeout hung.
The stream is chosen only for the media type itself with a weight above 0."""

import socket

import pytest

STREAM, PAGE = "text/event-stream", "application/json"


def head_of(srv, tok, accept):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(("GET /v1/changes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                   "Accept: %s\r\n\r\n" % (tok, accept)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            assert d, "closed before the head"
            buf += d
        head = buf.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert head.startswith("http/1.1 200"), head
        return head.split("content-type:", 1)[1].split("\r\n", 1)[0].strip()
    finally:
        s.close()


@pytest.mark.parametrize("accept,want", [
    ("text/event-stream", STREAM),
    ("TEXT/Event-Stream", STREAM),
    ("text/event-stream; charset=utf-8", STREAM),
    ("application/json;q=0.5, text/event-stream", STREAM),
    (" text/event-stream ;q=0.5", STREAM),
    ("text/event-stream;q=1.000", STREAM),
    ("text/event-stream;q=0", PAGE),
    ("text/event-stream; q=0.000", PAGE),
    ("application/json, text/event-stream;Q=0", PAGE),
    ("text/event-streamx", PAGE),
    ("application/x-text/event-stream", PAGE),
    ("*/*", PAGE),
])
def test_accept_chooses_the_stream_only_when_it_is_acceptable(server, make_token, user_id,
                                                              accept, want):
    assert head_of(server, make_token(user_id), accept) == want
