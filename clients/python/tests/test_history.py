"""ThreadStore's history methods against the real service: list_threads (activity order,
metadata and status filters, before), count_threads, load_thread_items_before, search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from chatkit.types import ThreadMetadata

from threadstore_chatkit import BadRequestError, ThreadStoreNotFoundError
from threadstore_chatkit.history import HistoryPage, SearchPage, filter_params

from test_store import T0, assistant_msg, make_thread, user_msg


async def test_activity_order_and_times(store: Any, ctx: Any) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    for i in range(3):
        await store.save_thread(make_thread(f"thr_h{i}", T0 + timedelta(seconds=i)), ctx)
    await store.add_thread_item("thr_h0", user_msg("m1", "thr_h0", T0), ctx)
    page = await store.list_threads(ctx, order_by="updated_at")
    assert isinstance(page, HistoryPage)
    assert [t.id for t in page.data] == ["thr_h0", "thr_h2", "thr_h1"]
    assert all(isinstance(t, ThreadMetadata) for t in page.data)
    times = [page.updated_at[t.id] for t in page.data]
    assert times == sorted(times, reverse=True) and times[-1] >= before
    created = await store.list_threads(ctx, order_by="created_at", order="asc")
    assert [t.id for t in created.data] == ["thr_h0", "thr_h1", "thr_h2"]


async def test_filters_and_count(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread("thr_a", metadata={"agent": "7", "n": 7}), ctx)
    await store.save_thread(make_thread("thr_b", metadata={"agent": 7, "flag": True}), ctx)
    await store.save_thread(
        make_thread("thr_c", metadata={"agent": None}, status={"type": "closed"}), ctx
    )
    assert [t.id for t in (await store.list_threads(ctx, metadata={"agent": "7"})).data] == [
        "thr_a"
    ]
    assert [t.id for t in (await store.list_threads(ctx, metadata={"agent": 7})).data] == [
        "thr_b"
    ]
    got = await store.list_threads(ctx, metadata={"agent": None}, status="closed")
    assert [t.id for t in got.data] == ["thr_c"]
    assert await store.count_threads(ctx) == 3
    assert await store.count_threads(ctx, status="active") == 2
    assert await store.count_threads(ctx, metadata={"agent": 7, "flag": True}) == 1
    assert await store.count_threads(ctx, metadata={"n": 7.0}) == 1
    with pytest.raises(ValueError):
        filter_params(None, "open")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        filter_params({"k": [1]}, None)  # type: ignore[dict-item]


async def test_before_paging(store: Any, ctx: Any) -> None:
    for i in range(5):
        await store.save_thread(make_thread(f"thr_p{i}", T0 + timedelta(seconds=i)), ctx)
    page = await store.list_threads(ctx, before="thr_p1", limit=2)  # desc: p4 p3 p2 | p1 p0
    assert [t.id for t in page.data] == ["thr_p3", "thr_p2"]
    assert page.has_more and page.before == "thr_p3" and page.after == "thr_p2"
    page = await store.list_threads(ctx, before=page.before, limit=2)
    assert [t.id for t in page.data] == ["thr_p4"] and not page.has_more and page.before is None
    with pytest.raises(ThreadStoreNotFoundError):
        await store.list_threads(ctx, before="nope")
    with pytest.raises(BadRequestError):
        await store.list_threads(ctx, before="thr_p1", after="thr_p2")

    await store.add_thread_item("thr_p0", user_msg("i0", "thr_p0", T0), ctx)
    await store.add_thread_item("thr_p0", assistant_msg("i1", "thr_p0", T0), ctx)
    await store.add_thread_item("thr_p0", user_msg("i2", "thr_p0", T0), ctx)
    items = await store.load_thread_items_before("thr_p0", "i2", 1, "asc", ctx)
    assert [x.id for x in items.data] == ["i1"] and items.has_more and items.before == "i1"
    items = await store.load_thread_items_before("thr_p0", "i1", 5, "asc", ctx)
    assert [x.id for x in items.data] == ["i0"] and not items.has_more


async def test_search(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_thread(make_thread("thr_s", title="Trip to Lisbon"), ctx)
    await store.add_thread_item("thr_s", user_msg("u1", "thr_s", T0, "Flights to Lisbon?"), ctx)
    await store.add_thread_item("thr_s", assistant_msg("a1", "thr_s", T0, "Via Madrid."), ctx)
    page = await store.search("lisbon", ctx)
    assert isinstance(page, SearchPage)
    assert {(h.thread_id, h.item_id) for h in page.data} == {("thr_s", None), ("thr_s", "u1")}
    assert all("<mark>Lisbon</mark>" in h.snippet and h.rank > 0 for h in page.data)
    first = await store.search("lisbon", ctx, limit=1)
    assert first.has_more and first.after
    rest = await store.search("lisbon", ctx, limit=1, after=first.after)
    assert [h.item_id for h in first.data + rest.data] == [h.item_id for h in page.data]
    assert (await store.search("madrid", ctx, thread_id="thr_s")).data[0].item_id == "a1"
    assert (await store.search("lisbon", other_ctx)).data == []
    with pytest.raises(BadRequestError):
        await store.search("", ctx)
