"""GET /v1/threads/{id}/export: a whole thread, any size, streamed in chunks."""

import json
import socket
import time

import pytest

import tshelpers as th
from tshelpers import database_url, psql, raw_request, thread_doc, user_message

needs_psql = pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")


def bulk_items(user, thread_id, n):
    """Inserts n items straight into the database (as the service would store
    them), several per microsecond so ties are exercised. Returns their ids in order."""
    psql(database_url(),
         "INSERT INTO items (user_id, thread_id, id, created_us, seq, doc) "
         "SELECT '%s', '%s', 'msg_' || lpad(g::text, 7, '0'), "
         "1748779200000000 + g / 3, nextval('threadstore_seq'), "
         "json_build_object('id', 'msg_' || lpad(g::text, 7, '0'), 'thread_id', '%s', "
         "'type', 'user_message', 'created_at', "
         "to_char(to_timestamp((1748779200000000 + g / 3) / 1e6) AT TIME ZONE 'UTC', "
         "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
         "'content', json_build_array(json_build_object('type', 'input_text', "
         "'text', repeat('x', 200))))::text "
         "FROM generate_series(1, %d) g" % (user, thread_id, thread_id, n))
    return ["msg_%07d" % g for g in range(1, n + 1)]


def test_export_small_thread_roundtrip(api, server, make_token, user_id):
    t = thread_doc()
    api.save_thread(t)
    items = [user_message(t["id"], created_at="2025-06-01T12:00:0%d" % i) for i in range(3)]
    for it in items:
        api.add_item(it)
    r = api.get("/v1/threads/%s/export" % t["id"])
    assert r.status == 200
    assert r.headers.get("transfer-encoding") == "chunked"
    body = json.loads(r.raw)
    assert body["thread"] == t
    assert body["items"] == items


def test_export_empty_thread_and_missing_thread(api, other_api):
    t = thread_doc()
    api.save_thread(t)
    r = api.get("/v1/threads/%s/export" % t["id"])
    assert r.status == 200
    assert json.loads(r.raw) == {"thread": t, "items": []}
    assert api.get("/v1/threads/nope/export").status == 404
    # another user's thread is not found, and not exported
    assert other_api.get("/v1/threads/%s/export" % t["id"]).status == 404


@needs_psql
def test_export_large_thread_in_order(server, make_token, user_id):
    tok = make_token(user_id)
    c = server.client(tok)
    t = thread_doc()
    c.save_thread(t)
    ids = bulk_items(user_id, t["id"], 5000)
    conn = server.raw()
    conn.send(raw_request("GET", "/v1/threads/%s/export" % t["id"], token=tok))
    status, _, headers, body = conn.read_response()
    assert status == 200
    doc = json.loads(body)
    assert [it["id"] for it in doc["items"]] == ids
    # the connection is kept alive after the last chunk
    conn.send(raw_request("GET", "/healthz"))
    assert conn.read_response()[0] == 200
    conn.close()
    c.close()


@needs_psql
def test_slow_reader_is_paced_and_others_are_served(server, make_token, user_id, api):
    """A client that reads a large export slowly: the export completes intact,
    and meanwhile other requests are answered (no database connection is held)."""
    tok = make_token(user_id)
    c = server.client(tok)
    t = thread_doc()
    c.save_thread(t)
    ids = bulk_items(user_id, t["id"], 20000)  # ~6 MB of documents
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(raw_request("GET", "/v1/threads/%s/export" % t["id"], token=tok))
    data = b""
    served_meanwhile = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = s.recv(16384)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"\r\n0\r\n\r\n"):
            break
        if served_meanwhile < 20:  # read slowly at first, serving others meanwhile
            assert api.get("/v1/threads").status == 200
            served_meanwhile += 1
            time.sleep(0.02)
    s.close()
    assert served_meanwhile == 20
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    body = b""
    while True:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2:]
    assert [it["id"] for it in json.loads(body)["items"]] == ids
    c.close()


@needs_psql
def test_client_leaving_mid_export(server, make_token, user_id, api):
    tok = make_token(user_id)
    c = server.client(tok)
    t = thread_doc()
    c.save_thread(t)
    bulk_items(user_id, t["id"], 20000)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(raw_request("GET", "/v1/threads/%s/export" % t["id"], token=tok))
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST mid-stream
    # The service is unharmed; the session fixture checks the log and
    # sanitizers at shutdown.
    assert api.get("/v1/threads").status == 200
    r = c.get("/v1/threads/%s/export" % t["id"])
    assert r.status == 200 and len(json.loads(r.raw)["items"]) == 20000
    c.close()


def test_export_over_http10_is_closed_delimited(server, make_token, user_id):
    tok = make_token(user_id)
    c = server.client(tok)
    t = thread_doc()
    c.save_thread(t)
    c.add_item(user_message(t["id"]))
    conn = server.raw()
    conn.send(raw_request("GET", "/v1/threads/%s/export" % t["id"], token=tok,
                          version="HTTP/1.0"))
    status, version, headers, body = conn.read_response()
    assert status == 200 and "transfer-encoding" not in headers
    assert len(json.loads(body)["items"]) == 1
    c.close()
