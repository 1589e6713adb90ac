"""Helpers for the threadstore integration tests: tokens, an HTTP client,
a raw-socket HTTP/1.1 reader, document builders, and a server launcher.

Standard library only.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import uuid

TIMEOUT = 10.0  # seconds; every socket operation is bounded by this
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0  # above the server's 10 s drain bound

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "LeakSanitizer",
    "ERROR: ThreadSanitizer",
)


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def binary_path():
    """THREADSTORE_BIN, or build/threadstore in the repository."""
    import pytest

    path = os.environ.get("THREADSTORE_BIN") or os.path.join(REPO, "build", "threadstore")
    if not os.access(path, os.X_OK):
        pytest.fail("threadstore binary not found at %s (set THREADSTORE_BIN)" % path,
                    pytrace=False)
    return path


def database_url():
    import pytest

    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail("DATABASE_URL is not set (a running PostgreSQL is required)",
                    pytrace=False)
    return url


# --------------------------------------------------------------------------
# JWT (HS256)


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(secret, claims, header=None, sign=True):
    """Build a compact JWS. `secret` is bytes or str; `header` overrides the
    default {"alg":"HS256","typ":"JWT"}."""
    if header is None:
        header = {"alg": "HS256", "typ": "JWT"}
    if isinstance(secret, str):
        secret = secret.encode()
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")))
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")))
    )
    if not sign:
        return signing_input + "."
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


class TokenFactory:
    def __init__(self, secret):
        self.secret = secret

    def __call__(self, sub, ttl=3600, exp=None, no_exp=False, **extra):
        claims = {"sub": sub, "iat": int(time.time())}
        if not no_exp:
            claims["exp"] = exp if exp is not None else int(time.time()) + ttl
        claims.update(extra)
        return make_jwt(self.secret, claims)


# --------------------------------------------------------------------------
# Client built on http.client (keep-alive)

_DEFAULT = object()


class Response:
    """status, headers (http.client.HTTPMessage, case-insensitive), json
    (parsed body or None), raw (bytes). Unpacks as (status, headers, json)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = None
        if raw:
            try:
                self.json = json.loads(raw)
            except ValueError:
                self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.raw[:300])


class Client:
    """One keep-alive connection to the server for one token (user)."""

    def __init__(self, host, port, token=None):
        self.host = host
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None, token=_DEFAULT, headers=None,
                content_type="application/json"):
        """body: dict/list (JSON-encoded), str/bytes (sent as is) or None.
        token: _DEFAULT = this client's token, None = no Authorization.
        headers: extra headers; a value of None removes a default header."""
        hdrs = {}
        if token is _DEFAULT:
            token = self.token
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
            if content_type is not None:
                hdrs["Content-Type"] = content_type
        for k, v in (headers or {}).items():
            for existing in list(hdrs):
                if existing.lower() == k.lower():
                    del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        raw = resp.read()
        return Response(resp.status, resp.headers, raw)

    # Convenience wrappers for the Store methods -------------------------

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body=body, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def save_thread(self, thread):
        r = self.put("/v1/threads/" + q(thread["id"]), thread)
        assert r.status == 204, r
        return r

    def add_item(self, item):
        r = self.post("/v1/threads/" + q(item["thread_id"]) + "/items", item)
        assert r.status == 201, r
        return r

    def save_item(self, item):
        r = self.put(
            "/v1/threads/%s/items/%s" % (q(item["thread_id"]), q(item["id"])), item
        )
        assert r.status == 204, r
        return r

    def list_threads(self, **params):
        r = self.get("/v1/threads" + qs(params))
        assert r.status == 200, r
        check_page_shape(r.json)
        return r.json

    def list_items(self, thread_id, **params):
        r = self.get("/v1/threads/%s/items%s" % (q(thread_id), qs(params)))
        assert r.status == 200, r
        check_page_shape(r.json)
        return r.json

    def page_all(self, path, limit, order=None):
        """Follow `after` cursors to the end; return the list of documents and
        the list of pages' sizes."""
        docs, after, sizes = [], None, []
        for _ in range(10000):
            params = {"limit": limit}
            if order:
                params["order"] = order
            if after is not None:
                params["after"] = after
            r = self.get(path + qs(params))
            assert r.status == 200, r
            page = r.json
            check_page_shape(page)
            docs.extend(page["data"])
            sizes.append(len(page["data"]))
            if not page["has_more"]:
                return docs, sizes
            assert page["after"] == page["data"][-1]["id"]
            after = page["after"]
        raise AssertionError("paging did not terminate")


def q(s):
    from urllib.parse import quote

    return quote(s, safe="")


def qs(params):
    from urllib.parse import urlencode

    if not params:
        return ""
    return "?" + urlencode(params)


def check_page_shape(page):
    assert isinstance(page, dict), page
    assert set(page) == {"data", "has_more", "after"}, page
    assert isinstance(page["data"], list)
    assert isinstance(page["has_more"], bool)
    if page["has_more"]:
        assert page["data"], "has_more with an empty page"
        assert page["after"] == page["data"][-1]["id"], page
    else:
        assert page["after"] is None, page


def check_error(resp, status, code=None):
    """Assert an error response: status, JSON content type and the
    {"error":{"code","message"}} shape."""
    assert resp.status == status, resp
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", ctype
    body = resp.json
    assert isinstance(body, dict) and set(body) == {"error"}, resp.raw
    err = body["error"]
    assert isinstance(err, dict), resp.raw
    assert isinstance(err.get("code"), str) and err["code"], resp.raw
    assert isinstance(err.get("message"), str) and err["message"], resp.raw
    if code is not None:
        assert err["code"] == code, resp.raw
    if status == 401:
        www = resp.headers.get("WWW-Authenticate", "")
        assert www.split(" ")[0].split(",")[0].lower() == "bearer", www
    return err


ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "header_too_large",
    503: "unavailable",
}


def allow_set(resp):
    allow = resp.headers.get("Allow")
    assert allow is not None, "405 without Allow: %r" % resp
    return {m.strip().upper() for m in allow.split(",") if m.strip()}


# --------------------------------------------------------------------------
# ChatKit-shaped documents


def new_id(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def thread_doc(tid=None, created_at="2025-06-01T12:00:00.123456", title="A thread",
               **extra):
    doc = {
        "id": tid or new_id("thr"),
        "created_at": created_at,
        "status": {"type": "active"},
        "metadata": {},
        "title": title,
    }
    doc.update(extra)
    return doc


def user_message(thread_id, iid=None, created_at="2025-06-01T12:00:01.000001",
                 text="hi"):
    return {
        "id": iid or new_id("msg"),
        "thread_id": thread_id,
        "created_at": created_at,
        "type": "user_message",
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "quoted_text": None,
        "inference_options": {"tool_choice": None, "model": None},
    }


def assistant_message(thread_id, iid=None, created_at="2025-06-01T12:00:02.500000",
                      text="Hello! How can I help?"):
    return {
        "id": iid or new_id("msg"),
        "thread_id": thread_id,
        "created_at": created_at,
        "type": "assistant_message",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def file_attachment(aid=None, name="report.pdf"):
    return {
        "id": aid or new_id("atc"),
        "type": "file",
        "name": name,
        "mime_type": "application/pdf",
    }


def ids(docs):
    return [d["id"] for d in docs]


# --------------------------------------------------------------------------
# Raw socket HTTP/1.1 (pipelining, split writes, connection handling)


class RawConn:
    def __init__(self, host, port, timeout=TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise EOFError("connection closed while waiting for %r; have %r"
                               % (marker, self.buf[:200]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed in body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False):
        """Read one response. Returns (status, version, headers dict with
        lowercase names, body bytes). Skips 100 Continue."""
        while True:
            head = self._read_until(b"\r\n\r\n").decode("latin-1")
            lines = head.split("\r\n")
            m = re.match(r"(HTTP/1\.[01]) (\d{3})", lines[0])
            assert m, "bad status line %r" % lines[0]
            version, status = m.group(1), int(m.group(2))
            headers = {}
            for line in lines[1:]:
                if not line:
                    continue
                k, _, v = line.partition(":")
                k = k.strip().lower()
                v = v.strip()
                headers[k] = headers[k] + ", " + v if k in headers else v
            if status != 100:
                break
        if head_request or status in (204, 304) or 100 <= status < 200:
            return status, version, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size_line = self._read_until(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers
                    while self._read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
            return status, version, headers, body
        if "content-length" in headers:
            return status, version, headers, self._read_exact(
                int(headers["content-length"]))
        # Read until close.
        while self._fill():
            pass
        body, self.buf = self.buf, b""
        return status, version, headers, body

    def wait_eof(self, timeout=5.0):
        """True when the peer closes the connection (with no further bytes)
        within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(TIMEOUT)
        return self.buf == b""


def raw_request(method, path, body=None, token=None, headers=None,
                version="HTTP/1.1", host="localhost", content_type="application/json"):
    """Serialize one request to bytes."""
    lines = ["%s %s %s" % (method, path, version), "Host: " + host]
    if token:
        lines.append("Authorization: Bearer " + token)
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        if content_type:
            lines.append("Content-Type: " + content_type)
        lines.append("Content-Length: %d" % len(data))
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


# --------------------------------------------------------------------------
# Server process


class ServerProcess:
    """The threadstore binary started on 127.0.0.1:0 with stderr in a log
    file. start() waits for the `msg=listening addr=` line and then for
    /readyz (unless wait_ready is False)."""

    def __init__(self, binary, database_url, secret, extra_args=(), env=None,
                 log_dir=None, name="server"):
        self.binary = binary
        self.database_url = database_url
        self.secret = secret
        self.extra_args = list(extra_args)
        self.env = dict(os.environ)
        # No balancer watches these instances: stop without the drain delay
        # (tests of the delay, test_haproxy.py, set it).
        self.env.setdefault("THREADSTORE_DRAIN_DELAY", "0")
        self.env.update(env or {})
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="threadstore-it-")
        self.log_path = os.path.join(self.log_dir, "%s-%s.log" % (name, uuid.uuid4().hex[:6]))
        self.proc = None
        self.host = None
        self.port = None

    def args(self):
        return [
            self.binary,
            "--listen", "127.0.0.1:0",
            "--database-url", self.database_url,
            "--jwt-secret", self.secret,
        ] + self.extra_args

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, wait_ready=True):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.args(), stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=self.logf, env=self.env)
        deadline = time.monotonic() + READY_TIMEOUT
        addr_re = re.compile(r"msg=\"?listening\"?.*?addr=\"?(\d+\.\d+\.\d+\.\d+):(\d+)")
        while True:
            m = addr_re.search(self.log_text())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("threadstore exited with %s before listening:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("no 'msg=listening addr=' line within %ss:\n%s"
                                   % (READY_TIMEOUT, self.log_text()))
            time.sleep(0.02)
        if wait_ready:
            self.wait_ready(deadline)
        return self

    def wait_ready(self, deadline=None):
        deadline = deadline or time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("threadstore exited with %s:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            try:
                c = http.client.HTTPConnection(self.host, self.port, timeout=2)
                c.request("GET", "/readyz")
                r = c.getresponse()
                r.read()
                c.close()
                last = r.status
                if r.status == 200:
                    return
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError("/readyz not 200 within %ss (last: %r):\n%s"
                           % (READY_TIMEOUT, last, self.log_text()))

    def client(self, token=None):
        return Client(self.host, self.port, token)

    def raw(self):
        return RawConn(self.host, self.port)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        """SIGTERM, wait for exit; return (returncode, problems) where
        problems lists log lines that must not appear."""
        if self.proc is None:
            return "not started", self.log_text()
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                rc = "timeout after SIGTERM"
        self.logf.close()
        return rc, self.log_text()

    def stop_and_check(self, allow_error=None):
        """Stop and fail on a non-zero exit, `level=error` lines (unless
        allow_error(line) is true) or any sanitizer report."""
        rc, text = self.stop()
        problems = []
        for line in text.splitlines():
            if any(m in line for m in SANITIZER_MARKERS):
                problems.append(line)
            elif "level=error" in line and not (allow_error and allow_error(line)):
                problems.append(line)
        msg = ""
        if rc != 0:
            msg += "exit status %r (expected 0 after SIGTERM)\n" % (rc,)
        if problems:
            msg += "log problems:\n  " + "\n  ".join(problems[:40]) + "\n"
        if msg:
            tail = "\n".join(text.splitlines()[-60:])
            raise AssertionError("%s(%s)\nlog tail:\n%s" % (msg, self.log_path, tail))


# --------------------------------------------------------------------------
# psql (for tests that take database connections away from the server)


def psql_path():
    import shutil

    return shutil.which("psql")


def psql(database_url, sql, appname="ts_it_admin"):
    """Run one SQL string with psql; return stdout rows (unaligned, tuples
    only) as a list of lists."""
    env = dict(os.environ, PGAPPNAME=appname)
    out = subprocess.run(
        [psql_path(), database_url, "-X", "-q", "-A", "-t", "-F", "\t",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
        text=True)
    if out.returncode != 0:
        raise RuntimeError("psql failed: %s" % out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def wait_for(pred, timeout=READY_TIMEOUT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class TableLocker:
    """Holds ACCESS EXCLUSIVE locks on every table of the database in an open
    psql transaction, so that the server's queries wait (stay in flight)."""

    APPNAME = "ts_it_locker"

    def __init__(self, database_url):
        self.url = database_url
        self.proc = None

    def __enter__(self):
        tables = [r[0] for r in psql(self.url,
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")]
        assert tables, "no tables: were the migrations applied?"
        env = dict(os.environ, PGAPPNAME=self.APPNAME)
        self.proc = subprocess.Popen(
            [psql_path(), self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n"
                              % ", ".join(tables))
        self.proc.stdin.flush()
        n = len(tables)
        wait_for(lambda: int(psql(self.url,
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.application_name = '%s' AND l.mode = 'AccessExclusiveLock' "
            "AND l.granted AND l.locktype = 'relation'" % self.APPNAME)[0][0]) >= n,
            timeout=TIMEOUT, what="table locks")
        return self

    def release(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write("ROLLBACK;\n\\q\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.release()


def db_now(database_url):
    return psql(database_url, "SELECT now()::text")[0][0]


def server_backends(database_url, since, waiting_on_lock=False):
    """pids of client backends started after `since` (a timestamptz text),
    excluding the admin and locker sessions."""
    sql = ("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
           "AND datname = current_database() AND pid <> pg_backend_pid() "
           "AND application_name NOT IN ('ts_it_admin', '%s') "
           "AND backend_start > '%s'::timestamptz" % (TableLocker.APPNAME, since))
    if waiting_on_lock:
        sql += " AND wait_event_type = 'Lock'"
    return [int(r[0]) for r in psql(database_url, sql)]


def terminate(database_url, pids):
    if pids:
        psql(database_url, "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[%s]) AS pid"
             % ",".join(str(p) for p in pids))


def stop_all_and_check(started):
    """Stop every (server, allow_error) started by a fixture; fail with all problems."""
    import pytest
    errors = []
    for srv, allow_error in started:
        try:
            srv.stop_and_check(allow_error=allow_error)
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)
