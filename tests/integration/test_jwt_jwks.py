"""The JWKS from a URL: fetched on the loop, refreshed, re-fetched for an
unknown kid (rate limited), and while the auth server is down, slow or
broken the keys already known keep working.

Each check uses fresh tokens (new bytes) where it matters, so that the
cache of verified tokens cannot hide what the key set does."""

import socket
import time
import uuid

import pytest

import tshelpers as th
from jwthelpers import (JwksServer, alg_key, assert_401, jwks_http, jwt_args, key,  # noqa: F401
                        start_jwt_server)


def _sub():
    return "user-" + uuid.uuid4().hex


def _ok(srv, k):
    """A fresh token of key k is accepted."""
    r = srv.status(k.token(_sub()))
    return r.status == 200


def _wait_ok(srv, k, timeout=15):
    th.wait_for(lambda: _ok(srv, k), timeout=timeout, interval=0.1,
                what="a token of key %s to be accepted" % k.kid)


def test_rotation_unknown_kid_refetches(jwks_http, start_jwt_server):
    """A token with a new kid is refused while the kid is unknown, makes
    threadstore fetch the JWKS again (not waiting for the 300 s refresh), and
    is accepted once the auth server publishes the key. The old key keeps
    working."""
    old, new = key("Ed25519", "rot-old"), key("Ed25519", "rot-new")
    jwks_http.set_keys([old])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-cooldown", "1"]))
    hits = jwks_http.hits_now()
    tok = new.token(_sub())
    assert_401(srv.status(tok), "kid is not in the key set", tok, srv)
    jwks_http.set_keys([old, new])  # the auth server rotates
    th.wait_for(lambda: srv.status(tok).status == 200, timeout=10, interval=0.1,
                what="the new key to be fetched")
    assert jwks_http.hits_now() - hits <= 2
    assert srv.count_log(r"msg=\"jwks refetch\" .*reason=\"unknown kid\"") >= 1
    assert _ok(srv, old)
    assert _ok(srv, new)


def test_new_kid_within_the_cooldown_is_held_not_refused(jwks_http, start_jwt_server):
    """The first request with a key rotated in succeeds even when it arrives
    within --jwks-cooldown of the last fetch (here: just after another unknown
    kid made threadstore fetch): it is held until the deferred fetch has run,
    then verified. A kid the fetch does not bring is refused after it."""
    old, new = key("Ed25519", "cool-old"), key("Ed25519", "cool-new")
    jwks_http.set_keys([old])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-cooldown", "3"]))
    junk = key("Ed25519", "cool-junk").token(_sub())
    assert_401(srv.status(junk), "kid is not in the key set", junk, srv)  # fetches now
    jwks_http.set_keys([old, new])  # the auth server rotates, within the cooldown
    r = srv.status(new.token(_sub()))
    assert r.status == 200, r
    assert _ok(srv, old)
    other = key("Ed25519", "cool-never").token(_sub())
    assert_401(srv.status(other), "kid is not in the key set", other, srv)


def test_rotated_out_key_stops_working(jwks_http, start_jwt_server):
    """A key the JWKS no longer lists is dropped at the next refresh, and
    tokens it signed fail, also those verified (and cached) before."""
    a, b = key("P-256", "gone-a"), key("P-256", "gone-b")
    jwks_http.set_keys([a, b])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-refresh", "1"]))
    cached = a.token(_sub())
    assert srv.status(cached).status == 200
    assert srv.status(cached).status == 200
    jwks_http.set_keys([b])
    th.wait_for(lambda: srv.status(cached).status == 401, timeout=10, interval=0.1,
                what="the removed key's token to be refused")
    assert_401(srv.status(cached), "kid is not in the key set", cached, srv)
    assert_401(srv.status(a.token(_sub())), "kid is not in the key set")
    assert _ok(srv, b)


def test_periodic_refresh(jwks_http, start_jwt_server):
    """Also: a host name (resolved off the loop, in curl's resolver thread)."""
    k = key("Ed25519", "periodic")
    jwks_http.set_keys([k])
    url = jwks_http.url.replace("127.0.0.1", "localhost")
    srv = start_jwt_server(jwt_args(url=url, extra=["--jwks-refresh", "1"]))
    first = jwks_http.hits_now()
    th.wait_for(lambda: jwks_http.hits_now() >= first + 2, timeout=10, what="two refreshes")
    # An unchanged document is not parsed again: still one "jwks loaded".
    assert srv.count_log(r"msg=\"jwks loaded\"") == 1
    assert _ok(srv, k)


def test_auth_server_down_known_keys_keep_working(jwks_http, start_jwt_server):
    k, later = key("Ed25519", "down-known"), key("Ed25519", "down-later")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-refresh", "1",
                                                               "--jwks-cooldown", "1"]))
    assert _ok(srv, k)
    port = jwks_http.port
    jwks_http.stop()  # connection refused from now on
    srv.wait_log(r"msg=\"jwks fetch failed\".*failures=1 keys_kept=1")
    # An unknown kid asks for a fetch, which fails too: still 401, and k still works.
    tok = later.token(_sub())
    assert_401(srv.status(tok), "kid is not in the key set", tok, srv)
    srv.wait_log(r"msg=\"jwks fetch failed\".*failures=2 ")
    for _ in range(5):
        assert _ok(srv, k)
    # The auth server comes back publishing the new key: picked up on the next retry.
    jwks_http.port = port
    jwks_http.set_keys([k, later])
    jwks_http.start()
    _wait_ok(srv, later)
    assert _ok(srv, k)


@pytest.mark.parametrize("how", ["500", "not json", "empty", "no keys", "no usable key",
                                 "too large"])
def test_broken_jwks_keeps_known_keys(jwks_http, start_jwt_server, how):
    k = key("Ed25519", "broken-known")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-refresh", "1"]))
    assert _ok(srv, k)
    with jwks_http.lock:
        if how == "500":
            jwks_http.status = 500
        elif how == "not json":
            jwks_http.body = b"<html>Bad gateway</html>"
        elif how == "empty":
            jwks_http.body = b""
        elif how == "no keys":
            jwks_http.body = b'{"keys":[]}'
        elif how == "no usable key":
            jwks_http.body = b'{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'
        else:
            jwks_http.body = b'{"keys":[' + b'{"kty":"OKP"},' * 80000 + b'{}]}'
    reason = {"500": "HTTP status 500", "not json": "not a JWKS document",
              "empty": "not a JWKS document",
              "no keys": "no usable signature key", "no usable key": "no usable signature key",
              "too large": "over 1 MiB"}[how]
    srv.wait_log(r"msg=\"jwks fetch failed\" .*reason=\"[^\"]*%s" % reason)
    for _ in range(3):
        assert _ok(srv, k)


def test_start_while_auth_server_is_down(start_jwt_server):
    """threadstore starts without keys, answers 401 meanwhile, and picks the
    keys up when the auth server appears (retries at 1, 2, 4 ... s)."""
    k = key("Ed25519", "late")
    jw = JwksServer().start()
    port = jw.port
    jw.stop()
    try:
        srv = start_jwt_server(jwt_args(url=jw.url), wait_keys=False)
        srv.wait_log(r"msg=\"jwks fetch failed\".*keys_kept=0")
        tok = k.token(_sub())
        assert_401(srv.status(tok), "no signing keys are loaded yet", tok, srv)
        anon = srv.client(None)
        assert anon.get("/readyz").status == 503  # not ready without keys
        jw.port = port
        jw.set_keys([k])
        jw.start()
        _wait_ok(srv, k, timeout=20)
        assert anon.get("/readyz").status == 200
        anon.close()
    finally:
        jw.stop()


def test_hanging_auth_server_blocks_nothing(jwks_http, start_jwt_server):
    """While a JWKS fetch hangs, requests are served: known keys at once,
    unknown kids get 401 after a bounded hold (500 ms, not the fetch's 10 s
    timeout); and SIGTERM with the fetch still in flight exits 0, promptly,
    with a clean log."""
    k, unknown = key("Ed25519", "hang-known"), key("Ed25519", "hang-unknown")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-refresh", "1"]))
    jwks_http.hang()
    hits = jwks_http.hits_now()
    th.wait_for(lambda: jwks_http.hits_now() > hits, timeout=10, what="a hanging fetch")
    for _ in range(10):
        t0 = time.monotonic()
        assert _ok(srv, k)
        tok = unknown.token(_sub())
        assert_401(srv.status(tok), "kid is not in the key set")
        assert time.monotonic() - t0 < 2.0
    assert jwks_http.hits_now() == hits + 1  # one fetch at a time
    t0 = time.monotonic()
    rc, _log = srv.stop()
    assert rc == 0
    assert time.monotonic() - t0 < 5


def test_redirect_is_followed(jwks_http, start_jwt_server):
    k = key("P-256", "redirected")
    jwks_http.set_keys([k])
    url = "http://127.0.0.1:%d/redirect" % jwks_http.port
    srv = start_jwt_server(jwt_args(url=url))
    assert _ok(srv, k)


def test_unreachable_host_is_a_warning_not_an_error(start_jwt_server):
    """A URL nothing answers at: warnings, retries, 401s; the process is fine."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = start_jwt_server(jwt_args(url="http://127.0.0.1:%d/api/auth/jwks" % port),
                           wait_keys=False)
    srv.wait_log(r"level=warn msg=\"jwks fetch failed\"")
    assert srv.status(key("Ed25519", "nowhere").token(_sub())).status == 401
    assert srv.status(None, "/healthz").status == 200


def test_empty_first_response_loads_nothing(jwks_http, start_jwt_server):
    """A 200 with an empty body at start is a failed fetch, not an empty key set."""
    k = key("Ed25519", "empty-first")
    with jwks_http.lock:
        jwks_http.body = b""
    srv = start_jwt_server(jwt_args(url=jwks_http.url), wait_keys=False)
    srv.wait_log(r"msg=\"jwks fetch failed\" .*reason=\"[^\"]*not a JWKS document")
    tok = k.token(_sub())
    assert_401(srv.status(tok), "no signing keys are loaded yet", tok, srv)
    jwks_http.set_keys([k])
    _wait_ok(srv, k)
