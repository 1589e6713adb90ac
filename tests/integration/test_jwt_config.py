"""JWT configuration: what starts, what is refused (exit 2 for bad flags, 1 for
a JWKS file that cannot be used), and the environment variables."""

import json
import subprocess
import uuid

import pytest

import tshelpers as th
from jwthelpers import alg_key, jwks_http, jwt_args, start_jwt_server  # noqa: F401


def _run(args, env=None, timeout=20):
    import os

    e = dict(os.environ)
    for k in list(e):
        if k.startswith("THREADSTORE_"):
            del e[k]
    e.update(env or {})
    return subprocess.run([th.binary_path()] + args, env=e, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,message", [
    ([], "need a JWKS"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwks-file", "/nonexistent"],
     "exclude each other"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-algs", "none"], "--jwt-algs"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-algs", "EdDSA,none"], "--jwt-algs"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-algs", ""], "--jwt-algs"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-algs", "HS256"], "no JWT secret"),
    (["--jwt-secret", "0123456789abcdef", "--jwt-algs", "EdDSA"], "no JWKS"),
    (["--jwt-secret", "short"], "at least 16 bytes"),
    (["--jwks-url", "file:///etc/passwd"], "http:// or https://"),
    (["--jwks-url", "127.0.0.1:3000/api/auth/jwks"], "http:// or https://"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-leeway", "-1"], "--jwt-leeway"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwks-refresh", "0"], "--jwks-refresh"),
    (["--jwks-url", "http://127.0.0.1:1/jwks", "--jwks-cooldown", "x"], "--jwks-cooldown"),
])
def test_bad_flags_exit_2(args, message):
    out = _run(["--database-url", th.database_url()] + args)
    assert out.returncode == 2, out
    assert message in out.stderr, out.stderr


def test_dev_token_needs_a_secret_even_with_a_jwks():
    out = _run(["dev-token", "--sub", "x", "--jwks-url", "http://127.0.0.1:1/jwks"])
    assert out.returncode == 2 and "dev-token needs --jwt-secret" in out.stderr, out


@pytest.mark.parametrize("content,message", [
    (None, "cannot open the JWKS file"),
    ("not json", "not a JWKS document"),
    ('{"keys":[]}', "no usable signature key"),
    ('{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}', "no usable signature key"),
])
def test_unusable_jwks_file_exits_1(tmp_path, content, message):
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    out = _run(["--listen", "127.0.0.1:0", "--database-url", th.database_url(),
                "--jwks-file", str(path)])
    assert out.returncode == 1, out
    assert message in out.stderr, out.stderr
    assert "level=error" in out.stderr


def test_environment_variables(jwks_http, start_jwt_server):
    k = alg_key("ES512")
    jwks_http.set_keys([k])
    env = {"THREADSTORE_JWKS_URL": jwks_http.url, "THREADSTORE_JWT_ISSUER": "https://iss",
           "THREADSTORE_JWT_AUDIENCE": "aud-1", "THREADSTORE_JWT_ALGS": "ES512",
           "THREADSTORE_JWT_LEEWAY": "0", "THREADSTORE_JWKS_REFRESH": "60",
           "THREADSTORE_JWKS_COOLDOWN": "2"}
    srv = start_jwt_server([], env=env, wait_keys=False)
    srv.wait_log(r"msg=\"jwks loaded\"")
    assert "refresh_s=60 cooldown_s=2" in srv.log_text()
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(k.token(sub, iss="https://iss", aud="aud-1")).status == 200
    assert srv.status(k.token(sub, iss="https://iss", aud="aud-2")).status == 401
    # Leeway 0: one second past exp is expired.
    assert srv.status(k.token(sub, iss="https://iss", aud="aud-1", ttl=-1)).status == 401


def test_flags_override_environment(tmp_path, start_jwt_server):
    k = alg_key("EdDSA")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [k.jwk()]}))
    env = {"THREADSTORE_JWT_ISSUER": "from-env", "THREADSTORE_JWT_AUDIENCE": "from-env"}
    srv = start_jwt_server(jwt_args(file=str(path), issuer="from-flag", audience=None) +
                           ["--jwt-audience", ""], env=env)
    sub = "user-" + uuid.uuid4().hex
    assert srv.status(k.token(sub, iss="from-flag", aud=None)).status == 200
    assert srv.status(k.token(sub, iss="from-env", aud=None)).status == 401
