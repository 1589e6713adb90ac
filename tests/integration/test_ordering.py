"""Ordering by created_at (as an instant), ties by insertion order, cursor
paging without skips or repeats, desc == reverse(asc)."""

import random

import pytest

from tshelpers import ids, thread_doc, user_message


# Spellings of three instants. Every spelling within a group is the same instant.
INSTANT_A = [  # 2025-01-01T00:00:00Z
    "2025-01-01T00:00:00", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00+00:00",
    "2025-01-01T01:00:00+01:00", "2024-12-31T19:00:00-05:00", "2025-01-01T00:00:00.000000",
    "2025-01-01 00:00:00", "2025-01-01T05:30:00+05:30",
]
INSTANT_B = [  # 2025-01-01T00:00:00.5Z
    "2025-01-01T00:00:00.5", "2025-01-01T00:00:00.500000Z", "2025-01-01T02:00:00.50+02:00",
]
INSTANT_C = [  # 2025-01-01T00:30:00Z
    "2025-01-01T00:30:00Z", "2025-01-01T01:30:00+01:00", "2024-12-31T23:30:00-01:00",
]


def test_created_at_compares_as_instant(api):
    # Lexically "2025-01-01T01:00:00+01:00" > "2025-01-01T00:30:00Z", but as
    # instants it is earlier (00:00Z).
    x = thread_doc(created_at="2025-01-01T00:30:00Z", title="x 00:30Z")
    y = thread_doc(created_at="2025-01-01T01:00:00+01:00", title="y 00:00Z")
    z = thread_doc(created_at="2025-01-01T00:00:00", title="z 00:00 (UTC)")
    w = thread_doc(created_at="2024-12-31T23:59:59.999999Z", title="w")
    v = thread_doc(created_at="2024-12-31T20:00:00.000001-04:00", title="v 00:00:00.000001Z")
    for d in (x, y, z, w, v):
        api.save_thread(d)
    # y and z are the same instant: insertion order.
    assert api.list_threads(order="asc")["data"] == [w, y, z, v, x]
    assert api.list_threads(order="desc")["data"] == [x, v, z, y, w]


def test_microsecond_precision(api):
    tid = "thr_m1c70000"
    api.save_thread(thread_doc(tid))
    a = user_message(tid, created_at="2025-06-01T12:00:00.000002")
    b = user_message(tid, created_at="2025-06-01T12:00:00.000001")
    c = user_message(tid, created_at="2025-06-01T12:00:00.00001")
    d = user_message(tid, created_at="2025-06-01T12:00:00.1")
    e = user_message(tid, created_at="2025-06-01T12:00:00.099999")
    for it in (d, c, a, e, b):
        api.add_item(it)
    assert ids(api.list_items(tid)["data"]) == ids([b, a, c, e, d])


@pytest.mark.parametrize("limit", [1, 3, 7, 20])
def test_threads_paging_with_shared_timestamps(api, limit):
    rnd = random.Random(limit)
    groups = [(0, INSTANT_A), (1, INSTANT_B), (2, INSTANT_C)]
    docs, rank = [], {}
    for n in range(40):
        g, spellings = rnd.choice(groups)
        d = thread_doc("thr_%08x" % rnd.getrandbits(32), created_at=rnd.choice(spellings),
                       title="t%d" % n)
        rank[d["id"]] = g
        docs.append(d)
    assert len(set(ids(docs))) == len(docs)
    for d in docs:
        api.save_thread(d)
    expected = sorted(docs, key=lambda d: rank[d["id"]])  # stable sort: insertion order

    got, sizes = api.page_all("/v1/threads", limit, order="asc")
    assert ids(got) == ids(expected)
    assert got == expected
    assert all(s == limit for s in sizes[:-1])

    got, _ = api.page_all("/v1/threads", limit, order="desc")
    assert ids(got) == ids(expected[::-1])
    # Default order for threads is desc.
    got, _ = api.page_all("/v1/threads", limit)
    assert ids(got) == ids(expected[::-1])


def test_items_paging_all_same_timestamp(api):
    tid = "thr_5a3e0000"
    api.save_thread(thread_doc(tid))
    same = ["2025-06-01T12:00:00.123456", "2025-06-01T12:00:00.123456Z",
            "2025-06-01T14:00:00.123456+02:00"]
    rnd = random.Random(7)
    items = [user_message(tid, "msg_%08x" % rnd.getrandbits(32), created_at=same[i % 3],
                          text=str(i)) for i in range(50)]
    for it in items:
        api.add_item(it)
    for limit in (1, 6, 49, 50, 51):
        got, _ = api.page_all("/v1/threads/%s/items" % tid, limit)
        assert ids(got) == ids(items), limit
        got, _ = api.page_all("/v1/threads/%s/items" % tid, limit, order="desc")
        assert ids(got) == ids(items[::-1]), limit


def test_upsert_keeps_position_among_equal_timestamps(api):
    same = "2025-02-02T02:02:02Z"
    docs = [thread_doc("thr_0000000%d" % i, created_at=same, title="v1") for i in range(5)]
    for d in docs:
        api.save_thread(d)
    # Update the middle one and the first one, same created_at.
    docs[2] = dict(docs[2], title="v2")
    docs[0] = dict(docs[0], title="v2")
    api.save_thread(docs[2])
    api.save_thread(docs[0])
    assert api.list_threads(order="asc")["data"] == docs
    assert api.list_threads(order="desc")["data"] == docs[::-1]
    # Paging through with a cursor still sees each exactly once.
    got, _ = api.page_all("/v1/threads", 2, order="asc")
    assert got == docs

    # Changing created_at moves the row: later instant -> last; then back to
    # the shared instant -> among the ties it now counts as newest.
    moved = dict(docs[1], created_at="2025-02-02T02:02:03Z")
    api.save_thread(moved)
    assert ids(api.list_threads(order="asc")["data"]) == ids(
        [docs[0], docs[2], docs[3], docs[4], moved])
    back = dict(moved, created_at=same)
    api.save_thread(back)
    asc = ids(api.list_threads(order="asc")["data"])
    # Either it is now the newest among the ties, or it regains its original
    # place; both keep ties in a fixed order.
    assert asc in (ids([docs[0], docs[2], docs[3], docs[4], back]),
                   ids([docs[0], back, docs[2], docs[3], docs[4]]))
    assert ids(api.list_threads(order="desc")["data"]) == asc[::-1]


def test_item_upsert_keeps_position(api):
    tid = "thr_u9537000"
    api.save_thread(thread_doc(tid))
    same = "2025-06-01T12:00:00Z"
    items = [user_message(tid, "msg_k%07d" % i, created_at=same, text="v1") for i in range(4)]
    for it in items:
        api.add_item(it)
    items[1] = dict(items[1], content=[{"type": "input_text", "text": "v2"}])
    api.save_item(items[1])  # PUT
    items[0] = dict(items[0], content=[{"type": "input_text", "text": "v3"}])
    api.save_item(items[0])
    assert api.list_items(tid)["data"] == items
    assert api.list_items(tid, order="desc")["data"] == items[::-1]
    # An earlier created_at moves it first.
    items[3] = dict(items[3], created_at="2025-06-01T11:59:59Z")
    api.save_item(items[3])
    assert ids(api.list_items(tid)["data"]) == ids([items[3], items[0], items[1], items[2]])


def test_cursor_stays_valid_across_concurrent_inserts(api):
    same = "2025-03-03T03:03:03Z"
    first = [thread_doc("thr_f%07d" % i, created_at=same) for i in range(4)]
    for d in first:
        api.save_thread(d)
    page = api.list_threads(order="asc", limit=2)
    assert page["data"] == first[:2]
    # New rows with the same timestamp arrive between page fetches.
    later = [thread_doc("thr_l%07d" % i, created_at=same) for i in range(3)]
    for d in later:
        api.save_thread(d)
    rest, _ = api.page_all("/v1/threads", 2, order="asc")
    assert ids(rest) == ids(first + later)
    page2 = api.list_threads(order="asc", limit=100, after=page["after"])
    assert ids(page2["data"]) == ids(first[2:] + later)
