"""The operator's API over users (issue 13), under --admin-token-file:
GET /admin/v1/users, DELETE /admin/v1/users/{user_id},
GET /admin/v1/users/{user_id}/export. An operator call never needs a user's
token; a user's token never reaches /admin; the admin token is not a user's."""

import json
import uuid

import pytest

import tshelpers as th
from tshelpers import file_attachment, q, thread_doc, user_message

ADMIN_TOKEN = "adm-" + uuid.uuid4().hex


@pytest.fixture
def admin_srv(start_server, tmp_path):
    f = tmp_path / "admin-tokens"
    f.write_text("other-operator-token-0123456789\n" + ADMIN_TOKEN + "\n")
    return start_server(["--admin-token-file", str(f)])


def fill(c, nthreads, nitems, natts):
    threads = []
    for t in range(nthreads):
        doc = thread_doc(th.new_id("thr"), created_at="2025-06-0%dT00:00:00Z" % (t + 1))
        c.save_thread(doc)
        threads.append(doc)
        for i in range(nitems):
            c.add_item(user_message(doc["id"], created_at="2025-06-0%dT00:00:0%dZ" % (t + 1, i)))
    for _ in range(natts):
        a = file_attachment()
        assert c.put("/v1/attachments/" + q(a["id"]), a).status == 204
    return threads


def test_operator_auth(admin_srv, make_token, server):
    user_tok = make_token("u-" + uuid.uuid4().hex)
    c = admin_srv.client()
    for path, method in (("/admin/v1/users", "GET"), ("/admin/v1/users/x", "DELETE"),
                         ("/admin/v1/users/x/export", "GET")):
        th.check_error(c.request(method, path), 401, "unauthorized")
        # a user's token is never an operator's
        th.check_error(c.request(method, path, token=user_tok), 403, "forbidden")
        th.check_error(c.request(method, path, token="nope"), 403, "forbidden")
        assert c.request(method, path, token=ADMIN_TOKEN).status == 200
    # the operator's token is not a user's
    th.check_error(c.get("/v1/threads", token=ADMIN_TOKEN), 401, "unauthorized")
    th.check_error(c.delete("/v1/me", token=ADMIN_TOKEN), 401, "unauthorized")
    # without a token file the operator's paths do not exist
    th.check_error(server.client(user_tok).get("/admin/v1/users"), 404, "not_found")
    r = c.request("PUT", "/admin/v1/users/x", body={}, token=ADMIN_TOKEN)
    th.check_error(r, 405, "method_not_allowed")


def test_list_users_with_counts(admin_srv, make_token):
    prefix = "lst-" + uuid.uuid4().hex + "-"
    a, b, c = prefix + "a", prefix + "b", prefix + "c"
    fill(admin_srv.client(make_token(a)), 2, 3, 1)
    fill(admin_srv.client(make_token(b)), 1, 0, 0)
    fill(admin_srv.client(make_token(c)), 0, 0, 2)  # attachments only
    op = admin_srv.client(ADMIN_TOKEN)
    r = op.get("/admin/v1/users?limit=2&after=" + q(prefix))
    assert r.status == 200, r
    page = r.json
    assert page["has_more"] is True and page["after"] == b
    assert [u["user_id"] for u in page["data"]] == [a, b]
    ua, ub = page["data"]
    assert (ua["threads"], ua["items"], ua["attachments"]) == (2, 6, 1)
    assert (ub["threads"], ub["items"], ub["attachments"]) == (1, 0, 0)
    assert ua["updated_at"].endswith("Z") and len(ua["updated_at"]) == 27
    r = op.get("/admin/v1/users?limit=1&after=" + q(b))
    assert r.json["data"] == [{"user_id": c, "threads": 0, "items": 0, "attachments": 2,
                               "updated_at": None}]
    # paging the whole list ends, each user once, in id order
    seen, after = [], ""
    for _ in range(100000):
        r = op.get("/admin/v1/users?limit=1000" + ("&after=" + q(after) if after else ""))
        assert r.status == 200
        seen += [u["user_id"] for u in r.json["data"]]
        if not r.json["has_more"]:
            break
        after = r.json["after"]
    assert {a, b, c} <= set(seen) and len(seen) == len(set(seen))
    for bad in ("limit=0", "limit=x", "order=desc", "after=" + "x" * 300):
        th.check_error(op.get("/admin/v1/users?" + bad), 400, "bad_request")


def test_operator_erase_and_export_are_the_users_own(admin_srv, make_token):
    uid = "op-" + uuid.uuid4().hex + "/with slash"
    user = admin_srv.client(make_token(uid))
    fill(user, 2, 2, 1)
    op = admin_srv.client(ADMIN_TOKEN)
    path = "/admin/v1/users/" + q(uid)
    mine = user.get("/v1/me/export")
    theirs = op.get(path + "/export")
    assert theirs.status == 200 and theirs.headers.get("transfer-encoding") == "chunked"
    assert theirs.raw == mine.raw
    assert json.loads(theirs.raw)["user_id"] == uid
    r = op.delete(path)
    assert r.status == 200 and r.json == {"threads": 2, "items": 4, "attachments": 1}
    assert user.list_threads()["data"] == []
    assert op.delete(path).json == {"threads": 0, "items": 0, "attachments": 0}
    assert json.loads(op.get(path + "/export").raw) == {"user_id": uid, "threads": [],
                                                        "attachments": []}
    # an id that is not UTF-8 is refused like any other
    th.check_error(op.delete("/admin/v1/users/%FF"), 400, "bad_request")
