"""Better Auth tokens end to end: every algorithm threadstore verifies from a
JWKS (URL or file), with iss/aud checks, alone or next to an HS256 secret."""

import json
import secrets
import time
import uuid

import pytest

from jwthelpers import (ALGS, AUDIENCE, ISSUER, alg_key, assert_401, hs256, jwt_args, key,
                        jwks_http, start_jwt_server)  # noqa: F401 (fixtures)
from tshelpers import thread_doc

ALG_NAMES = [a for a, _, _ in ALGS]


@pytest.fixture
def all_keys():
    return [alg_key(a) for a in ALG_NAMES]


def _roundtrip(srv, token):
    """The token's user saves a thread and reads it back."""
    c = srv.client(token)
    try:
        doc = thread_doc()
        c.save_thread(doc)
        r = c.get("/v1/threads/" + doc["id"])
        assert r.status == 200, r
        assert r.json == doc
        assert [t["id"] for t in c.list_threads()["data"]] == [doc["id"]]
    finally:
        c.close()


def test_every_alg_from_a_jwks_url(jwks_http, start_jwt_server, all_keys):
    jwks_http.set_keys(all_keys)
    srv = start_jwt_server(jwt_args(url=jwks_http.url))
    for alg in ALG_NAMES:
        _roundtrip(srv, alg_key(alg).token("user-" + uuid.uuid4().hex))
    assert "keys=6 " in srv.log_text()


def test_every_alg_from_a_jwks_file(tmp_path, start_jwt_server, all_keys):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [k.jwk() for k in all_keys]}))
    srv = start_jwt_server(jwt_args(file=str(path)))
    for alg in ALG_NAMES:
        _roundtrip(srv, alg_key(alg).token("user-" + uuid.uuid4().hex))


def test_rsa_key_without_alg_verifies_rs256_and_ps256(jwks_http, start_jwt_server):
    k = key("RSA", "no-alg")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url))
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(k.token(sub, alg="RS256")).status == 200
    assert srv.status(k.token(sub, alg="PS256")).status == 200


def test_jwk_alg_narrows_the_key(jwks_http, start_jwt_server):
    ps = alg_key("PS256")  # its JWK says "alg":"PS256"
    jwks_http.set_keys([ps])
    srv = start_jwt_server(jwt_args(url=jwks_http.url))
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(ps.token(sub)).status == 200
    tok = ps.token(sub, alg="RS256")
    assert_401(srv.status(tok), "alg does not match its key", tok, srv)


def test_same_user_same_data_across_algs(jwks_http, start_jwt_server, all_keys):
    """sub is the user whatever key signed the token."""
    jwks_http.set_keys(all_keys)
    srv = start_jwt_server(jwt_args(url=jwks_http.url))
    sub = "user-" + uuid.uuid4().hex
    doc = thread_doc()
    first = srv.client(alg_key("EdDSA").token(sub))
    first.save_thread(doc)
    first.close()
    for alg in ALG_NAMES:
        c = srv.client(alg_key(alg).token(sub))
        try:
            assert c.get("/v1/threads/" + doc["id"]).json == doc
        finally:
            c.close()


def test_aud_array_and_extra_claims(jwks_http, start_jwt_server):
    k = alg_key("EdDSA")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url))
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(k.token(sub, aud=["other", AUDIENCE], role="admin",
                              banned=None)).status == 200


def test_without_iss_and_aud_configured_they_are_not_required(jwks_http, start_jwt_server):
    k = alg_key("ES256")
    jwks_http.set_keys([k])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, issuer=None, audience=None))
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(k.token(sub, iss=None, aud=None)).status == 200
    assert srv.status(k.token(sub, iss="anyone", aud="anything")).status == 200


def test_jwks_and_hs256_secret_side_by_side(jwks_http, start_jwt_server):
    """With both configured, HS256 tokens are checked against the secret only:
    an HMAC made with a public key (the JWK text or the PEM) is refused."""
    k = alg_key("RS256")
    jwks_http.set_keys([k])
    secret = secrets.token_hex(32)
    srv = start_jwt_server(jwt_args(url=jwks_http.url), secret=secret)
    sub = "user-" + uuid.uuid4().hex
    now = int(time.time())
    claims = {"sub": sub, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}
    assert srv.status(hs256(secret, {"alg": "HS256", "typ": "JWT"}, claims)).status == 200
    assert srv.status(k.token(sub)).status == 200
    for forged_secret in (k.pem(), json.dumps(k.jwk(), separators=(",", ":"))):
        tok = hs256(forged_secret, {"alg": "HS256", "kid": k.kid}, claims)
        assert_401(srv.status(tok), "signature is invalid", tok, srv)


def test_alg_allow_list(jwks_http, start_jwt_server, all_keys):
    jwks_http.set_keys(all_keys)
    srv = start_jwt_server(jwt_args(url=jwks_http.url, extra=["--jwt-algs", "EdDSA,PS256"]))
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(alg_key("EdDSA").token(sub)).status == 200
    assert srv.status(alg_key("PS256").token(sub)).status == 200
    for alg in ("ES256", "ES384", "ES512", "RS256"):
        tok = alg_key(alg).token(sub)
        assert_401(srv.status(tok), "alg is not accepted", tok, srv)


def test_dev_token_still_works_with_a_secret(start_jwt_server, jwks_http):
    """dev-token (HS256) keeps working when a JWKS is configured too."""
    import subprocess

    import tshelpers as th

    secret = secrets.token_hex(32)
    jwks_http.set_keys([alg_key("EdDSA")])
    srv = start_jwt_server(jwt_args(url=jwks_http.url, issuer=None, audience=None),
                           secret=secret)
    out = subprocess.run([th.binary_path(), "dev-token", "--sub", "dev-user", "--jwt-secret",
                          secret], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert srv.status(out.stdout.strip()).status == 200
