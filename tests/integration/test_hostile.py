"""What a hostile (or just unusual) client does on the wire, issue 10's table:
smuggling through chunk framing, slow and stalled readers, ids that are not
text, Upgrade, HEAD, trailers and duplicate headers, HTTP/1.0 keep-alive,
split Expect, long small headers, running out of file descriptors; and the
request-body budget (issue 9) that keeps memory bounded across connections.
Raw sockets wherever the bytes themselves matter."""

import json
import os
import re
import socket
import threading
import time

import pytest

import tshelpers as th
from tshelpers import RawConn, check_error, q, raw_request, thread_doc, user_message


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted(m.group(2).split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def metrics_of(srv):
    c = srv.client(None)
    try:
        return c.get("/metrics").raw.decode()
    finally:
        c.close()


def wait_metric(srv, name, pred, timeout=15.0, **labels):
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        v = metric(metrics_of(srv), name, **labels)
        if v is not None and pred(v):
            return v
        time.sleep(0.1)
    raise AssertionError("%s%r stayed at %r" % (name, labels, v))


# ---- row 1: chunk data must end in CRLF --------------------------------------------------

def test_chunk_data_not_followed_by_crlf_is_400(raw):
    c = raw()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nAAAAAXX0\r\n\r\n")
    status, _, headers, body = c.read_response()
    assert status == 400, (status, body)
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert headers.get("connection") == "close"


# ---- rows 2 and 3: the write timer ------------------------------------------------------

@pytest.fixture
def big_thread(start_server, make_token, user_id):
    """A server with short timeouts and a thread of 8 items of 1 MB (an 8 MB page)."""
    # --max-page-bytes above the page: the test wants one large response.
    srv = start_server(["--idle-timeout", "1", "--write-timeout", "2", "--pool-size", "2",
                        "--max-page-bytes", str(32 << 20)])
    api = srv.client(make_token(user_id))
    tid = "thr_b1g00000"
    api.save_thread(thread_doc(tid))
    for i in range(8):
        it = user_message(tid, "msg_b1g%05d" % i, text=("%d" % i) * (1 << 20),
                          created_at="2025-06-01T12:00:%02dZ" % i)
        api.add_item(it)
    api.close()
    return srv, make_token(user_id), tid


def small_rcvbuf_conn(srv):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(th.TIMEOUT)
    s.connect((srv.host, srv.port))
    return s


def test_slow_but_steady_reader_gets_the_whole_page(big_thread):
    srv, tok, tid = big_thread
    s = small_rcvbuf_conn(srv)
    s.sendall(raw_request("GET", "/v1/threads/%s/items?limit=8" % tid, token=tok))
    data = b""
    start = time.monotonic()
    while True:
        chunk = s.recv(64 * 1024)
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"Content-Length: (\d+)", head)
            if m and len(body) >= int(m.group(1)):
                break
        time.sleep(0.03)  # ~2 MB/s: far slower than the server, never stalled
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert time.monotonic() - start > 1.5, "the reader was not slow: the test proves nothing"
    page = json.loads(body)  # cut short, it would not parse
    assert len(page["data"]) == 8


@pytest.mark.parametrize("how", ["close", "http10", "export"])
def test_reader_that_takes_nothing_is_closed_after_write_timeout(big_thread, how):
    srv, tok, tid = big_thread
    base = metric(metrics_of(srv), "threadstore_connections")
    s = small_rcvbuf_conn(srv)
    if how == "close":
        req = raw_request("GET", "/v1/threads/%s/items?limit=8" % tid, token=tok,
                          headers={"Connection": "close"})
    elif how == "http10":
        req = raw_request("GET", "/v1/threads/%s/items?limit=8" % tid, token=tok,
                          version="HTTP/1.0")
    else:
        req = raw_request("GET", "/v1/threads/%s/export" % tid, token=tok)
    s.sendall(req)
    wait_metric(srv, "threadstore_write_timeouts_total", lambda v: v >= 1)
    wait_metric(srv, "threadstore_connections", lambda v: v <= base)
    s.close()


# ---- row 5: ids that are not text ---------------------------------------------------------

def test_ids_and_cursors_not_utf8_are_400_without_a_warning(start_server, make_token, user_id):
    srv = start_server(["--pool-size", "2"])
    api = srv.client(make_token(user_id))
    for path in ("/v1/threads/%FF", "/v1/threads/thr_ok/items/%C3%28",
                 "/v1/attachments/%ED%A0%80", "/v1/threads?after=%FF",
                 "/v1/threads/thr_ok/items?after=%C0%AF"):
        err = check_error(api.get(path), 400, "bad_request")
        assert "UTF-8" in err["message"], (path, err)
    assert api.get("/v1/threads/caf%C3%A9").status == 404  # real UTF-8 is fine
    api.close()
    time.sleep(0.2)
    assert "level=warn" not in srv.log_text()


# ---- row 6: Upgrade ------------------------------------------------------------------------

def test_upgrade_is_ignored_and_the_next_request_is_served(raw, make_token, user_id):
    tok = make_token(user_id)
    c = raw()
    c.send(raw_request("PUT", "/v1/threads/thr_upg00000", thread_doc("thr_upg00000"), token=tok))
    assert c.read_response()[0] == 204
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
    status, _, _, body = c.read_response()
    assert status == 200 and json.loads(body) == {"status": "ok"}
    c.send(raw_request("GET", "/v1/threads/thr_upg00000", token=tok))
    status, _, _, body = c.read_response()
    assert status == 200, (status, body)
    assert json.loads(body)["id"] == "thr_upg00000"


def test_connect_is_answered_and_closed(raw):
    c = raw()
    c.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, headers, body = c.read_response()
    assert status in (400, 404, 405) and json.loads(body)["error"], (status, body)
    assert headers.get("connection") == "close"
    assert c.wait_eof()  # no bogus second answer for the bytes after it


# ---- row 7: HEAD -----------------------------------------------------------------------------

def test_head_is_get_without_a_body_and_keeps_framing(raw, make_token, user_id):
    tok = make_token(user_id)
    c = raw()
    doc = thread_doc("thr_head0000")
    c.send(raw_request("PUT", "/v1/threads/thr_head0000", doc, token=tok))
    assert c.read_response()[0] == 204
    c.send(raw_request("GET", "/v1/threads/thr_head0000", token=tok))
    _, _, _, get_body = c.read_response()
    for path, status in (("/healthz", 200), ("/v1/threads/thr_head0000", 200),
                         ("/v1/threads/thr_nohead00", 404), ("/v1/threads/thr_head0000/export", 200)):
        c.send(raw_request("HEAD", path, token=tok))
        got, _, headers, body = c.read_response(head_request=True)
        assert got == status, (path, got)
        if path == "/v1/threads/thr_head0000":
            assert int(headers["content-length"]) == len(get_body)
        # The very next bytes must be the next response: nothing of a body came.
        c.send(raw_request("GET", "/healthz"))
        got, _, _, body = c.read_response()
        assert got == 200 and json.loads(body) == {"status": "ok"}, (path, body)


# ---- row 8: trailers and duplicate fields ---------------------------------------------------

def test_trailer_never_authenticates(raw, make_token, user_id):
    tok = make_token(user_id)
    body = json.dumps(thread_doc("thr_trl00000")).encode()
    c = raw()
    c.send(b"PUT /v1/threads/thr_trl00000 HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"%x\r\n" % len(body) + body + b"\r\n0\r\n"
           + b"Authorization: Bearer " + tok.encode() + b"\r\n\r\n")
    status, _, _, rbody = c.read_response()
    assert status == 401, (status, rbody)
    c2 = raw()
    c2.send(raw_request("GET", "/v1/threads/thr_trl00000", token=tok))
    assert c2.read_response()[0] == 404


@pytest.mark.parametrize("name,value", [("Authorization", None),
                                        ("Content-Type", "application/json")])
def test_duplicate_tracked_header_is_400(raw, make_token, user_id, name, value):
    tok = make_token(user_id)
    value = value or "Bearer " + tok
    body = json.dumps(thread_doc("thr_dup00000")).encode()
    c = raw()
    c.send(("PUT /v1/threads/thr_dup00000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n"
            % (tok, name, value, len(body))).encode() + body)
    status, _, headers, rbody = c.read_response()
    assert status == 400, (status, rbody)
    assert headers.get("connection") == "close"


# ---- row 9: HTTP/1.0 keep-alive ------------------------------------------------------------

def test_http10_keep_alive_is_said_and_kept(raw):
    c = raw()
    for _ in range(2):
        c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, _, headers, body = c.read_response()
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert headers.get("connection", "").lower() == "keep-alive", headers


# ---- row 10: Expect split across reads ------------------------------------------------------

def test_expect_100_continue_split_across_reads(raw, make_token, user_id):
    tok = make_token(user_id)
    body = json.dumps(thread_doc("thr_exp00000")).encode()
    c = raw()
    c.send(("PUT /v1/threads/thr_exp00000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-con"
            % (tok, len(body))).encode())
    time.sleep(0.2)
    c.send(b"tinue\r\n\r\n")
    c.sock.settimeout(3)
    got = c._read_until(b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 100 Continue"), got
    c.sock.settimeout(th.TIMEOUT)
    c.send(body)
    assert c.read_response()[0] == 204


# ---- row 11: long small headers ---------------------------------------------------------------

def test_overlong_request_id_is_replaced_and_content_type_is_415(raw, make_token, user_id):
    tok = make_token(user_id)
    c = raw()
    c.send(raw_request("GET", "/healthz", headers={"X-Request-Id": "r" * 300}))
    status, _, headers, _ = c.read_response()
    assert status == 200
    assert headers["x-request-id"] and headers["x-request-id"] != "r" * 300
    c.send(raw_request("PUT", "/v1/threads/thr_ct000000", thread_doc("thr_ct000000"), token=tok,
                       content_type="application/json; x=" + "y" * 300))
    status, _, _, body = c.read_response()
    assert status == 415, (status, body)


# ---- row 12: out of file descriptors ----------------------------------------------------------

class LimitedServer(th.ServerProcess):
    def __init__(self, nofile, *a, **kw):
        super().__init__(*a, **kw)
        self.nofile = nofile

    def args(self):
        return ["prlimit", "--nofile=%d:%d" % (self.nofile, self.nofile)] + super().args()


def test_out_of_descriptors_503_counted_logged_and_listener_lives(jwt_secret, log_dir):
    srv = LimitedServer(64, th.binary_path(), th.database_url(), jwt_secret,
                        extra_args=["--pool-size", "1"], log_dir=log_dir, name="emfile")
    srv.start()
    try:
        socks = []
        for _ in range(100):
            s = socket.create_connection((srv.host, srv.port), timeout=th.TIMEOUT)
            socks.append(s)
        refused = 0
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"HTTP/1.1 503"):
                refused += 1
                assert b"Retry-After: 1" in data
        assert refused > 0, "every connection fitted: the limit proves nothing"
        for s in socks:
            s.close()
        # The listener is still accepting, and the refusals are counted and logged.
        th.wait_for(lambda: metric(metrics_of(srv), "threadstore_connections") is not None,
                    what="a served connection after EMFILE")
        text = metrics_of(srv)
        assert metric(text, "threadstore_rejected_total", reason="no_file_descriptors") >= refused
        assert "out of file descriptors" in srv.log_text()
    finally:
        srv.stop_and_check()


# ---- issue 9: the request-body budget -------------------------------------------------------

def test_body_over_the_budget_is_503_retry_after(start_server, make_token, user_id):
    srv = start_server(["--max-body-total", str(1 << 20), "--max-body", str(4 << 20)])
    tok = make_token(user_id)
    c = srv.raw()
    body = b'{"id":"thr_bud00000","created_at":"2025-01-01T00:00:00Z","title":"' + \
        b"x" * (2 << 20) + b'"}'
    c.send(("PUT /v1/threads/thr_bud00000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (tok, len(body))).encode())
    status, _, headers, rbody = c.read_response()
    assert status == 503 and headers.get("retry-after") == "1", (status, headers)
    assert json.loads(rbody)["error"]["code"] == "unavailable"
    assert headers.get("connection") == "close"
    # Chunked: refused as it grows past the budget.
    c = srv.raw()
    c.send(("PUT /v1/threads/thr_bud00001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            % tok).encode())
    status = None
    try:
        for _ in range(64):
            c.send(b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, _, headers, rbody = c.read_response()
    assert status == 503 and headers.get("retry-after") == "1", (status, headers)
    text = metrics_of(srv)
    assert metric(text, "threadstore_rejected_total", reason="body_budget") == 2
    assert metric(text, "threadstore_request_body_bytes") == 0  # all given back
    # A body that fits is stored.
    api = srv.client(tok)
    api.save_thread(thread_doc("thr_bud00002", title="y" * 100000))


def test_concurrent_large_uploads_stay_within_the_budget(start_server, make_token, user_id):
    budget = 64 << 20
    srv = start_server(["--max-body-total", str(budget), "--pool-size", "2"])
    api = srv.client(make_token(user_id))
    tid = "thr_upl00000"
    api.save_thread(thread_doc(tid))
    results, peak, stop = [], [0], threading.Event()

    def upload(i):
        # As curl does for large bodies: Expect: 100-continue, so a refusal (503 at the
        # headers, the body never read) reaches the client before it sends 8 MB.
        tok = make_token(user_id)
        body = json.dumps(user_message(tid, "msg_upl%05d" % i, text="z" * (8 << 20))).encode()
        c = srv.raw()
        try:
            c.send(("POST /v1/threads/%s/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                    "\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    "Expect: 100-continue\r\n\r\n" % (tid, tok, len(body))).encode())
            head = c._read_until(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 100"):
                c.send(body)
                status, _, headers, _ = c.read_response()
            else:
                c.buf = head + c.buf
                status, _, headers, _ = c.read_response()
            results.append(status)
            if status == 503:
                assert headers.get("retry-after") == "1"
        except (OSError, EOFError) as e:
            results.append(repr(e))
        finally:
            c.close()

    def watch():
        while not stop.is_set():
            v = metric(metrics_of(srv), "threadstore_request_body_bytes") or 0
            peak[0] = max(peak[0], v)
            time.sleep(0.02)

    w = threading.Thread(target=watch)
    w.start()
    ts = [threading.Thread(target=upload, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    stop.set()
    w.join()
    assert len(results) == 20 and set(results) <= {201, 503}, results
    assert 201 in results
    assert 0 < peak[0] <= budget, peak
    assert metric(metrics_of(srv), "threadstore_request_body_bytes") == 0
    stored, _ = api.page_all("/v1/threads/%s/items" % tid, 100)  # 8 MB items: a page each
    assert len(stored) == results.count(201)


def test_budget_is_given_back_when_the_reply_is_sent_not_when_the_socket_closes(
        start_server, make_token, user_id):
    # Client A uploads with Connection: close and never hangs up: its conn lingers (or,
    # reading slowly, waits up to --write-timeout), but its body's share of the budget
    # must come back as soon as it is answered.
    srv = start_server(["--max-body-total", str(4 << 20)])
    tok = make_token(user_id)

    def upload(tid, close):
        doc = json.dumps(thread_doc(tid, title="x" * (3 << 20))).encode()
        c = srv.raw()
        c.send(("PUT /v1/threads/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                % (tid, tok, len(doc), "Connection: close\r\n" if close else "")).encode() + doc)
        return c, c.read_response()[0]

    a, status = upload("thr_give0000", True)
    assert status == 204
    b, status = upload("thr_give0001", False)  # A still lingers: it has not sent its FIN
    assert status == 204, status
    assert metric(metrics_of(srv), "threadstore_request_body_bytes") == 0
    a.close()
    b.close()
