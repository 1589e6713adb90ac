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
