"""How the history API stores what it serves (sql/008, sql/009): the activity
side table, kept also for an older binary's writes during a rolling upgrade,
and the maintained thread counts."""

import json

import tshelpers as th
from tshelpers import ids, thread_doc, user_message


def by_activity(api):
    r = api.get("/v1/threads?order_by=updated_at&limit=100")
    assert r.status == 200, r
    return ids(r.json["data"])


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def test_an_older_binary_writes_reach_the_activity_order(api, user_id):
    """An instance still running the binary before 008 writes the threads'
    own activity columns (its save_thread and its touches); the trigger of
    008 copies them to thread_activity, so the new binary's list sees them."""
    url = th.database_url()
    a, b = thread_doc(), thread_doc()
    api.save_thread(a)
    api.save_thread(b)
    assert by_activity(api) == ids([b, a])
    # The old binary's touch of a (an item written to it).
    th.psql(url, "UPDATE threads SET updated_us = (extract(epoch FROM statement_timestamp())"
                 " * 1000000)::bigint, updated_seq = nextval('threadstore_seq')"
                 " WHERE user_id = %s AND id = %s" % (sql_str(user_id), sql_str(a["id"])))
    assert by_activity(api) == ids([a, b])
    # The old binary's save_thread of a new thread c.
    c = thread_doc()
    th.psql(url, "INSERT INTO threads (user_id, id, created_us, seq, doc, updated_us,"
                 " updated_seq) VALUES (%s, %s, 0, nextval('threadstore_seq'), %s,"
                 " (extract(epoch FROM statement_timestamp()) * 1000000)::bigint,"
                 " nextval('threadstore_seq'))"
                 % (sql_str(user_id), sql_str(c["id"]), sql_str(json.dumps(c))))
    assert by_activity(api) == ids([c, a, b])
    # The new binary's writes go on from there.
    api.add_item(user_message(b["id"]))
    assert by_activity(api) == ids([b, c, a])


def test_a_deleted_thread_leaves_no_activity_row(api, user_id):
    a = thread_doc()
    api.save_thread(a)
    api.add_item(user_message(a["id"]))
    assert api.delete("/v1/threads/" + a["id"]).status == 204
    rows = th.psql(th.database_url(), "SELECT count(*) FROM thread_activity"
                                      " WHERE user_id = %s" % sql_str(user_id))
    assert rows == [["0"]]


# ---------------------------------------------------------------- counts (sql/009)

FILTERS = [{}, {"status": "active"}, {"status": "locked"}, {"metadata.project": "p1"},
           {"metadata.project": "p2"}, {"metadata.n": "7"}, {"metadata.n": "7.0"},
           {"metadata.flag": "true"}, {"metadata.x": "null"}, {"metadata.tags": "a"},
           {"metadata.project": "p1", "status": "active"},
           {"metadata.project": "p1", "metadata.n": "7"}]


def count(api, **params):
    r = api.get("/v1/threads/count" + th.qs(params))
    assert r.status == 200, r
    return r.json["count"]


def listed(api, **params):
    r = api.get("/v1/threads" + th.qs(dict(params, limit=100)))
    assert r.status == 200, r
    return len(r.json["data"])


def check_counts(api):
    for f in FILTERS:
        assert count(api, **f) == listed(api, **f), f


def counter_rows(user_id):
    return th.psql(th.database_url(), "SELECT facet::text, n FROM thread_counts"
                                      " WHERE user_id = %s ORDER BY 1" % sql_str(user_id))


def test_counts_follow_every_thread_write(api, user_id):
    docs = [thread_doc(metadata={"project": "p%d" % (i % 3), "n": 7 if i % 2 else 7.5,
                                 "flag": i % 4 == 0, "x": None, "tags": ["a"]},
                       status={"type": "locked" if i % 5 == 0 else "active"})
            for i in range(12)]
    for d in docs:
        api.save_thread(d)
    check_counts(api)
    assert ["{}", "12"] in counter_rows(user_id)
    # Metadata and status change, a save that changes nothing, a delete.
    api.save_thread(dict(docs[0], metadata={"project": "p2"}, status={"type": "active"}))
    api.save_thread(docs[1])
    api.save_thread(dict(docs[2], metadata={"project": "p9-unique"}))
    api.save_thread(dict(docs[2], metadata={}))
    assert api.delete("/v1/threads/" + docs[3]["id"]).status == 204
    check_counts(api)
    rows = counter_rows(user_id)
    assert ["{}", "11"] in rows
    assert not [r for r in rows if "p9-unique" in r[0]]  # no rows of unused values
    assert not [r for r in rows if r[1] == "0" and r[0] != "{}"]
    for d in docs:
        api.delete("/v1/threads/" + d["id"])
    assert count(api) == 0
    assert counter_rows(user_id) == [["{}", "0"]]


def test_a_user_not_counted_yet_is_counted_through_the_indexes(api, user_id):
    for i in range(3):
        api.save_thread(thread_doc(metadata={"project": "p%d" % (i % 2)}))
    # As right after the upgrade, before the backfill reached this user.
    th.psql(th.database_url(), "DELETE FROM thread_counts WHERE user_id = %s"
                               % sql_str(user_id))
    check_counts(api)
    assert counter_rows(user_id) == []
    # The next write of a thread counts the user, itself included.
    api.save_thread(thread_doc(metadata={"project": "p1"}))
    assert ["{}", "4"] in counter_rows(user_id)
    check_counts(api)
    assert count(api, **{"metadata.project": "p1"}) == 2


def test_writes_racing_the_deletion_of_their_thread(client_for, user_id):
    """An item write touches thread_activity after key-share locking the
    thread, the lock order of delete_thread (the thread, then its activity by
    cascade): the race ends in 201 or 404, never in a deadlock's error."""
    import threading

    writer, deleter = client_for(user_id), client_for(user_id)
    seen = []
    for _ in range(15):
        t = thread_doc()
        writer.save_thread(t)

        def write():
            for _ in range(4):
                item = user_message(t["id"])
                r = writer.post("/v1/threads/%s/items" % t["id"], item)
                seen.append(r.status)

        w = threading.Thread(target=write)
        w.start()
        r = deleter.delete("/v1/threads/" + t["id"])
        w.join()
        assert r.status == 204, r
    assert set(seen) <= {201, 404}, seen


def test_a_statement_of_many_threads_counts_each_once(api, user_id):
    """Counts are kept per statement: a bulk insert (a loader, an admin) that
    brings a user's first threads counts them once, not once per row too."""
    rows = ", ".join(
        "(%s, %s, 0, nextval('threadstore_seq'), %s)"
        % (sql_str(user_id), sql_str(d["id"]), sql_str(json.dumps(d)))
        for d in [thread_doc(metadata={"project": "p%d" % (i % 2)}) for i in range(5)])
    url = th.database_url()
    th.psql(url, "INSERT INTO threads (user_id, id, created_us, seq, doc) VALUES " + rows)
    assert count(api) == 5
    assert count(api, **{"metadata.project": "p0"}) == 3
    th.psql(url, "INSERT INTO threads (user_id, id, created_us, seq, doc) VALUES "
                 + rows.replace("'thr_", "'thr_x"))
    assert count(api) == 10
    th.psql(url, "DELETE FROM threads WHERE user_id = %s AND id LIKE 'thr_x%%'"
                 % sql_str(user_id))
    assert count(api) == 5
    assert count(api, **{"metadata.project": "p1"}) == 2


def by_activity_filtered(api, query):
    r = api.get("/v1/threads?order_by=updated_at&limit=100&" + query)
    assert r.status == 200, r
    return set(ids(r.json["data"]))


def test_the_activity_filter_reads_the_signature(api, user_id):
    """sql/016: the filtered list by activity rejects threads by the signature
    of their facets before it reads them; a NULL signature (a row not filled
    yet) passes to the exact test; whoever writes facets (an older binary
    too), the trigger keeps the signature true."""
    url = th.database_url()
    a = thread_doc(metadata={"project": "p1", "n": 7})
    b = thread_doc(metadata={"project": "p2"}, status={"type": "locked"})
    api.save_thread(a)
    api.save_thread(b)
    u = sql_str(user_id)
    rows = th.psql(url, "SELECT count(*) FROM thread_activity WHERE user_id = %s"
                        " AND sig = threadstore_sig(facets) AND sig <> 0" % u)
    assert rows == [["2"]]
    assert by_activity_filtered(api, "metadata.project=p1") == {a["id"]}
    assert by_activity_filtered(api, "metadata.n=7.00") == {a["id"]}
    assert by_activity_filtered(api, "status=locked") == {b["id"]}
    # A signature without the filter's bits hides the thread from the filter
    # (so the list does consult it), never from the unfiltered list.
    th.psql(url, "UPDATE thread_activity SET sig = 0 WHERE user_id = %s AND thread_id = %s"
                 % (u, sql_str(a["id"])))
    assert by_activity_filtered(api, "metadata.project=p1") == set()
    assert by_activity(api) == ids([b, a])
    # Not filled yet: passes, and the exact test on the thread decides.
    th.psql(url, "UPDATE thread_activity SET sig = NULL WHERE user_id = %s" % u)
    assert by_activity_filtered(api, "metadata.project=p1") == {a["id"]}
    assert by_activity_filtered(api, "metadata.project=p3") == set()
    # An older binary's upsert of the facets (sql/008's ACTIVITY_PUT, without
    # the signature): the trigger computes it.
    th.psql(url, "UPDATE thread_activity SET facets = '{\"m\": {\"project\": \"p3\"},"
                 " \"s\": \"active\"}' WHERE user_id = %s AND thread_id = %s"
                 % (u, sql_str(b["id"])))
    rows = th.psql(url, "SELECT sig = threadstore_sig('{\"m\": {\"project\": \"p3\"},"
                        " \"s\": \"active\"}') FROM thread_activity WHERE user_id = %s"
                        " AND thread_id = %s" % (u, sql_str(b["id"])))
    assert rows == [["t"]]


def test_the_signature_of_equal_conditions_is_equal():
    """@> compares numbers by value: so does the signature; other types and
    other keys differ (two bits of 64 each: these few do not collide)."""
    url = th.database_url()

    def sig(j):
        return th.psql(url, "SELECT threadstore_sig(%s::jsonb)" % sql_str(j))[0][0]

    assert sig('{"m": {"n": 7}}') == sig('{"m": {"n": 7.0}}') == sig('{"m": {"n": 7.000}}')
    assert sig('{"m": {"n": 100}}') == sig('{"m": {"n": 1e2}}')
    assert len({sig('{"m": {"n": 7}}'), sig('{"m": {"n": "7"}}'), sig('{"m": {"k": 7}}'),
                sig('{"m": {"n": true}}'), sig('{"m": {"n": null}}'),
                sig('{"s": "active"}')}) == 6
    assert sig("{}") == "0" and sig('{"m": null, "s": "active"}') == sig('{"s": "active"}')
    both = int(sig('{"m": {"a": 1, "b": 2}}'))
    assert both == int(sig('{"m": {"a": 1}}')) | int(sig('{"m": {"b": 2}}'))
    # Objects and arrays are never a condition (a filter value is a scalar).
    assert sig('{"m": {"o": {"x": 1}, "l": [1]}}') == "0"
