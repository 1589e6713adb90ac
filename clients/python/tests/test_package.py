"""The package without ChatKit, the token helpers, and typing metadata."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threadstore_chatkit import HS256Tokens, mint_hs256, path_segment, token_from_context

SRC = Path(__file__).resolve().parents[1] / "src"


def test_imports_without_chatkit() -> None:
    code = (
        "import sys, threadstore_chatkit as t\n"
        "assert 'chatkit' not in sys.modules\n"
        "assert t.ThreadStoreClient and t.UnavailableError\n"
        "try:\n"
        "    t.ThreadStore\n"
        "except ImportError as e:\n"
        "    assert 'openai-chatkit' in str(e), e\n"
        "    print('no-chatkit')\n"
        "else:\n"
        "    print('chatkit-present')\n"
    )
    # Keep a PYTHONPATH the run was given (scripts/test.sh lends Debian's pytest and httpx to a
    # pydantic-2 Python that has neither); the package's own source comes first.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("no-chatkit", "chatkit-present")


def test_py_typed_is_shipped() -> None:
    assert (SRC / "threadstore_chatkit" / "py.typed").exists()


def test_mint_hs256_verifies() -> None:
    token = mint_hs256("s3cret", "alice", ttl=60)
    head, body, sig = token.split(".")
    expect = hmac.new(b"s3cret", f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)) == expect
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["sub"] == "alice" and 55 <= claims["exp"] - time.time() <= 61
    assert json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"] == "HS256"


def test_hs256_tokens_cache_per_user() -> None:
    hook = HS256Tokens("k" * 32, subject=lambda c: c["user"])
    a1, a2, b = hook({"user": "a"}), hook({"user": "a"}), hook({"user": "b"})
    assert a1 == a2 and a1 != b
    with pytest.raises(ValueError):
        hook({"user": ""})


def test_default_token_hook() -> None:
    class C:
        threadstore_token = "tok"

    assert token_from_context(C()) == "tok"
    assert token_from_context({"threadstore_token": "tok2"}) == "tok2"
    with pytest.raises(TypeError):
        token_from_context({})


def test_path_segment() -> None:
    assert path_segment("a/b c?#%ü") == "a%2Fb%20c%3F%23%25%C3%BC"
