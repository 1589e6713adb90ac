"""Routing (404/405), body checks (413/415/400) and their precedence."""

import pytest

from tshelpers import (allow_set, check_error, file_attachment, thread_doc,
                       user_message)


def test_unknown_routes_404(api, anon):
    for path in ("/", "/nope", "/v2/threads", "/healthz/extra", "/threads"):
        check_error(anon.get(path), 404, "not_found")
    for path in ("/v1", "/v1/", "/v1/nope", "/v1/threads/t/items/i/extra",
                 "/v1/threads/t/things", "/v1/attachments", "/v1/attachments/a/b"):
        check_error(api.get(path), 404, "not_found")


METHOD_CASES = [
    # path, methods that must be allowed, methods to try that are not
    ("/v1/threads", {"GET"}, ["POST", "PUT", "DELETE", "PATCH"]),
    ("/v1/threads/thr_1", {"GET", "PUT", "DELETE"}, ["POST", "PATCH"]),
    ("/v1/threads/thr_1/items", {"GET", "POST"}, ["PUT", "DELETE", "PATCH"]),
    ("/v1/threads/thr_1/items/msg_1", {"GET", "PUT", "DELETE"}, ["POST", "PATCH"]),
    ("/v1/attachments/atc_1", {"GET", "PUT", "DELETE"}, ["POST", "PATCH"]),
]


@pytest.mark.parametrize("path,allowed,bad_methods", METHOD_CASES)
def test_405_with_allow(api, path, allowed, bad_methods):
    for m in bad_methods:
        r = api.request(m, path)
        check_error(r, 405, "method_not_allowed")
        allow = allow_set(r)
        assert allowed <= allow, (m, path, allow)
        assert m not in allow, (m, path, allow)


def test_405_on_health_endpoints(anon):
    for path in ("/healthz", "/readyz"):
        r = anon.request("POST", path, body={})
        check_error(r, 405, "method_not_allowed")
        assert "GET" in allow_set(r)


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "text/json", "multipart/form-data",
                                   "json"])
def test_415_wrong_or_missing_content_type(api, ctype):
    doc = thread_doc()
    r = api.put("/v1/threads/" + doc["id"], doc, content_type=ctype)
    check_error(r, 415, "unsupported_media_type")
    check_error(api.get("/v1/threads/" + doc["id"]), 404)
    api.save_thread(doc)
    item = user_message(doc["id"])
    check_error(api.post("/v1/threads/%s/items" % doc["id"], item, content_type=ctype), 415)
    check_error(api.put("/v1/threads/%s/items/%s" % (doc["id"], item["id"]), item,
                        content_type=ctype), 415)
    att = file_attachment()
    check_error(api.put("/v1/attachments/" + att["id"], att, content_type=ctype), 415)


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "APPLICATION/JSON",
                                   "Application/Json;charset=UTF-8",
                                   "application/json ; charset=utf-8"])
def test_json_content_type_variants_accepted(api, ctype):
    doc = thread_doc()
    r = api.put("/v1/threads/" + doc["id"], doc, content_type=ctype)
    assert r.status == 204, r
    assert api.get("/v1/threads/" + doc["id"]).json == doc


@pytest.mark.parametrize("body", [
    "", " ", "{", '{"id": "thr_b0000000",', "{'id': 'x'}", '{"id": "thr_b0000000"} x',
    "nul", "\xff\xfe", '{"id": "thr_b0000000", "created_at": "2025-06-01T00:00:00",}',
])
def test_bad_json_400(api, body):
    r = api.put("/v1/threads/thr_b0000000", body.encode("latin-1"))
    check_error(r, 400, "bad_request")
    check_error(api.get("/v1/threads/thr_b0000000"), 404)


@pytest.mark.parametrize("body", ["[]", '"thr_b0000000"', "null", "42", "true",
                                  '[{"id":"thr_b0000000","created_at":"2025-06-01T00:00:00"}]'])
def test_non_object_json_400(api, body):
    check_error(api.put("/v1/threads/thr_b0000000", body), 400, "bad_request")
    api.save_thread(thread_doc("thr_b0000001"))
    check_error(api.post("/v1/threads/thr_b0000001/items", body), 400, "bad_request")
    check_error(api.put("/v1/attachments/atc_b0000000", body), 400, "bad_request")


def test_thread_missing_or_bad_fields_400(api):
    tid = "thr_f1e1d000"
    base = thread_doc(tid)
    check_error(api.put("/v1/threads/" + tid, {k: v for k, v in base.items() if k != "id"}),
                400, "bad_request")
    check_error(api.put("/v1/threads/" + tid,
                        {k: v for k, v in base.items() if k != "created_at"}),
                400, "bad_request")
    for field, value in (("id", 1), ("id", None), ("id", "thr_other000"), ("id", ""),
                         ("created_at", None), ("created_at", 1748779200),
                         ("created_at", "June 1st"), ("created_at", "2025-02-30T00:00:00"),
                         ("created_at", "2025-06-01T24:00:01"),
                         ("created_at", "2025-06-01T12:00:00+0x:00")):
        check_error(api.put("/v1/threads/" + tid, dict(base, **{field: value})), 400,
                    "bad_request")
    check_error(api.get("/v1/threads/" + tid), 404)


def test_400_body_checks_on_foreign_thread_still_400(api, other_api):
    # Precedence: 400 for the body before 404 for the entity.
    other_api.save_thread(thread_doc("thr_f0e10000"))
    check_error(api.post("/v1/threads/thr_f0e10000/items", "{bad"), 400)
    check_error(api.post("/v1/threads/thr_n0ne0000/items",
                         dict(user_message("thr_n0ne0000"), created_at="soon")), 400)
    check_error(api.put("/v1/threads/thr_n0ne0000/items/msg_1",
                        user_message("thr_n0ne0000", "msg_2")), 400)


def test_precedence_route_before_body(api):
    # Unknown route with a bad body: 404 for the route.
    check_error(api.put("/v1/nope/x", "{bad", content_type="text/plain"), 404)
    # Wrong method with a bad body: 405.
    r = api.request("POST", "/v1/threads/thr_1", body="{bad", content_type="text/plain")
    check_error(r, 405)
    r = api.request("PATCH", "/v1/threads", body=b"x" * 10, content_type="text/plain")
    check_error(r, 405)


def test_precedence_415_before_400(api):
    check_error(api.put("/v1/threads/thr_1", "{bad", content_type="text/plain"), 415)
    check_error(api.put("/v1/threads/thr_1", "", content_type="text/plain"), 415)


def test_precedence_params_400_before_entity_404(api):
    check_error(api.get("/v1/threads?limit=0&after=thr_nosuch00"), 400)
    check_error(api.get("/v1/threads/thr_nosuch00/items?order=x&after=msg_nosuch0"), 400)
    check_error(api.get("/v1/threads/thr_nosuch00?items=0x"), 400)


def test_large_document_within_default_limit(api):
    # ~900 KiB: under the 1 MiB default.
    tid = "thr_b19d0c00"
    api.save_thread(thread_doc(tid))
    text = "".join(chr(0x41 + (i % 26)) for i in range(900 * 1024))
    it = user_message(tid, "msg_b19b0d10", text=text)
    api.add_item(it)
    r = api.get("/v1/threads/%s/items/msg_b19b0d10" % tid)
    assert r.status == 200
    assert r.json == it
    assert api.list_items(tid)["data"] == [it]


def test_default_limit_takes_chatkit_images_and_refuses_past_64_mib(api, raw, make_token,
                                                                   user_id):
    # A generated image as a data: URL is 1.2 MB to 10+ MB (issue 9): stored.
    tid = "thr_413d0000"
    doc = thread_doc(tid, title="x" * (2 * 1024 * 1024 + 10))
    assert api.put("/v1/threads/" + tid, doc).status == 204
    assert api.get("/v1/threads/" + tid).json == doc
    # Past the default --max-body (64 MiB): 413 from the Content-Length alone.
    c = raw()
    c.send(("PUT /v1/threads/thr_413d0001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (make_token(user_id), 64 * 1024 * 1024 + 1)).encode())
    status, _, headers, body = c.read_response()
    assert status == 413 and headers.get("connection") == "close", (status, headers)
    check_error(api.get("/v1/threads/thr_413d0001"), 404)


def test_large_page(api):
    # 20 threads of ~60 KiB each: a ~1.2 MB response assembled from stored rows.
    docs = []
    for i in range(20):
        d = thread_doc("thr_1a%06d" % i, created_at="2025-04-01T00:00:%02dZ" % i,
                       metadata={"blob": ("%02d" % i) * (30 * 1024)})
        api.save_thread(d)
        docs.append(d)
    page = api.list_threads(order="asc")
    assert page == {"data": docs, "has_more": False, "after": None}
