"""Isolation matrix: for every /v1 endpoint, user B acting on user A's threads,
items and attachments (read, list, write, overwrite, delete) gets 404 or an
empty page, and nothing of A's changes, checked by reading all of A's data
back after each action.

Tokens are what Better Auth issues: EdDSA, from a JWKS served over HTTP, with
iss and aud checked. Both users' tokens are signed by the same key: only
`sub` tells them apart.

Writes of top-level resources under A's ids (PUT a thread or an attachment)
are not refused: they create B's own document under the same id, in B's
namespace (ChatKit ids are random, and two users may collide). The matrix
checks that such a write changes nothing of A's and that each user then sees
only their own document."""

import uuid

import pytest

import tshelpers as th
from jwthelpers import JwksServer, JwtServerProcess, alg_key, jwt_args
from tshelpers import assistant_message, file_attachment, q, thread_doc, user_message


@pytest.fixture(scope="module")
def srv(log_dir):
    jw = JwksServer().start()
    jw.set_keys([alg_key("EdDSA")])
    s = JwtServerProcess(th.binary_path(), th.database_url(), None,
                         extra_args=jwt_args(url=jw.url), log_dir=log_dir, name="jwt-iso")
    s.start()
    s.wait_log(r"msg=\"?jwks loaded")
    yield s
    try:
        s.stop_and_check()
    finally:
        jw.stop()


class World:
    """A's data, and clients for A and B."""

    def __init__(self, srv):
        key = alg_key("EdDSA")
        self.a_sub, self.b_sub = "alice-" + uuid.uuid4().hex, "bob-" + uuid.uuid4().hex
        self.a = srv.client(key.token(self.a_sub))
        self.b = srv.client(key.token(self.b_sub))
        self.tid = th.new_id("thr")
        self.t2 = th.new_id("thr")
        self.thread = thread_doc(self.tid, created_at="2025-06-01T10:00:00Z", title="alice's",
                                 metadata={"agent": "travel"})
        self.thread2 = thread_doc(self.t2, created_at="2025-06-02T10:00:00Z", title="second")
        self.i1 = user_message(self.tid, th.new_id("msg"), text="alice's secret")
        self.i2 = assistant_message(self.tid, th.new_id("msg"))
        # it names A's thread: B deleting a thread of his under that id must not take it
        self.att = dict(file_attachment(th.new_id("atc"), name="alice.pdf"), thread_id=self.tid)
        self.a.save_thread(self.thread)
        self.a.save_thread(self.thread2)
        self.a.add_item(self.i1)
        self.a.add_item(self.i2)
        assert self.a.put("/v1/attachments/" + q(self.att["id"]), self.att).status == 204
        self.before = self.snapshot()
        self.a_cursor = self.before["changes"]["data"][0]["cursor"]
        assert self.before["thread"] == self.thread
        assert self.before["items"] == [self.i1, self.i2]
        assert self.before["attachment"] == self.att

    def close(self):
        self.a.close()
        self.b.close()

    def snapshot(self):
        """Everything of A's, read back by A."""
        a, t = self.a, "/v1/threads/" + q(self.tid)
        got = {}
        for name, path in [("thread", t), ("full", t + "?items=100"),
                           ("item1", t + "/items/" + q(self.i1["id"])),
                           ("item2", t + "/items/" + q(self.i2["id"])),
                           ("thread2", "/v1/threads/" + q(self.t2)),
                           ("attachment", "/v1/attachments/" + q(self.att["id"]))]:
            r = a.get(path)
            assert r.status == 200, (name, r)
            got[name] = r.json
        got["items"] = a.list_items(self.tid, limit=1000)["data"]
        got["items_desc"] = a.list_items(self.tid, limit=1000, order="desc")["data"]
        got["threads"] = a.list_threads(limit=1000)["data"]
        # The history API: activity times (B's writes must not touch A's threads),
        # filters, counts and search see A's data unchanged.
        for name, path in [("activity", "/v1/threads?order_by=updated_at&limit=1000"),
                           ("filtered", "/v1/threads?metadata.agent=travel&status=active"),
                           ("count", "/v1/threads/count"),
                           ("count filtered", "/v1/threads/count?metadata.agent=travel"),
                           ("items before", t + "/items?before=" + q(self.i2["id"])),
                           ("search", "/v1/search?q=secret"),
                           ("search title", "/v1/search?q=alice&thread_id=" + q(self.tid)),
                           # the change feed: B's writes never show in A's
                           ("changes", "/v1/changes?limit=1000")]:
            r = a.get(path)
            assert r.status == 200, (name, r)
            got[name] = r.json
        assert len(got["search"]["data"]) == 1 and got["count"] == {"count": 2}
        assert len(got["changes"]["data"]) == 5  # 2 threads, 2 items, 1 attachment
        r = a.get("/v1/me/export")  # everything of A's in one document
        assert r.status == 200, r
        got["export"] = r.json
        assert got["export"]["user_id"] == self.a_sub and len(got["export"]["threads"]) == 2
        return got

    def b_sees_nothing_of_a(self):
        b, t = self.b, "/v1/threads/" + q(self.tid)
        r = b.get(t)
        assert r.status == 404 or r.json != self.thread, r
        for path in (t + "/items/" + q(self.i1["id"]), t + "/items/" + q(self.i2["id"]),
                     "/v1/threads/" + q(self.t2)):
            th.check_error(b.get(path), 404, "not_found")
        r = b.get("/v1/attachments/" + q(self.att["id"]))
        assert r.status == 404 or r.json != self.att, r
        for doc in b.list_threads(limit=1000)["data"]:
            assert doc not in (self.thread, self.thread2)
        for doc in b.list_items(self.tid, limit=1000)["data"]:
            assert doc not in (self.i1, self.i2)
        for path in ("/v1/search?q=secret", "/v1/search?q=alice",
                     "/v1/search?q=secret&thread_id=" + q(self.tid)):
            for hit in b.get(path).json["data"]:
                assert (hit["thread_id"], hit["item_id"]) not in (
                    (self.tid, self.i1["id"]), (self.tid, None)), hit


@pytest.fixture
def world(srv):
    w = World(srv)
    yield w
    w.close()


def _t(w):
    return "/v1/threads/" + q(w.tid)


def _item_path(w, item):
    return _t(w) + "/items/" + q(item["id"])


EMPTY_PAGE = {"data": [], "has_more": False, "after": None}
ERASED_NOTHING = {"threads": 0, "items": 0, "attachments": 0}


def _b_export_is_empty(w, r):
    assert r.status == 200, r
    assert r.json == {"user_id": w.b_sub, "threads": [], "attachments": []}, r

# name -> (action(world) -> Response, expected): expected is a status, or
# EMPTY_PAGE for a 200 whose body must be the empty page.
ACTIONS = {
    # threads
    "read thread": (lambda w: w.b.get(_t(w)), 404),
    "read full thread (?items=)": (lambda w: w.b.get(_t(w) + "?items=100"), 404),
    "list threads": (lambda w: w.b.get("/v1/threads?limit=1000"), EMPTY_PAGE),
    "list threads desc": (lambda w: w.b.get("/v1/threads?order=desc&limit=1"), EMPTY_PAGE),
    "list threads asc": (lambda w: w.b.get("/v1/threads?order=asc"), EMPTY_PAGE),
    "list threads after A's cursor": (lambda w: w.b.get("/v1/threads?after=" + q(w.tid)), 404),
    "write (overwrite) thread under A's id": (
        lambda w: w.b.put(_t(w), thread_doc(w.tid, title="bob's", created_at="2025-01-01T00:00:00")),
        204),
    "write full thread with items under A's id": (
        lambda w: w.b.put(_t(w), dict(thread_doc(w.tid, title="bob's"),
                                      items={"data": [w.i1], "has_more": False,
                                             "after": None})), 204),
    "delete thread": (lambda w: w.b.delete(_t(w)), 204),
    "delete second thread": (lambda w: w.b.delete("/v1/threads/" + q(w.t2)), 204),
    # items
    "list items": (lambda w: w.b.get(_t(w) + "/items?limit=1000"), EMPTY_PAGE),
    "list items desc": (lambda w: w.b.get(_t(w) + "/items?order=desc"), EMPTY_PAGE),
    "list items after A's cursor": (
        lambda w: w.b.get(_t(w) + "/items?after=" + q(w.i1["id"])), 404),
    "read item": (lambda w: w.b.get(_item_path(w, w.i1)), 404),
    "read other item": (lambda w: w.b.get(_item_path(w, w.i2)), 404),
    "add item": (lambda w: w.b.post(_t(w) + "/items", user_message(w.tid, text="bob")), 404),
    "add item with A's item id": (
        lambda w: w.b.post(_t(w) + "/items", dict(w.i1, content=[{"type": "input_text",
                                                                  "text": "bob"}])), 404),
    "overwrite item": (
        lambda w: w.b.put(_item_path(w, w.i1), user_message(w.tid, w.i1["id"], text="bob")),
        404),
    "write new item": (
        lambda w: w.b.put(_t(w) + "/items/msg_b0b00000", user_message(w.tid, "msg_b0b00000")),
        404),
    "delete item": (lambda w: w.b.delete(_item_path(w, w.i1)), 204),
    "delete other item": (lambda w: w.b.delete(_item_path(w, w.i2)), 204),
    # attachments
    "read attachment": (lambda w: w.b.get("/v1/attachments/" + q(w.att["id"])), 404),
    "write (overwrite) attachment under A's id": (
        lambda w: w.b.put("/v1/attachments/" + q(w.att["id"]),
                          file_attachment(w.att["id"], name="bob.pdf")), 204),
    "delete attachment": (lambda w: w.b.delete("/v1/attachments/" + q(w.att["id"])), 204),
    "write attachment naming A's thread": (
        lambda w: w.b.put("/v1/attachments/atc_b0b00001",
                          dict(file_attachment("atc_b0b00001"), thread_id=w.tid)), 204),
    "write then delete attachment naming A's thread": (
        lambda w: (w.b.put("/v1/attachments/atc_b0b00002",
                           dict(file_attachment("atc_b0b00002"), thread_id=w.tid)),
                   w.b.delete("/v1/attachments/atc_b0b00002"))[1], 204),
    # history: order_by, filters, before, count, search
    "list threads by activity": (
        lambda w: w.b.get("/v1/threads?order_by=updated_at&limit=1000"), EMPTY_PAGE),
    "list threads by A's metadata": (
        lambda w: w.b.get("/v1/threads?metadata.agent=travel"), EMPTY_PAGE),
    "list threads by status": (lambda w: w.b.get("/v1/threads?status=active"), EMPTY_PAGE),
    "list threads after A's cursor by activity": (
        lambda w: w.b.get("/v1/threads?order_by=updated_at&after=" + q(w.tid)), 404),
    "list threads before A's cursor": (lambda w: w.b.get("/v1/threads?before=" + q(w.t2)), 404),
    "list items before A's cursor": (
        lambda w: w.b.get(_t(w) + "/items?before=" + q(w.i2["id"])), 404),
    "count threads": (lambda w: w.b.get("/v1/threads/count"), {"count": 0}),
    "count threads by A's metadata": (
        lambda w: w.b.get("/v1/threads/count?metadata.agent=travel&status=active"),
        {"count": 0}),
    "search A's words": (lambda w: w.b.get("/v1/search?q=alice%20OR%20secret"), EMPTY_PAGE),
    # the change feed: B's is empty, A's cursors are not B's (400)
    "list changes": (lambda w: w.b.get("/v1/changes?limit=1000"), EMPTY_PAGE),
    "list changes after A's cursor": (
        lambda w: w.b.get("/v1/changes?after=" + q(w.a_cursor)), 400),
    "resume changes from A's Last-Event-ID": (
        lambda w: w.b.get("/v1/changes", headers={"Last-Event-ID": w.a_cursor}), 400),
    "stream changes from A's Last-Event-ID": (
        lambda w: w.b.get("/v1/changes", headers={"Last-Event-ID": w.a_cursor,
                                                  "Accept": "text/event-stream"}), 400),
    "admin changes with B's token": (lambda w: w.b.get("/admin/v1/changes"), 404),
    "search in A's thread": (
        lambda w: w.b.get("/v1/search?q=secret&thread_id=" + q(w.tid)), EMPTY_PAGE),
    # a user's data, all of it (issue 13)
    "erase all of his own (DELETE /v1/me)": (lambda w: w.b.delete("/v1/me"), ERASED_NOTHING),
    "export all of his own": (lambda w: w.b.get("/v1/me/export"), _b_export_is_empty),
    "write expired thread under A's id": (
        lambda w: w.b.put(_t(w), thread_doc(w.tid, metadata={
            "threadstore:expires_at": "2000-01-01T00:00:00Z"})), 204),
    "write then delete a thread under A's id with an attachment naming it": (
        lambda w: (w.b.put(_t(w), thread_doc(w.tid)),
                   w.b.put("/v1/attachments/atc_b0b00003",
                           dict(file_attachment("atc_b0b00003"), thread_id=w.tid)),
                   w.b.delete(_t(w)))[2], 204),
    # a user's token never reaches the operator's API (and here it has no token file)
    "operator's user list": (lambda w: w.b.get("/admin/v1/users"), 404),
    "operator's erase of A": (lambda w: w.b.delete("/admin/v1/users/" + q(w.a_sub)), 404),
    "operator's export of A": (lambda w: w.b.get("/admin/v1/users/%s/export" % q(w.a_sub)), 404),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_b_on_a(world, name):
    action, expected = ACTIONS[name]
    r = action(world)
    if callable(expected):
        expected(world, r)
    elif isinstance(expected, dict):  # EMPTY_PAGE, or another exact body
        assert r.status == 200, r
        assert r.json == expected, r
    elif expected == 404:
        th.check_error(r, 404, "not_found")
    elif expected == 400:
        th.check_error(r, 400, "bad_request")
    else:
        assert r.status == expected, r
    assert world.snapshot() == world.before, "A's data changed after B's %r" % name
    world.b_sees_nothing_of_a()


def test_b_owns_a_same_id_thread_and_works_in_it(world):
    """B creates his own thread under A's id, adds and rewrites items in it
    (one of them under A's item id), lists, pages and deletes: every step
    sees only B's rows, and A's data never changes."""
    w, b, t = world, world.b, _t(world)
    bt = thread_doc(w.tid, title="bob's", created_at="2025-01-01T00:00:00Z")
    assert b.put(t, bt).status == 204
    assert b.get(t).json == bt
    b1 = user_message(w.tid, w.i1["id"], text="bob's own, same id as alice's")
    b.add_item(b1)
    b2 = user_message(w.tid, th.new_id("msg"), created_at="2025-06-01T12:00:03Z", text="b2")
    b.save_item(b2)
    assert b.list_items(w.tid)["data"] == [b1, b2]
    assert b.get(_item_path(w, w.i1)).json == b1
    th.check_error(b.get(_item_path(w, w.i2)), 404, "not_found")
    full = b.get(t + "?items=1").json
    assert full["items"]["data"] == [b1] and full["items"]["has_more"] is True
    assert b.list_items(w.tid, after=b1["id"])["data"] == [b2]
    b1x = dict(b1, content=[{"type": "input_text", "text": "rewritten"}])
    b.save_item(b1x)
    assert b.get(_item_path(w, w.i1)).json == b1x
    assert w.snapshot() == w.before
    assert b.delete(_item_path(w, w.i1)).status == 204
    assert b.list_items(w.tid)["data"] == [b2]
    assert w.snapshot() == w.before
    assert [d["id"] for d in b.list_threads()["data"]] == [w.tid]
    assert b.delete(t).status == 204
    th.check_error(b.get(t), 404, "not_found")
    assert b.list_items(w.tid) == EMPTY_PAGE
    assert w.snapshot() == w.before
    w.b_sees_nothing_of_a()


def test_b_same_id_attachment_is_his_own(world):
    w, b = world, world.b
    path = "/v1/attachments/" + q(w.att["id"])
    mine = file_attachment(w.att["id"], name="bob.pdf")
    assert b.put(path, mine).status == 204
    assert b.get(path).json == mine
    assert w.a.get(path).json == w.att
    assert b.delete(path).status == 204
    th.check_error(b.get(path), 404, "not_found")
    assert w.snapshot() == w.before


def test_every_action_in_a_row(world):
    """All of B's actions one after another on one connection: A's data is
    still intact at the end (and was after each step)."""
    for name in sorted(ACTIONS):
        action, expected = ACTIONS[name]
        r = action(world)
        assert r.status in (200, 204, 400, 404), (name, r)
    assert world.snapshot() == world.before
    # And A can still work with everything.
    a = world.a
    assert a.delete(_item_path(world, world.i1)).status == 204
    assert a.list_items(world.tid)["data"] == [world.i2]
