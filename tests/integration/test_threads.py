"""Threads: save_thread / load_thread / delete_thread / load_threads."""

from tshelpers import (assistant_message, check_error, ids, q, thread_doc,
                       user_message)


def test_save_and_load_thread_roundtrip(api):
    doc = thread_doc(title="Trip to Lisbon",
                     metadata={"source": "web", "tags": ["travel", "ü→✓"],
                               "nested": {"n": 1.5, "neg": -3, "flag": False, "none": None,
                                          "small": 1e-7, "tenth": 0.1, "exp": 6.02e23}})
    r = api.put("/v1/threads/" + doc["id"], doc)
    assert r.status == 204, r
    r = api.get("/v1/threads/" + doc["id"])
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
    assert r.json == doc
    assert "items" not in r.json


def test_document_with_escapes_and_unicode_roundtrips(api):
    doc = thread_doc(title='He said "hi"\\n\ttab\nnewline \u00e9 \U0001F600 \u2028 </script>',
                     metadata={"emoji": "\U0001F680", "ctrl": "\x01\x1f", "slash": "a/b"})
    api.save_thread(doc)
    r = api.get("/v1/threads/" + doc["id"])
    assert r.status == 200, r
    assert r.json == doc


def test_big_integers_roundtrip(api):
    # Python's json emits integers of any size; a backend's metadata may hold
    # one (e.g. a 64-bit unsigned id). Valid JSON, stored as sent.
    doc = thread_doc(metadata={"u64": 18446744073709551615, "i64min": -9223372036854775808,
                               "huge": 123456789012345678901234567890})
    r = api.put("/v1/threads/" + doc["id"], doc)
    assert r.status == 204, r
    r = api.get("/v1/threads/" + doc["id"])
    assert r.status == 200, r
    assert r.json == doc


def test_full_thread_values_survive_items_removal(api):
    # Dropping "items" from a full Thread must not alter any other value.
    tid = "thr_va1ue500"
    meta = {"tenth": 0.1, "third": 1 / 3, "avogadro": 6.02214076e23, "eps": 2.220446049250313e-16,
            "neg": -0.0, "int": -42, "text": 'q"u\\o\\te\\n \u00e9 \U0001F600 \x00 \x1f',
            "list": [1, "two", None, True, {"k": []}], "empty": {}}
    full = thread_doc(tid, title="T \u2603", metadata=meta,
                      items={"data": [user_message(tid)], "has_more": False, "after": None})
    r = api.put("/v1/threads/" + tid, full)
    assert r.status == 204, r
    expected = {k: v for k, v in full.items() if k != "items"}
    got = api.get("/v1/threads/" + tid).json
    assert got == expected
    assert repr(got["metadata"]["tenth"]) == "0.1"
    assert repr(got["metadata"]["third"]) == repr(1 / 3)


def test_document_with_escaped_nul_roundtrips(api):
    # json.dumps("\x00") == '"\\u0000"': a valid JSON document a Python
    # backend can send (e.g. pasted text). It must be stored as sent.
    doc = thread_doc(title="nul:\x00:end")
    r = api.put("/v1/threads/" + doc["id"], doc)
    assert r.status == 204, r
    r = api.get("/v1/threads/" + doc["id"])
    assert r.status == 200, r
    assert r.json == doc


def test_whitespace_and_key_order_in_body_are_fine(api):
    tid = "thr_5e6f7a8b"
    body = ('\n  {  "title" : "spaced" ,\n "metadata":{ } , "status" : {"type":"active"},'
            '"created_at":"2025-06-01T12:00:00", "id" : "%s" }  \n' % tid)
    r = api.put("/v1/threads/" + tid, body)
    assert r.status == 204, r
    r = api.get("/v1/threads/" + tid)
    assert r.status == 200, r
    assert r.json == {"id": tid, "created_at": "2025-06-01T12:00:00",
                      "status": {"type": "active"}, "metadata": {}, "title": "spaced"}


def test_load_missing_thread_404(api):
    r = api.get("/v1/threads/thr_00000000")
    check_error(r, 404, "not_found")


def test_upsert_replaces_whole_document(api):
    doc = thread_doc(title="first", metadata={"a": 1, "b": 2})
    api.save_thread(doc)
    new = {"id": doc["id"], "created_at": doc["created_at"],
           "status": {"type": "closed", "reason": "done"}, "metadata": {"c": 3}}
    api.save_thread(new)
    r = api.get("/v1/threads/" + doc["id"])
    assert r.status == 200
    assert r.json == new  # no "title", no "a"/"b": not merged
    page = api.list_threads()
    assert page["data"] == [new]


def test_full_thread_with_items_is_stored_without_items(api):
    tid = "thr_1a2b3c4d"
    inner = user_message(tid, "msg_aaaa0001")
    full = thread_doc(tid, title="Full", items={"data": [inner], "has_more": False,
                                                "after": None})
    r = api.put("/v1/threads/" + tid, full)
    assert r.status == 204, r
    expected = {k: v for k, v in full.items() if k != "items"}
    r = api.get("/v1/threads/" + tid)
    assert r.status == 200
    assert r.json == expected
    # The embedded items were not stored as items either.
    assert api.list_items(tid)["data"] == []
    assert api.list_threads()["data"] == [expected]
    # ...and ?items=N returns the real (empty) item page, not the sent one.
    r = api.get("/v1/threads/%s?items=5" % tid)
    assert r.status == 200
    assert r.json == dict(expected, items={"data": [], "has_more": False, "after": None})


def test_delete_thread_idempotent(api):
    doc = thread_doc()
    api.save_thread(doc)
    r = api.delete("/v1/threads/" + doc["id"])
    assert r.status == 204, r
    check_error(api.get("/v1/threads/" + doc["id"]), 404, "not_found")
    assert api.list_threads()["data"] == []
    r = api.delete("/v1/threads/" + doc["id"])
    assert r.status == 204, r
    r = api.delete("/v1/threads/thr_never000")
    assert r.status == 204, r


def test_delete_thread_removes_its_items(api):
    tid = "thr_de1e7e00"
    api.save_thread(thread_doc(tid))
    items = [user_message(tid, "msg_%08d" % i) for i in range(3)]
    for it in items:
        api.add_item(it)
    other = thread_doc("thr_0be70000")
    api.save_thread(other)
    kept = user_message(other["id"], "msg_00000000")  # same item id, other thread
    api.add_item(kept)

    assert api.delete("/v1/threads/" + tid).status == 204
    check_error(api.get("/v1/threads/%s/items/msg_00000001" % tid), 404)
    # Re-creating the thread does not resurrect the items.
    api.save_thread(thread_doc(tid))
    assert api.list_items(tid)["data"] == []
    # The other thread's item with the same id is untouched.
    assert api.list_items(other["id"])["data"] == [kept]


def test_load_thread_with_items_param(api):
    tid = "thr_17e55000"
    thread = thread_doc(tid, created_at="2025-06-01T12:00:00Z")
    api.save_thread(thread)
    items = []
    for i in range(5):
        mk = user_message if i % 2 == 0 else assistant_message
        it = mk(tid, "msg_%04d%s" % (i, "abcd"),
                created_at="2025-06-01T12:00:%02d.000000Z" % (10 - i * 2 if i < 3 else 10))
        items.append(it)
    # created_at seconds: 10, 8, 6, 10, 10 -> oldest first: i2, i1, i0, i3, i4
    for it in items:
        api.add_item(it)
    oldest_first = [items[2], items[1], items[0], items[3], items[4]]

    r = api.get("/v1/threads/%s?items=3" % tid)
    assert r.status == 200, r
    body = r.json
    page = body.pop("items")
    assert body == thread
    assert page == {"data": oldest_first[:3], "has_more": True,
                    "after": oldest_first[2]["id"]}

    r = api.get("/v1/threads/%s?items=5" % tid)
    assert r.status == 200
    assert r.json["items"] == {"data": oldest_first, "has_more": False, "after": None}

    r = api.get("/v1/threads/%s?items=1000" % tid)
    assert r.status == 200
    assert r.json["items"] == {"data": oldest_first, "has_more": False, "after": None}

    # The remainder can be fetched with the returned cursor.
    r = api.get("/v1/threads/%s/items?after=%s" % (tid, oldest_first[2]["id"]))
    assert r.status == 200
    assert r.json == {"data": oldest_first[3:], "has_more": False, "after": None}


def test_load_thread_items_param_on_missing_or_foreign_thread_404(api, other_api):
    other_api.save_thread(thread_doc("thr_f0e1a000"))
    check_error(api.get("/v1/threads/thr_f0e1a000?items=5"), 404, "not_found")
    check_error(api.get("/v1/threads/thr_nothere0?items=5"), 404, "not_found")


def test_load_thread_bad_items_param_400(api):
    tid = "thr_badi7e00"
    api.save_thread(thread_doc(tid))
    for bad in ("-1", "1001", "abc", "1.5", "10x"):
        r = api.get("/v1/threads/%s?items=%s" % (tid, q(bad)))
        check_error(r, 400, "bad_request")


def test_list_threads_default_order_desc_and_limit_20(api):
    docs = [thread_doc(new, created_at="2025-03-%02dT08:00:00Z" % (i + 1), title=str(i))
            for i, new in enumerate("thr_%08x" % (0xdead0000 + j) for j in range(25))]
    # Save in a scrambled order: position must come from created_at.
    for i in [7, 3, 24, 0, 11, 19, 5, 1, 2, 4, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18,
              20, 21, 22, 23]:
        api.save_thread(docs[i])
    page = api.list_threads()
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    newest_first = list(reversed(docs))
    assert page["data"] == newest_first[:20]
    assert page["after"] == newest_first[19]["id"]

    page2 = api.list_threads(after=page["after"])
    assert page2 == {"data": newest_first[20:], "has_more": False, "after": None}

    asc = api.list_threads(order="asc", limit=1000)
    assert asc == {"data": docs, "has_more": False, "after": None}


def test_list_threads_limit_bounds(api):
    for i in range(3):
        api.save_thread(thread_doc(created_at="2025-01-0%dT00:00:00Z" % (i + 1)))
    assert len(api.list_threads(limit=1)["data"]) == 1
    assert len(api.list_threads(limit=1000)["data"]) == 3
    for bad in ("0", "-5", "1001", "999999999999999999999", "ten", "2.0", "0x10"):
        check_error(api.get("/v1/threads?limit=" + q(bad)), 400, "bad_request")
    for bad in ("ascending", "ASC ", "up", "1"):
        check_error(api.get("/v1/threads?order=" + q(bad)), 400, "bad_request")


def test_list_threads_exact_fit_has_no_more(api):
    docs = [thread_doc(created_at="2025-01-0%dT00:00:00Z" % (i + 1)) for i in range(4)]
    for d in docs:
        api.save_thread(d)
    page = api.list_threads(limit=4, order="asc")
    assert page == {"data": docs, "has_more": False, "after": None}
    page = api.list_threads(limit=3, order="asc")
    assert page == {"data": docs[:3], "has_more": True, "after": docs[2]["id"]}
    page = api.list_threads(limit=3, order="asc", after=docs[2]["id"])
    assert page == {"data": docs[3:], "has_more": False, "after": None}
    # A cursor on the last row: empty page, not an error.
    page = api.list_threads(limit=3, order="asc", after=docs[3]["id"])
    assert page == {"data": [], "has_more": False, "after": None}


def test_empty_after_means_no_cursor_and_unknown_params_ignored(api):
    docs = [thread_doc(created_at="2025-01-0%dT00:00:00Z" % (i + 1)) for i in range(2)]
    for d in docs:
        api.save_thread(d)
    r = api.get("/v1/threads?after=&order=asc&foo=bar")
    assert r.status == 200, r
    assert r.json == {"data": docs, "has_more": False, "after": None}


def test_list_threads_unknown_cursor_404(api):
    api.save_thread(thread_doc())
    check_error(api.get("/v1/threads?after=thr_nosuch00"), 404, "not_found")


def test_list_threads_cursor_of_deleted_thread_404(api):
    a, b = thread_doc(created_at="2025-01-01T00:00:00Z"), thread_doc(
        created_at="2025-01-02T00:00:00Z")
    api.save_thread(a)
    api.save_thread(b)
    api.delete("/v1/threads/" + a["id"])
    check_error(api.get("/v1/threads?after=" + a["id"]), 404, "not_found")


def test_percent_encoded_ids(api):
    for tid in ("thr ü ß?#&=+%", "thr_%41", "日本語"):
        doc = thread_doc(tid, title=tid)
        r = api.put("/v1/threads/" + q(tid), doc)
        assert r.status == 204, (tid, r)
        r = api.get("/v1/threads/" + q(tid))
        assert r.status == 200, (tid, r)
        assert r.json == doc
    # "thr_%41" was decoded exactly once: "thr_A" does not exist.
    check_error(api.get("/v1/threads/thr_A"), 404)
    got = {d["id"] for d in api.list_threads()["data"]}
    assert got == {"thr ü ß?#&=+%", "thr_%41", "日本語"}


def test_encoded_slash_is_part_of_the_id(api):
    tid = "thr/with/slashes"
    doc = thread_doc(tid)
    r = api.put("/v1/threads/" + q(tid), doc)
    assert r.status == 204, r
    r = api.get("/v1/threads/" + q(tid))
    assert r.status == 200, r
    assert r.json == doc
    item = user_message(tid, "msg/1")
    api.add_item(item)
    r = api.get("/v1/threads/%s/items/%s" % (q(tid), q("msg/1")))
    assert r.status == 200, r
    assert r.json == item


def test_id_length_limits(api):
    ok = "t" * 255
    r = api.put("/v1/threads/" + ok, thread_doc(ok))
    assert r.status == 204, r
    assert api.get("/v1/threads/" + ok).json["id"] == ok
    long = "t" * 256
    check_error(api.put("/v1/threads/" + long, thread_doc(long)), 400, "bad_request")
    check_error(api.get("/v1/threads/" + long), 400, "bad_request")


def test_ids_do_not_sort_by_value(api):
    # Ids are arbitrary: with equal created_at, order is insertion order.
    same = "2025-06-01T12:00:00.123456"
    order = ["thr_ffffffff", "thr_00000000", "thr_88888888", "thr_aaaaaaaa", "thr_11111111"]
    for tid in order:
        api.save_thread(thread_doc(tid, created_at=same))
    assert ids(api.list_threads(order="asc")["data"]) == order
    assert ids(api.list_threads(order="desc")["data"]) == list(reversed(order))
