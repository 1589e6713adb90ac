"""End to end: the example app (uvicorn, the real ChatKit SDK) on the real threadstore binary
and PostgreSQL. Two users chat; each sees only their own threads; the app is restarted and
the history is still there (it lives in threadstore, not in the app); requests without a
valid token get 401.

Needs the real ``chatkit`` (openai-chatkit), ``fastapi`` and ``uvicorn`` importable, and
THREADSTORE_BIN / DATABASE_URL as for the other tests. Without the packages every test is
SKIPPED, and says which one is missing (pytest -rs shows it). Tokens are HS256 here: the app
never looks inside them, so a Better Auth token behaves the same (threadstore verifies it;
tests/integration/test_better_auth.py covers that part).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest


def _missing() -> str | None:
    for mod, pkg in (("chatkit.server", "openai-chatkit"), ("fastapi", "fastapi"),
                     ("uvicorn", "uvicorn")):
        try:
            __import__(mod)
        except ImportError as exc:
            return f"SKIPPED: the example needs {pkg} ({mod} is not importable: {exc})"
    return None


MISSING = _missing()


@pytest.fixture(autouse=True)
def _needs_the_sdk() -> None:
    # Each test skips on its own (a module-level skip would leave pytest with no test run).
    if MISSING:
        pytest.skip(MISSING)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret: str, sub: str) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": sub, "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


class Proc:
    """A child process whose stderr is drained into ``lines``."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if needle in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"no {needle!r} in the log:\n{self.log()}", pytrace=False)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def threadstore() -> Any:
    if MISSING:  # before anything is started (module-scoped fixtures come first)
        pytest.skip(MISSING)
    binary = os.environ.get("THREADSTORE_BIN") or str(REPO / "build" / "threadstore")
    database_url = os.environ.get("DATABASE_URL")
    if not database_url or not os.access(binary, os.X_OK):
        pytest.fail("set THREADSTORE_BIN and DATABASE_URL (see scripts/test.sh)", pytrace=False)
    secret = secrets.token_hex(24)
    ts = Proc([binary, "--listen", "127.0.0.1:0", "--database-url", database_url,
               "--jwt-secret", secret, "--pool-size", "2"], dict(os.environ))
    line = ts.wait_for("msg=listening")
    addr = line.split("addr=", 1)[1].split()[0].strip('"')
    yield f"http://{addr}", secret
    assert ts.stop() == 0, ts.log()


class App:
    """The example app under uvicorn, restartable on the same port."""

    def __init__(self, threadstore_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        paths = [str(REPO / "clients" / "python" / "src"), str(HERE)]
        paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env = dict(os.environ, THREADSTORE_URL=threadstore_url,
                        PYTHONPATH=os.pathsep.join(paths))
        self.proc: Proc | None = None

    def start(self) -> None:
        self.proc = Proc([sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                          "--port", str(self.port)], self.env, cwd=HERE)
        self.proc.wait_for("Uvicorn running on")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def call(self, body: dict[str, Any] | bytes, token: str | None) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/chatkit", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                raw, ctype, status = r.read(), r.headers.get("content-type", ""), r.status
        except urllib.error.HTTPError as e:
            raw, ctype, status = e.read(), e.headers.get("content-type", ""), e.code
        if ctype.startswith("text/event-stream"):
            events = [json.loads(line[6:]) for line in raw.decode().splitlines()
                      if line.startswith("data: ")]
            return status, events
        return status, json.loads(raw)


@pytest.fixture
def app(threadstore: Any) -> Any:
    a = App(threadstore[0])
    a.start()
    yield a
    a.stop()


def message(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [],
            "inference_options": {}}


def create_thread(app: App, token: str, text: str) -> tuple[str, str]:
    status, events = app.call({"type": "threads.create", "params": {"input": message(text)}}, token)
    assert status == 200, events
    assert not [e for e in events if e["type"] == "error"], events
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    reply = [e["item"] for e in events
             if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert len(reply) == 1, events
    return thread_id, reply[0]["content"][0]["text"]


def thread_ids(app: App, token: str) -> list[str]:
    status, page = app.call({"type": "threads.list", "params": {"limit": 50}}, token)
    assert status == 200, page
    return [t["id"] for t in page["data"]]


def test_two_users_history_survives_a_restart(app: App, threadstore: Any) -> None:
    secret = threadstore[1]
    alice, bob = (hs256(secret, f"{n}-{uuid.uuid4().hex}") for n in ("alice", "bob"))

    a_thread, a_reply = create_thread(app, alice, "hello from alice")
    assert a_reply == "You said: hello from alice. Earlier in this thread: []."
    b_thread, _ = create_thread(app, bob, "hello from bob")
    assert thread_ids(app, alice) == [a_thread]
    assert thread_ids(app, bob) == [b_thread]

    # Bob cannot read Alice's thread: threadstore answers 404 for another user's thread.
    status, body = app.call({"type": "threads.get_by_id", "params": {"thread_id": a_thread}}, bob)
    assert status == 404 and body["error"]["message"] == f"Thread {a_thread} not found", body

    app.stop()  # nothing of the history is in the app process
    app.start()

    status, thread = app.call({"type": "threads.get_by_id",
                               "params": {"thread_id": a_thread}}, alice)
    assert status == 200, thread
    texts = [i["content"][0]["text"] for i in thread["items"]["data"]]
    assert texts == ["hello from alice", a_reply]

    status, events = app.call({"type": "threads.add_user_message", "params": {
        "thread_id": a_thread, "input": message("second")}}, alice)
    assert status == 200
    replies = [e["item"]["content"][0]["text"] for e in events
               if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert replies == ["You said: second. Earlier in this thread: ['hello from alice']."], events
    assert thread_ids(app, alice) == [a_thread] and thread_ids(app, bob) == [b_thread]


def test_requests_without_a_valid_token_get_401(app: App, threadstore: Any) -> None:
    body = {"type": "threads.list", "params": {}}
    status, err = app.call(body, None)
    assert status == 401 and err["error"]["code"] == "unauthorized"
    status, err = app.call(body, hs256("not-the-secret-" + "x" * 16, "mallory"))
    assert status == 401 and err["error"]["code"] == "unauthorized"
    # A streaming request with a bad token is refused before any stream starts.
    status, err = app.call({"type": "threads.create", "params": {"input": message("x")}},
                           "not.a.jwt")
    assert status == 401
