"""Body limit (--max-body): 413 over it, accepted at it, with Content-Length
or chunked; precedence 413 before 415/400."""

import json

import pytest

from tshelpers import (ServerProcess, binary_path, check_error, database_url, raw_request,
                       thread_doc, user_message)

LIMIT = 1024


@pytest.fixture(scope="module")
def small_server(request, jwt_secret, log_dir):
    # One instance for the module; checked like the main one at the end.
    srv = ServerProcess(binary_path(), database_url(), jwt_secret,
                        extra_args=["--pool-size", "1", "--max-body", str(LIMIT)],
                        log_dir=log_dir, name="maxbody")
    srv.start()
    yield srv
    srv.stop_and_check()


@pytest.fixture
def small(small_server, make_token, user_id):
    c = small_server.client(make_token(user_id))
    yield c
    c.close()


def doc_of_size(tid, size):
    doc = thread_doc(tid, title="")
    base = len(json.dumps(doc).encode())
    doc["title"] = "x" * (size - base)
    body = json.dumps(doc).encode()
    assert len(body) == size
    return doc, body


def test_body_at_limit_accepted(small):
    doc, body = doc_of_size("thr_a7113170", LIMIT)
    r = small.put("/v1/threads/thr_a7113170", body)
    assert r.status == 204, r
    assert small.get("/v1/threads/thr_a7113170").json == doc


def test_body_over_limit_413(small):
    doc, body = doc_of_size("thr_0e113170", LIMIT + 1)
    r = small.put("/v1/threads/thr_0e113170", body)
    check_error(r, 413, "payload_too_large")
    check_error(small.get("/v1/threads/thr_0e113170"), 404)
    # Item and attachment routes too.
    small.save_thread(thread_doc("thr_0e113171"))
    item = user_message("thr_0e113171", text="y" * LIMIT)
    check_error(small.post("/v1/threads/thr_0e113171/items", item), 413)
    check_error(small.put("/v1/threads/thr_0e113171/items/" + item["id"], item), 413)
    check_error(small.put("/v1/attachments/atc_big00000",
                          {"id": "atc_big00000", "name": "z" * LIMIT}), 413)
    assert small.list_items("thr_0e113171")["data"] == []


def test_413_before_415_and_400(small):
    big = b"{" + b" " * (LIMIT + 10)  # also bad JSON
    check_error(small.put("/v1/threads/thr_1", big, content_type="text/plain"), 413)
    check_error(small.put("/v1/threads/thr_1", big), 413)


def test_413_answered_without_reading_a_huge_body(small_server, make_token, user_id):
    # Content-Length far over the limit, body never sent: the server answers
    # from the headers instead of waiting for 100 MB.
    c = small_server.raw()
    try:
        c.send(("PUT /v1/threads/thr_huge0000 HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: 100000000\r\n\r\n{\"id\":" % make_token(user_id)).encode())
        status, _, _, body = c.read_response()
        assert status == 413
        assert json.loads(body)["error"]["code"] == "payload_too_large"
    finally:
        c.close()


def test_chunked_body_over_limit_413(small_server, make_token, user_id):
    tok = make_token(user_id)
    c = small_server.raw()
    try:
        head = ("PUT /v1/threads/thr_c0e11700 HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % tok).encode()
        _, body = doc_of_size("thr_c0e11700", LIMIT + 300)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p)
                          for p in (body[:500], body[500:1000], body[1000:]))
        try:
            c.send(head + chunks + b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, _, rbody = c.read_response()
        assert status == 413
        assert json.loads(rbody)["error"]["code"] == "payload_too_large"
    finally:
        c.close()
    check_error(small_server.client(tok).get("/v1/threads/thr_c0e11700"), 404)


def test_chunked_body_at_limit_accepted(small_server, make_token, user_id):
    tok = make_token(user_id)
    c = small_server.raw()
    try:
        doc, body = doc_of_size("thr_c0a71700", LIMIT)
        head = ("PUT /v1/threads/thr_c0a71700 HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % tok).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:700], body[700:]))
        c.send(head + chunks + b"0\r\n\r\n")
        assert c.read_response()[0] == 204
        c.send(raw_request("GET", "/v1/threads/thr_c0a71700", token=tok))
        status, _, _, rbody = c.read_response()
        assert status == 200 and json.loads(rbody) == doc
    finally:
        c.close()


def test_server_healthy_after_413s(small_server, small):
    for _ in range(5):
        c = small_server.raw()
        try:
            c.send(raw_request("PUT", "/v1/threads/t", b"x" * (LIMIT * 4), token=small.token))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.read_response()[0] == 413
        c.close()
    assert small.get("/v1/threads").status == 200


def test_idle_and_request_timeouts(start_server):
    srv = start_server(["--pool-size", "1", "--idle-timeout", "1", "--request-timeout", "1"])
    # An idle keep-alive connection is closed by the server.
    c = srv.raw()
    c.send(raw_request("GET", "/healthz"))
    assert c.read_response()[0] == 200
    assert c.wait_eof(timeout=5), "idle connection not closed after --idle-timeout"
    c.close()
    # A request that never completes is cut off (a 408 at most), not held.
    c = srv.raw()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    c.sock.settimeout(5)
    try:
        while c._fill():
            pass
    except OSError:
        raise AssertionError("incomplete request held past --request-timeout")
    if c.buf:
        assert c.buf.startswith(b"HTTP/1.1 408"), c.buf[:80]
    c.close()
