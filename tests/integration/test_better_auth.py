"""threadstore behind a real Better Auth: npm's `better-auth` (pinned in
tests/betterauth/package-lock.json) with its `jwt` plugin and email/password
sign-up, its tables on the test PostgreSQL (a schema of their own), on
127.0.0.1. Users sign up through its HTTP API and take their JWTs from
/api/auth/token; threadstore verifies them against /api/auth/jwks.

The hand-made JWKS tests (test_jwt_*.py) keep the negative cases; these check
that what the real thing issues is accepted, kept apart per user, and followed
through a key rotation.

Needs `node` and `npm` (scripts/packages.sh installs Debian's when missing) and
the npm registry or npm's cache for `npm ci`. Without them the tests FAIL, they
do not skip: a CI that silently stops testing the real auth server would be
worse than a red one.
"""

import base64
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

import tshelpers as th
from jwthelpers import jwt_args, start_jwt_server  # noqa: F401

BA_DIR = os.path.join(th.REPO, "tests", "betterauth")
NPM_TIMEOUT = 300


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is not installed: run scripts/setup.sh (it installs Debian's nodejs "
                    "and npm when they are missing)" % name, pytrace=False)
    return path


def _node_major(node):
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"v(\d+)\.", out.stdout.strip())
    if not m:
        pytest.fail("cannot read node's version: %r" % out.stdout, pytrace=False)
    return int(m.group(1))


@pytest.fixture(scope="module")
def betterauth_install():
    """`npm ci` in tests/betterauth (once per run); returns the node command line.

    Better Auth 1.7 is written for Node >= 20 (its kysely asks for it); Debian 12's
    nodejs is 18, where the Web Crypto global Better Auth uses is behind
    --experimental-global-webcrypto. With that flag it runs there (tried: 18.20.4)."""
    node, npm = _tool("node"), _tool("npm")
    # --prefer-offline: npm's cache serves what it has; a clean machine needs the registry.
    out = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
        cwd=BA_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=NPM_TIMEOUT)
    if out.returncode != 0:
        pytest.fail("npm ci in tests/betterauth failed (is the npm registry reachable?):\n%s%s"
                    % (out.stdout[-2000:], out.stderr[-4000:]), pytrace=False)
    cmd = [node]
    if _node_major(node) < 20:
        cmd.append("--experimental-global-webcrypto")
    return cmd


class BetterAuth:
    """tests/betterauth/server.mjs as a child process."""

    def __init__(self, node_cmd, alg="EdDSA", rotation=None):
        self.schema = "ba_%s_%s" % (alg.lower(), uuid.uuid4().hex[:10])
        env = dict(os.environ, DATABASE_URL=th.database_url(), BA_SCHEMA=self.schema,
                   BA_ALG=alg, BETTER_AUTH_SECRET=secrets.token_hex(32),
                   NODE_NO_WARNINGS="1")
        if rotation:
            env["BA_ROTATION"] = str(rotation)
        self.stderr = []
        self.proc = subprocess.Popen(
            node_cmd + ["server.mjs"], cwd=BA_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._drain, daemon=True).start()
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(60)
        if not line[0]:
            self.stop()
            pytest.fail("Better Auth did not start:\n" + self.log(), pytrace=False)
        self.origin = json.loads(line[0])["listening"]
        u = urlsplit(self.origin)
        self.host, self.port = u.hostname, u.port
        self.jwks_url = self.origin + "/api/auth/jwks"

    def _drain(self):
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace"))

    def log(self):
        return "".join(self.stderr[-60:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:
            th.psql(th.database_url(), "DROP SCHEMA IF EXISTS %s CASCADE" % self.schema)
        except Exception:  # noqa: BLE001 - cleanup only
            pass

    def call(self, method, path, body=None, cookie=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=th.TIMEOUT)
        try:
            headers = {"Origin": self.origin}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            if cookie:
                headers["Cookie"] = cookie
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            return r.status, r.headers, raw
        finally:
            c.close()

    def sign_up(self, name):
        """A new user through POST /api/auth/sign-up/email; returns (user id, cookie)."""
        email = "%s-%s@example.com" % (name, uuid.uuid4().hex[:8])
        status, headers, raw = self.call("POST", "/api/auth/sign-up/email", {
            "email": email, "password": "pw-" + secrets.token_hex(8), "name": name})
        assert status == 200, (status, raw, self.log())
        cookies = [h.split(";", 1)[0] for h in headers.get_all("Set-Cookie") or []]
        assert cookies, headers
        return json.loads(raw)["user"]["id"], "; ".join(cookies)

    def token(self, cookie):
        """GET /api/auth/token with the session cookie: the user's JWT."""
        status, _, raw = self.call("GET", "/api/auth/token", cookie=cookie)
        assert status == 200, (status, raw, self.log())
        return json.loads(raw)["token"]


@pytest.fixture
def better_auth(betterauth_install):
    """better_auth(alg="EdDSA", rotation=None) -> a running BetterAuth."""
    started = []

    def start(alg="EdDSA", rotation=None):
        ba = BetterAuth(betterauth_install, alg, rotation)
        started.append(ba)
        return ba

    yield start
    for ba in started:
        ba.stop()


def _part(token, i):
    seg = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def _jose_header(token):
    return _part(token, 0)


def _claims(token):
    return _part(token, 1)


def _threadstore_for(start_jwt_server, ba, alg):  # noqa: F811
    # iss and aud are the origin of Better Auth's baseURL (no path, no trailing slash).
    return start_jwt_server(jwt_args(url=ba.jwks_url, issuer=ba.origin, audience=ba.origin,
                                     extra=["--jwt-algs", alg]))


def _two_users_kept_apart(srv, ba):
    (alice, alice_cookie), (bob, bob_cookie) = ba.sign_up("alice"), ba.sign_up("bob")
    ta, tb = ba.token(alice_cookie), ba.token(bob_cookie)
    assert _claims(ta)["sub"] == alice and _claims(tb)["sub"] == bob
    assert _claims(ta)["iss"] == ba.origin and _claims(ta)["aud"] == ba.origin
    a, b = srv.client(ta), srv.client(tb)
    try:
        a.save_thread(th.thread_doc("thr_alice", title="Alice's"))
        b.save_thread(th.thread_doc("thr_bob", title="Bob's"))
        assert [t["id"] for t in a.list_threads()["data"]] == ["thr_alice"]
        assert [t["id"] for t in b.list_threads()["data"]] == ["thr_bob"]
        th.check_error(b.get("/v1/threads/thr_alice"), 404, "not_found")
        th.check_error(a.get("/v1/threads/thr_bob"), 404, "not_found")
        # Bob writing the same id makes his own thread; Alice's is untouched.
        b.save_thread(th.thread_doc("thr_alice", title="Bob's copy"))
        assert a.get("/v1/threads/thr_alice").json["title"] == "Alice's"
        assert b.get("/v1/threads/thr_alice").json["title"] == "Bob's copy"
    finally:
        a.close()
        b.close()
    return ta


def test_eddsa_tokens_accepted_and_users_kept_apart(better_auth, start_jwt_server):  # noqa: F811
    ba = better_auth("EdDSA")
    srv = _threadstore_for(start_jwt_server, ba, "EdDSA")
    tok = _two_users_kept_apart(srv, ba)
    assert _jose_header(tok)["alg"] == "EdDSA"
    # A Better Auth session token (not a JWT) and no token are refused.
    _, cookie = ba.sign_up("carol")
    r = srv.client(cookie.split("=", 1)[1].split(".")[0]).get("/v1/threads")
    th.check_error(r, 401, "unauthorized")
    th.check_error(srv.client(None).get("/v1/threads"), 401, "unauthorized")


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_other_algorithms(better_auth, start_jwt_server, alg):  # noqa: F811
    ba = better_auth(alg)
    srv = _threadstore_for(start_jwt_server, ba, alg)
    tok = _two_users_kept_apart(srv, ba)
    assert _jose_header(tok)["alg"] == alg


def test_wrong_issuer_is_refused(better_auth, start_jwt_server):  # noqa: F811
    # With a path or a trailing slash the issuer is not Better Auth's: every token fails.
    ba = better_auth("EdDSA")
    srv = start_jwt_server(jwt_args(url=ba.jwks_url, issuer=ba.origin + "/api/auth",
                                    audience=ba.origin))
    _, cookie = ba.sign_up("dave")
    r = srv.status(ba.token(cookie))
    th.check_error(r, 401, "unauthorized")
    assert "iss" in r.json["error"]["message"]


def test_key_rotation(better_auth, start_jwt_server):  # noqa: F811
    # jwks.rotationInterval = 2 s: the first token signed after that mints a new key, and
    # the old one stays published for the grace period (30 days by default).
    ba = better_auth("EdDSA", rotation=2)
    user, cookie = ba.sign_up("erin")
    first = ba.token(cookie)
    # Default --jwks-cooldown (5 s) and --jwks-refresh (300 s): the new key arrives within
    # the cooldown of threadstore's start-up fetch, the case a real rotation hits.
    srv = _threadstore_for(start_jwt_server, ba, "EdDSA")
    assert srv.status(first).status == 200
    time.sleep(2.5)
    second = ba.token(cookie)
    old_kid, new_kid = _jose_header(first)["kid"], _jose_header(second)["kid"]
    assert old_kid != new_kid, "Better Auth did not rotate its key"
    assert _claims(second)["sub"] == user
    r = srv.status(second)  # the first request with the new key
    assert r.status == 200, (r, srv.log_text()[-3000:])
    assert srv.count_log(r"msg=\"?jwks loaded") >= 2
    assert srv.status(first).status == 200  # the old key is still published
    # Both tokens are the same user.
    c1, c2 = srv.client(first), srv.client(second)
    try:
        c1.save_thread(th.thread_doc("thr_rot"))
        assert [t["id"] for t in c2.list_threads()["data"]] == ["thr_rot"]
    finally:
        c1.close()
        c2.close()
