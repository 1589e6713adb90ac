"""Thread items: add_thread_item / save_item / load_item / delete_thread_item /
load_thread_items."""

import json
import threading

from tshelpers import (Client, assistant_message, check_error, ids, q, thread_doc,
                       user_message)


def _thread(api, tid=None, **kw):
    doc = thread_doc(tid, **kw)
    api.save_thread(doc)
    return doc["id"]


def item_path(tid, iid=None):
    p = "/v1/threads/%s/items" % q(tid)
    return p if iid is None else p + "/" + q(iid)


def test_add_and_load_items_roundtrip(api):
    tid = _thread(api)
    u = user_message(tid, text="What's the weather in Paris?")
    a = assistant_message(tid, text="Sunny, 24 °C.")
    a["content"][0]["annotations"] = [
        {"type": "annotation", "source": {"type": "url", "url": "https://example.com/w",
                                          "title": "Weather"}, "index": 5}]
    r = api.post(item_path(tid), u)
    assert r.status == 201, r
    r = api.post(item_path(tid), a)
    assert r.status == 201, r
    for it in (u, a):
        r = api.get(item_path(tid, it["id"]))
        assert r.status == 200, r
        assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
        assert r.json == it
    assert api.list_items(tid) == {"data": [u, a], "has_more": False, "after": None}


def test_other_item_types_roundtrip(api):
    tid = _thread(api)
    docs = [
        {"id": "tc_1a2b3c4d", "thread_id": tid, "created_at": "2025-06-01T12:00:03",
         "type": "client_tool_call", "status": "completed", "call_id": "call_123",
         "name": "get_weather", "arguments": {"city": "Paris"}, "output": {"t": 24}},
        {"id": "wf_1a2b3c4d", "thread_id": tid, "created_at": "2025-06-01T12:00:04",
         "type": "workflow", "workflow": {"type": "reasoning", "tasks": [
             {"type": "thought", "title": "Thinking", "content": "step 1"}],
             "expanded": False, "summary": None}},
        {"id": "hcx_1a2b3c4d", "thread_id": tid, "created_at": "2025-06-01T12:00:05",
         "type": "hidden_context_item", "content": "<USER_CONTEXT>tz=CET</USER_CONTEXT>"},
        {"id": "msg_end00000", "thread_id": tid, "created_at": "2025-06-01T12:00:06",
         "type": "end_of_turn"},
    ]
    for d in docs:
        api.add_item(d)
    assert api.list_items(tid)["data"] == docs


def test_load_missing_item_404(api):
    tid = _thread(api)
    check_error(api.get(item_path(tid, "msg_missing0")), 404, "not_found")
    check_error(api.get(item_path("thr_missing0", "msg_missing0")), 404, "not_found")


def test_add_existing_item_identical_201_different_409(api):
    # ChatKit's add_thread_item inserts; save_item upserts. A retried add of the
    # same bytes is harmless; a different document under the same id changes nothing.
    tid = _thread(api)
    it = user_message(tid, "msg_0f0f0f0f", text="first")
    body = json.dumps(it)
    assert api.post(item_path(tid), body).status == 201
    assert api.post(item_path(tid), body).status == 201
    it2 = user_message(tid, "msg_0f0f0f0f", text="second")
    check_error(api.post(item_path(tid), it2), 409, "conflict")
    # Same JSON value, other bytes (spacing): not byte-identical, so 409 too.
    check_error(api.post(item_path(tid), json.dumps(it, indent=1)), 409, "conflict")
    assert api.get(item_path(tid, it["id"])).raw == body.encode()
    assert api.list_items(tid)["data"] == [it]
    # The same id in another thread is another item.
    t2 = _thread(api)
    assert api.post(item_path(t2), json.dumps(dict(it, thread_id=t2))).status == 201
    # save_item still replaces it.
    assert api.put(item_path(tid, it["id"]), it2).status == 204
    assert api.list_items(tid)["data"] == [it2]


def test_concurrent_adds_of_one_id_keep_one_document(api):
    # Many clients add the same id at once, half with another document: exactly
    # one document survives, every answer is 201, 409 or a retryable 503, and
    # every 201 was for the document that survived.
    tid = _thread(api)
    a = json.dumps(user_message(tid, "msg_c0c0c0c0", text="a"))
    b = json.dumps(user_message(tid, "msg_c0c0c0c0", text="b"))
    results = []

    def add(body):
        c = Client(api.host, api.port, api.token)
        try:
            results.append((body, c.post(item_path(tid), body).status))
        finally:
            c.close()
    threads = [threading.Thread(target=add, args=(a if i % 2 else b,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = api.get(item_path(tid, "msg_c0c0c0c0")).raw.decode()
    assert stored in (a, b)
    assert {s for _, s in results} <= {201, 409, 503}, results
    assert all(body == stored for body, s in results if s == 201), results
    assert all(body != stored for body, s in results if s == 409), results
    assert len(api.list_items(tid)["data"]) == 1


def test_save_item_upsert_replaces_whole_document(api):
    tid = _thread(api)
    a = assistant_message(tid, "msg_5a5a5a5a", text="partial")
    r = api.put(item_path(tid, a["id"]), a)  # save_item may create
    assert r.status == 204, r
    assert api.get(item_path(tid, a["id"])).json == a
    final = {"id": a["id"], "thread_id": tid, "created_at": a["created_at"],
             "type": "assistant_message",
             "content": [{"type": "output_text", "text": "partial, now complete",
                          "annotations": []}]}
    api.save_item(final)
    assert api.get(item_path(tid, a["id"])).json == final
    assert api.list_items(tid)["data"] == [final]


def test_items_keyed_by_thread(api):
    t1, t2 = _thread(api), _thread(api)
    i1 = user_message(t1, "msg_dup00000", text="in t1")
    i2 = user_message(t2, "msg_dup00000", text="in t2")
    api.add_item(i1)
    api.add_item(i2)
    assert api.get(item_path(t1, "msg_dup00000")).json == i1
    assert api.get(item_path(t2, "msg_dup00000")).json == i2
    i1b = dict(i1, content=[{"type": "input_text", "text": "edited"}])
    api.save_item(i1b)
    assert api.get(item_path(t2, "msg_dup00000")).json == i2
    assert api.delete(item_path(t1, "msg_dup00000")).status == 204
    check_error(api.get(item_path(t1, "msg_dup00000")), 404)
    assert api.get(item_path(t2, "msg_dup00000")).json == i2
    assert api.list_items(t1)["data"] == []
    assert api.list_items(t2)["data"] == [i2]


def test_delete_item_idempotent(api):
    tid = _thread(api)
    a, b = user_message(tid, created_at="2025-06-01T12:00:01Z"), assistant_message(
        tid, created_at="2025-06-01T12:00:02Z")
    api.add_item(a)
    api.add_item(b)
    r = api.delete(item_path(tid, a["id"]))
    assert r.status == 204, r
    check_error(api.get(item_path(tid, a["id"])), 404, "not_found")
    assert api.list_items(tid)["data"] == [b]
    assert api.delete(item_path(tid, a["id"])).status == 204
    assert api.delete(item_path(tid, "msg_never000")).status == 204
    assert api.delete(item_path("thr_never000", "msg_never000")).status == 204
    # The thread itself is untouched.
    assert api.get("/v1/threads/" + q(tid)).status == 200


def test_add_item_to_missing_thread_404(api):
    it = user_message("thr_n0thread")
    check_error(api.post(item_path("thr_n0thread"), it), 404, "not_found")
    check_error(api.put(item_path("thr_n0thread", it["id"]), it), 404, "not_found")
    # Nothing was created as a side effect.
    api.save_thread(thread_doc("thr_n0thread"))
    assert api.list_items("thr_n0thread")["data"] == []


def test_add_item_to_deleted_thread_404(api):
    tid = _thread(api)
    api.delete("/v1/threads/" + q(tid))
    check_error(api.post(item_path(tid), user_message(tid)), 404, "not_found")


def test_item_filed_under_the_path_thread_whatever_its_thread_id(api):
    # ChatKit's reference store files an item under the thread it is given; the
    # document is stored as sent.
    t1, t2 = _thread(api), _thread(api)
    it = user_message(t2)
    assert api.post(item_path(t1), it).status == 201
    assert api.list_items(t1)["data"] == [it]
    assert api.list_items(t2)["data"] == []
    it2 = user_message("thr_elsewhere", "msg_5e5e5e5e")
    assert api.put(item_path(t1, it2["id"]), it2).status == 204
    assert api.get(item_path(t1, it2["id"])).json == it2
    check_error(api.get(item_path(t2, it2["id"])), 404, "not_found")
    # thread_id must still be a string.
    check_error(api.post(item_path(t1), dict(it2, id="msg_6e6e6e6e", thread_id=7)), 400,
                "bad_request")


def test_save_item_id_mismatch_400(api):
    tid = _thread(api)
    it = user_message(tid, "msg_aaaaaaaa")
    check_error(api.put(item_path(tid, "msg_bbbbbbbb"), it), 400, "bad_request")
    assert api.list_items(tid)["data"] == []


def test_item_missing_or_bad_required_fields_400(api):
    tid = _thread(api)
    base = user_message(tid, "msg_req00000")
    for field in ("id", "created_at", "type", "thread_id"):
        doc = {k: v for k, v in base.items() if k != field}
        check_error(api.post(item_path(tid), doc), 400, "bad_request")
        check_error(api.put(item_path(tid, base["id"]), doc), 400, "bad_request")
    for field, value in (("id", 17), ("id", None), ("id", ""), ("created_at", 1717243200),
                         ("created_at", None), ("type", None), ("type", 3),
                         ("thread_id", None), ("thread_id", ["x"])):
        check_error(api.post(item_path(tid), dict(base, **{field: value})), 400,
                    "bad_request")
    for bad in ("yesterday", "2025-13-01T00:00:00", "2025-06-01T25:00:00",
                "2025-06-01T12:61:00", "", "2025-06-01T12:00:00 UTC", "12:00:00"):
        check_error(api.post(item_path(tid), dict(base, created_at=bad)), 400,
                    "bad_request")
    assert api.list_items(tid)["data"] == []


def test_items_listing_order_and_paging(api):
    tid = _thread(api)
    # Three distinct instants, several items per instant, inserted so that
    # neither id order nor insertion order matches time order.
    stamps = ["2025-06-01T12:00:02Z", "2025-06-01T12:00:00Z", "2025-06-01T12:00:01Z"]
    items = []
    for i in range(15):
        items.append(user_message(tid, "msg_%08x" % ((i * 2654435761) % 2**32),
                                  created_at=stamps[i % 3], text=str(i)))
    for it in items:
        api.add_item(it)
    rank = {s: k for k, s in enumerate(sorted(stamps))}
    expected = sorted(items, key=lambda it: rank[it["created_at"]])  # stable: ties by insertion

    # Default order for items is asc.
    assert api.list_items(tid, limit=100)["data"] == expected
    assert api.list_items(tid, limit=100, order="asc")["data"] == expected
    assert api.list_items(tid, limit=100, order="desc")["data"] == expected[::-1]
    for limit in (1, 2, 4, 5, 14, 15):
        got, sizes = api.page_all(item_path(tid), limit)
        assert ids(got) == ids(expected), limit
        got, _ = api.page_all(item_path(tid), limit, order="desc")
        assert ids(got) == ids(expected[::-1]), limit
    page = api.list_items(tid)
    assert len(page["data"]) == 15 and page["has_more"] is False


def test_items_default_limit_20(api):
    tid = _thread(api)
    items = [user_message(tid, created_at="2025-06-01T12:%02d:00Z" % i) for i in range(23)]
    for it in items:
        api.add_item(it)
    page = api.list_items(tid)
    assert page == {"data": items[:20], "has_more": True, "after": items[19]["id"]}
    page = api.list_items(tid, after=items[19]["id"])
    assert page == {"data": items[20:], "has_more": False, "after": None}


def test_items_limit_and_order_bounds(api):
    tid = _thread(api)
    api.add_item(user_message(tid))
    for bad in ("0", "-1", "1001", "x"):
        check_error(api.get(item_path(tid) + "?limit=" + q(bad)), 400, "bad_request")
    check_error(api.get(item_path(tid) + "?order=newest"), 400, "bad_request")
    assert len(api.list_items(tid, limit=1000)["data"]) == 1


def test_items_unknown_cursor_404(api):
    tid = _thread(api)
    api.add_item(user_message(tid))
    check_error(api.get(item_path(tid) + "?after=msg_nosuch00"), 404, "not_found")


def test_items_cursor_from_another_thread_404(api):
    t1, t2 = _thread(api), _thread(api)
    i1 = user_message(t1, "msg_c0c0c0c0")
    api.add_item(i1)
    api.add_item(user_message(t2, "msg_d0d0d0d0"))
    check_error(api.get(item_path(t2) + "?after=msg_c0c0c0c0"), 404, "not_found")
    # A thread id is not an item cursor either.
    check_error(api.get(item_path(t2) + "?after=" + q(t1)), 404, "not_found")


def test_items_cursor_of_deleted_item_404(api):
    tid = _thread(api)
    a = user_message(tid, created_at="2025-06-01T12:00:00Z")
    b = user_message(tid, created_at="2025-06-01T12:00:01Z")
    api.add_item(a)
    api.add_item(b)
    api.delete(item_path(tid, a["id"]))
    check_error(api.get(item_path(tid) + "?after=" + a["id"]), 404, "not_found")


def test_list_items_of_missing_thread_is_empty_page(api):
    assert api.list_items("thr_n0ne0000") == {"data": [], "has_more": False, "after": None}
