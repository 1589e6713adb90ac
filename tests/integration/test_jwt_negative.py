"""Every way a bearer token can be wrong gives 401 with a JSON error naming the
check that failed, and neither the response nor the log holds any part of
the token. One server (JWKS over HTTP, iss and aud configured, no HS256
secret) serves the whole module."""

import json
import time
import uuid

import pytest

import tshelpers as th
from jwthelpers import (AUDIENCE, DROP, ISSUER, JwksServer, JwtServerProcess, alg_key,
                        assert_401, b64url, hs256, jwt_args, key, sign_raw, token_parts)

LEEWAY = 10


@pytest.fixture(scope="module")
def env(log_dir):
    """(server, keys): threadstore verifying against a JWKS of an Ed25519, a
    P-256 and an RSA key (keys["jwks"] is the JwksServer)."""
    jw = JwksServer().start()
    ed, p256, rsa = alg_key("EdDSA"), alg_key("ES256"), alg_key("RS256")
    jw.set_keys([ed, p256, rsa])
    srv = JwtServerProcess(th.binary_path(), th.database_url(), None,
                           extra_args=jwt_args(url=jw.url), log_dir=log_dir, name="jwt-neg")
    srv.start()
    srv.wait_log(r"msg=\"?jwks loaded")
    yield srv, {"ed": ed, "p256": p256, "rsa": rsa, "jwks": jw}
    try:
        srv.stop_and_check()
    finally:
        jw.stop()


def _sub():
    return "user-" + uuid.uuid4().hex


def _flip(s, i):
    """s with the base64url character at i changed to another valid one."""
    return s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]


def _claims(sub, **over):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + 900, "iss": ISSUER, "aud": AUDIENCE}
    c.update(over)
    return {k: v for k, v in c.items() if v is not DROP}


def _bad_tokens(keys):
    """name -> (token, the reason the 401 must give)."""
    ed, p256, rsa = keys["ed"], keys["p256"], keys["rsa"]
    sub = _sub()
    now = int(time.time())
    good = ed.token(sub)
    h, p, s = good.split(".")
    stranger = key("Ed25519", "stranger")
    edsign = ed.sign
    hdr = {"alg": "EdDSA", "kid": ed.kid}
    cases = {
        # time
        "expired": (ed.token(sub, now=now - 3600), "expired"),
        "expired just past the leeway": (ed.token(sub, ttl=-(LEEWAY + 5)), "expired"),
        "not yet valid": (ed.token(sub, nbf=now + 3600), "not valid yet"),
        "nbf past the leeway": (ed.token(sub, nbf=now + LEEWAY + 30), "not valid yet"),
        "no exp": (ed.token(sub, exp=DROP), "no exp"),
        "exp not a number": (ed.token(sub, exp="tomorrow"), "exp claim is not a number"),
        # iss / aud / sub
        "wrong iss": (ed.token(sub, iss="http://evil.example.com"), "iss claim"),
        "iss with a trailing slash": (ed.token(sub, iss=ISSUER + "/"), "iss claim"),
        "no iss": (ed.token(sub, iss=None), "iss claim"),
        "wrong aud": (ed.token(sub, aud="http://other.example.com"), "aud claim"),
        "aud array without us": (ed.token(sub, aud=["a", "b"]), "aud claim"),
        "aud not a string": (ed.token(sub, aud=42), "aud claim"),
        "no aud": (ed.token(sub, aud=None), "aud claim"),
        "empty sub": (ed.token(sub, sub=""), "no sub"),
        "no sub": (ed.token(sub, sub=DROP), "no sub"),
        "sub not a string": (ed.token(sub, sub=12345), "no sub"),
        # keys and algs
        "unknown kid": (ed.token(sub, header={"alg": "EdDSA", "kid": str(uuid.uuid4())}),
                        "kid is not in the key set"),
        "known kid, other key": (stranger.token(sub, header={"alg": "EdDSA", "kid": ed.kid}),
                                 "signature is invalid"),
        "alg not matching the key": (p256.token(sub, header={"alg": "ES256", "kid": ed.kid}),
                                     "alg does not match its key"),
        "RS256 naming an EC key": (rsa.token(sub, header={"alg": "RS256", "kid": p256.kid}),
                                   "alg does not match its key"),
        "kid not a string": (ed.token(sub, header={"alg": "EdDSA", "kid": 7}),
                             "kid is not a string"),
        "crit header": (ed.token(sub, header={"alg": "EdDSA", "kid": ed.kid, "crit": ["b64"],
                                              "b64": False}), "crit"),
        "alg none, unsigned": (sign_raw({"alg": "none"}, _claims(sub), None),
                               "alg is not accepted"),
        "alg none, with kid and signature": (
            sign_raw({"alg": "none", "kid": ed.kid}, _claims(sub), edsign),
            "alg is not accepted"),
        "alg NONE": (sign_raw({"alg": "NONE", "kid": ed.kid}, _claims(sub), None),
                     "alg is not accepted"),
        "alg missing": (sign_raw({"kid": ed.kid}, _claims(sub), edsign), "no alg"),
        "HS256 with the public JWK as secret": (
            hs256(json.dumps(rsa.jwk(), separators=(",", ":")),
                  {"alg": "HS256", "kid": rsa.kid}, _claims(sub)),
            "alg is not accepted"),
        "HS256 with the public PEM as secret": (
            hs256(rsa.pem(), {"alg": "HS256", "kid": rsa.kid}, _claims(sub)),
            "alg is not accepted"),
        "HS512": (sign_raw({"alg": "HS512", "kid": ed.kid}, _claims(sub), edsign),
                  "alg is not accepted"),
        # tampering
        "tampered payload": ("%s.%s.%s" % (h, b64url(json.dumps(_claims(sub + "x"))), s),
                             "signature is invalid"),
        "tampered payload bit": ("%s.%s.%s" % (h, _flip(p, 10), s), "signature is invalid"),
        "tampered header": ("%s.%s.%s" % (b64url(json.dumps({"alg": "EdDSA", "kid": ed.kid,
                                                             "typ": "JWT"})), p, s),
                            "signature is invalid"),
        "tampered signature": ("%s.%s.%s" % (h, p, _flip(s, 20)), "signature is invalid"),
        "signature of another token": ("%s.%s.%s" % (h, p, ed.token(sub + "y").split(".")[2]),
                                       "signature is invalid"),
        # encodings
        "header not base64url": ("!!%s.%s.%s" % (h, p, s), "header is not base64url JSON"),
        "header not JSON": ("%s.%s.%s" % (b64url("alg=EdDSA"), p, s),
                            "header is not base64url JSON"),
        "header padded": ("%s=.%s.%s" % (h, p, s), "header is not base64url JSON"),
        "signature in base64 (+/=)": ("%s.%s.%s" % (h, p, s.replace("-", "+").replace("_", "/")
                                                    + "=="), "signature is missing or not"),
        "payload not base64url, signed": (
            "%s.%s.%s" % (h, "e30=", b64url(edsign(("%s.e30=" % h).encode()))),
            "payload is not base64url JSON"),
        "payload not JSON, signed": (sign_raw(hdr, "hello", edsign),
                                     "payload is not base64url JSON"),
        "payload an array, signed": (sign_raw(hdr, [sub, now + 900], edsign),
                                     "payload is not base64url JSON"),
        "payload with two subs, signed": (
            sign_raw(hdr, '{"sub":"%s","sub":"admin","exp":%d,"iss":"%s","aud":"%s"}'
                     % (sub, now + 900, ISSUER, AUDIENCE), edsign),
            "payload is not base64url JSON"),
        # truncation and shape
        "no signature": ("%s.%s." % (h, p), "signature is missing"),
        "half a signature": ("%s.%s.%s" % (h, p, s[:len(s) // 2]), "signature is"),
        "signature one char short": ("%s.%s.%s" % (h, p, s[:-1]), "signature is"),
        "truncated payload": ("%s.%s.%s" % (h, p[:-3], s), "signature is invalid"),
        "two parts": ("%s.%s" % (h, p), "not a compact JWS"),
        "header only": (h, "not a compact JWS"),
        "four parts": (good + "." + s, "not a compact JWS"),
        "JWE-shaped (five parts)": ("%s.%s.%s.%s.%s" % (h, p, s, p, s), "not a compact JWS"),
        "very long token": (ed.token(sub, pad="x" * 9000), "too long"),
    }
    return cases


def _bad_tokens_names():
    return [
        "expired", "expired just past the leeway", "not yet valid", "nbf past the leeway",
        "no exp", "exp not a number", "wrong iss", "iss with a trailing slash", "no iss",
        "wrong aud", "aud array without us", "aud not a string", "no aud", "empty sub",
        "no sub", "sub not a string", "unknown kid", "known kid, other key",
        "alg not matching the key", "RS256 naming an EC key", "kid not a string",
        "crit header", "alg none, unsigned", "alg none, with kid and signature", "alg NONE",
        "alg missing", "HS256 with the public JWK as secret",
        "HS256 with the public PEM as secret", "HS512", "tampered payload",
        "tampered payload bit", "tampered header", "tampered signature",
        "signature of another token", "header not base64url", "header not JSON",
        "header padded", "signature in base64 (+/=)", "payload not base64url, signed",
        "payload not JSON, signed", "payload an array, signed",
        "payload with two subs, signed", "no signature", "half a signature",
        "signature one char short", "truncated payload", "two parts", "header only",
        "four parts", "JWE-shaped (five parts)", "very long token",
    ]


@pytest.fixture(scope="module")
def bad_tokens(env):
    cases = _bad_tokens(env[1])
    assert sorted(cases) == sorted(_bad_tokens_names())
    return cases


@pytest.mark.parametrize("kind", _bad_tokens_names())
def test_bad_token_401(env, bad_tokens, kind):
    srv, _ = env
    token, reason = bad_tokens[kind]
    assert_401(srv.status(token), reason, token, srv)


def test_good_token_and_leeway_accepted(env):
    """The control: the same server accepts a valid token, and exp/nbf just
    inside the leeway."""
    srv, keys = env
    ed = keys["ed"]
    sub = _sub()
    now = int(time.time())
    assert srv.status(ed.token(sub)).status == 200
    assert srv.status(ed.token(sub, exp=now - LEEWAY + 4)).status == 200
    assert srv.status(ed.token(sub, nbf=now + LEEWAY - 4)).status == 200
    assert srv.status(ed.token(sub, aud=[AUDIENCE])).status == 200


@pytest.mark.parametrize("form", [
    "Token {t}", "Basic {t}", "{t}", "Bearer:{t}", "Bearer{t}", "JWT {t}", "Bearer {t} extra",
    "Bearer {t},Bearer {t}", "Bearer \"{t}\"", "",
])
def test_wrong_header_form_401(env, form):
    srv, keys = env
    tok = keys["ed"].token(_sub())
    c = srv.client(None)
    try:
        r = c.get("/v1/threads", headers={"Authorization": form.format(t=tok)})
    finally:
        c.close()
    err = th.check_error(r, 401, "unauthorized")
    for part in token_parts(tok):
        assert part not in r.raw.decode("latin-1")
        assert part not in srv.log_text()
    assert err["message"]


def test_bearer_scheme_is_case_insensitive(env):
    srv, keys = env
    tok = keys["ed"].token(_sub())
    c = srv.client(None)
    try:
        assert c.get("/v1/threads", headers={"Authorization": "bearer " + tok}).status == 200
        assert c.get("/v1/threads", headers={"Authorization": "BEARER  " + tok}).status == 200
    finally:
        c.close()


def test_token_elsewhere_than_authorization_401(env):
    srv, keys = env
    tok = keys["ed"].token(_sub())
    c = srv.client(None)
    try:
        assert_401(c.get("/v1/threads?access_token=" + tok), "missing Authorization", tok, srv)
        assert_401(c.get("/v1/threads", headers={"Cookie": "token=" + tok}),
                   "missing Authorization", tok, srv)
        assert_401(c.get("/v1/threads", headers={"X-Authorization": "Bearer " + tok}),
                   "missing Authorization", tok, srv)
    finally:
        c.close()


def test_two_authorization_headers_401(env):
    srv, keys = env
    tok = keys["ed"].token(_sub())
    rc = srv.raw()
    try:
        rc.send(("GET /v1/threads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Authorization: Bearer %s\r\n\r\n" % (tok, tok)).encode())
        status, _version, _headers, body = rc.read_response()
    finally:
        rc.close()
    assert status in (400, 401), status
    for part in token_parts(tok):
        assert part.encode() not in body


def test_huge_token_is_refused_before_auth(env):
    """Past the header limit the request is 431, whatever the token says."""
    srv, keys = env
    tok = keys["ed"].token(_sub(), pad="x" * 40000)
    r = srv.status(tok)
    assert r.status == 431, r
    for part in token_parts(tok):
        assert part not in r.raw.decode("latin-1")
        assert part not in srv.log_text()


def test_garbage_tokens_do_not_hammer_the_auth_server(env):
    """Tokens naming unknown kids make threadstore fetch the JWKS again, but
    at most once per cooldown (5 s by default), however many arrive."""
    srv, keys = env
    ed, jw = keys["ed"], keys["jwks"]
    before = jw.hits_now()
    c = srv.client(None)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 6:
            tok = ed.token(_sub(), header={"alg": "EdDSA", "kid": str(uuid.uuid4())})
            r = c.get("/v1/threads", token=tok)
            assert r.status == 401
            time.sleep(0.01)
    finally:
        c.close()
    elapsed = time.monotonic() - t0
    th.wait_for(lambda: jw.hits_now() > before, timeout=10, what="a JWKS refetch")
    fetches = jw.hits_now() - before
    assert 1 <= fetches <= 1 + int(elapsed / 5), (fetches, elapsed)
    assert srv.count_log(r"msg=\"jwks refetch\" .*reason=\"unknown kid\"") >= 1
    # Known keys were never disturbed.
    assert srv.status(ed.token(_sub())).status == 200
