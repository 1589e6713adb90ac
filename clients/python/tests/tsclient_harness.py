"""Helpers shared by the tests: HS256 tokens, the request context, the threadstore process.
(A module of its own, not conftest, so that nothing depends on conftest's module name.)"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


# -- tokens (minted here, independently of the package under test) -------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(secret: str, claims: dict[str, Any]) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


@dataclasses.dataclass
class Ctx:
    """A request context as a ChatKit server would build it: the user and their token."""

    user_id: str
    threadstore_token: str


# -- the server process --------------------------------------------------------------------


def binary_path() -> str:
    path = os.environ.get("THREADSTORE_BIN") or str(REPO / "build" / "threadstore")
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"threadstore binary not found at {path}: build it (cmake -S . -B build && "
            "cmake --build build) or set THREADSTORE_BIN",
            pytrace=False,
        )
    return path


class ServerProcess:
    """``threadstore --listen 127.0.0.1:0 ...``; learns its port from the log line."""

    def __init__(self, args: list[str], name: str) -> None:
        self.args = args
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []
        self.base_url = ""
        self._listening = threading.Event()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:  # keep draining: a full pipe would block the server
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "msg=listening" in line and "addr=" in line and not self.base_url:
                addr = line.split("addr=", 1)[1].split()[0]
                self.base_url = f"http://{addr}"
                self._listening.set()

    def start(self, *, wait_ready: bool = True) -> None:
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._listening.wait(15):
            self.kill()
            pytest.fail(f"{self.name}: no 'msg=listening' line in 15 s:\n" + self.log(), False)
        if wait_ready:
            deadline = time.monotonic() + 15
            while True:
                try:
                    with urllib.request.urlopen(self.base_url + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    pytest.fail(f"{self.name}: /readyz never answered 200:\n" + self.log(), False)
                time.sleep(0.05)

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> int:
        """SIGTERM, wait for the exit and return its status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"{self.name}: still running 15 s after SIGTERM:\n" + self.log())
        return self.proc.returncode
