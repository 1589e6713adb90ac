"""A token signed with a key the auth server has just rotated in: its first
request names an unknown kid, starts a JWKS fetch, and is held (up to 500 ms)
until the fetch ends, so it succeeds instead of getting a 401."""

import time
import uuid

import tshelpers as th
from jwthelpers import assert_401, jwks_http, jwt_args, key, start_jwt_server  # noqa: F401


def _sub():
    return "user-" + uuid.uuid4().hex


def test_first_token_of_a_new_key_is_accepted(jwks_http, start_jwt_server):
    old, new = key("Ed25519", "hold-old"), key("Ed25519", "hold-new")
    jwks_http.set_keys([old])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-cooldown", "1"]))
    jwks_http.set_keys([old, new])  # the auth server rotates; threadstore has not fetched
    time.sleep(1.1)                 # past the refetch cooldown since the start-up fetch
    hits = jwks_http.hits_now()
    r = srv.status(new.token(_sub()))
    assert r.status == 200, r
    assert jwks_http.hits_now() == hits + 1
    assert srv.count_log(r"msg=\"jwks refetch\" .*reason=\"unknown kid\"") >= 1


def test_held_request_is_refused_when_the_fetch_does_not_bring_the_key(jwks_http,
                                                                       start_jwt_server):
    k, stranger = key("P-256", "hold-known"), key("P-256", "hold-stranger")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-cooldown", "1"]))
    time.sleep(1.1)
    tok = stranger.token(_sub())
    assert_401(srv.status(tok), "kid is not in the key set", tok, srv)
    assert srv.status(k.token(_sub())).status == 200


def test_hold_is_bounded_while_the_auth_server_hangs(jwks_http, start_jwt_server):
    k, unknown = key("Ed25519", "hold-hang-k"), key("Ed25519", "hold-hang-u")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwks-cooldown", "1"]))
    time.sleep(1.1)
    jwks_http.hang()
    t0 = time.monotonic()
    tok = unknown.token(_sub())
    assert_401(srv.status(tok), "kid is not in the key set", tok, srv)
    took = time.monotonic() - t0
    assert 0.4 < took < 3, took  # held for the fetch, but not for its 10 s timeout
    assert srv.status(k.token(_sub())).status == 200  # known keys never wait
