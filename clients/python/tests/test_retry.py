"""Retries, timeouts and error mapping, deterministic: against a tiny scripted HTTP server in the
test's own event loop, and against the real binary with no database behind it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from chatkit.store import NotFoundError
from chatkit.types import InferenceOptions, ThreadMetadata, UserMessageItem, UserMessageTextContent

from tsclient_harness import Ctx, ServerProcess, binary_path
from threadstore_chatkit import (
    ConflictError,
    ThreadStore,
    ThreadStoreClient,
    ThreadStoreConnectionError,
    ThreadStoreHTTPError,
    ThreadStoreProtocolError,
    ThreadStoreTimeoutError,
    UnavailableError,
)

CTX = Ctx("u1", "token-u1")
THREAD = {"id": "t1", "created_at": "2025-01-01T00:00:00", "title": "x", "status": {"type": "active"}, "metadata": {}}
ERR_503 = json.dumps({"error": {"code": "unavailable", "message": "queue full"}})


def resp(status: int, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode() if body is not None else b""
    hdrs = {"Content-Type": "application/json"} if data else {}
    hdrs.update(headers or {})
    return status, hdrs, data


class FakeThreadstore:
    """Answers each request with the next scripted response; records method, path, headers."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]], hang: bool = False) -> None:
        self.script = list(script)
        self.hang = hang
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((method, target, headers, body))
                if self.hang:
                    await asyncio.sleep(3600)
                status, hdrs, data = self.script.pop(0)
                out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(data)}"]
                out += [f"{k}: {v}" for k, v in hdrs.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def methods(self) -> list[str]:
        return [r[0] for r in self.requests]


@asynccontextmanager
async def fake(script: list[Any], hang: bool = False, **options: Any) -> AsyncIterator[tuple[FakeThreadstore, ThreadStore]]:
    srv = FakeThreadstore(script, hang)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options.setdefault("backoff", 0.01)
    store: ThreadStore = ThreadStore(f"http://127.0.0.1:{port}", **options)
    try:
        yield srv, store
    finally:
        await store.aclose()
        server.close()
        await server.wait_closed()


def item() -> Any:
    return UserMessageItem(
        id="m1", thread_id="t1", created_at=datetime(2025, 1, 1), content=[UserMessageTextContent(text="a")],
        attachments=[], inference_options=InferenceOptions(),
    )


async def test_get_is_retried_on_503_then_succeeds() -> None:
    script = [resp(503, ERR_503, {"Retry-After": "0"}), resp(503, ERR_503, {"Retry-After": "0"}), resp(200, THREAD)]
    async with fake(script) as (srv, store):
        thread = await store.load_thread("t1", CTX)
    assert thread.id == "t1" and isinstance(thread, ThreadMetadata)
    assert srv.methods == ["GET", "GET", "GET"]
    assert all(r[2]["authorization"] == "Bearer token-u1" for r in srv.requests)
    assert srv.connections == 1  # keep-alive: one connection for all three


async def test_retry_after_is_honoured() -> None:
    async with fake([resp(503, ERR_503, {"Retry-After": "1"}), resp(204)]) as (srv, store):
        start = time.monotonic()
        await store.delete_thread("t1", CTX)
        elapsed = time.monotonic() - start
    assert srv.methods == ["DELETE", "DELETE"]
    assert 0.95 <= elapsed < 3


async def test_put_and_delete_are_retried() -> None:
    script = [resp(503, ERR_503), resp(204), resp(503, ERR_503), resp(204)]
    async with fake(script) as (srv, store):
        await store.save_item("t1", item(), CTX)
        await store.delete_thread_item("t1", "m1", CTX)
    assert srv.methods == ["PUT", "PUT", "DELETE", "DELETE"]
    assert srv.requests[0][1] == "/v1/threads/t1/items/m1"
    assert json.loads(srv.requests[0][3])["content"] == [{"type": "input_text", "text": "a"}]
    assert srv.requests[0][2]["content-type"] == "application/json"


async def test_full_thread_is_sent_without_items() -> None:
    from chatkit.types import Page, Thread, ThreadItem

    thread = Thread(id="t1", created_at=datetime(2025, 1, 1), title="x", items=Page[ThreadItem](data=[item()]))
    async with fake([resp(204)]) as (srv, store):
        await store.save_thread(thread, CTX)
    method, path, headers, body = srv.requests[0]
    assert (method, path) == ("PUT", "/v1/threads/t1")
    sent = json.loads(body)
    assert "items" not in sent and sent["id"] == "t1" and sent["title"] == "x"


async def test_post_is_not_retried() -> None:
    async with fake([resp(503, ERR_503, {"Retry-After": "0"}), resp(201)]) as (srv, store):
        with pytest.raises(UnavailableError) as info:
            await store.add_thread_item("t1", item(), CTX)
    assert srv.methods == ["POST"]
    assert info.value.status == 503 and info.value.code == "unavailable"
    assert info.value.message == "queue full" and info.value.retry_after == 0


async def test_retries_are_bounded() -> None:
    async with fake([resp(503, ERR_503)] * 5, retries=2) as (srv, store):
        with pytest.raises(UnavailableError):
            await store.load_threads(20, None, "desc", CTX)
    assert srv.methods == ["GET"] * 3


async def test_long_retry_after_gives_up_at_once() -> None:
    async with fake([resp(503, ERR_503, {"Retry-After": "30"})] * 2, max_retry_wait=2) as (srv, store):
        start = time.monotonic()
        with pytest.raises(UnavailableError) as info:
            await store.load_thread("t1", CTX)
    assert time.monotonic() - start < 1
    assert srv.methods == ["GET"]
    assert info.value.retry_after == 30


async def test_other_errors_are_not_retried() -> None:
    body500 = {"error": {"code": "internal", "message": "boom"}}
    async with fake([resp(500, body500), resp(400, {"error": {"code": "bad_request", "message": "no"}})]) as (srv, store):
        with pytest.raises(ThreadStoreHTTPError) as info:
            await store.load_thread("t1", CTX)
        assert info.value.status == 500 and info.value.code == "internal"
        with pytest.raises(ThreadStoreHTTPError) as info:
            await store.load_thread("t1", CTX)
        assert info.value.status == 400
    assert srv.methods == ["GET", "GET"]


async def test_404_is_chatkits_not_found() -> None:
    async with fake([resp(404, {"error": {"code": "not_found", "message": "thread not found"}})]) as (srv, store):
        with pytest.raises(NotFoundError, match="^Thread t1 not found$") as info:
            await store.load_thread("t1", CTX)
        assert info.value.message == "thread not found" and "thread not found" in info.value.detail


async def test_409_is_a_conflict_error_and_not_retried() -> None:
    body = {"error": {"code": "conflict", "message": "an item with this id differs"}}
    async with fake([resp(409, body), resp(201, None)]) as (srv, store):
        with pytest.raises(ConflictError) as info:
            await store.add_thread_item("t1", item(), CTX)
        assert info.value.status == 409 and info.value.code == "conflict"
        assert len(srv.requests) == 1


async def test_query_parameters() -> None:
    page = {"data": [], "has_more": False, "after": None}
    async with fake([resp(200, page), resp(200, page)]) as (srv, store):
        await store.load_threads(5, None, "asc", CTX)
        await store.load_thread_items("a/b", "m 1", 7, "desc", CTX)
    assert srv.requests[0][1] == "/v1/threads?limit=5&order=asc"
    assert srv.requests[1][1] == "/v1/threads/a%2Fb/items?limit=7&order=desc&after=m+1"


async def test_non_json_answer_is_a_protocol_error() -> None:
    async with fake([resp(200, "<html>", {"Content-Type": "text/html"}), resp(200, {"id": 5})]) as (srv, store):
        with pytest.raises(ThreadStoreProtocolError):
            await store.load_thread("t1", CTX)
        with pytest.raises(ThreadStoreProtocolError, match="ThreadMetadata"):
            await store.load_thread("t1", CTX)


async def test_timeout() -> None:
    async with fake([], hang=True, timeout=0.3) as (srv, store):
        start = time.monotonic()
        with pytest.raises(ThreadStoreTimeoutError):
            await store.load_thread("t1", CTX)
    assert time.monotonic() - start < 2
    assert srv.methods == ["GET"]  # timeouts are not retried


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        store: ThreadStore = ThreadStore(f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
        try:
            with pytest.raises(ThreadStoreConnectionError):
                await store.load_thread("t1", CTX)
            with pytest.raises(ThreadStoreConnectionError):
                await store.add_thread_item("t1", item(), CTX)
        finally:
            await store.aclose()


async def test_client_requires_a_base_url() -> None:
    with pytest.raises(ValueError):
        ThreadStoreClient()


async def test_real_binary_without_database_gives_unavailable(jwt_secret: str, new_ctx: Any) -> None:
    srv = ServerProcess(
        [binary_path(), "--listen", "127.0.0.1:0", "--database-url", "postgresql://nobody@127.0.0.1:1/none",
         "--jwt-secret", jwt_secret, "--drain-timeout", "2", "--no-migrate"],
        "threadstore-no-db",
    )
    srv.start(wait_ready=False)
    try:
        ctx = new_ctx()
        async with ThreadStore(srv.base_url, retries=1, max_retry_wait=1.5) as store:
            start = time.monotonic()
            with pytest.raises(UnavailableError) as info:
                await store.load_threads(20, None, "desc", ctx)
            assert time.monotonic() - start >= 0.9  # one retry after Retry-After: 1
            assert info.value.status == 503 and info.value.retry_after is not None
        async with ThreadStore(srv.base_url, max_retry_wait=0.1) as store:
            with pytest.raises(UnavailableError):
                await store.add_thread_item("t1", item(), ctx)
    finally:
        assert srv.stop() == 0, srv.log()
