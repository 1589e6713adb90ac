"""Helpers for the JWT/JWKS integration tests: real keys (python3-cryptography,
Debian's package), Better Auth-shaped tokens, a JWKS served over HTTP on
127.0.0.1 by the test itself, and a threadstore launcher that need not be
given an HS256 secret.

Fixtures defined here are imported by the test_jwt_*.py and
test_isolation_matrix.py modules (pytest registers fixtures a test module
imports).
"""

import base64
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import uuid

import pytest

import tshelpers as th

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:  # pragma: no cover - reported by the fixture below
    ec = None

# What Better Auth puts in iss and aud by default: its base URL.
ISSUER = "http://127.0.0.1:3000"
AUDIENCE = "http://127.0.0.1:3000"


def require_cryptography():
    if ec is None:
        pytest.fail("python3-cryptography is required (apt-get install python3-cryptography)",
                    pytrace=False)


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


# --------------------------------------------------------------------------
# Keys and tokens

CURVES = {"P-256": (32, "ES256"), "P-384": (48, "ES384"), "P-521": (66, "ES512")}


class Key:
    """A private key of one kind ("Ed25519", "P-256", "P-384", "P-521" or
    "RSA") with a kid; jwk() is its public JWK; token() signs claims."""

    def __init__(self, kind, kid=None, jwk_alg=None):
        require_cryptography()
        self.kind = kind
        self.kid = kid or str(uuid.uuid4())
        self.jwk_alg = jwk_alg  # the JWK's "alg" member, if any
        if kind == "Ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
        elif kind in CURVES:
            curve = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}[kind]
            self.priv = ec.generate_private_key(curve())
            self.alg = CURVES[kind][1]
        elif kind == "RSA":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = jwk_alg or "RS256"
        else:
            raise ValueError(kind)
        self.pub = self.priv.public_key()

    def jwk(self):
        if self.kind == "Ed25519":
            raw = self.pub.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        elif self.kind in CURVES:
            size = CURVES[self.kind][0]
            nums = self.pub.public_numbers()
            j = {"kty": "EC", "crv": self.kind, "x": b64url(_int_bytes(nums.x, size)),
                 "y": b64url(_int_bytes(nums.y, size))}
        else:
            nums = self.pub.public_numbers()
            j = {"kty": "RSA", "n": b64url(_int_bytes(nums.n)), "e": b64url(_int_bytes(nums.e))}
        j["kid"] = self.kid
        if self.jwk_alg:
            j["alg"] = self.jwk_alg
        return j

    def pem(self):
        return self.pub.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data, alg=None):
        alg = alg or self.alg
        if self.kind == "Ed25519":
            return self.priv.sign(data)
        if self.kind in CURVES:
            h = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512}[alg]
            r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(h())))
            size = CURVES[self.kind][0]
            return _int_bytes(r, size) + _int_bytes(s, size)
        if alg == "PS256":
            return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                    salt_length=32), hashes.SHA256())
        return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def token(self, user, ttl=900, alg=None, header=None, iss=ISSUER, aud=AUDIENCE, now=None,
              **claims):
        """A Better Auth-shaped token for `user`: header {alg, kid}; claims sub,
        iat, exp, iss, aud and user fields. iss/aud None leave them out;
        claims override (DROP removes one); header replaces the header."""
        now = int(time.time()) if now is None else now
        body = {"iat": now, "name": "Test User", "email": "%s@example.com" % user,
                "emailVerified": True, "id": user, "sub": user, "exp": now + ttl}
        if iss is not None:
            body["iss"] = iss
        if aud is not None:
            body["aud"] = aud
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not _DROP}
        hdr = header if header is not None else {"alg": alg or self.alg, "kid": self.kid}
        return sign_raw(hdr, body, lambda data: self.sign(data, alg))


_DROP = object()
DROP = _DROP  # pass as a claim value to leave a default claim out


def _json_text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def sign_raw(header, claims, signer):
    """header.payload.signature with signer(bytes) -> bytes (None: no signature).
    header and claims are JSON values, or JSON texts given as str."""
    si = b64url(_json_text(header)) + "." + b64url(_json_text(claims))
    sig = signer(si.encode()) if signer else b""
    return si + "." + b64url(sig)


def hs256(secret, header, claims):
    if isinstance(secret, str):
        secret = secret.encode()
    return sign_raw(header, claims,
                    lambda data: hmac.new(secret, data, hashlib.sha256).digest())


_key_pool = {}


def key(kind, name="default", jwk_alg=None):
    """A key of this kind, generated once per test session per name."""
    k = (kind, name, jwk_alg)
    if k not in _key_pool:
        _key_pool[k] = Key(kind, jwk_alg=jwk_alg)
    return _key_pool[k]


# Every algorithm threadstore verifies from a JWKS, with the key kind it needs.
ALGS = [("EdDSA", "Ed25519", None), ("ES256", "P-256", None), ("ES384", "P-384", None),
        ("ES512", "P-521", None), ("RS256", "RSA", "RS256"), ("PS256", "RSA", "PS256")]


def alg_key(alg):
    for a, kind, jwk_alg in ALGS:
        if a == alg:
            return key(kind, jwk_alg=jwk_alg)
    raise ValueError(alg)


def jwks_doc(keys):
    return {"keys": [k.jwk() for k in keys]}


# --------------------------------------------------------------------------
# The auth server's JWKS endpoint


class JwksServer:
    """GET /api/auth/jwks on 127.0.0.1, served from a thread. Set `keys`
    (Key objects) or `body` (bytes) and `status`; `hang()` makes requests
    wait without an answer until `release()`; `stop()` closes the port
    (connection refused) and `start()` opens it again on the same port.
    `hits` counts requests to the JWKS path."""

    PATH = "/api/auth/jwks"

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []
        self.body = None
        self.status = 200
        self.hits = 0
        self.hit_times = []
        self._hang = threading.Event()
        self._release = threading.Event()
        self.port = 0
        self.srv = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, self.PATH)

    def set_keys(self, keys):
        with self.lock:
            self.keys = list(keys)
            self.body = None

    def hang(self):
        self._release.clear()
        self._hang.set()

    def release(self):
        self._hang.clear()
        self._release.set()

    def _response(self):
        with self.lock:
            body = self.body if self.body is not None else json.dumps(
                jwks_doc(self.keys)).encode()
            return self.status, body

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", owner.PATH)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path != owner.PATH:
                    self.send_error(404)
                    return
                with owner.lock:
                    owner.hits += 1
                    owner.hit_times.append(time.monotonic())
                if owner._hang.is_set():
                    owner._release.wait(30)
                    return  # close without answering
                status, body = owner._response()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.srv is not None:
            self.release()
            self.srv.shutdown()
            self.srv.server_close()
            self.thread.join(5)
            self.srv = None

    def hits_now(self):
        with self.lock:
            return self.hits


# --------------------------------------------------------------------------
# threadstore with JWT options


class JwtServerProcess(th.ServerProcess):
    """ServerProcess whose HS256 secret may be None (JWKS only)."""

    def args(self):
        a = [self.binary, "--listen", "127.0.0.1:0", "--database-url", self.database_url]
        if self.secret is not None:
            a += ["--jwt-secret", self.secret]
        return a + self.extra_args

    def wait_log(self, pattern, timeout=th.READY_TIMEOUT, count=1):
        """Wait until `pattern` (a regex) matches `count` log lines."""
        rx = re.compile(pattern)
        return th.wait_for(
            lambda: len([ln for ln in self.log_text().splitlines() if rx.search(ln)]) >= count,
            timeout=timeout, what="log line /%s/ x%d" % (pattern, count))

    def count_log(self, pattern):
        rx = re.compile(pattern)
        return len([ln for ln in self.log_text().splitlines() if rx.search(ln)])

    def status(self, token, path="/v1/threads"):
        c = self.client(token)
        try:
            return c.get(path)
        finally:
            c.close()


def jwt_args(url=None, file=None, issuer=ISSUER, audience=AUDIENCE, extra=()):
    a = []
    if url:
        a += ["--jwks-url", url]
    if file:
        a += ["--jwks-file", file]
    if issuer:
        a += ["--jwt-issuer", issuer]
    if audience:
        a += ["--jwt-audience", audience]
    return a + list(extra)


@pytest.fixture
def jwks_http():
    """A JwksServer serving no keys yet; stopped at the end of the test."""
    s = JwksServer().start()
    yield s
    s.stop()


@pytest.fixture
def start_jwt_server(log_dir):
    """start_jwt_server(extra_args, secret=None, wait_keys=True, allow_error=None)
    -> a started JwtServerProcess; with a JWKS URL and wait_keys, returns once
    the first key set is loaded. Stopped and checked (exit 0, clean log, no
    sanitizer report) at the end of the test."""
    started = []

    def start(extra_args=(), secret=None, wait_keys=True, allow_error=None, env=None):
        srv = JwtServerProcess(th.binary_path(), th.database_url(), secret,
                               extra_args=extra_args, env=env, log_dir=log_dir, name="jwt")
        started.append((srv, allow_error))
        # /readyz stays 503 until a JWKS URL's first key set is loaded
        srv.start(wait_ready=wait_keys or "--jwks-url" not in extra_args)
        if wait_keys and "--jwks-url" in extra_args:
            srv.wait_log(r"msg=\"?jwks loaded")
        return srv

    yield start
    th.stop_all_and_check(started)


def assert_401(resp, reason, token=None, server=None):
    """A 401 whose JSON message contains `reason` and no part of the token;
    and, if server is given, a log that has the reason and no part of it."""
    err = th.check_error(resp, 401, "unauthorized")
    assert reason in err["message"], (reason, err)
    if token:
        for part in token_parts(token):
            assert part not in resp.raw.decode("latin-1"), "401 body echoes the token"
            if server is not None:
                assert part not in server.log_text(), "the log holds part of the token"
    if server is not None:
        th.wait_for(lambda: reason in server.log_text(), timeout=5,
                    what="the log line for %r" % reason)
    return err


def token_parts(token):
    """The pieces of a token that must never be echoed: each dot-separated
    part of 8 characters or more."""
    return [p for p in token.split(".") if len(p) >= 8]
