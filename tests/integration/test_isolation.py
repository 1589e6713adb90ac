"""Per-user isolation: every key is scoped by the token's `sub`."""

from tshelpers import check_error, thread_doc, user_message


def test_same_thread_id_for_two_users(api, other_api):
    tid = "thr_1a2b3c4d"  # ChatKit ids carry 32 random bits: collisions happen
    a = thread_doc(tid, title="alice's", created_at="2025-06-01T10:00:00Z")
    b = thread_doc(tid, title="bob's", created_at="2025-06-02T10:00:00Z")
    api.save_thread(a)
    other_api.save_thread(b)
    assert api.get("/v1/threads/" + tid).json == a
    assert other_api.get("/v1/threads/" + tid).json == b
    assert api.list_threads()["data"] == [a]
    assert other_api.list_threads()["data"] == [b]

    ia = user_message(tid, "msg_1a2b3c4d", text="alice")
    ib = user_message(tid, "msg_1a2b3c4d", text="bob")
    api.add_item(ia)
    other_api.add_item(ib)
    assert api.list_items(tid)["data"] == [ia]
    assert other_api.list_items(tid)["data"] == [ib]
    assert api.get("/v1/threads/%s/items/msg_1a2b3c4d" % tid).json == ia

    # Deleting bob's thread leaves alice's thread and items.
    assert other_api.delete("/v1/threads/" + tid).status == 204
    assert api.get("/v1/threads/" + tid).json == a
    assert api.list_items(tid)["data"] == [ia]
    check_error(other_api.get("/v1/threads/" + tid), 404)
    assert other_api.list_items(tid)["data"] == []


def test_foreign_thread_is_404_not_403(api, other_api):
    tid = "thr_0a0a0a0a"
    api.save_thread(thread_doc(tid))
    item = user_message(tid, "msg_0a0a0a0a")
    api.add_item(item)

    check_error(other_api.get("/v1/threads/" + tid), 404, "not_found")
    check_error(other_api.get("/v1/threads/%s?items=10" % tid), 404, "not_found")
    check_error(other_api.get("/v1/threads/%s/items/msg_0a0a0a0a" % tid), 404, "not_found")
    # Listing another user's thread's items: an empty page.
    assert other_api.list_items(tid) == {"data": [], "has_more": False, "after": None}
    # Adding/saving an item into another user's thread: 404.
    check_error(other_api.post("/v1/threads/%s/items" % tid, user_message(tid)), 404,
                "not_found")
    check_error(other_api.put("/v1/threads/%s/items/msg_0a0a0a0a" % tid,
                              user_message(tid, "msg_0a0a0a0a", text="overwrite")), 404,
                "not_found")
    # Deletes by the other user match nothing (204) and remove nothing.
    assert other_api.delete("/v1/threads/%s/items/msg_0a0a0a0a" % tid).status == 204
    assert other_api.delete("/v1/threads/" + tid).status == 204
    assert api.get("/v1/threads/%s/items/msg_0a0a0a0a" % tid).json == item
    assert api.get("/v1/threads/" + tid).status == 200
    assert api.list_items(tid)["data"] == [item]
    # The other user's thread list is empty.
    assert other_api.list_threads()["data"] == []


def test_cursor_of_another_user_404(api, other_api):
    tid = "thr_c0550000"
    api.save_thread(thread_doc(tid))
    api.add_item(user_message(tid, "msg_c0550000"))
    other_api.save_thread(thread_doc("thr_0the0000"))
    other_api.save_thread(thread_doc(tid))
    other_api.add_item(user_message(tid, "msg_0the0000"))
    # A thread cursor naming alice's thread, used by bob.
    r = other_api.get("/v1/threads?after=thr_c0550000")
    # bob has his own thr_c0550000, so that cursor is valid for him ...
    assert r.status == 200, r
    # ... but alice's item cursor in bob's same-id thread is not.
    check_error(other_api.get("/v1/threads/%s/items?after=msg_c0550000" % tid), 404,
                "not_found")
    # And a thread cursor that exists only for alice is 404 for bob.
    api.save_thread(thread_doc("thr_a11ce000"))
    check_error(other_api.get("/v1/threads?after=thr_a11ce000"), 404, "not_found")


def test_sub_with_special_characters(client_for):
    a = client_for("auth0|65f0c0ffee")
    b = client_for("auth0|65f0c0ffeE")  # differs only by case
    tid = "thr_5pec1a10"
    doc = thread_doc(tid)
    a.save_thread(doc)
    assert a.get("/v1/threads/" + tid).json == doc
    check_error(b.get("/v1/threads/" + tid), 404)
