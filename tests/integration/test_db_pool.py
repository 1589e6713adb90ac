"""The database pool under failures that only a byte-level stand-in produces.

PgProxy is a TCP proxy in front of the test PostgreSQL whose connections the
test can reset (RST, not FIN), the way a pooler restarted under load or a
load balancer dropping its flows does."""

import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

import tshelpers as th
from tshelpers import thread_doc, wait_for


TCP_REPAIR = 19  # linux/tcp.h


def can_repair():
    a = socket.socket()
    try:
        a.setsockopt(socket.SOL_TCP, TCP_REPAIR, 1)
        return True
    except OSError:  # needs CAP_NET_ADMIN
        return False
    finally:
        a.close()


class PgProxy:
    """Forwards 127.0.0.1:<port> to the test database; reset_all() kills every
    forwarded connection with an RST towards the client (the server). One
    thread owns every socket: a socket another thread is blocked on would not
    be torn down (nor its RST sent) until that thread let go of it."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.peer = {}  # socket -> the other end
        self.downs = set()  # the ends facing the server
        self.requests = []  # (what, threading.Event, result list)
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _drop(self, s, rst=False):  # noqa: C901 (a socket may be unregistered already)
        other = self.peer.pop(s, None)
        for x in (s, other):
            self.downs.discard(x)
        for x in (s, other):
            if x is None:
                continue
            self.peer.pop(x, None)
            try:
                self.sel.unregister(x)
            except (KeyError, ValueError):
                pass
        if rst:  # SO_LINGER 0: close() sends an RST, so the server's next write fails
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        if other is not None:
            other.close()

    def _run(self):
        while not self.closed:
            for key, _ in self.sel.select(0.5):
                s = key.fileobj
                if key.data == "wake":
                    s.recv(64)
                    reqs, self.requests = self.requests, []
                    for what, ev, out in reqs:
                        downs = [x for x in list(self.peer) if x in self.downs]
                        for x in downs:
                            if what == "reset":
                                self._drop(x, rst=True)
                            elif what == "pause":  # the server's writes pile up
                                self.sel.unregister(x)
                            elif what == "vanish":
                                # TCP_REPAIR: close() sends nothing. The
                                # server's next write meets no socket and
                                # gets an RST back from the kernel at once.
                                x.setsockopt(socket.SOL_TCP, TCP_REPAIR, 1)
                                self._drop(x)
                        out.append(len(downs))
                        ev.set()
                    continue
                if s is self.lsock:
                    try:
                        down, _ = self.lsock.accept()
                        up = socket.create_connection(self.target, timeout=5)
                    except OSError:
                        continue
                    self.downs.add(down)
                    for x in (down, up):
                        x.setblocking(False)
                        self.sel.register(x, selectors.EVENT_READ, "pipe")
                    self.peer[down], self.peer[up] = up, down
                    continue
                dst = self.peer.get(s)
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data or dst is None:
                    self._drop(s)
                    continue
                try:
                    dst.setblocking(True)  # small test traffic: a blocking send is fine
                    dst.sendall(data)
                    dst.setblocking(False)
                except OSError:
                    self._drop(s)

    def _ask(self, what):
        ev, out = threading.Event(), []
        self.requests.append((what, ev, out))
        self.wake_w.send(b"x")
        assert ev.wait(5), "the proxy did not %s its connections" % what
        return out[0]

    def reset_all(self):
        return self._ask("reset")

    def vanish(self):
        """Forgets every forwarded connection without a word (no FIN, no
        RST), as a pooler host that went away does: the server learns it
        only when its next write is answered with an RST."""
        return self._ask("vanish")

    def pause_reading(self):
        """Stops reading what the server sends: its socket buffers fill up."""
        return self._ask("pause")

    def url(self, database_url):
        u = urllib.parse.urlparse(database_url)
        return u._replace(netloc="%s@127.0.0.1:%d" % (u.username or "postgres", self.port)
                          ).geturl()

    def close(self):
        self.reset_all()
        self.closed = True
        self.thread.join(5)
        self.lsock.close()
        self.wake_r.close()
        self.wake_w.close()


@pytest.fixture
def pg_proxy():
    u = urllib.parse.urlparse(th.database_url())
    p = PgProxy((u.hostname or "127.0.0.1", u.port or 5432))
    yield p
    p.close()


def request_bytes(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n" % (method, path, token)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    return head.encode() + b"\r\n" + data


def status_of(sock, timeout):
    """The status of the next response on sock, or None if none came in time."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return "eof"
            buf += chunk
    except socket.timeout:
        return None
    return int(buf.split(b" ", 2)[1])


def drain_response(s):
    """Reads one whole response (head and Content-Length body); its status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        body += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.skipif(not can_repair(), reason="TCP_REPAIR needs CAP_NET_ADMIN")
@pytest.mark.parametrize("statements", ["prepared", "unnamed"])
def test_send_failure_answers_every_query(pg_proxy, start_server, make_token, statements):
    """Row 14: the database connection dies unannounced (a pooler host gone,
    a restarted PgBouncer) while a loop turn's requests are sent. The first
    write's bytes get an RST back, the second's send meets it (libpq only
    notes the write failure), the third's Sync reads the EOF and fails: libpq
    has given up on the connection before the loop has heard of it. The
    reads queued on it in that turn must all be answered. Before the fix the
    read popped for sending when libpq then refused it was on no list: its
    client waited forever (and LeakSanitizer found the query at exit)."""
    srv = start_server(["--pool-size", "1", "--statements", statements, "--no-migrate",
                        "--query-timeout", "3"],
                       database_url=pg_proxy.url(th.database_url()),
                       allow_error=lambda line: "database connection lost" in line)
    tok = make_token("user-" + uuid.uuid4().hex)
    t = thread_doc()
    assert srv.client(tok).put("/v1/threads/" + t["id"], t).status == 204
    socks = [socket.create_connection((srv.host, srv.port), timeout=10) for _ in range(12)]
    for rnd in range(2):
        for s in socks:  # every token verified and cached: each request is served at once
            s.sendall(request_bytes("GET", "/v1/threads/" + t["id"], tok))
            assert drain_response(s) == 200
        # Freeze the loop and queue one request per client (three writes
        # among reads, then reads only): the loop serves them all in one
        # turn. The connection vanishes meanwhile, silently: nothing tells
        # the loop before its first write is answered with an RST. (A fourth
        # write would fail at once and take the queued reads down with it,
        # hiding a loss.)
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            for i, s in enumerate(socks):
                if i in (0, 3, 6):
                    doc = thread_doc("thr_rst_%d_%d_%s" % (rnd, i, uuid.uuid4().hex[:6]))
                    s.sendall(request_bytes("PUT", "/v1/threads/" + doc["id"], tok, doc))
                else:
                    s.sendall(request_bytes("GET", "/v1/threads/" + t["id"], tok))
            time.sleep(0.2)
            assert pg_proxy.vanish() == 1
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)
        # Every request is answered, well within the query timeout's reach
        # (a lost query is on no list: not even the deadline tick finds it).
        got = [status_of(s, 8) for s in socks]
        assert None not in got, "requests left unanswered: %r" % (got,)
        assert all(g in (200, 204, 503) for g in got), got
        for s in socks:  # the rest of each response (they are short): start afresh
            s.close()
        socks = [socket.create_connection((srv.host, srv.port), timeout=10)
                 for _ in range(len(socks))]
        srv.wait_ready()
    for s in socks:
        s.close()
    assert srv.client(tok).get("/v1/threads/" + t["id"]).status == 200


def test_failed_send_inside_a_batch_answers_every_query(pg_proxy, start_server, make_token):
    """Row 14, with libpq holding output the database has not read yet (a
    16 MB write the proxy stops reading, as a stalled pooler does): the next
    batch of reads makes libpq flush inside PQsendQuery*, where the reset is
    met. Every request is answered, the big write included, and the pool
    comes back."""
    srv = start_server(["--pool-size", "1", "--no-migrate", "--max-body", "33554432",
                        "--max-connections", "256"],
                       database_url=pg_proxy.url(th.database_url()),
                       allow_error=lambda line: "database connection lost" in line)
    tok = make_token("user-" + uuid.uuid4().hex)
    t = thread_doc()
    assert srv.client(tok).put("/v1/threads/" + t["id"], t).status == 204
    readers = []
    for i in range(48):  # enough reads in one turn to fill more than one batch
        s = socket.create_connection((srv.host, srv.port), timeout=10)
        s.sendall(request_bytes("GET", "/v1/threads/" + t["id"], tok))
        assert status_of(s, 10) == 200
        s.settimeout(0.2)
        try:
            while s.recv(65536):
                pass
        except socket.timeout:
            pass
        readers.append(s)
    assert pg_proxy.pause_reading() == 1
    big = thread_doc(title="x" * (16 << 20))
    w = socket.create_connection((srv.host, srv.port), timeout=30)
    w.sendall(request_bytes("PUT", "/v1/threads/" + big["id"], tok, big))
    wait_for(lambda: metric(srv, "threadstore_queries_in_flight") >= 1, timeout=30,
             what="the big write to be in flight")
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        for s in readers:
            s.sendall(request_bytes("GET", "/v1/threads/" + t["id"], tok))
        time.sleep(0.3)
        assert pg_proxy.reset_all() == 1
        time.sleep(0.3)
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    got = [status_of(s, 8) for s in readers] + [status_of(w, 8)]
    for s in readers + [w]:
        s.close()
    assert None not in got, "requests left unanswered: %r" % (got,)
    assert all(g in (200, 204, 503) for g in got), got
    srv.wait_ready()
    assert srv.client(tok).get("/v1/threads/" + t["id"]).status == 200


STRACE = shutil.which("strace")
# What glibc's getaddrinfo reads for a name: any of them opened by the loop
# thread means a lookup ran there.
NAME_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
              "/etc/host.conf")


def metric(srv, name):
    text = srv.client().get("/metrics").raw.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


@pytest.mark.skipif(STRACE is None, reason="strace not installed")
@pytest.mark.parametrize("how", ["uri", "keywords", "PGHOST"])
def test_host_names_are_never_looked_up_on_the_loop(start_server, make_token, how):
    """Row 13: a multi-host DATABASE_URL, or a host from PGHOST, is looked up
    on libuv's thread pool, never by libpq on the loop thread. strace watches
    the loop thread alone (no -f) while every pooled connection is dropped
    and reconnects; before the fix libpq's getaddrinfo opened /etc/hosts
    there."""
    u = urllib.parse.urlparse(th.database_url())
    port, user, db = u.port or 5432, u.username or "postgres", u.path.lstrip("/")
    app = "ts_strace_" + uuid.uuid4().hex[:8]
    env = None
    if how == "uri":
        url = "postgresql://%s@localhost:%d,localhost:%d/%s?application_name=%s" % (
            user, port, port, db, app)
    elif how == "keywords":
        url = "host=localhost,localhost port=%d dbname=%s user=%s application_name=%s" % (
            port, db, user, app)
    else:
        url = "port=%d dbname=%s user=%s application_name=%s" % (port, db, user, app)
        env = {"PGHOST": "localhost"}
    srv = start_server(["--pool-size", "2", "--no-migrate"], database_url=url, env=env)
    trace = os.path.join(srv.log_dir, "strace-%s.txt" % app)
    st = subprocess.Popen([STRACE, "-e", "trace=open,openat", "-o", trace, "-p",
                           str(srv.proc.pid)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "attached" in st.stderr.readline()
        before = metric(srv, "threadstore_db_reconnects_total")
        th.psql(th.database_url(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = '%s'" % app)
        wait_for(lambda: metric(srv, "threadstore_db_reconnects_total") >= before + 2
                 and metric(srv, "threadstore_db_connections_up") == 2,
                 timeout=20, what="both connections to come back")
        tok = make_token("user-" + uuid.uuid4().hex)
        assert srv.client(tok).get("/v1/threads/thr_none").status == 404
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(10)
    with open(trace) as f:
        lines = f.read().splitlines()
    assert lines, "strace recorded nothing"
    opened = [line for line in lines if any(n in line for n in NAME_FILES)]
    assert not opened, "the loop thread looked a name up:\n" + "\n".join(opened[:5])
