"""The history API (issue 11): order_by=updated_at (activity), metadata and
status filters, counts, and before= paging on threads and items."""

import datetime

import json

import pytest

import tshelpers as th
from tshelpers import assistant_message, ids, q, thread_doc, user_message

ACT = "threadstore_updated_at"


def page(api, path, expect=200, **params):
    r = api.get(path + th.qs(params))
    assert r.status == expect, r
    return r.json


def threads(api, **params):
    return page(api, "/v1/threads", **params)


def act_of(doc):
    s = doc[ACT]
    assert s.endswith("Z") and len(s) == len("2025-01-01T00:00:00.000000Z"), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def strip(doc):
    return {k: v for k, v in doc.items() if k != ACT}


def make_threads(api, n, **extra):
    docs = [thread_doc(created_at="2025-01-01T00:00:%02dZ" % i, title="t%d" % i, **extra)
            for i in range(n)]
    for d in docs:
        api.save_thread(d)
    return docs


def by_activity(api, **params):
    return ids(threads(api, order_by="updated_at", limit=1000, **params)["data"])


# ---------------------------------------------------------------- activity


def test_every_write_in_a_thread_moves_it_to_the_front(api):
    a, b, c, d = make_threads(api, 4)
    # Saved in order: activity equals creation order so far.
    assert by_activity(api) == ids([d, c, b, a])
    item = user_message(a["id"])
    api.add_item(item)
    assert by_activity(api)[0] == a["id"]
    api.save_item(assistant_message(b["id"]))
    assert by_activity(api)[0] == b["id"]
    r = api.delete("/v1/threads/%s/items/%s" % (q(a["id"]), q(item["id"])))
    assert r.status == 204
    assert by_activity(api)[0] == a["id"]
    # An attachment names its thread by thread_id: saving and deleting it count.
    att = dict(th.file_attachment(), thread_id=c["id"])
    assert api.put("/v1/attachments/" + q(att["id"]), att).status == 204
    assert by_activity(api)[0] == c["id"]
    api.save_thread(dict(d, title="renamed"))
    assert by_activity(api)[0] == d["id"]
    assert api.delete("/v1/attachments/" + q(att["id"])).status == 204
    assert by_activity(api) == ids([c, d, a, b])
    # Creation order is untouched by all of it.
    assert ids(threads(api, order_by="created_at", limit=100)["data"]) == ids([d, c, b, a])
    assert ids(api.list_threads(limit=100)["data"]) == ids([d, c, b, a])


def test_writes_that_change_nothing_do_not_touch(api):
    a, b = make_threads(api, 2)
    item = user_message(a["id"])
    api.add_item(item)
    assert by_activity(api) == ids([a, b])
    # A 409 (different document under an existing id) changes nothing.
    other = dict(item, content=[{"type": "input_text", "text": "other"}])
    assert api.post("/v1/threads/%s/items" % q(a["id"]), other).status == 409
    api.save_thread(dict(b, title="b2"))
    assert by_activity(api) == ids([b, a])
    assert api.post("/v1/threads/%s/items" % q(a["id"]), other).status == 409
    # Deleting an item that does not exist is a 204 and no activity.
    assert api.delete("/v1/threads/%s/items/nope" % q(a["id"])).status == 204
    assert by_activity(api) == ids([b, a])
    # An attachment without thread_id (or naming another user's thread) touches nothing.
    att = th.file_attachment()
    assert api.put("/v1/attachments/" + q(att["id"]), att).status == 204
    assert by_activity(api) == ids([b, a])


def test_listed_threads_carry_their_activity_time(api):
    before = datetime.datetime.utcnow() - datetime.timedelta(seconds=5)
    docs = make_threads(api, 3)
    got = threads(api, order_by="updated_at")
    th.check_page_shape(got)
    times = [act_of(d) for d in got["data"]]
    assert times == sorted(times, reverse=True)
    assert all(t >= before for t in times)
    # The stored document is unchanged apart from the one extra member, which
    # ChatKit's ThreadMetadata (a pydantic model without extra="forbid") ignores.
    assert [strip(d) for d in got["data"]] == docs[::-1]
    assert set(got["data"][0]) == set(docs[0]) | {ACT}
    # Plain v1 lists are the stored documents, byte for byte.
    assert api.list_threads()["data"] == docs[::-1]


def test_activity_paging_never_skips_or_repeats(api):
    docs = make_threads(api, 25)
    # Touch them in a shuffled order, some twice.
    order = [7, 3, 19, 0, 24, 3, 11, 7, 15]
    for i in order:
        api.save_thread(dict(docs[i], title="touched"))
    want = by_activity(api)
    assert len(want) == 25 and len(set(want)) == 25
    assert want[:6] == [docs[i]["id"] for i in (15, 7, 11, 3, 24, 0)]
    for order_ in ("desc", "asc"):
        seen, after = [], None
        while True:
            params = dict(order_by="updated_at", order=order_, limit=4)
            if after:
                params["after"] = after
            p = threads(api, **params)
            th.check_page_shape(p)
            seen += ids(p["data"])
            if not p["has_more"]:
                break
            after = p["after"]
        assert seen == (want if order_ == "desc" else want[::-1])


# ---------------------------------------------------------------- before=


def walk_before(api, path, order, limit, start, **params):
    """Pages backwards from cursor `start`; returns ids in list order."""
    got, cursor = [], start
    for _ in range(100):
        p = page(api, path, limit=limit, order=order, before=cursor, **params)
        assert set(p) == {"data", "has_more", "after", "before"}, p
        assert len(p["data"]) <= limit
        got = ids(p["data"]) + got
        if p["data"]:
            assert p["after"] == p["data"][-1]["id"]
        if not p["has_more"]:
            assert p["before"] is None
            return got
        assert p["before"] == p["data"][0]["id"]
        cursor = p["before"]
    raise AssertionError("before paging did not end")


@pytest.mark.parametrize("order_by", [None, "created_at", "updated_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_threads_before_is_the_mirror_of_after(api, order, order_by):
    docs = make_threads(api, 11)
    extra = {"order_by": order_by} if order_by else {}
    full = ids(threads(api, order=order, limit=1000, **extra)["data"])
    for k in (0, 1, 5, 10):
        cursor = full[k]
        assert walk_before(api, "/v1/threads", order, 3, cursor, **extra) == full[:k]
    p = threads(api, order=order, limit=2, before=full[6], **extra)
    assert ids(p["data"]) == full[4:6] and p["has_more"] and p["before"] == full[4]
    p = threads(api, order=order, limit=20, before=full[6], **extra)
    assert ids(p["data"]) == full[:6] and not p["has_more"] and p["before"] is None
    assert len(docs) == 11


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_before(api, order):
    t = thread_doc()
    api.save_thread(t)
    items = [user_message(t["id"], created_at="2025-06-01T12:00:00Z", text=str(i))
             for i in range(9)]  # one instant: insertion order decides
    for it in items:
        api.add_item(it)
    path = "/v1/threads/%s/items" % q(t["id"])
    full = ids(page(api, path, order=order, limit=100)["data"])
    assert full == (ids(items) if order == "asc" else ids(items)[::-1])
    for k in (0, 4, 8):
        assert walk_before(api, path, order, 2, full[k]) == full[:k]
    p = page(api, path, order=order, limit=3, before=full[5])
    assert p["data"] == [x for x in items if x["id"] in full[2:5]][:: 1 if order == "asc" else -1]


def test_before_errors(api, other_api):
    a, b = make_threads(api, 2)
    mine = other_api
    mine.save_thread(thread_doc())
    t = "/v1/threads/%s/items" % q(a["id"])
    api.add_item(user_message(a["id"], iid="msg_x"))
    th.check_error(api.get("/v1/threads?after=%s&before=%s" % (q(a["id"]), q(b["id"]))), 400)
    th.check_error(api.get(t + "?after=msg_x&before=msg_x"), 400)
    th.check_error(api.get("/v1/threads?before=nope"), 404)
    th.check_error(api.get("/v1/threads?order_by=updated_at&before=nope"), 404)
    th.check_error(api.get(t + "?before=nope"), 404)
    # Another user's rows are not cursors.
    th.check_error(other_api.get("/v1/threads?before=" + q(a["id"])), 404)
    th.check_error(other_api.get(t + "?before=msg_x"), 404)
    th.check_error(api.get("/v1/threads?before=" + "x" * 256), 400)
    # An empty before= is no cursor (as after=).
    p = threads(api, before="")
    assert set(p) == {"data", "has_more", "after"}


# ---------------------------------------------------------------- filters


def filtered(api, **params):
    """The threads a filter lists, the same in both orders (the activity order
    tests a signature first, sql/016; the creation order the facets only)."""
    got = set(ids(threads(api, limit=1000, **params)["data"]))
    assert set(ids(threads(api, limit=1000, order_by="updated_at", **params)["data"])) == got
    return got


def test_metadata_filters_exact_match(api):
    docs = {
        "s7": thread_doc(metadata={"agent": "7"}),
        "n7": thread_doc(metadata={"agent": 7}),
        "f7": thread_doc(metadata={"agent": 7.0}),
        "t": thread_doc(metadata={"agent": True}),
        "null": thread_doc(metadata={"agent": None}),
        "absent": thread_doc(metadata={}),
        "nometa": {"id": th.new_id("thr"), "created_at": "2025-01-01T00:00:00Z"},
        "obj": thread_doc(metadata={"agent": {"x": 1}, "wf": "a b"}),
        "both": thread_doc(metadata={"agent": "support", "wf": "refund"}),
        "nested": thread_doc(metadata={"inner": {"agent": "support"}}),
    }
    for d in docs.values():
        api.save_thread(d)
    name = {d["id"]: k for k, d in docs.items()}

    def match(**params):
        return {name[i] for i in filtered(api, **params)}

    assert match(**{"metadata.agent": "7"}) == {"n7", "f7"}
    assert match(**{"metadata.agent": '"7"'}) == {"s7"}
    assert match(**{"metadata.agent": "true"}) == {"t"}
    assert match(**{"metadata.agent": '"true"'}) == set()
    assert match(**{"metadata.agent": "null"}) == {"null"}
    assert match(**{"metadata.agent": "support"}) == {"both"}
    assert match(**{"metadata.wf": "a b"}) == {"obj"}
    assert match(**{"metadata.agent": "support", "metadata.wf": "refund"}) == {"both"}
    assert match(**{"metadata.agent": "support", "metadata.wf": "a b"}) == set()
    assert match(**{"metadata.nope": "x"}) == set()
    # A value that is not JSON is the string itself.
    assert match(**{"metadata.agent": "{\"x\": 1}"}) == set()
    r = api.get("/v1/threads/count?metadata.agent=7")
    assert r.status == 200 and r.json == {"count": 2}, r
    assert api.get("/v1/threads/count").json == {"count": len(docs)}


def test_status_filter(api):
    act = thread_doc(status={"type": "active"})
    none = {"id": th.new_id("thr"), "created_at": "2025-01-01T00:00:00Z", "title": "x"}
    locked = thread_doc(status={"type": "locked", "reason": "r"}, metadata={"k": "v"})
    closed = thread_doc(status={"type": "closed", "reason": None}, metadata={"k": "v"})
    for d in (act, none, locked, closed):
        api.save_thread(d)
    assert filtered(api, status="active") == {act["id"], none["id"]}
    assert filtered(api, status="locked") == {locked["id"]}
    assert filtered(api, status="closed", **{"metadata.k": "v"}) == {closed["id"]}
    assert api.get("/v1/threads/count?status=active").json == {"count": 2}
    assert api.get("/v1/threads/count?status=closed&metadata.k=v").json == {"count": 1}
    # Saving changes the facets with the document.
    api.save_thread(dict(locked, status={"type": "closed"}))
    assert filtered(api, status="closed") == {locked["id"], closed["id"]}


def test_filter_keeps_order_and_cursors(api):
    docs = make_threads(api, 12)
    for i, d in enumerate(docs):
        if i % 3 == 0:
            api.save_thread(dict(d, metadata={"team": "x"}))
    want = [d["id"] for i, d in enumerate(docs) if i % 3 == 0]  # touched in creation order
    for order_by in ("created_at", "updated_at"):
        got, after = [], None
        while True:
            params = {"metadata.team": "x", "limit": 1, "order": "asc", "order_by": order_by}
            if after:
                params["after"] = after
            p = threads(api, **params)
            got += ids(p["data"])
            if not p["has_more"]:
                break
            after = p["after"]
        assert got == want
    # A cursor may be any thread of the caller's, matching or not.
    p = threads(api, order="asc", after=docs[1]["id"], **{"metadata.team": "x"})
    assert ids(p["data"]) == want[1:]
    p = threads(api, order="asc", before=docs[7]["id"], **{"metadata.team": "x"})
    assert ids(p["data"]) == want[:3]


def test_filter_mask_spells_conditions_as_postgresql(api):
    """The activity order rejects threads by a mask the service computes (page.c)
    from the texts sql/016's trigger hashes: a single byte spelt otherwise (an
    escape, a number's form) would hide the thread from its own filter there."""
    cases = [  # (metadata, query value, status)
        ({"k\x01\x7f": "x\b\f\"\\\n\t\r\x1f\x7f"}, None, None),
        ({"\u00e9": "\u2713 \U0001f600"}, None, None),
        ({"n": 1000}, "1E+3", None),
        ({"n": 1000}, "10.00e2", None),
        ({"n": 0.00125}, "1.2500E-3", None),
        ({"n": -0.0}, "0", None),
        ({"n": 12345678901234567890}, "12345678901234567890.000", None),
        ({"b": True, "z": None}, None, "locked"),
        ({"s": "7"}, '"7"', "closed"),
    ]
    made = []
    for meta, _, status in cases:
        d = thread_doc(metadata=meta, status={"type": status or "active"})
        api.save_thread(d)
        made.append(d["id"])
    for tid, (meta, value, status) in zip(made, cases):
        params = {}
        for k, v in meta.items():
            params["metadata." + k] = value if value is not None else (
                v if isinstance(v, str) else json.dumps(v))
        if status:
            params["status"] = status
        got = filtered(api, **params)
        assert tid in got, (meta, params)


@pytest.mark.parametrize("query", [
    "order_by=title", "order_by=UPDATED_AT", "order_by=", "status=open", "status=Active",
    "status=", "metadata.=x", "metadata.k", "metadata.k=a&metadata.k=b", "metadata.k=%ff",
    "metadata.k=a%00b", "metadata.%c3=x",
])
def test_bad_values_are_400(api, query):
    th.check_error(api.get("/v1/threads?" + query), 400, "bad_request")
    if "order_by" not in query:
        th.check_error(api.get("/v1/threads/count?" + query), 400, "bad_request")


def test_too_many_filters_is_400(api):
    query = "&".join("metadata.k%d=v" % i for i in range(33))
    th.check_error(api.get("/v1/threads?" + query), 400, "bad_request")
    query = "&".join("metadata.k%d=v" % i for i in range(32))
    assert api.get("/v1/threads?" + query).json["data"] == []


def test_filter_values_that_jsonb_refuses(api):
    # Documents the service accepts but jsonb refuses ("\u0000") are stored and
    # listed; their metadata is then unknown to filters, never an error.
    d = thread_doc(title="nul \u0000 inside", metadata={"k": "v"})
    api.save_thread(d)
    assert threads(api, status="active")["data"][0]["id"] == d["id"]
    assert threads(api, **{"metadata.k": "v"})["data"] == []
    assert api.get("/v1/threads/count?metadata.k=v").json == {"count": 0}
    big = "9" * 101  # compared as a string: never a numeric overflow
    assert threads(api, **{"metadata.k": big})["data"] == []
    assert threads(api, **{"metadata.k": "1e99999"})["data"] == []


def test_count_is_per_user(api, other_api):
    make_threads(api, 3)
    assert api.get("/v1/threads/count").json == {"count": 3}
    assert other_api.get("/v1/threads/count").json == {"count": 0}


def test_a_thread_named_count(api):
    t = thread_doc("count")
    api.save_thread(t)
    assert api.get("/v1/threads/%63ount").json == t
    assert api.get("/v1/threads/count").json == {"count": 1}
    assert api.delete("/v1/threads/count").status == 204
    assert api.get("/v1/threads/count").json == {"count": 0}


# ---------------------------------------------------------------- migration


def test_migration_from_the_previous_schema(jwt_secret, log_dir, make_token):
    """A database made by schema 001-002, with data, is brought to the new
    schema by the service at start: old rows list by activity (as their
    creation), filter and count without having been rewritten."""
    import os
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    admin = th.database_url()
    name = "ts_mig_" + uuid.uuid4().hex[:8]
    th.psql(admin, "CREATE DATABASE " + name)
    u = urlsplit(admin)
    url = urlunsplit(u._replace(path="/" + name))
    try:
        sql_dir = os.path.join(th.REPO, "sql")
        for v, f in ((1, "001_schema.sql"), (2, "002_statistics.sql")):
            th.psql(url, open(os.path.join(sql_dir, f)).read())
        th.psql(url, "CREATE TABLE threadstore_migrations (version int PRIMARY KEY,"
                     " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
                     " INSERT INTO threadstore_migrations (version, name)"
                     " VALUES (1, '001_schema.sql'), (2, '002_statistics.sql')")
        th.psql(url, "INSERT INTO threads (user_id, id, created_us, seq, doc) VALUES"
                     " ('old', 'thr_a', 1000000, nextval('threadstore_seq'),"
                     "  '{\"id\":\"thr_a\",\"created_at\":\"1970-01-01T00:00:01Z\","
                     "\"metadata\":{\"k\":1},\"status\":{\"type\":\"locked\"}}'),"
                     " ('old', 'thr_b', 2000000, nextval('threadstore_seq'),"
                     "  '{\"id\":\"thr_b\",\"created_at\":\"1970-01-01T00:00:02Z\"}')")
        srv = th.ServerProcess(th.binary_path(), url, jwt_secret, log_dir=log_dir,
                               name="migrated")
        srv.start()
        api = srv.client(make_token("old"))
        try:
            p = threads(api, order_by="updated_at")
            assert ids(p["data"]) == ["thr_b", "thr_a"]
            assert p["data"][0][ACT] == "1970-01-01T00:00:02.000000Z"
            assert ids(threads(api, **{"metadata.k": "1"})["data"]) == ["thr_a"]
            assert ids(threads(api, status="active")["data"]) == ["thr_b"]
            assert api.get("/v1/threads/count?status=locked").json == {"count": 1}
            api.add_item(user_message("thr_a"))
            assert ids(threads(api, order_by="updated_at")["data"]) == ["thr_a", "thr_b"]
        finally:
            api.close()
            srv.stop_and_check()
        rows = th.psql(url, "SELECT version FROM threadstore_migrations ORDER BY 1")
        assert [int(r[0]) for r in rows][:4] == [1, 2, 3, 4]
        rows = th.psql(url, "SELECT indisvalid FROM pg_index WHERE indexrelid ="
                            " 'threads_by_activity'::regclass")
        assert rows == [["t"]]
        # Old rows were not rewritten by the migration, nor by the item write
        # (since 008 the activity lives in thread_activity; thr_b is untouched).
        rows = th.psql(url, "SELECT id, updated_us IS NULL, facets IS NULL FROM threads"
                            " ORDER BY id")
        assert rows == [["thr_a", "t", "t"], ["thr_b", "t", "t"]]
        rows = th.psql(url, "SELECT thread_id, updated_us > 2000000 FROM thread_activity"
                            " ORDER BY thread_id")
        assert rows == [["thr_a", "t"], ["thr_b", "f"]]
    finally:
        th.wait_for(lambda: not th.psql(admin, "SELECT 1 FROM pg_stat_activity"
                                               " WHERE datname = '%s'" % name),
                    what="connections to the migrated database to end")
        th.psql(admin, "DROP DATABASE " + name)
