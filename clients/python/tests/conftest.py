"""Test harness: the adapter against the real threadstore binary and a real PostgreSQL.

Environment:
  THREADSTORE_BIN  the binary (default: build/threadstore at the repository root)
  DATABASE_URL     a running PostgreSQL whose database exists (the binary migrates it).
                   Required by the tests that use the ``server`` fixture; they error without it.

One server runs for the whole session; each test uses fresh user ids (JWT ``sub``), so tests
never see each other's rows. When ``import chatkit`` fails (the SDK is not installable here),
tests/standins/chatkit (ChatKit 1.6.5's names, signatures and JSON shapes; pydantic 2 models
when pydantic 2 is importable) is put on sys.path.

``async def`` tests run in a fresh event loop each (this file's ``pytest_pyfunc_call``); no
pytest-asyncio needed. Coroutines registered with ``aclose_after_test`` run at the end of the
test, inside its loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tsclient_harness import Ctx, ServerProcess, binary_path, make_jwt

HERE = Path(__file__).resolve().parent

try:  # the real SDK when it is there, else the stand-ins
    import chatkit.store  # noqa: F401
    import chatkit.types  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE / "standins"))
    for name in [m for m in sys.modules if m == "chatkit" or m.startswith("chatkit.")]:
        del sys.modules[name]

# -- async tests without a plugin ---------------------------------------------------------

_finalizers: list[Callable[[], Awaitable[Any]]] = []


def aclose_after_test(fn: Callable[[], Awaitable[Any]]) -> None:
    _finalizers.append(fn)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {n: pyfuncitem.funcargs[n] for n in names}

    async def run() -> None:
        try:
            await asyncio.wait_for(fn(**kwargs), timeout=30)
        finally:
            while _finalizers:
                await _finalizers.pop()()

    asyncio.run(run())
    return True


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_hex(24)


@pytest.fixture(scope="session")
def server(jwt_secret: str) -> Any:
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        pytest.fail("DATABASE_URL is not set: point it at a PostgreSQL database", pytrace=False)
    srv = ServerProcess(
        [
            binary_path(),
            "--listen", "127.0.0.1:0",
            "--database-url", database_url,
            "--jwt-secret", jwt_secret,
            "--pool-size", "2",
            "--drain-timeout", "2",
            # 1 MiB (the default is 64 MiB): the 413 test stays a small upload.
            "--max-body", "1048576",
        ],
        "threadstore",
    )
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0, f"threadstore exited {rc} after SIGTERM:\n{srv.log()}"


@pytest.fixture
def small_body_server(jwt_secret: str) -> Any:
    """A threadstore with --max-body 65536 (the default is far larger), for the 413 path."""
    srv = ServerProcess(
        [
            binary_path(),
            "--listen", "127.0.0.1:0",
            "--database-url", os.environ.get("DATABASE_URL", ""),
            "--jwt-secret", jwt_secret,
            "--pool-size", "1",
            "--max-body", "65536",
            "--drain-timeout", "2",
        ],
        "threadstore-small-body",
    )
    srv.start()
    yield srv
    assert srv.stop() == 0, srv.log()


@pytest.fixture
def new_ctx(jwt_secret: str) -> Callable[..., Ctx]:
    """new_ctx(user_id=None, ttl=3600) -> a context for a fresh (or the given) user."""

    def make(user_id: str | None = None, ttl: int = 3600) -> Ctx:
        user_id = user_id or f"user-{uuid.uuid4().hex}"
        token = make_jwt(jwt_secret, {"sub": user_id, "exp": int(time.time()) + ttl})
        return Ctx(user_id, token)

    return make


@pytest.fixture
def ctx(new_ctx: Callable[..., Ctx]) -> Ctx:
    return new_ctx()


@pytest.fixture
def other_ctx(new_ctx: Callable[..., Ctx]) -> Ctx:
    return new_ctx()


@dataclasses.dataclass
class Exchange:
    method: str
    path: str
    status: int


@pytest.fixture
def exchanges() -> list[Exchange]:
    """Every HTTP response the ``store`` fixture received, in order."""
    return []


@pytest.fixture
def store(server: ServerProcess, exchanges: list[Exchange]) -> Any:
    """A ThreadStore on the session's server (one per test: its pool lives in the test's loop),
    recording each response's status in ``exchanges``."""
    import httpx

    from threadstore_chatkit import ThreadStore, ThreadStoreClient

    async def record(response: httpx.Response) -> None:
        req = response.request
        exchanges.append(Exchange(req.method, req.url.raw_path.decode(), response.status_code))

    http = httpx.AsyncClient(
        base_url=server.base_url,
        timeout=httpx.Timeout(10.0, connect=2.0),
        event_hooks={"response": [record]},
    )
    st = ThreadStore(client=ThreadStoreClient(http_client=http, close_http_client=True))
    aclose_after_test(st.aclose)
    return st
