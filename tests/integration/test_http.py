"""HTTP/1.1 front end on the wire: keep-alive, pipelining, Connection: close,
HTTP/1.0, requests split into tiny writes, chunked request bodies, bad input
and clients that vanish mid-request."""

import json
import socket
import struct
import threading
import time

from tshelpers import RawConn, q, raw_request, thread_doc, user_message


def _json(body):
    return json.loads(body) if body else None


def test_keep_alive_many_requests_one_socket(raw, make_token, user_id):
    tok = make_token(user_id)
    c = raw()
    doc = thread_doc("thr_4ee90000")
    c.send(raw_request("PUT", "/v1/threads/thr_4ee90000", doc, token=tok))
    assert c.read_response()[0] == 204
    for i in range(150):
        if i % 3 == 0:
            c.send(raw_request("GET", "/healthz"))
            assert c.read_response()[0] == 200
        elif i % 3 == 1:
            c.send(raw_request("GET", "/v1/threads/thr_4ee90000", token=tok))
            status, _, _, body = c.read_response()
            assert status == 200 and _json(body) == doc
        else:
            c.send(raw_request("GET", "/v1/threads/thr_nope0000", token=tok))
            status, _, hdrs, body = c.read_response()
            assert status == 404 and _json(body)["error"]["code"] == "not_found"
    # Still open: one more request on the same socket works.
    c.send(raw_request("GET", "/v1/threads?limit=5", token=tok))
    status, version, _, body = c.read_response()
    assert status == 200 and version == "HTTP/1.1"
    assert _json(body)["data"] == [doc]


def test_pipelined_requests_answered_in_order(raw, make_token, user_id):
    tok = make_token(user_id)
    reqs, expect = [], []
    for i in range(12):
        tid = "thr_p1pe%04d" % i
        doc = thread_doc(tid, title="pipelined %d" % i,
                         created_at="2025-05-05T05:05:%02dZ" % i)
        reqs.append(raw_request("PUT", "/v1/threads/" + tid, doc, token=tok))
        expect.append((204, None))
        reqs.append(raw_request("GET", "/v1/threads/" + tid, token=tok))
        expect.append((200, doc))
        if i % 3 == 0:
            reqs.append(raw_request("GET", "/healthz"))  # answered without the DB
            expect.append((200, "any"))
        if i % 4 == 1:
            reqs.append(raw_request("GET", "/v1/threads/thr_absent%02d" % i, token=tok))
            expect.append((404, "error"))
        if i % 5 == 2:
            reqs.append(raw_request("GET", "/v1/threads", token=None))
            expect.append((401, "error"))
    reqs.append(raw_request("GET", "/v1/threads?order=asc&limit=100", token=tok))
    expect.append((200, "page"))
    c = raw()
    c.send(b"".join(reqs))  # one write
    docs = []
    for n, (status, want) in enumerate(expect):
        got_status, _, _, body = c.read_response()
        assert got_status == status, (n, got_status, body[:200])
        if isinstance(want, dict):
            assert _json(body) == want, n
            docs.append(want)
        elif want == "error":
            assert "error" in _json(body)
        elif want == "page":
            assert _json(body) == {"data": docs, "has_more": False, "after": None}


def test_many_pipelined_gets_in_one_write(raw, make_token, user_id):
    # More requests than any sane per-connection pipeline bound: the server
    # must apply back-pressure, not drop or reorder.
    tok = make_token(user_id)
    c = raw()
    n = 300
    docs = [thread_doc("thr_m%07d" % i, title=str(i)) for i in range(10)]
    c.send(b"".join(raw_request("PUT", "/v1/threads/" + d["id"], d, token=tok) for d in docs))
    for _ in docs:
        assert c.read_response()[0] == 204
    payload = b"".join(raw_request("GET", "/v1/threads/" + docs[i % 10]["id"], token=tok)
                       for i in range(n))
    sender = threading.Thread(target=c.send, args=(payload,))
    sender.start()
    for i in range(n):
        status, _, _, body = c.read_response()
        assert status == 200, i
        assert _json(body)["title"] == str(i % 10), i
    sender.join(10)


def test_pipelined_write_then_read_sees_write(raw, make_token, user_id):
    tok = make_token(user_id)
    tid = "thr_rw000000"
    v1 = thread_doc(tid, title="v1")
    v2 = thread_doc(tid, title="v2")
    item = user_message(tid, "msg_rw000000")
    c = raw()
    c.send(raw_request("PUT", "/v1/threads/" + tid, v1, token=tok)
           + raw_request("POST", "/v1/threads/%s/items" % tid, item, token=tok)
           + raw_request("PUT", "/v1/threads/" + tid, v2, token=tok)
           + raw_request("GET", "/v1/threads/%s?items=10" % tid, token=tok)
           + raw_request("DELETE", "/v1/threads/" + tid, token=tok)
           + raw_request("GET", "/v1/threads/" + tid, token=tok))
    assert c.read_response()[0] == 204
    assert c.read_response()[0] == 201
    assert c.read_response()[0] == 204
    status, _, _, body = c.read_response()
    assert status == 200
    assert _json(body) == dict(v2, items={"data": [item], "has_more": False, "after": None})
    assert c.read_response()[0] == 204
    assert c.read_response()[0] == 404


def test_connection_close_honored(raw, make_token, user_id):
    c = raw()
    c.send(raw_request("GET", "/v1/threads", token=make_token(user_id),
                       headers={"Connection": "close"}))
    status, _, _, body = c.read_response()
    assert status == 200
    assert _json(body) == {"data": [], "has_more": False, "after": None}
    assert c.wait_eof(), "server kept the connection open after Connection: close"


def test_connection_close_on_error_response(raw):
    c = raw()
    c.send(raw_request("GET", "/v1/threads", headers={"Connection": "close"}))
    status, _, _, _ = c.read_response()
    assert status == 401
    assert c.wait_eof()


def test_requests_after_connection_close_are_not_served(raw):
    c = raw()
    c.send(raw_request("GET", "/healthz")
           + raw_request("GET", "/healthz", headers={"Connection": "close"})
           + raw_request("GET", "/healthz")
           + raw_request("GET", "/healthz"))
    assert c.read_response()[0] == 200
    assert c.read_response()[0] == 200
    assert c.wait_eof(), "server answered requests after a Connection: close request"


def test_http10_closes_by_default(raw, make_token, user_id):
    tok = make_token(user_id)
    doc = thread_doc("thr_ht710000")
    c = raw()
    c.send(raw_request("PUT", "/v1/threads/thr_ht710000", doc, token=tok, version="HTTP/1.0"))
    assert c.read_response()[0] == 204
    assert c.wait_eof(), "HTTP/1.0 request without keep-alive left the connection open"
    c = raw()
    c.send(raw_request("GET", "/v1/threads/thr_ht710000", token=tok, version="HTTP/1.0"))
    status, _, _, body = c.read_response()
    assert status == 200
    assert _json(body) == doc
    assert c.wait_eof()


def test_request_split_into_tiny_writes(raw, make_token, user_id):
    tok = make_token(user_id)
    tid = "thr_t1ny0000"
    doc = thread_doc(tid, title="byte by byte: ü \U0001F600")
    data = raw_request("PUT", "/v1/threads/" + tid, doc, token=tok)
    c = raw()
    # Byte by byte through the request line, headers and the first part of
    # the body, then small chunks (a multi-byte UTF-8 sequence is split too).
    for i in range(len(data)):
        c.send(data[i:i + 1])
        if i % 7 == 0:
            time.sleep(0.001)
    assert c.read_response()[0] == 204
    get = raw_request("GET", "/v1/threads/" + tid, token=tok)
    split_points = [1, 3, 10, len(get) - 3, len(get) - 1]
    prev = 0
    for p in split_points + [len(get)]:
        c.send(get[prev:p])
        prev = p
        time.sleep(0.002)
    status, _, _, body = c.read_response()
    assert status == 200
    assert _json(body) == doc


def test_chunked_request_body(raw, make_token, user_id):
    tok = make_token(user_id)
    tid = "thr_c4c4c4c4"
    doc = thread_doc(tid, title="chunked " + "z" * 5000)
    body = json.dumps(doc).encode()
    pieces = [body[:1], body[1:100], body[100:4000], body[4000:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    head = ("PUT /v1/threads/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            % (tid, tok)).encode()
    c = raw()
    c.send(head + chunked[:50])
    time.sleep(0.01)
    c.send(chunked[50:])
    assert c.read_response()[0] == 204
    # Chunked add_thread_item, pipelined with a read.
    item = user_message(tid, "msg_c4c4c4c4")
    ib = json.dumps(item).encode()
    chunked_item = b"%x\r\n%s\r\n0\r\n\r\n" % (len(ib), ib)
    head = ("POST /v1/threads/%s/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            % (tid, tok)).encode()
    c.send(head + chunked_item + raw_request("GET", "/v1/threads/%s?items=5" % tid, token=tok))
    assert c.read_response()[0] == 201
    status, _, _, rbody = c.read_response()
    assert status == 200
    assert _json(rbody) == dict(doc, items={"data": [item], "has_more": False, "after": None})


def test_expect_100_continue(raw, make_token, user_id):
    # curl sends "Expect: 100-continue" for bodies over 1 KiB.
    tok = make_token(user_id)
    tid = "thr_e1000000"
    doc = thread_doc(tid, title="e" * 2000)
    c = raw()
    c.send(raw_request("PUT", "/v1/threads/" + tid, doc, token=tok,
                       headers={"Expect": "100-continue"}))
    assert c.read_response()[0] == 204  # a 100 Continue, if sent, is skipped
    c.send(raw_request("GET", "/v1/threads/" + tid, token=tok))
    status, _, _, body = c.read_response()
    assert status == 200 and _json(body) == doc


def test_malformed_request_400_and_close(raw):
    for garbage in (b"HELLO\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n",
                    b"POST /v1/threads/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                    b"PUT /v1/threads/x HTTP/1.1\r\nContent-Length: 5\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        c = raw()
        c.send(garbage)
        status, _, _, body = c.read_response()
        assert status == 400, (garbage, status)
        assert c.wait_eof(), garbage


def test_header_too_large_431(raw):
    c = raw()
    big = "a" * (256 * 1024)
    try:
        c.send(("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % big).encode())
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may stop reading once the bound is passed
    status, _, _, body = c.read_response()
    assert status == 431, status
    assert json.loads(body)["error"]["code"] == "header_too_large"


def test_clients_vanishing_mid_request_do_not_hurt_server(server, make_token, user_id):
    tok = make_token(user_id)
    tid = "thr_9h0s7000"
    setup = RawConn(server.host, server.port)
    setup.send(raw_request("PUT", "/v1/threads/" + tid, thread_doc(tid), token=tok))
    assert setup.read_response()[0] == 204
    setup.close()
    for round_ in range(10):
        # Pipelined DB queries, then gone before the answers.
        c = RawConn(server.host, server.port)
        c.send(b"".join(raw_request("GET", "/v1/threads/%s?items=20" % tid, token=tok)
                        for _ in range(20)))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
        # Half a body, then gone.
        c = RawConn(server.host, server.port)
        c.send(b"PUT /v1/threads/%s HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
               b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":"
               % (tid.encode(), tok.encode()))
        c.close()
        # Half a header, then gone.
        c = RawConn(server.host, server.port)
        c.send(b"GET /v1/threads HTTP/1.1\r\nAuthor")
        c.close()
    # The server is fine and the thread was not clobbered by the half body.
    c = RawConn(server.host, server.port)
    c.send(raw_request("GET", "/v1/threads/" + tid, token=tok))
    status, _, _, body = c.read_response()
    assert status == 200 and _json(body) == thread_doc(tid)
    c.close()


def test_eof_mid_request_closes_connection(raw, make_token, user_id):
    # A client that half-closes in the middle of a request will never finish
    # it: the server closes its side (after a 400 at most) instead of holding
    # the connection until a timeout.
    tok = make_token(user_id)
    partials = [
        b"GET /v1/threads HTTP/1.1\r\nAuthor",
        ("PUT /v1/threads/thr_eof00000 HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
         "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":" % tok).encode(),
        ("PUT /v1/threads/thr_eof00000 HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"id\"" % tok
         ).encode(),
    ]
    for data in partials:
        c = raw()
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)
        c.sock.settimeout(5)
        try:
            while c._fill():
                pass
        except socket.timeout:
            raise AssertionError("connection still open 5 s after the client's EOF "
                                 "mid-request: %r" % data[:40])
        if c.buf:
            assert c.buf.startswith(b"HTTP/1.1 4"), c.buf[:100]


def test_concurrent_clients(server, make_token):
    errors = []

    def worker(n):
        try:
            sub = "user-concurrent-%d-%f" % (n, time.time())
            c = server.client(make_token(sub))
            tid = "thr_1a2b3c4d"  # same id for every user
            docs = []
            c.save_thread(thread_doc(tid, title="owner %d" % n))
            for i in range(15):
                it = user_message(tid, "msg_%08d" % i, text="%d-%d" % (n, i),
                                  created_at="2025-06-01T12:00:00Z")
                c.add_item(it)
                docs.append(it)
            got, _ = c.page_all("/v1/threads/%s/items" % q(tid), 4)
            assert got == docs, n
            assert c.get("/v1/threads/" + tid).json["title"] == "owner %d" % n
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_many_idle_connections_then_requests(server):
    conns = [RawConn(server.host, server.port) for _ in range(64)]
    try:
        for c in conns:
            c.send(raw_request("GET", "/healthz"))
        for c in conns:
            assert c.read_response()[0] == 200
    finally:
        for c in conns:
            c.close()
