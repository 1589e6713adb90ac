"""The change feed (issue 12): GET /v1/changes as a Page and as Server-Sent
Events, across two instances on one PostgreSQL; exactly once and in order
under concurrent writers; retention (410); the LISTEN connection killed; the
admin feed and its credential."""

import os
import threading
import time
import uuid

import pytest

import ssehelpers as sh
import tshelpers as th


@pytest.fixture(scope="module")
def two(jwt_secret, log_dir):
    """Two instances on one database: A takes the writes, B the streams."""
    srvs = [th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                             extra_args=["--pool-size", "2", "--changes-heartbeat", "1"],
                             log_dir=log_dir, name=n).start() for n in ("feed-a", "feed-b")]
    yield srvs
    for s in srvs:
        s.stop_and_check()


def changes(client, **params):
    r = client.get("/v1/changes" + th.qs(params))
    assert r.status == 200, r
    assert set(r.json) == {"data", "has_more", "after"}
    return r.json


def stream(srv, token, **kw):
    s = sh.SSEStream(srv.host, srv.port, token, **kw)
    assert s.read_head() == 200, getattr(s, "error", None)
    assert s.headers["content-type"] == "text/event-stream"
    return s


def test_every_kind_in_order_and_nothing_for_a_noop(api, user_id):
    assert changes(api) == {"data": [], "has_more": False, "after": None}
    t = th.thread_doc()
    api.save_thread(t)
    m = th.user_message(t["id"])
    api.add_item(m)
    api.save_item(dict(m, content=[{"type": "input_text", "text": "edited"}]))
    assert api.delete("/v1/threads/%s/items/%s" % (t["id"], m["id"])).status == 204
    # deleting what is not there changes nothing: no change recorded
    assert api.delete("/v1/threads/%s/items/%s" % (t["id"], m["id"])).status in (204, 404)
    a = th.file_attachment()
    a["thread_id"] = t["id"]
    assert api.put("/v1/attachments/" + a["id"], a).status == 204
    stored = api.get("/v1/attachments/" + a["id"]).json
    assert api.delete("/v1/attachments/" + a["id"]).status == 204
    assert api.delete("/v1/attachments/" + a["id"]).status in (204, 404)
    assert api.delete("/v1/threads/" + t["id"]).status == 204
    assert api.delete("/v1/threads/" + t["id"]).status in (204, 404)
    page = changes(api)
    kinds = [c["kind"] for c in page["data"]]
    assert kinds == ["thread.saved", "item.added", "item.saved", "item.deleted",
                     "attachment.saved", "attachment.deleted", "thread.deleted"]
    d = {c["kind"]: c for c in page["data"]}
    assert d["item.added"]["thread_id"] == t["id"] and d["item.added"]["item_id"] == m["id"]
    assert d["attachment.deleted"]["attachment_id"] == a["id"]
    assert d["attachment.deleted"]["attachment"] == stored  # the stored document
    assert d["attachment.deleted"]["thread_id"] == t["id"]
    assert "attachment" not in d["attachment.saved"]
    assert page["after"] == page["data"][-1]["cursor"] and not page["has_more"]
    assert all(c["at"].endswith("Z") for c in page["data"])
    # paging by cursor: every change once, in order
    seen, after = [], None
    while True:
        p = changes(api, limit=2, **({"after": after} if after else {}))
        seen += p["data"]
        after = p["after"]
        if not p["has_more"]:
            break
    assert seen == page["data"]
    # at the end: an empty page that keeps the cursor
    assert changes(api, after=after) == {"data": [], "has_more": False, "after": after}


def test_cursors_not_ours_are_400(api, other_api):
    t = th.thread_doc()
    api.save_thread(t)
    mine = changes(api)["data"][0]["cursor"]
    other_api.save_thread(th.thread_doc())
    theirs = changes(other_api)["data"][0]["cursor"]
    for bad in ["zz", "", "1", "1-", "-1-00000000", mine + "0", mine.upper(), theirs,
                "0" + mine, "%00", "ffffffffffffffff-00000000", "1-920727f2"]:
        if bad == "" or bad == mine:
            continue
        r = api.get("/v1/changes?after=" + th.q(bad))
        th.check_error(r, 400, "bad_request")
        r = api.get("/v1/changes", headers={"Last-Event-ID": bad})
        th.check_error(r, 400, "bad_request")
    th.check_error(api.get("/v1/changes", headers={"Last-Event-ID": "x" * 300}), 400)
    th.check_error(api.get("/v1/changes?limit=0"), 400)
    th.check_error(api.get("/v1/changes?limit=1001"), 400)
    # Last-Event-ID wins over after=
    api.save_thread(th.thread_doc())
    r = api.get("/v1/changes?after=zz", headers={"Last-Event-ID": mine})
    assert r.status == 200 and len(r.json["data"]) == 1


def test_a_write_on_a_reaches_a_stream_on_b(two, make_token, user_id):
    a, b = two
    tok = make_token(user_id)
    s = stream(b, tok)
    try:
        ca = a.client(tok)
        t = th.thread_doc()
        ca.save_thread(t)
        ca.add_item(th.user_message(t["id"]))
        evs = s.events(2, timeout=10)
        assert [e["event"] for e in evs] == ["thread.saved", "item.added"]
        assert [e["id"] for e in evs] == [e["json"]["cursor"] for e in evs]
        assert evs[1]["json"]["thread_id"] == t["id"]
        # another user's writes never reach this stream
        other = a.client(make_token("user-" + uuid.uuid4().hex))
        other.save_thread(th.thread_doc())
        ca.save_thread(th.thread_doc())
        e = s.next_event(timeout=10)
        assert e["event"] == "thread.saved" and e["json"]["thread_id"] != t["id"]
        ca.close()
        other.close()
    finally:
        s.close()


def test_heartbeat_comments(two, make_token, user_id):
    _, b = two
    s = stream(b, make_token(user_id))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            blk = s.next_block()
            if blk and "heartbeat" in blk["comments"]:
                return
        raise AssertionError("no heartbeat within 5 s at --changes-heartbeat 1")
    finally:
        s.close()


def test_exactly_once_in_order_under_16_writers(two, make_token, user_id):
    """16 writers for one user on A; subscribers on B that drop and resume
    (from their last id) at random points must see 1..N, each once, in order."""
    a, b = two
    tok = make_token(user_id)
    ca = a.client(tok)
    t = th.thread_doc()
    ca.save_thread(t)
    base = changes(ca)["after"]
    writers, per = 16, 25
    total = writers * per

    def write(w):
        c = a.client(tok)
        for i in range(per):
            c.add_item(th.user_message(t["id"], iid="w%d-%d" % (w, i)))
        c.close()

    results, errors = [], []

    def subscribe(seed):
        try:
            results.append(sh.read_resuming(lambda last: stream(b, tok, last_event_id=last),
                                            base, total, seed))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    subs = [threading.Thread(target=subscribe, args=(k,)) for k in range(4)]
    for th_ in subs:
        th_.start()
    ws = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    for th_ in subs:
        th_.join(60)
    assert not errors, errors
    assert len(results) == 4
    page_all, after = [], base
    while True:
        p = changes(ca, after=after, limit=1000)
        page_all += p["data"]
        after = p["after"]
        if not p["has_more"]:
            break
    assert len(page_all) == total
    ids = [c["item_id"] for c in page_all]
    assert len(set(ids)) == total
    for got in results:
        assert [g["cursor"] for g in got] == [c["cursor"] for c in page_all]
    ca.close()


def test_listen_connection_killed_loses_nothing(jwt_secret, log_dir, make_token, user_id):
    """B listens through its own role (--listen-database-url). Its LISTEN
    session is killed and the role may not log in for a while: writes on A
    meanwhile reach nobody (there is no polling), and all of them arrive, in
    order, once the LISTEN is back (the catch-up); none twice."""
    url = th.database_url()
    th.psql(url, "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
            " 'ts_it_listen') THEN CREATE ROLE ts_it_listen LOGIN; END IF; END$$")
    th.psql(url, "ALTER ROLE ts_it_listen LOGIN")
    listen_url = url.replace("postgresql://postgres@", "postgresql://ts_it_listen@")
    assert listen_url != url, "this test wants a postgresql://postgres@ DATABASE_URL"
    a = th.ServerProcess(th.binary_path(), url, jwt_secret, extra_args=["--pool-size", "2"],
                         log_dir=log_dir, name="kill-a").start()
    b = th.ServerProcess(th.binary_path(), url, jwt_secret,
                         extra_args=["--pool-size", "2", "--listen-database-url", listen_url],
                         log_dir=log_dir, name="kill-b").start()
    tok = make_token(user_id)
    s = ca = None
    try:
        th.wait_for(lambda: "change feed listening" in b.log_text(), what="B's LISTEN")
        s = stream(b, tok)
        ca = a.client(tok)
        t = th.thread_doc()
        ca.save_thread(t)
        assert s.next_event()["event"] == "thread.saved"
        th.psql(url, "ALTER ROLE ts_it_listen NOLOGIN")
        th.psql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE usename = 'ts_it_listen'")
        th.wait_for(lambda: "change feed LISTEN connection lost" in b.log_text(),
                    what="B to see its LISTEN lost")
        for i in range(20):
            ca.add_item(th.user_message(t["id"], iid="k%d" % i))
        e = s.next_event(timeout=1.0)  # nothing while B does not listen
        assert e is None, "an event arrived without the LISTEN: %r" % (e,)
        th.psql(url, "ALTER ROLE ts_it_listen LOGIN")
        evs = s.events(20, timeout=15)
        assert [e["json"]["item_id"] for e in evs] == ["k%d" % i for i in range(20)]
        ca.save_thread(t)  # and the next one, once
        e = s.next_event(timeout=10)
        assert e["event"] == "thread.saved"
        m = b.client().get("/metrics").raw.decode()
        assert "threadstore_change_listen_losses_total 1" in m
        assert "threadstore_change_listen_up 1" in m
    finally:
        th.psql(url, "ALTER ROLE ts_it_listen LOGIN")
        if s:
            s.close()
        if ca:
            ca.close()
        a.stop_and_check()
        b.stop_and_check()


def test_gone_past_retention(jwt_secret, log_dir, make_token, user_id):
    srv = th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                           extra_args=["--pool-size", "2", "--changes-retention", "2s"],
                           log_dir=log_dir, name="retention").start()
    try:
        c = srv.client(make_token(user_id))
        t = th.thread_doc()
        for _ in range(3):
            c.save_thread(t)
        p = changes(c)
        first, last = p["data"][0]["cursor"], p["after"]
        th.wait_for(lambda: changes(c)["data"] == [], timeout=15, what="the sweep")
        r = c.get("/v1/changes?after=" + first)
        th.check_error(r, 410, "gone")
        s = sh.SSEStream(srv.host, srv.port, make_token(user_id), last_event_id=first)
        assert s.read_head() == 410
        s.close()
        # the last cursor lost nothing: still good
        assert changes(c, after=last) == {"data": [], "has_more": False, "after": last}
        c.save_thread(t)
        assert len(changes(c, after=last)["data"]) == 1
        m = c.get("/metrics").raw.decode()
        assert "threadstore_change_swept_total" in m
        assert "change retention sweep" in srv.log_text()
        c.close()
    finally:
        srv.stop_and_check()


@pytest.mark.parametrize("how", ["absent", "file"])
def test_admin_credential(jwt_secret, log_dir, make_token, user_id, tmp_path, how):
    token = "adm-" + uuid.uuid4().hex
    args = ["--pool-size", "2"]
    if how == "file":
        f = tmp_path / "admin-tokens"
        f.write_text("\n  other-token-%s\r\n%s\n\n" % (uuid.uuid4().hex, token))
        args += ["--admin-token-file", str(f)]
    srv = th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret, extra_args=args,
                           log_dir=log_dir, name="admin-" + how).start()
    try:
        c = srv.client()
        user = srv.client(make_token(user_id))
        a = th.file_attachment()
        assert user.put("/v1/attachments/" + a["id"], a).status == 204
        assert user.delete("/v1/attachments/" + a["id"]).status == 204
        if how == "absent":
            for hdr in (None, "Bearer " + token):
                r = c.get("/admin/v1/changes", headers={"Authorization": hdr})
                th.check_error(r, 404)
            th.check_error(c.get("/admin"), 404)
            return
        th.check_error(c.get("/admin/v1/changes", token=None), 401)
        th.check_error(c.get("/admin/v1/changes", token="wrong"), 403)
        th.check_error(c.get("/admin/v1/changes", token=token + "x"), 403)
        th.check_error(c.get("/admin/v1/nothing", token=token), 404)
        # a user's JWT is not an admin token
        th.check_error(c.get("/admin/v1/changes", token=make_token(user_id)), 403)
        mine, after = [], None
        for _ in range(10000):
            r = c.get("/admin/v1/changes" + th.qs(dict(limit=500, **({"after": after} if after else {}))),
                      token=token)
            assert r.status == 200, r
            mine += [x for x in r.json["data"] if x["user_id"] == user_id]
            after = r.json["after"]
            if not r.json["has_more"]:
                break
        assert [x["kind"] for x in mine] == ["attachment.saved", "attachment.deleted"]
        assert mine[1]["attachment"]["id"] == a["id"]
        th.check_error(c.get("/admin/v1/changes?after=garbage", token=token), 400)
        assert token not in srv.log_text()
    finally:
        srv.stop_and_check()
