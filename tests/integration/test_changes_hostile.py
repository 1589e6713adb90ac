"""The change feed against hostile and heavy clients, on raw sockets: a
subscriber that stops reading is closed at its buffer while the others get
everything; many streams on one instance; the bound on streams (503); SIGTERM
ends every stream with its last chunk."""

import socket
import threading
import time
import uuid

import ssehelpers as sh
import tshelpers as th


def start(jwt_secret, log_dir, name, *extra):
    return th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                            extra_args=["--pool-size", "2"] + list(extra), log_dir=log_dir,
                            name=name).start()


def open_stream(srv, tok, **kw):
    s = sh.SSEStream(srv.host, srv.port, tok, **kw)
    assert s.read_head() == 200
    return s


def metric(srv, name):
    text = srv.client().get("/metrics").raw.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def test_slow_reader_is_closed_at_its_buffer_and_others_get_everything(jwt_secret, log_dir,
                                                                       make_token):
    srv = start(jwt_secret, log_dir, "slow", "--subscriber-buffer", "65536")
    user = "user-" + uuid.uuid4().hex
    tok = make_token(user)
    try:
        slow = open_stream(srv, tok, rcvbuf=4096)  # and never read again
        good = open_stream(srv, tok)
        c = srv.client(tok)
        n, size = 40, 200_000  # ~8 MB of events: past what the kernels hold
        got, errs = [], []

        def read_good():  # the good reader keeps up as it goes
            try:
                got.extend(good.events(2 * n, timeout=60))
            except Exception as e:  # noqa: BLE001 - asserted below
                errs.append(repr(e))

        reader = threading.Thread(target=read_good)
        reader.start()
        for i in range(n):
            a = th.file_attachment("atc_slow%03d" % i)
            a["note"] = "x" * size
            assert c.put("/v1/attachments/" + a["id"], a).status == 204
            assert c.delete("/v1/attachments/" + a["id"]).status == 204
        reader.join(70)
        assert not errs, errs
        evs = got
        assert [e["event"] for e in evs] == ["attachment.saved", "attachment.deleted"] * n
        assert len(evs[-1]["json"]["attachment"]["note"]) == size
        th.wait_for(lambda: metric(srv, 'threadstore_change_streams_closed_total{reason="slow_reader"}') >= 1,
                    timeout=10, what="the slow reader closed")
        # the slow one was cut: reading on ends in EOF/reset before all 2n events
        slow.sock.settimeout(10)
        got = 0
        try:
            while True:
                e = slow.next_event(timeout=10)
                if e is None:
                    break
                got += 1
        except (EOFError, OSError):
            pass
        assert got < 2 * n
        good.close()
        slow.close()
        c.close()
    finally:
        srv.stop_and_check()


def test_many_streams_and_the_bound(jwt_secret, log_dir, make_token):
    nsubs = 300
    srv = start(jwt_secret, log_dir, "many", "--max-subscribers", str(nsubs))
    users = ["user-" + uuid.uuid4().hex for _ in range(3)]
    streams = []
    try:
        for i in range(nsubs):
            streams.append(open_stream(srv, make_token(users[i % 3])))
        assert metric(srv, "threadstore_change_subscribers") == nsubs
        extra = sh.SSEStream(srv.host, srv.port, make_token(users[0]))
        assert extra.read_head() == 503
        assert extra.headers.get("retry-after") == "1"
        extra.close()
        for u in users:
            c = srv.client(make_token(u))
            c.save_thread(th.thread_doc(title=u))
            c.close()
        for i, s in enumerate(streams):
            e = s.next_event(timeout=20)
            assert e["event"] == "thread.saved", e
        # a page is not a stream: still served
        c = srv.client(make_token(users[0]))
        assert c.get("/v1/changes").status == 200
        c.close()
        for s in streams[:100]:
            s.close()
        th.wait_for(lambda: metric(srv, "threadstore_change_subscribers") == nsubs - 100,
                    what="closed streams to leave")
        assert metric(srv, "threadstore_change_streams_refused_total") == 1
    finally:
        for s in streams:
            s.close()
        srv.stop_and_check()


def test_sigterm_ends_streams_with_their_last_chunk(jwt_secret, log_dir, make_token):
    srv = start(jwt_secret, log_dir, "sigterm")
    tok = make_token("user-" + uuid.uuid4().hex)
    streams = [open_stream(srv, tok) for _ in range(5)]
    c = srv.client(tok)
    c.save_thread(th.thread_doc())
    c.close()
    for s in streams:
        assert s.next_event()["event"] == "thread.saved"
    t0 = time.monotonic()
    srv.proc.send_signal(15)
    for s in streams:
        assert s.next_event(timeout=10) is None  # the zero-length last chunk
        assert s.ended
        s.close()
    assert srv.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5
    srv.stop_and_check()


def test_garbage_on_a_stream_and_a_half_request(jwt_secret, log_dir, make_token):
    """A client that sends bytes after its stream's request, or leaves in the
    middle of the first statement, never disturbs the instance."""
    srv = start(jwt_secret, log_dir, "garbage")
    tok = make_token("user-" + uuid.uuid4().hex)
    try:
        s = open_stream(srv, tok)
        s.sock.sendall(b"GARBAGE\r\n\r\n" * 100)
        for _ in range(50):  # leave right after asking
            k = socket.create_connection((srv.host, srv.port))
            k.sendall(("GET /v1/changes HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % tok).encode())
            k.close()
        c = srv.client(tok)
        c.save_thread(th.thread_doc())
        c.close()
        th.wait_for(lambda: metric(srv, "threadstore_change_subscribers") <= 1,
                    what="the leavers to be gone")
        s.close()
    finally:
        srv.stop_and_check()
