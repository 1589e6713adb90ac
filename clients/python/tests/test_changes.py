"""The change feed through the adapter: pages, and the async iterator over SSE that resumes
after a drop (the instance restarted under it) and raises ChangesGoneError on 410."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from threadstore_chatkit import BadRequestError, Change, ChangePage, ChangesGoneError
from threadstore_chatkit.changes import watch_changes

from test_store import T0, make_thread, user_msg


async def test_pages(store: Any, ctx: Any) -> None:
    assert (await store.changes(ctx)).data == []
    await store.save_thread(make_thread("thr_c1", T0), ctx)
    await store.add_thread_item("thr_c1", user_msg("m1", "thr_c1", T0), ctx)
    page = await store.changes(ctx)
    assert isinstance(page, ChangePage) and not page.has_more
    assert [(c.kind, c.thread_id, c.item_id) for c in page.data] == [
        ("thread.saved", "thr_c1", None), ("item.added", "thr_c1", "m1")]  # fmt: skip
    first = await store.changes(ctx, limit=1)
    assert first.has_more and first.after == page.data[0].cursor
    assert (await store.changes(ctx, after=first.after)).data == page.data[1:]
    with pytest.raises(BadRequestError):
        await store.changes(ctx, after="not-a-cursor")


def _server(jwt_secret: str, listen: str, name: str, *extra: str) -> Any:
    import os

    from tsclient_harness import ServerProcess, binary_path

    srv = ServerProcess(
        [binary_path(), "--listen", listen, "--database-url", os.environ["DATABASE_URL"],
         "--jwt-secret", jwt_secret, "--pool-size", "1", "--drain-timeout", "2", *extra],
        name,
    )  # fmt: skip
    srv.start()
    return srv


async def test_iterator_follows_writes_and_resumes_across_a_restart(
    store: Any, ctx: Any, jwt_secret: str
) -> None:
    """The stream's instance shuts down (SIGTERM ends the stream) and comes back on the same
    address: the iterator reconnects with Last-Event-ID; nothing is lost or repeated."""
    from threadstore_chatkit import ThreadStoreClient

    await store.save_thread(make_thread("thr_w", T0), ctx)
    start = (await store.changes(ctx)).after
    feed_srv = _server(jwt_secret, "127.0.0.1:0", "feed-1")
    addr = feed_srv.base_url.removeprefix("http://")
    feed_client = ThreadStoreClient(feed_srv.base_url)
    it = watch_changes(feed_client, ctx.threadstore_token, after=start)
    got: list[Change] = []

    async def consume(n: int) -> None:
        async for c in it:
            got.append(c)
            if len(got) == n:
                return

    task = asyncio.create_task(consume(6))
    try:
        for i in range(3):
            await store.add_thread_item("thr_w", user_msg(f"a{i}", "thr_w", T0), ctx)
        while len(got) < 3:
            await asyncio.sleep(0.02)
        assert await asyncio.to_thread(feed_srv.stop) == 0
        for i in range(3, 6):  # while no instance serves the stream
            await store.add_thread_item("thr_w", user_msg(f"a{i}", "thr_w", T0), ctx)
        feed_srv = await asyncio.to_thread(_server, jwt_secret, addr, "feed-2")
        await asyncio.wait_for(task, 20)
        assert [c.item_id for c in got] == [f"a{i}" for i in range(6)]
        assert all(c.kind == "item.added" and c.thread_id == "thr_w" for c in got)
    finally:
        task.cancel()
        await it.aclose()
        await feed_client.aclose()
        await asyncio.to_thread(feed_srv.stop)


async def test_gone_raises(ctx: Any, jwt_secret: str) -> None:
    """Past the retention (1 s here) a cursor is gone: 410, ChangesGoneError, from a page and
    from the iterator alike; a cursor that is not ours is BadRequestError."""
    from threadstore_chatkit import ThreadStoreClient
    from threadstore_chatkit.changes import fetch_changes

    srv = _server(jwt_secret, "127.0.0.1:0", "retention", "--changes-retention", "1s")
    client = ThreadStoreClient(srv.base_url)
    tok = ctx.threadstore_token
    try:
        for i in range(2):
            await client.request("PUT", f"/v1/threads/thr_g{i}", token=tok,
                                 json_body=_thread_json(f"thr_g{i}"))  # fmt: skip
        first = (await fetch_changes(client, tok, limit=1)).after
        assert first is not None
        for _ in range(100):  # the sweep runs every second
            if not (await fetch_changes(client, tok)).data:
                break
            await asyncio.sleep(0.1)
        with pytest.raises(ChangesGoneError):
            await fetch_changes(client, tok, after=first)
        with pytest.raises(ChangesGoneError):
            async for _ in watch_changes(client, tok, after=first):
                break
        with pytest.raises(BadRequestError):
            async for _ in watch_changes(client, tok, after=first[:-1] + "x"):
                break
    finally:
        await client.aclose()
        await asyncio.to_thread(srv.stop)


def _thread_json(tid: str) -> dict[str, Any]:
    return {"id": tid, "created_at": "2025-06-01T12:00:00Z", "status": {"type": "active"},
            "metadata": {}, "object": "thread"}  # fmt: skip
