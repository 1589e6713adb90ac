"""Retention (issue 13): per-thread expiry ("threadstore:expires_at" in a
thread's metadata: unreadable from that moment, deleted by the sweep) and
--retention-days (threads whose last activity is older are deleted with
their items and attachments), by a sweep that runs in one instance at a time.

The sweep's tests run against a database of their own (created here and
dropped after), so that no other instance's sweep holds the lease; the
clock is moved by writing rows' activity times straight into the database."""

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import tshelpers as th
from tshelpers import database_url, file_attachment, psql, q, thread_doc, user_message

needs_psql = pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")
DAY_US = 86400 * 1000000


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expiring(seconds, **kw):
    t = thread_doc(th.new_id("thr"), **kw)
    t["metadata"] = {"topic": "temporary", "threadstore:expires_at":
                     iso(datetime.now(timezone.utc) + timedelta(seconds=seconds))}
    return t


def with_contents(api, t, word):
    api.save_thread(t)
    it = user_message(t["id"], text=word)
    api.add_item(it)
    att = dict(file_attachment(), thread_id=t["id"])
    assert api.put("/v1/attachments/" + q(att["id"]), att).status == 204
    return it, att


def gone_for_reads(api, t, it, att, word):
    tp = "/v1/threads/" + q(t["id"])
    th.check_error(api.get(tp), 404, "not_found")
    th.check_error(api.get(tp + "?items=10"), 404, "not_found")
    th.check_error(api.get(tp + "/export"), 404, "not_found")
    th.check_error(api.get(tp + "/items/" + q(it["id"])), 404, "not_found")
    th.check_error(api.get("/v1/attachments/" + q(att["id"])), 404, "not_found")
    assert api.list_items(t["id"])["data"] == []
    assert t["id"] not in [d["id"] for d in api.list_threads(limit=1000)["data"]]
    for path in ("/v1/threads?order_by=updated_at&limit=1000",
                 "/v1/threads?metadata.topic=temporary", "/v1/threads?status=active"):
        assert t["id"] not in [d["id"] for d in api.get(path).json["data"]], path
    assert api.get("/v1/search?q=" + word).json["data"] == []
    me = json.loads(api.get("/v1/me/export").raw)
    assert t["id"] not in [d["id"] for d in me["threads"]]
    assert att["id"] not in [a["id"] for a in me["attachments"]]


def test_saving_an_expired_thread_is_accepted_and_unreadable_at_once(api):
    keep = thread_doc(th.new_id("thr"), metadata={"topic": "temporary"})
    api.save_thread(keep)
    t = expiring(-1)
    it, att = with_contents(api, t, "ephemeralword")
    gone_for_reads(api, t, it, att, "ephemeralword")
    assert api.get("/v1/threads/count").json == {"count": 1}
    assert api.get("/v1/threads/count?metadata.topic=temporary").json == {"count": 1}
    assert [d["id"] for d in api.list_threads()["data"]] == [keep["id"]]
    # saved again with a later expiry, it stays gone: the sweep deletes it
    t["metadata"]["threadstore:expires_at"] = iso(datetime.now(timezone.utc) + timedelta(days=1))
    api.save_thread(t)
    th.check_error(api.get("/v1/threads/" + q(t["id"])), 404, "not_found")


def test_a_thread_is_unreadable_from_its_expiry_on(api):
    t = expiring(2.0)
    it, att = with_contents(api, t, "soonword")
    assert api.get("/v1/threads/" + q(t["id"])).json == t
    assert api.get("/v1/attachments/" + q(att["id"])).json == att
    assert api.get("/v1/threads/count").json == {"count": 1}
    assert len(api.get("/v1/search?q=soonword").json["data"]) == 1
    time.sleep(2.2)
    gone_for_reads(api, t, it, att, "soonword")
    assert api.get("/v1/threads/count").json == {"count": 0}


def test_expiry_must_be_a_date_time(api):
    for bad in ("tomorrow", 42, {"at": 1}, "2025-13-01T00:00:00Z"):
        t = thread_doc(metadata={"threadstore:expires_at": bad})
        th.check_error(api.put("/v1/threads/" + q(t["id"]), t), 400, "bad_request")
    t = thread_doc(metadata={"threadstore:expires_at": None})  # null: no expiry
    api.save_thread(t)
    assert api.get("/v1/threads/" + q(t["id"])).json == t
    t = thread_doc(metadata={"threadstore:expires_at": "2999-01-01T00:00:00+02:00"})
    api.save_thread(t)
    assert api.get("/v1/threads/" + q(t["id"])).json == t


# ---- the sweep ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sweep_db():
    if th.psql_path() is None:
        pytest.skip("psql not installed")
    base = database_url()
    name = "threadstore_sweep_" + uuid.uuid4().hex[:8]
    admin = base.rsplit("/", 1)[0] + "/postgres"
    psql(admin, "CREATE DATABASE " + name)
    yield base.rsplit("/", 1)[0] + "/" + name
    psql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def metric(srv, name):
    text = srv.client().get("/metrics").raw.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def removed(srv, table):
    return metric(srv, 'threadstore_sweep_removed_total{table="%s"}' % table)


def passes(srv):
    return metric(srv, "threadstore_sweep_passes_total")


def rows(url, sql):
    return int(psql(url, sql)[0][0])


def test_retention_either_side_of_the_limit(sweep_db, start_server, make_token):
    srv = start_server(["--retention-days", "1", "--sweep-interval", "1"],
                       database_url=sweep_db)
    user = "ret-" + uuid.uuid4().hex
    api = srv.client(make_token(user))
    made = {}
    for name in ("old", "young", "legacy_old", "fresh"):
        t = thread_doc(th.new_id("thr_" + name))
        made[name] = (t,) + with_contents(api, t, name + "word")
    now_us = int(psql(sweep_db, "SELECT (extract(epoch FROM now()) * 1000000)::bigint")[0][0])
    limit = now_us - DAY_US
    margin = 30 * 1000000  # the sweep runs within seconds: 30 s either side is unambiguous
    u = "'%s'" % user
    psql(sweep_db, "UPDATE thread_activity SET updated_us = %d WHERE user_id = %s AND thread_id = '%s'"
         % (limit - margin, u, made["old"][0]["id"]))
    psql(sweep_db, "UPDATE thread_activity SET updated_us = %d WHERE user_id = %s AND thread_id = '%s'"
         % (limit + margin, u, made["young"][0]["id"]))
    # a row never touched since 003 and without an activity row (sql/008's backfill not
    # there yet): its creation is its activity
    psql(sweep_db, "UPDATE threads SET updated_us = NULL, created_us = %d WHERE user_id = %s"
         " AND id = '%s'" % (limit - margin, u, made["legacy_old"][0]["id"]))
    psql(sweep_db, "DELETE FROM thread_activity WHERE user_id = %s AND thread_id = '%s'"
         % (u, made["legacy_old"][0]["id"]))
    th.wait_for(lambda: rows(sweep_db, "SELECT count(*) FROM threads WHERE user_id = %s" % u)
                == 2, timeout=30, what="the old threads swept")
    p = passes(srv)
    th.wait_for(lambda: passes(srv) >= p + 2, timeout=30, what="two more passes")
    left = {r[0] for r in psql(sweep_db, "SELECT id FROM threads WHERE user_id = %s" % u)}
    assert left == {made["young"][0]["id"], made["fresh"][0]["id"]}
    for name in ("young", "fresh"):
        t, it, att = made[name]
        assert api.get("/v1/threads/" + q(t["id"])).json["id"] == t["id"]
        assert api.list_items(t["id"])["data"] == [it]
        assert api.get("/v1/attachments/" + q(att["id"])).json == att
    for name in ("old", "legacy_old"):
        t, it, att = made[name]
        assert rows(sweep_db, "SELECT count(*) FROM items WHERE user_id = %s AND thread_id = '%s'"
                    % (u, t["id"])) == 0
        th.check_error(api.get("/v1/attachments/" + q(att["id"])), 404, "not_found")
    assert removed(srv, "threads") == 2 and removed(srv, "items") == 2
    assert removed(srv, "attachments") == 2
    kinds = psql(sweep_db, "SELECT kind, thread_id FROM changes WHERE user_id = %s AND kind LIKE"
                 " '%%.deleted' ORDER BY n" % u)
    assert sorted(map(tuple, kinds)) == sorted(
        [("attachment.deleted", made[n][0]["id"]) for n in ("old", "legacy_old")]
        + [("thread.deleted", made[n][0]["id"]) for n in ("old", "legacy_old")])
    assert re.search(r"msg=\"?sweep removed\"? threads=\d+ items=\d+ attachments=\d+",
                     srv.log_text())


def test_sweep_deletes_expired_threads_in_batches(sweep_db, start_server, make_token):
    srv = start_server(["--sweep-interval", "1"], database_url=sweep_db)
    user = "exp-" + uuid.uuid4().hex
    api = srv.client(make_token(user))
    t = expiring(-1)
    api.save_thread(t)
    keep = expiring(3600)
    api.save_thread(keep)
    # a big expired thread: its items go in several batches
    psql(sweep_db, "INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)"
         " SELECT '%s', '%s', 'msg_' || g, g, nextval('threadstore_seq'), '{}'"
         " FROM generate_series(1, 1600) g" % (user, t["id"]))
    u = "'%s'" % user
    th.wait_for(lambda: rows(sweep_db, "SELECT count(*) FROM threads WHERE user_id = %s" % u)
                == 1, timeout=60, what="the expired thread swept")
    assert rows(sweep_db, "SELECT count(*) FROM items WHERE user_id = %s" % u) == 0
    assert removed(srv, "items") >= 1600
    assert api.get("/v1/threads/" + q(keep["id"])).json == keep


def test_one_instance_sweeps_at_a_time(sweep_db, start_server, make_token):
    a = start_server(["--sweep-interval", "1"], database_url=sweep_db)
    b = start_server(["--sweep-interval", "1"], database_url=sweep_db)
    th.wait_for(lambda: (passes(a) or 0) + (passes(b) or 0) >= 3, timeout=30,
                what="passes")
    # one leader, whichever started first or took a lapsed lease
    th.wait_for(lambda: sorted([metric(a, "threadstore_sweep_leader"),
                                metric(b, "threadstore_sweep_leader")]) == [0, 1],
                timeout=30, what="exactly one leader")
    leader, other = (a, b) if metric(a, "threadstore_sweep_leader") == 1 else (b, a)
    user = "one-" + uuid.uuid4().hex
    api = leader.client(make_token(user))
    base_l, base_o = removed(leader, "threads"), removed(other, "threads")
    for _ in range(5):
        api.save_thread(expiring(-1))
    u = "'%s'" % user
    th.wait_for(lambda: rows(sweep_db, "SELECT count(*) FROM threads WHERE user_id = %s" % u)
                == 0, timeout=30, what="expired threads swept")
    assert removed(leader, "threads") - base_l == 5
    assert removed(other, "threads") == base_o
    assert metric(other, "threadstore_sweep_leader") == 0
    # the leader stops: its lease lapses (10 s) and the other takes over
    rc, _ = leader.stop()
    assert rc == 0
    th.wait_for(lambda: metric(other, "threadstore_sweep_leader") == 1, timeout=30,
                what="the other instance taking over")
    api2 = other.client(make_token(user))
    api2.save_thread(expiring(-1))
    th.wait_for(lambda: rows(sweep_db, "SELECT count(*) FROM threads WHERE user_id = %s" % u)
                == 0, timeout=30, what="swept by the new leader")
