"""Authentication: HS256 bearer tokens; `sub` is the user; `exp` required."""

import json
import time

import pytest

from tshelpers import b64url, check_error, make_jwt, thread_doc, user_message

V1_REQUESTS = [
    ("GET", "/v1/threads", None),
    ("GET", "/v1/threads/thr_1a2b3c4d", None),
    ("PUT", "/v1/threads/thr_1a2b3c4d", thread_doc("thr_1a2b3c4d")),
    ("DELETE", "/v1/threads/thr_1a2b3c4d", None),
    ("GET", "/v1/threads/thr_1a2b3c4d/items", None),
    ("POST", "/v1/threads/thr_1a2b3c4d/items", user_message("thr_1a2b3c4d")),
    ("PUT", "/v1/threads/thr_1a2b3c4d/items/msg_1", user_message("thr_1a2b3c4d", "msg_1")),
    ("GET", "/v1/threads/thr_1a2b3c4d/items/msg_1", None),
    ("DELETE", "/v1/threads/thr_1a2b3c4d/items/msg_1", None),
    ("PUT", "/v1/attachments/atc_1", {"id": "atc_1"}),
    ("GET", "/v1/attachments/atc_1", None),
    ("DELETE", "/v1/attachments/atc_1", None),
]


@pytest.mark.parametrize("method,path,body", V1_REQUESTS)
def test_every_v1_endpoint_requires_token(anon, method, path, body):
    check_error(anon.request(method, path, body=body), 401, "unauthorized")


def test_valid_token_works_and_token_is_the_user(api, make_token, client_for, server,
                                                 user_id):
    doc = thread_doc()
    api.save_thread(doc)
    # A second, independently made token for the same sub sees the same data.
    again = server.client(make_token(user_id, ttl=60, aud="threadstore", iss="backend",
                                     scope="read write", roles=["a", "b"]))
    try:
        r = again.get("/v1/threads/" + doc["id"])
        assert r.status == 200, r
        assert r.json == doc
    finally:
        again.close()


def test_header_without_typ_is_accepted(server, jwt_secret, user_id):
    tok = make_jwt(jwt_secret, {"sub": user_id, "exp": int(time.time()) + 60},
                   header={"alg": "HS256"})
    c = server.client(tok)
    try:
        assert c.get("/v1/threads").status == 200
    finally:
        c.close()


def _bad_tokens(jwt_secret, sub):
    now = int(time.time())
    good_claims = {"sub": sub, "exp": now + 3600}
    good = make_jwt(jwt_secret, good_claims)
    h, p, s = good.split(".")
    tampered_payload = b64url(json.dumps({"sub": sub + "x", "exp": now + 3600},
                                         separators=(",", ":")))
    flipped_sig = s[:-2] + ("AA" if s[-2:] != "AA" else "BB")
    return {
        "wrong secret": make_jwt("not-the-secret", good_claims),
        "tampered payload": "%s.%s.%s" % (h, tampered_payload, s),
        "flipped signature": "%s.%s.%s" % (h, p, flipped_sig),
        "no signature": "%s.%s." % (h, p),
        "expired": make_jwt(jwt_secret, {"sub": sub, "exp": now - 3600}),
        "no exp": make_jwt(jwt_secret, {"sub": sub}),
        "exp not a number": make_jwt(jwt_secret, {"sub": sub, "exp": "tomorrow"}),
        "no sub": make_jwt(jwt_secret, {"exp": now + 3600}),
        "empty sub": make_jwt(jwt_secret, {"sub": "", "exp": now + 3600}),
        "sub not a string": make_jwt(jwt_secret, {"sub": 12345, "exp": now + 3600}),
        "alg none": make_jwt(jwt_secret, good_claims, header={"alg": "none", "typ": "JWT"},
                             sign=False),
        "alg none signed": make_jwt(jwt_secret, good_claims,
                                    header={"alg": "none", "typ": "JWT"}),
        "alg RS256": make_jwt(jwt_secret, good_claims, header={"alg": "RS256", "typ": "JWT"}),
        "two parts": "%s.%s" % (h, p),
        "four parts": good + ".x",
        "garbage": "not-a-jwt",
        "bad base64": "%s.%s.%s" % (h, "!!!!", s),
        "payload not json": "%s.%s.%s" % (h, b64url("hello"), s),
        "payload array": make_jwt(jwt_secret, [sub, now + 3600]),
    }


@pytest.fixture
def bad_tokens(jwt_secret, user_id):
    return _bad_tokens(jwt_secret, user_id)


@pytest.mark.parametrize("kind", sorted(_bad_tokens("x", "u")))
def test_invalid_tokens_401(anon, bad_tokens, kind):
    r = anon.get("/v1/threads", headers={"Authorization": "Bearer " + bad_tokens[kind]})
    check_error(r, 401, "unauthorized")


@pytest.mark.parametrize("value", [
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Token abc",
    "",
])
def test_bad_authorization_header_401(anon, value):
    r = anon.get("/v1/threads", headers={"Authorization": value})
    check_error(r, 401, "unauthorized")


def test_wrong_scheme_with_valid_token_401(anon, make_token, user_id):
    tok = make_token(user_id)
    check_error(anon.get("/v1/threads", headers={"Authorization": "Basic " + tok}), 401)
    check_error(anon.get("/v1/threads", headers={"Authorization": tok}), 401)


def test_health_endpoints_need_no_token(anon):
    for path in ("/healthz", "/readyz"):
        assert anon.get(path).status == 200
        r = anon.get(path, headers={"Authorization": "Bearer garbage"})
        assert r.status == 200, (path, r)


def test_401_wins_over_route_and_body_errors(anon, make_token, user_id):
    # Unknown /v1 route, wrong method, bad body, bad params: all 401 first.
    check_error(anon.get("/v1/nope"), 401)
    check_error(anon.get("/v1"), 401)
    check_error(anon.get("/v1/threads/a/b/c/d/e"), 401)
    check_error(anon.request("PATCH", "/v1/threads/thr_1"), 401)
    check_error(anon.request("POST", "/v1/threads", body={"id": "x"}), 401)
    check_error(anon.put("/v1/threads/thr_1", "{not json"), 401)
    check_error(anon.put("/v1/threads/thr_1", "{}", content_type="text/plain"), 401)
    check_error(anon.get("/v1/threads?limit=0&order=sideways"), 401)
    expired = make_token(user_id, exp=int(time.time()) - 100)
    check_error(anon.get("/v1/nope", token=expired), 401)
