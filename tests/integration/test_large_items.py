"""Documents of the sizes ChatKit produces (generated images as data: URLs) and
item pages bounded by bytes as well as rows: a page never holds more than
--max-page-bytes of documents, except that it always has its first row."""

import base64
import json
import os

from tshelpers import thread_doc, user_message

PAGE_BYTES = 64 * 1024


def image_item(thread_id, iid, nbytes, created_at="2025-06-01T12:00:01Z"):
    """A ChatKit generated-image item carrying a data: URL of about nbytes."""
    data = base64.b64encode(os.urandom(nbytes * 3 // 4)).decode()
    return {
        "id": iid, "thread_id": thread_id, "created_at": created_at,
        "type": "generated_image",
        "image": {"id": "img_" + iid, "url": "data:image/png;base64," + data},
    }


def _server(start_server, *args):
    srv = start_server(["--max-page-bytes", str(PAGE_BYTES), "--max-body", str(32 << 20),
                        *args])
    return srv


def _client(srv, make_token, user):
    return srv.client(make_token(user))


def _fill(api, tid, sizes):
    api.save_thread(thread_doc(tid))
    items = []
    for i, n in enumerate(sizes):
        it = image_item(tid, "msg_%04d" % i, n, "2025-06-01T12:00:%02d.000001Z" % (i % 60))
        assert api.post("/v1/threads/%s/items" % tid, it).status == 201
        items.append(it)
    return items


def test_item_of_20_mb_roundtrips(start_server, make_token, user_id):
    srv = _server(start_server)
    api = _client(srv, make_token, user_id)
    api.save_thread(thread_doc("thr_big00001"))
    it = image_item("thr_big00001", "msg_big00001", 20 << 20)
    body = json.dumps(it)
    r = api.post("/v1/threads/thr_big00001/items", body)
    assert r.status == 201, r
    got = api.get("/v1/threads/thr_big00001/items/msg_big00001")
    assert got.status == 200 and got.raw == body.encode()
    # Alone on its page, over the byte budget: a page always has its first row.
    page = api.list_items("thr_big00001")
    assert page["data"] == [it] and page["has_more"] is False
    api.close()


def test_pages_are_cut_by_bytes_and_cursors_walk_everything(start_server, make_token, user_id):
    srv = _server(start_server)
    api = _client(srv, make_token, user_id)
    # 20 items of ~20 KiB: about 3 fit in 64 KiB.
    items = _fill(api, "thr_bytes001", [20 << 10] * 20)
    r = api.get("/v1/threads/thr_bytes001/items?limit=100")
    page = r.json
    assert r.status == 200
    assert 1 <= len(page["data"]) < 20 and page["has_more"] is True
    assert sum(len(json.dumps(d)) for d in page["data"]) <= PAGE_BYTES
    assert page["after"] == page["data"][-1]["id"]
    for order in ("asc", "desc"):
        docs, sizes = api.page_all("/v1/threads/thr_bytes001/items", 100, order=order)
        want = items if order == "asc" else items[::-1]
        assert [d["id"] for d in docs] == [d["id"] for d in want]
        assert max(sizes) < 20 and len(sizes) > 1
    # Mixed sizes: a large one alone, small ones together, nothing skipped.
    mixed = _fill(api, "thr_bytes002", [100, 200 << 10, 100, 100, 70 << 10, 100])
    docs, sizes = api.page_all("/v1/threads/thr_bytes002/items", 100)
    assert [d["id"] for d in docs] == [d["id"] for d in mixed]
    # The thread with its first items is bounded the same way.
    r = api.get("/v1/threads/thr_bytes001?items=100")
    assert r.status == 200
    got = r.json["items"]
    assert got["has_more"] is True and 1 <= len(got["data"]) < 20
    assert got["after"] == got["data"][-1]["id"]
    api.close()


def test_export_of_large_items_is_complete(start_server, make_token, user_id):
    srv = _server(start_server)
    api = _client(srv, make_token, user_id)
    items = _fill(api, "thr_export01", [400 << 10] * 6 + [10] * 5)
    r = api.get("/v1/threads/thr_export01/export")
    assert r.status == 200, r
    doc = r.json
    assert [d["id"] for d in doc["items"]] == [d["id"] for d in items]
    api.close()
