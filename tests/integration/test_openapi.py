"""docs/openapi.yaml is true: real responses of the running service, for every
operation and the statuses it documents, validate against it, every route of
src/router.c is in it, and nothing in it goes unexercised.

The validator is a small one for the JSON Schema 2020-12 keywords the
document uses (OpenAPI 3.1 schemas are JSON Schema); an unknown keyword fails
the test rather than being ignored."""

import json
import os
import re

import pytest

import ssehelpers
import tshelpers as th
from tshelpers import assistant_message, q, thread_doc, user_message

SPEC_PATH = os.path.join(th.REPO, "docs", "openapi.yaml")
IGNORED = {"description", "summary", "default", "title", "example", "examples"}


@pytest.fixture(scope="module")
def spec():
    yaml = pytest.importorskip("yaml")  # Debian python3-yaml (scripts/packages.sh DEV_PKGS)
    with open(SPEC_PATH) as f:
        doc = yaml.safe_load(f)
    assert doc["openapi"].startswith("3.1")
    return doc


class Invalid(Exception):
    pass


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def type_ok(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def validate(spec, schema, v, where="$"):
    schema = resolve(spec, schema)
    for key, want in schema.items():
        if key in IGNORED or key == "$ref":
            continue
        if key == "type":
            types = want if isinstance(want, list) else [want]
            if not any(type_ok(t, v) for t in types):
                raise Invalid("%s: %r is not %s" % (where, v, want))
        elif key == "const":
            if v != want:
                raise Invalid("%s: %r != %r" % (where, v, want))
        elif key == "enum":
            if v not in want:
                raise Invalid("%s: %r not in %r" % (where, v, want))
        elif key == "required":
            if isinstance(v, dict):
                missing = [k for k in want if k not in v]
                if missing:
                    raise Invalid("%s: missing %s" % (where, missing))
        elif key == "properties":
            if isinstance(v, dict):
                for k, sub in want.items():
                    if k in v:
                        validate(spec, sub, v[k], "%s.%s" % (where, k))
        elif key == "additionalProperties":
            if isinstance(v, dict):
                extra = [k for k in v if k not in schema.get("properties", {})]
                if want is False and extra:
                    raise Invalid("%s: unexpected members %s" % (where, extra))
                if isinstance(want, dict):
                    for k in extra:
                        validate(spec, want, v[k], "%s.%s" % (where, k))
        elif key == "items":
            if isinstance(v, list):
                for i, x in enumerate(v):
                    validate(spec, want, x, "%s[%d]" % (where, i))
        elif key in ("minLength", "maxLength"):
            if isinstance(v, str) and (len(v) < want if key == "minLength" else len(v) > want):
                raise Invalid("%s: length %d vs %s %d" % (where, len(v), key, want))
        elif key in ("minimum", "maximum", "exclusiveMinimum"):
            if type_ok("number", v):
                bad = {"minimum": v < want, "maximum": v > want,
                       "exclusiveMinimum": v <= want}[key]
                if bad:
                    raise Invalid("%s: %r vs %s %r" % (where, v, key, want))
        elif key == "pattern":
            if isinstance(v, str) and not re.search(want, v):
                raise Invalid("%s: %r does not match %s" % (where, v, want))
        elif key in ("oneOf", "anyOf", "allOf"):
            ok = 0
            errors = []
            for sub in want:
                try:
                    validate(spec, sub, v, where)
                    ok += 1
                except Invalid as e:
                    errors.append(str(e))
            if key == "allOf" and ok != len(want):
                raise Invalid("; ".join(errors))
            if key == "anyOf" and ok == 0:
                raise Invalid("%s: no anyOf matches: %s" % (where, errors))
            if key == "oneOf" and ok != 1:
                raise Invalid("%s: %d of oneOf match: %s" % (where, ok, errors))
        else:
            raise AssertionError("the test's validator does not know %r" % key)


def test_validator_can_fail(spec):
    page = spec["components"]["schemas"]["ThreadPage"]
    validate(spec, page, {"data": [], "has_more": False, "after": None})
    for bad in ({"data": [], "has_more": "no", "after": None}, {"data": [{}], "has_more": False,
                                                                "after": None},
                {"data": [], "has_more": False, "after": None, "before": None}):
        with pytest.raises(Invalid):
            validate(spec, page, bad)


def match_path(spec, path):
    path = path.split("?", 1)[0]
    found = []
    for template in spec["paths"]:
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(rx, path):
            found.append(template)
    # A literal segment wins over a template one (/v1/threads/count).
    found.sort(key=lambda t: t.count("{"))
    assert found, "no path of the spec matches %s" % path
    return found[0]


class Checker:
    def __init__(self, spec, client):
        self.spec, self.client = spec, client
        self.seen = set()

    def call(self, method, path, body=None, expect=None, client=None):
        c = client or self.client
        r = c.request(method, path, body=body)
        if expect is not None:
            assert r.status == expect, (method, path, r)
        template = match_path(self.spec, path)
        op = self.spec["paths"][template][method.lower()]
        responses = op["responses"]
        assert str(r.status) in responses, "%s %s: %d is not documented" % (method, template,
                                                                           r.status)
        resp = resolve(self.spec, responses[str(r.status)])
        content = resp.get("content")
        if content is None:
            assert r.raw == b"", (method, path, r)
        else:
            ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
            assert ctype in content, (method, path, ctype, list(content))
            if ctype == "application/json":
                validate(self.spec, content[ctype]["schema"], json.loads(r.raw))
        self.seen.add((method.lower(), template, str(r.status)))
        return r


def test_real_responses_match_the_spec(spec, server, make_token, user_id):
    api = server.client(make_token(user_id))
    anon = server.client(None)
    try:
        ck = Checker(spec, api)
        ck.call("GET", "/healthz", expect=200, client=anon)
        ck.call("GET", "/readyz", expect=200, client=anon)
        ck.call("GET", "/metrics", expect=200, client=anon)
        t = thread_doc(title="Trip to Lisbon", metadata={"agent": "travel"})
        tp = "/v1/threads/" + q(t["id"])
        ck.call("PUT", tp, t, expect=204)
        ck.call("PUT", tp, {"id": "other", "created_at": "2025-01-01T00:00:00Z"}, expect=400)
        t2 = thread_doc(title="Second")
        ck.call("PUT", "/v1/threads/" + q(t2["id"]), t2, expect=204)
        u = user_message(t["id"], text="Flights to Lisbon?")
        a = assistant_message(t["id"], text="Three options.")
        ck.call("POST", tp + "/items", u, expect=201)
        ck.call("POST", tp + "/items", dict(u, content=[]), expect=409)
        ck.call("POST", "/v1/threads/nope/items", user_message("nope"), expect=404)
        ck.call("PUT", tp + "/items/" + q(a["id"]), a, expect=204)
        ck.call("PUT", "/v1/threads/nope/items/x", user_message("nope", "x"), expect=404)
        ck.call("PUT", tp + "/items/x", {"id": "x"}, expect=400)
        ck.call("GET", tp + "/items/" + q(a["id"]), expect=200)
        ck.call("GET", tp + "/items/nope", expect=404)
        ck.call("GET", tp, expect=200)
        ck.call("GET", tp + "?items=1", expect=200)
        ck.call("GET", tp + "?items=0", expect=400)
        ck.call("GET", "/v1/threads/nope", expect=404)
        ck.call("GET", "/v1/threads?limit=1", expect=200)
        ck.call("GET", "/v1/threads?limit=1&order_by=updated_at&metadata.agent=travel",
                expect=200)
        ck.call("GET", "/v1/threads?before=" + q(t["id"]), expect=200)
        ck.call("GET", "/v1/threads?order_by=title", expect=400)
        ck.call("GET", "/v1/threads?after=nope", expect=404)
        ck.call("GET", "/v1/threads", expect=401, client=anon)
        ck.call("GET", "/v1/threads/count?status=active", expect=200)
        ck.call("GET", "/v1/threads/count?status=open", expect=400)
        ck.call("GET", "/v1/threads/count", expect=401, client=anon)
        ck.call("GET", tp + "/items?limit=1", expect=200)
        ck.call("GET", tp + "/items?before=" + q(a["id"]), expect=200)
        ck.call("GET", tp + "/items?limit=x", expect=400)
        ck.call("GET", tp + "/items?after=nope", expect=404)
        ck.call("GET", tp + "/export", expect=200)
        ck.call("GET", "/v1/threads/nope/export", expect=404)
        ck.call("GET", "/v1/search?q=lisbon", expect=200)
        ck.call("GET", "/v1/search?q=lisbon&limit=1", expect=200)
        ck.call("GET", "/v1/search?q=", expect=400)
        ck.call("GET", "/v1/search?q=x", expect=401, client=anon)
        att = dict(th.file_attachment(), thread_id=t["id"])
        ap = "/v1/attachments/" + q(att["id"])
        ck.call("PUT", ap, att, expect=204)
        ck.call("PUT", ap, {"id": "other"}, expect=400)
        ck.call("GET", ap, expect=200)
        ck.call("GET", "/v1/attachments/nope", expect=404)
        ck.call("DELETE", ap, expect=204)
        ck.call("DELETE", tp + "/items/" + q(a["id"]), expect=204)
        ck.call("DELETE", tp, expect=204)
        ck.call("GET", "/v1/me/export", expect=200)
        ck.call("GET", "/v1/me/export", expect=401, client=anon)
        ck.call("DELETE", "/v1/me", expect=200)
        ck.call("DELETE", "/v1/me", expect=401, client=anon)
        for method, path in (("GET", "/v1/attachments/x"), ("PUT", "/v1/attachments/x"),
                             ("DELETE", "/v1/attachments/x"), ("GET", "/v1/threads/x"),
                             ("PUT", "/v1/threads/x"), ("DELETE", "/v1/threads/x"),
                             ("GET", "/v1/threads/x/items"), ("POST", "/v1/threads/x/items"),
                             ("GET", "/v1/threads/x/items/y"), ("PUT", "/v1/threads/x/items/y"),
                             ("DELETE", "/v1/threads/x/items/y"),
                             ("GET", "/v1/threads/x/export")):
            ck.call(method, path, {} if method in ("PUT", "POST") else None, expect=401,
                    client=anon)
        # the change feed: a page, a stream (its head), 400, 410 (a server that keeps
        # changes one second), 401; the admin feed on a server with a token file
        ck.call("GET", "/v1/changes?limit=2", expect=200)
        first = api.get("/v1/changes?limit=1").json["after"]
        ck.call("GET", "/v1/changes?after=" + first, expect=200)
        ck.call("GET", "/v1/changes?after=nope", expect=400)
        ck.call("GET", "/v1/changes", expect=401, client=anon)
        s = ssehelpers.SSEStream(server.host, server.port, api.token)
        assert s.read_head() == 200 and s.headers["content-type"] == "text/event-stream"
        assert "text/event-stream" in spec["paths"]["/v1/changes"]["get"]["responses"]["200"][
            "content"]
        s.close()
        tokfile = os.path.join(server.log_dir, "openapi-admin-tokens")
        with open(tokfile, "w") as f:
            f.write("openapi-admin-token\n")
        other = th.ServerProcess(server.binary, server.database_url, server.secret,
                                 extra_args=["--pool-size", "1", "--admin-token-file", tokfile,
                                             "--changes-retention", "1s"],
                                 log_dir=server.log_dir, name="openapi-admin").start()
        try:
            adm = other.client("openapi-admin-token")
            ck.call("GET", "/admin/v1/changes?limit=2", expect=200, client=adm)
            ck.call("GET", "/admin/v1/changes?after=x", expect=400, client=adm)
            ck.call("GET", "/admin/v1/changes", expect=401, client=other.client(None))
            ck.call("GET", "/admin/v1/changes", expect=403, client=other.client("wrong"))
            ck.call("GET", "/admin/v1/changes", expect=404, client=anon)  # no token file
            old = api.get("/v1/changes?limit=1").json["after"]
            mine = other.client(api.token)
            th.wait_for(lambda: mine.get("/v1/changes?after=" + old).status == 410,
                        timeout=15, what="the sweep")
            ck.call("GET", "/v1/changes?after=" + old, expect=410, client=mine)
            adm.close()
            mine.close()
        finally:
            other.stop_and_check()
        # Every operation of the spec was exercised with a success status.
        ops = {(m, p) for p, item in spec["paths"].items() for m in item
               if m in ("get", "put", "post", "delete") and not p.startswith("/admin/")}
        ok = {(m, p) for m, p, s in ck.seen if s.startswith("2")}
        assert ops - ok == set(), "operations never checked: %s" % sorted(ops - ok)
    finally:
        api.close()
        anon.close()


def test_operator_responses_match_the_spec(spec, start_server, make_token, tmp_path):
    f = tmp_path / "admin-tokens"
    f.write_text("operator-token-for-the-spec\n")
    srv = start_server(["--admin-token-file", str(f)])
    user = "spec-op-" + th.new_id("u")
    c = srv.client(make_token(user))
    t = thread_doc()
    c.save_thread(t)
    c.add_item(user_message(t["id"]))
    op = srv.client("operator-token-for-the-spec")
    ck = Checker(spec, op)
    up = "/admin/v1/users/" + q(user)
    ck.call("GET", "/admin/v1/users?limit=2", expect=200)
    ck.call("GET", "/admin/v1/changes?limit=2", expect=200)
    ck.call("GET", "/admin/v1/users?limit=1&after=" + q(user), expect=200)
    ck.call("GET", "/admin/v1/users?limit=0", expect=400)
    ck.call("GET", "/admin/v1/users", expect=401, client=srv.client(None))
    ck.call("GET", "/admin/v1/users", expect=403, client=c)
    ck.call("GET", up + "/export", expect=200)
    ck.call("GET", up + "/export", expect=403, client=c)
    ck.call("DELETE", up, expect=200)
    ck.call("DELETE", "/admin/v1/users/%FF", expect=400)
    ck.call("DELETE", up, expect=401, client=srv.client(None))
    ops = {(m, p) for p, item in spec["paths"].items() for m in item
           if m in ("get", "put", "post", "delete") and p.startswith("/admin/")}
    ok = {(m, p) for m, p, s in ck.seen if s.startswith("2")}
    assert ops and ops - ok == set(), "operations never checked: %s" % sorted(ops - ok)


def test_every_route_is_in_the_spec(spec):
    with open(os.path.join(th.REPO, "src", "router.c")) as f:
        src = f.read()
    def norm(path):  # {id} in the router is {thread_id} or {attachment_id} in the spec
        return re.sub(r"\{[^}]+\}", "{}", path)

    routes = dict(re.findall(r'\.name = "([^"]+)"[^}]*?\.allow = "([^"]+)"', src, re.S))
    assert "/v1/search" in routes, "no routes found in src/router.c"
    paths = {norm(p): p for p in spec["paths"]}
    # GET /v1/threads/count is served by the /v1/threads/{id} route (handlers_threads.c).
    missing = {norm(n) for n in routes} - set(paths)
    assert missing == set(), "routes missing from the spec: %s" % missing
    assert set(paths) - {norm(n) for n in routes} == {"/v1/threads/count"}
    for name, methods in routes.items():
        documented = {m.upper() for m in spec["paths"][paths[norm(name)]] if m != "parameters"}
        assert documented == {m.strip() for m in methods.split(",")}, (name, documented)
