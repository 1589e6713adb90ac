"""ThreadStore against the real threadstore and PostgreSQL: ChatKit's store scenarios
(chatkit-python's tests/test_store.py) plus paging through ties, isolation with equal ids,
upserts, deletes, not-found and error mapping."""

from __future__ import annotations

import asyncio
import inspect
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from threadstore_chatkit import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HS256Tokens,
    PayloadTooLargeError,
    ThreadStore,
    ThreadStoreHTTPError,
    ThreadStoreNotFoundError,
)

T0 = datetime(2025, 6, 1, 12, 0, 0, 123456)


def make_thread(thread_id: str = "thr_test", created_at: datetime = T0, **kw: Any) -> Any:
    kw.setdefault("title", "Test Thread")
    kw.setdefault("metadata", {"test": "test"})
    return ThreadMetadata(id=thread_id, created_at=created_at, **kw)


def user_msg(item_id: str, thread_id: str, created_at: datetime, text: str = "hi") -> Any:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at,
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
    )


def assistant_msg(item_id: str, thread_id: str, created_at: datetime, text: str = "ok") -> Any:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at,
        content=[AssistantMessageContent(text=text)],
    )


def ids(page: Any) -> list[str]:
    return [x.id for x in page.data]


# -- the interface -------------------------------------------------------------------------


def test_implements_every_store_method_with_chatkits_signature() -> None:
    abstract = sorted(Store.__abstractmethods__)
    assert len(abstract) == 12
    assert not ThreadStore.__abstractmethods__
    for name in abstract:
        ours = inspect.signature(getattr(ThreadStore, name))
        theirs = inspect.signature(getattr(Store, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert inspect.iscoroutinefunction(getattr(ThreadStore, name)), name
    assert issubclass(ThreadStoreNotFoundError, NotFoundError)
    assert issubclass(ThreadStoreNotFoundError, ThreadStoreHTTPError)


# -- threads -------------------------------------------------------------------------------


async def test_save_and_load_thread_metadata(store: Any, ctx: Any) -> None:
    thread = make_thread()
    await store.save_thread(thread, ctx)
    loaded = await store.load_thread(thread.id, ctx)
    assert isinstance(loaded, ThreadMetadata)
    assert loaded == thread


async def test_save_and_load_thread_null_title(store: Any, ctx: Any) -> None:
    thread = make_thread(title=None)
    await store.save_thread(thread, ctx)
    loaded = await store.load_thread(thread.id, ctx)
    assert loaded.title is None
    assert loaded.metadata == {"test": "test"}


async def test_save_thread_is_an_upsert(store: Any, ctx: Any) -> None:
    thread = make_thread()
    await store.save_thread(thread, ctx)
    thread.title = "Updated Title"
    thread.metadata = {"other": 1}
    await store.save_thread(thread, ctx)
    loaded = await store.load_thread(thread.id, ctx)
    assert loaded.title == "Updated Title"
    assert loaded.metadata == {"other": 1}  # replaced whole, not merged
    page = await store.load_threads(10, None, "asc", ctx)
    assert ids(page) == [thread.id]


async def test_save_full_thread_stores_only_metadata(store: Any, ctx: Any) -> None:
    item = user_msg("msg_1", "thr_full", T0)
    thread = Thread(
        id="thr_full",
        created_at=T0,
        title="full",
        items=Page[ThreadItem](data=[item], has_more=False, after=None),
    )
    await store.save_thread(thread, ctx)
    loaded = await store.load_thread("thr_full", ctx)
    assert type(loaded) is ThreadMetadata
    assert loaded.title == "full"
    assert ids(await store.load_thread_items("thr_full", None, 10, "asc", ctx)) == []


async def test_load_threads_pages_with_after(store: Any, ctx: Any) -> None:
    for i in (1, 2, 3):
        await store.save_thread(make_thread(f"thread{i}", T0 + timedelta(seconds=i)), ctx)

    page1 = await store.load_threads(limit=2, after=None, order="asc", context=ctx)
    assert ids(page1) == ["thread1", "thread2"]
    assert page1.has_more is True
    assert page1.after == "thread2"
    page2 = await store.load_threads(limit=2, after=page1.after, order="asc", context=ctx)
    assert ids(page2) == ["thread3"]
    assert page2.has_more is False
    assert page2.after is None

    desc1 = await store.load_threads(limit=2, after=None, order="desc", context=ctx)
    assert ids(desc1) == ["thread3", "thread2"] and desc1.after == "thread2"
    desc2 = await store.load_threads(limit=2, after=desc1.after, order="desc", context=ctx)
    assert ids(desc2) == ["thread1"] and desc2.has_more is False


async def test_threads_order_by_instant_across_offsets(store: Any, ctx: Any) -> None:
    # 10:30 UTC (naive = UTC) vs 12:00+02:00 = 10:00 UTC vs 10:15Z
    await store.save_thread(make_thread("a", datetime(2025, 1, 1, 10, 30)), ctx)
    await store.save_thread(
        make_thread("b", datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))), ctx
    )
    await store.save_thread(make_thread("c", datetime(2025, 1, 1, 10, 15, tzinfo=timezone.utc)), ctx)
    assert ids(await store.load_threads(10, None, "asc", ctx)) == ["b", "c", "a"]
    assert ids(await store.load_threads(10, None, "desc", ctx)) == ["a", "c", "b"]
    loaded = await store.load_thread("b", ctx)
    assert loaded.created_at == datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


async def test_threads_paging_through_equal_created_at(store: Any, ctx: Any) -> None:
    # ids deliberately not in insertion order: ties go by insertion, never by id
    names = ["thr_e", "thr_b", "thr_g", "thr_a", "thr_f", "thr_c", "thr_d"]
    for name in names:
        await store.save_thread(make_thread(name, T0), ctx)

    async def walk(order: str, limit: int) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            page = await store.load_threads(limit, after, order, ctx)
            seen += ids(page)
            assert len(page.data) <= limit
            if not page.has_more:
                assert page.after is None
                return seen
            assert page.after == page.data[-1].id
            after = page.after

    for limit in (1, 2, 3, 7, 20):
        assert await walk("asc", limit) == names
        assert await walk("desc", limit) == names[::-1]


async def test_load_thread_missing_raises_not_found(store: Any, ctx: Any) -> None:
    with pytest.raises(NotFoundError) as info:
        await store.load_thread("does_not_exist", ctx)
    assert isinstance(info.value, ThreadStoreHTTPError)
    assert info.value.status == 404 and info.value.code == "not_found"
    # worded as ChatKit's reference store words it; the HTTP exchange is in .detail
    assert str(info.value) == "Thread does_not_exist not found"
    assert "GET /v1/threads/does_not_exist: 404 not_found" in info.value.detail


async def test_unknown_cursor_raises_not_found(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    with pytest.raises(NotFoundError) as info:
        await store.load_threads(10, "no_such_thread", "asc", ctx)
    assert str(info.value) == "Thread no_such_thread not found"
    with pytest.raises(NotFoundError) as info:
        await store.load_thread_items("thr_test", "no_such_item", 10, "asc", ctx)
    assert str(info.value) == "Item no_such_item not found"


async def test_load_full_thread_in_one_call(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread("thr_f", T0), ctx)
    items = [user_msg(f"msg{i}", "thr_f", T0 + timedelta(seconds=i)) for i in range(3)]
    for item in items:
        await store.add_thread_item("thr_f", item, ctx)
    full = await store.load_full_thread("thr_f", ctx, items_limit=2)
    assert isinstance(full, Thread)
    assert full.title == "Test Thread"
    assert full.items.data == items[:2]
    assert full.items.has_more is True and full.items.after == "msg1"


# -- items ---------------------------------------------------------------------------------


async def test_save_and_load_thread_items_roundtrip(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    items = [
        UserMessageItem(
            id="msg_100000",
            thread_id="thr_test",
            created_at=T0,
            content=[UserMessageTextContent(text="Hello! ünïcødé \u2028 \"quoted\" \\")],
            attachments=[FileAttachment(id="file_1", name="test.txt", mime_type="text/plain")],
            quoted_text="q",
            inference_options=InferenceOptions(model="gpt-x"),
        ),
        assistant_msg("msg_000001", "thr_test", T0 + timedelta(seconds=1), "Hi there!"),
    ]
    for item in items:
        await store.add_thread_item("thr_test", item, ctx)
    page = await store.load_thread_items("thr_test", None, 10, "asc", ctx)
    assert page.data == items
    assert page.has_more is False and page.after is None


async def test_thread_items_ordering(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    for i, name in enumerate(["msg1", "msg2", "msg3"]):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0 + timedelta(seconds=i)), ctx)
    asc = await store.load_thread_items("thr_test", after=None, limit=3, order="asc", context=ctx)
    desc = await store.load_thread_items("thr_test", after=None, limit=3, order="desc", context=ctx)
    assert ids(asc) == ["msg1", "msg2", "msg3"]
    assert ids(desc) == ["msg3", "msg2", "msg1"]


async def test_thread_items_paging_with_after(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    for i in range(5):
        await store.add_thread_item("thr_test", user_msg(f"msg{i}", "thr_test", T0 + timedelta(seconds=i)), ctx)
    after = await store.load_thread_items("thr_test", after="msg1", limit=3, order="asc", context=ctx)
    assert ids(after) == ["msg2", "msg3", "msg4"]
    assert after.has_more is False and not after.after
    first = await store.load_thread_items("thr_test", after=None, limit=2, order="asc", context=ctx)
    assert ids(first) == ["msg0", "msg1"]
    assert first.has_more is True and first.after == "msg1"
    back = await store.load_thread_items("thr_test", after="msg3", limit=10, order="desc", context=ctx)
    assert ids(back) == ["msg2", "msg1", "msg0"]


async def test_thread_items_paging_through_equal_created_at(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    names = ["m_z", "m_a", "m_q", "m_b", "m_y", "m_c"]
    for name in names:
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0), ctx)
    for order, expected in (("asc", names), ("desc", names[::-1])):
        seen: list[str] = []
        after = None
        while True:
            page = await store.load_thread_items("thr_test", after, 4, order, ctx)
            seen += ids(page)
            if not page.has_more:
                break
            after = page.after
        assert seen == expected, order


async def test_add_of_an_existing_id_raises_conflict_and_changes_nothing(
    store: Any, ctx: Any, exchanges: list
) -> None:
    # ChatKit's add_thread_item persists a *new* item (its reference store INSERTs): a second
    # add of an id with other content must not replace the stored item (ChatKit's
    # test_add_structured_input_truncates_extra_single_choice_values relies on that).
    await store.save_thread(make_thread(), ctx)
    for name in ("a", "b", "c"):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0, text=name), ctx)
    with pytest.raises(ConflictError) as info:
        await store.add_thread_item("thr_test", user_msg("a", "thr_test", T0, text="a2"), ctx)
    assert isinstance(info.value, ThreadStoreHTTPError) and not isinstance(info.value, NotFoundError)
    assert info.value.status == 409 and info.value.code == "conflict"
    assert [e.status for e in exchanges if e.method == "POST"][-1] == 409  # one try, no retry
    page = await store.load_thread_items("thr_test", None, 10, "asc", ctx)
    assert ids(page) == ["a", "b", "c"]
    assert page.data[0].content[0].text == "a"
    # The same document again is a harmless retry.
    await store.add_thread_item("thr_test", user_msg("a", "thr_test", T0, text="a"), ctx)
    # save_item is the upsert, and keeps the item's place among equal timestamps.
    await store.save_item("thr_test", user_msg("a", "thr_test", T0, text="a2"), ctx)
    page = await store.load_thread_items("thr_test", None, 10, "asc", ctx)
    assert ids(page) == ["a", "b", "c"]
    assert page.data[0].content[0].text == "a2"


async def test_same_id_added_to_another_thread_is_no_conflict(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread("thr_x"), ctx)
    await store.save_thread(make_thread("thr_y"), ctx)
    await store.add_thread_item("thr_x", user_msg("m", "thr_x", T0, text="x"), ctx)
    await store.add_thread_item("thr_y", user_msg("m", "thr_y", T0, text="y"), ctx)
    assert (await store.load_item("thr_x", "m", ctx)).content[0].text == "x"
    assert (await store.load_item("thr_y", "m", ctx)).content[0].text == "y"


async def test_upsert_with_new_created_at_moves_the_row(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    for name in ("a", "b", "c"):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0), ctx)
    await store.save_item("thr_test", user_msg("b", "thr_test", T0 + timedelta(seconds=1)), ctx)
    assert ids(await store.load_thread_items("thr_test", None, 10, "asc", ctx)) == ["a", "c", "b"]
    await store.save_item("thr_test", user_msg("b", "thr_test", T0 - timedelta(seconds=1)), ctx)
    assert ids(await store.load_thread_items("thr_test", None, 10, "asc", ctx)) == ["b", "a", "c"]

    for name in ("t1", "t2", "t3"):
        await store.save_thread(make_thread(name, T0), ctx)
    await store.save_thread(make_thread("t1", T0 + timedelta(days=1)), ctx)
    assert ids(await store.load_threads(10, None, "desc", ctx)) == ["t1", "t3", "t2", "thr_test"]


async def test_deleted_cursor_raises_not_found(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    for name in ("a", "b"):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0), ctx)
    await store.delete_thread_item("thr_test", "a", ctx)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_test", "a", 10, "asc", ctx)
    with pytest.raises(NotFoundError):  # another thread's item is no cursor here
        await store.save_thread(make_thread("thr_other"), ctx)
        await store.load_thread_items("thr_other", "b", 10, "asc", ctx)
    with pytest.raises(NotFoundError):
        await store.load_full_thread("no_such_thread", ctx)


async def test_save_item_updates_and_load_item(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    msg = AssistantMessageItem(id="msg_000001", thread_id="thr_test", created_at=T0, content=[])
    await store.add_thread_item("thr_test", msg, ctx)
    msg.content = [AssistantMessageContent(text="This is an assistant message.")]
    await store.save_item("thr_test", msg, ctx)
    loaded = await store.load_item("thr_test", "msg_000001", ctx)
    assert isinstance(loaded, AssistantMessageItem)
    assert loaded == msg
    # save_item of a new id inserts (upsert)
    other = user_msg("msg_new", "thr_test", T0 + timedelta(seconds=1))
    await store.save_item("thr_test", other, ctx)
    assert await store.load_item("thr_test", "msg_new", ctx) == other


async def test_same_item_id_in_two_threads(store: Any, ctx: Any) -> None:
    for t in ("thr_1", "thr_2"):
        await store.save_thread(make_thread(t), ctx)
        await store.add_thread_item(t, user_msg("msg_same", t, T0, text=t), ctx)
    assert (await store.load_item("thr_1", "msg_same", ctx)).content[0].text == "thr_1"
    assert (await store.load_item("thr_2", "msg_same", ctx)).content[0].text == "thr_2"
    await store.delete_thread_item("thr_1", "msg_same", ctx)
    assert (await store.load_item("thr_2", "msg_same", ctx)).thread_id == "thr_2"


async def test_load_nonexistent_item(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    with pytest.raises(NotFoundError) as info:
        await store.load_item("thr_test", "does_not_exist", ctx)
    assert str(info.value) == "Item does_not_exist not found in thread thr_test"
    with pytest.raises(NotFoundError) as info:
        await store.load_item("no_such_thread", "does_not_exist", ctx)
    assert str(info.value) == "Item does_not_exist not found in thread no_such_thread"


async def test_add_item_to_missing_thread_raises_not_found(store: Any, ctx: Any) -> None:
    with pytest.raises(NotFoundError) as info:
        await store.add_thread_item("no_thread", user_msg("m", "no_thread", T0), ctx)
    assert str(info.value) == "Thread no_thread not found"
    with pytest.raises(NotFoundError) as info:
        await store.save_item("no_thread", user_msg("m", "no_thread", T0), ctx)
    assert str(info.value) == "Thread no_thread not found"


async def test_items_of_a_missing_thread_are_an_empty_page(store: Any, ctx: Any) -> None:
    page = await store.load_thread_items("no_such_thread", None, 10, "asc", ctx)
    assert page.data == [] and page.has_more is False and page.after is None


# -- deletes -------------------------------------------------------------------------------


async def test_delete_thread_item(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    for name in ("a", "b"):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0), ctx)
    await store.delete_thread_item("thr_test", "a", ctx)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_test", "a", ctx)
    assert ids(await store.load_thread_items("thr_test", None, 10, "asc", ctx)) == ["b"]
    await store.delete_thread_item("thr_test", "a", ctx)  # idempotent
    await store.delete_thread_item("no_thread", "no_item", ctx)


async def test_delete_thread_removes_its_items(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread(), ctx)
    await store.save_thread(make_thread("thr_keep"), ctx)
    for name in ("a", "b"):
        await store.add_thread_item("thr_test", user_msg(name, "thr_test", T0), ctx)
    await store.add_thread_item("thr_keep", user_msg("k", "thr_keep", T0), ctx)
    await store.delete_thread("thr_test", ctx)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_test", ctx)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_test", "a", ctx)
    assert ids(await store.load_threads(10, None, "asc", ctx)) == ["thr_keep"]
    # the same id again starts empty: the old items are gone, not hidden
    await store.save_thread(make_thread(), ctx)
    assert ids(await store.load_thread_items("thr_test", None, 10, "asc", ctx)) == []
    assert ids(await store.load_thread_items("thr_keep", None, 10, "asc", ctx)) == ["k"]
    await store.delete_thread("never_existed", ctx)  # idempotent


# -- attachments ---------------------------------------------------------------------------


async def test_attachments_save_load_delete(store: Any, ctx: Any) -> None:
    file = FileAttachment(id="file_1", name="test.txt", mime_type="text/plain")
    image = ImageAttachment(
        id="image_1", name="test.png", mime_type="image/png", preview_url="https://example.com/test.png"
    )
    await store.save_attachment(file, ctx)
    await store.save_attachment(image, ctx)
    assert await store.load_attachment("file_1", ctx) == file
    loaded = await store.load_attachment("image_1", ctx)
    assert isinstance(loaded, ImageAttachment) and loaded == image
    renamed = FileAttachment(id="file_1", name="renamed.txt", mime_type="text/plain")
    await store.save_attachment(renamed, ctx)
    assert await store.load_attachment("file_1", ctx) == renamed
    await store.delete_attachment("file_1", ctx)
    with pytest.raises(NotFoundError) as info:
        await store.load_attachment("file_1", ctx)
    assert str(info.value) == "File file_1 not found"
    await store.delete_attachment("file_1", ctx)  # idempotent


# -- isolation -----------------------------------------------------------------------------


async def test_thread_isolation_by_user(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_thread(make_thread("user1_thread"), ctx)
    assert (await store.load_thread("user1_thread", ctx)).title == "Test Thread"
    with pytest.raises(NotFoundError):
        await store.load_thread("user1_thread", other_ctx)
    assert ids(await store.load_threads(10, None, "desc", other_ctx)) == []
    with pytest.raises(NotFoundError):  # a cursor naming another user's row
        await store.load_threads(10, "user1_thread", "desc", other_ctx)
    await store.delete_thread("user1_thread", other_ctx)  # deletes nothing of ctx's
    assert (await store.load_thread("user1_thread", ctx)).id == "user1_thread"


async def test_thread_items_isolation_by_user(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_thread(make_thread("shared_thread"), ctx)
    items = [user_msg("m1", "shared_thread", T0), assistant_msg("m2", "shared_thread", T0)]
    for item in items:
        await store.add_thread_item("shared_thread", item, ctx)
    assert (await store.load_thread_items("shared_thread", None, 10, "asc", ctx)).data == items
    other = await store.load_thread_items("shared_thread", None, 10, "asc", other_ctx)
    assert other.data == [] and other.has_more is False
    with pytest.raises(NotFoundError):
        await store.load_item("shared_thread", "m1", other_ctx)
    with pytest.raises(NotFoundError):  # cannot add into another user's thread
        await store.add_thread_item("shared_thread", user_msg("x", "shared_thread", T0), other_ctx)
    await store.delete_thread_item("shared_thread", "m1", other_ctx)
    assert ids(await store.load_thread_items("shared_thread", None, 10, "asc", ctx)) == ["m1", "m2"]


async def test_two_users_same_thread_id(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_thread(make_thread("thr_1a2b3c4d", title="alice's"), ctx)
    await store.save_thread(make_thread("thr_1a2b3c4d", title="bob's"), other_ctx)
    await store.add_thread_item("thr_1a2b3c4d", user_msg("msg_1", "thr_1a2b3c4d", T0, "from alice"), ctx)
    await store.add_thread_item("thr_1a2b3c4d", user_msg("msg_1", "thr_1a2b3c4d", T0, "from bob"), other_ctx)
    assert (await store.load_thread("thr_1a2b3c4d", ctx)).title == "alice's"
    assert (await store.load_thread("thr_1a2b3c4d", other_ctx)).title == "bob's"
    assert (await store.load_item("thr_1a2b3c4d", "msg_1", ctx)).content[0].text == "from alice"
    assert (await store.load_item("thr_1a2b3c4d", "msg_1", other_ctx)).content[0].text == "from bob"
    await store.delete_thread("thr_1a2b3c4d", other_ctx)
    assert (await store.load_thread("thr_1a2b3c4d", ctx)).title == "alice's"
    assert ids(await store.load_thread_items("thr_1a2b3c4d", None, 10, "asc", ctx)) == ["msg_1"]
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1a2b3c4d", other_ctx)


async def test_attachment_isolation_by_user(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_attachment(FileAttachment(id="atc_1", name="a", mime_type="text/plain"), ctx)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", other_ctx)
    await store.delete_attachment("atc_1", other_ctx)
    assert (await store.load_attachment("atc_1", ctx)).name == "a"


# -- ids, concurrency, statuses, errors ----------------------------------------------------


async def test_ids_are_percent_encoded(store: Any, ctx: Any) -> None:
    weird = "thr/ü 1?#%2F&x=y"
    await store.save_thread(make_thread(weird), ctx)
    assert (await store.load_thread(weird, ctx)).id == weird
    await store.add_thread_item(weird, user_msg("m/ü?#", weird, T0), ctx)
    assert (await store.load_item(weird, "m/ü?#", ctx)).id == "m/ü?#"
    page = await store.load_thread_items(weird, None, 10, "asc", ctx)
    assert ids(page) == ["m/ü?#"]
    with pytest.raises(NotFoundError):
        await store.load_thread("thr", ctx)  # the '/' did not split the path
    await store.delete_thread(weird, ctx)
    with pytest.raises(NotFoundError):
        await store.load_thread(weird, ctx)


async def test_cursor_ids_with_space_and_plus(store: Any, ctx: Any) -> None:
    await store.save_thread(make_thread("thr x+y"), ctx)
    names = ["m 1", "m+2", "m%3", "m&4=5"]
    for name in names:
        await store.add_thread_item("thr x+y", user_msg(name, "thr x+y", T0), ctx)
    for i, name in enumerate(names):
        page = await store.load_thread_items("thr x+y", name, 10, "asc", ctx)
        assert ids(page) == names[i + 1 :], name
    assert ids(await store.load_threads(10, "thr x+y", "asc", ctx)) == []


async def test_nested_items_keys_are_kept(store: Any, ctx: Any) -> None:
    # only a full Thread's top-level items are dropped; metadata is the backend's own
    meta = {"items": [1, {"items": "x"}], "note": '"items": {"data": []}', "big": 2**70, "f": 1.5e300}
    thread = make_thread("thr_meta", title='{"items":1}', metadata=meta)
    await store.save_thread(thread, ctx)
    assert await store.load_thread("thr_meta", ctx) == thread
    full = Thread(id="thr_meta", created_at=T0, title="t", metadata=meta, items=Page[ThreadItem]())
    await store.save_thread(full, ctx)
    loaded = await store.load_thread("thr_meta", ctx)
    assert loaded.metadata == meta and loaded.title == "t"


async def test_concurrent_calls_share_the_pool(store: Any, ctx: Any, other_ctx: Any) -> None:
    await store.save_thread(make_thread("thr_c"), ctx)
    await asyncio.gather(
        *(store.add_thread_item("thr_c", user_msg(f"m{i:03}", "thr_c", T0 + timedelta(milliseconds=i)), ctx) for i in range(60))
    )
    pages = await asyncio.gather(
        *(store.load_thread_items("thr_c", None, 100, "asc", ctx) for _ in range(20)),
        *(store.load_thread("thr_c", c) for c in [ctx] * 10),
        *(store.load_threads(5, None, "desc", c) for c in [other_ctx] * 10),
    )
    for page in pages[:20]:
        assert ids(page) == [f"m{i:03}" for i in range(60)]
    assert all(p.id == "thr_c" for p in pages[20:30])
    assert all(p.data == [] for p in pages[30:])


async def test_success_statuses_are_the_contracts(store: Any, ctx: Any, exchanges: list) -> None:
    await store.save_thread(make_thread(), ctx)
    await store.add_thread_item("thr_test", user_msg("m", "thr_test", T0), ctx)
    await store.save_item("thr_test", user_msg("m", "thr_test", T0), ctx)
    await store.delete_thread_item("thr_test", "m", ctx)
    await store.save_attachment(FileAttachment(id="f", name="n", mime_type="text/plain"), ctx)
    await store.delete_attachment("f", ctx)
    await store.delete_thread("thr_test", ctx)
    assert [(e.method, e.status) for e in exchanges] == [
        ("PUT", 204), ("POST", 201), ("PUT", 204), ("DELETE", 204),
        ("PUT", 204), ("DELETE", 204), ("DELETE", 204),
    ]


async def test_expired_token_raises_authentication_error(store: Any, new_ctx: Any) -> None:
    expired = new_ctx(ttl=-60)
    with pytest.raises(AuthenticationError) as info:
        await store.load_threads(10, None, "desc", expired)
    assert info.value.status == 401 and info.value.code == "unauthorized"


async def test_item_is_filed_under_the_thread_argument(store: Any, ctx: Any) -> None:
    # As ChatKit's reference store does (its isolation test adds an item whose thread_id is
    # another thread's): the item goes under the thread passed, its document as sent.
    await store.save_thread(make_thread("thr_a"), ctx)
    await store.add_thread_item("thr_a", user_msg("m", "thr_other", T0, text="1"), ctx)
    loaded = await store.load_item("thr_a", "m", ctx)
    assert loaded.thread_id == "thr_other" and loaded.content[0].text == "1"
    await store.save_item("thr_a", user_msg("m", "thr_else", T0, text="2"), ctx)
    loaded = await store.load_item("thr_a", "m", ctx)
    assert loaded.thread_id == "thr_else" and loaded.content[0].text == "2"
    assert ids(await store.load_thread_items("thr_a", None, 10, "asc", ctx)) == ["m"]
    assert ids(await store.load_thread_items("thr_other", None, 10, "asc", ctx)) == []


async def test_bad_order_raises_bad_request(store: Any, ctx: Any) -> None:
    with pytest.raises(BadRequestError):
        await store.load_threads(10, None, "sideways", ctx)
    with pytest.raises(BadRequestError):
        await store.load_thread_items("t", None, 0, "asc", ctx)


async def test_oversized_document_raises_payload_too_large(small_body_server: Any, ctx: Any) -> None:
    store = ThreadStore(small_body_server.base_url)
    try:
        await store.save_thread(make_thread(), ctx)
        big = user_msg("big", "thr_test", T0, text="x" * (64 * 1024 + 10))
        with pytest.raises(PayloadTooLargeError) as info:
            await store.add_thread_item("thr_test", big, ctx)
        assert info.value.status == 413
    finally:
        await store.aclose()


async def test_hs256_token_hook_and_async_hook(server: Any, jwt_secret: str, ctx: Any) -> None:
    minted = ThreadStore(server.base_url, token=HS256Tokens(jwt_secret, subject=lambda c: c.user_id))
    hook_calls = []

    async def async_hook(c: Any) -> str:
        hook_calls.append(c.user_id)
        return c.threadstore_token

    forwarded = ThreadStore(server.base_url, token=async_hook)
    try:
        await minted.save_thread(make_thread("thr_minted"), ctx)
        # the same user through the other hook sees it: both tokens carry sub = ctx.user_id
        assert (await forwarded.load_thread("thr_minted", ctx)).id == "thr_minted"
        assert hook_calls == [ctx.user_id]
        hook = minted._token_hook
        assert hook(ctx) == hook(ctx)  # cached per user
    finally:
        await minted.aclose()
        await forwarded.aclose()


async def test_missing_token_is_a_clear_error(store: Any) -> None:
    with pytest.raises(TypeError, match="threadstore_token"):
        await store.load_thread("t", object())
