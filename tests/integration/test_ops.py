"""Operating the service: metrics, access log and request ids, query timeouts
with a real cancel, the connection limit. Each test runs its own instance."""

import json
import re
import socket
import threading
import time

import pytest

import tshelpers as th
from tshelpers import (TableLocker, check_error, database_url, db_now, psql, raw_request, user_message,
                       server_backends, thread_doc, wait_for)

needs_psql = pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")


def metric(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def test_metrics_count_requests_by_route_and_status(start_server, make_token, user_id):
    srv = start_server(["--pool-size", "2"])
    c = srv.client(make_token(user_id))
    anon = srv.client(None)
    # The port opens once one connection is ready; the second may still be connecting
    # on a loaded machine.
    # A connection is up once its statements' Parse are sent, not answered.
    wait_for(lambda: metric(anon.get("/metrics").raw.decode(),
                            "threadstore_db_connections_up") == 2, timeout=10,
             what="both database connections up")
    before = anon.get("/metrics")
    assert before.status == 200
    assert before.headers["content-type"].startswith("text/plain")
    for _ in range(3):
        assert c.get("/v1/threads").status == 200
    assert c.get("/v1/threads/nope").status == 404
    assert anon.get("/v1/threads").status == 401
    text = anon.get("/metrics").raw.decode()
    assert metric(text, "threadstore_requests_total", route="/v1/threads", status="200") == 3
    assert metric(text, "threadstore_requests_total", route="/v1/threads/{id}", status="404") == 1
    assert metric(text, "threadstore_requests_total", route="/v1/threads", status="401") == 1
    assert metric(text, "threadstore_rejected_total", reason="unauthorized") == 1
    assert metric(text, "threadstore_db_connections_up") == 2
    assert metric(text, "threadstore_db_connections") == 2
    assert metric(text, "threadstore_connections") >= 2
    # every query answered goes out of flight (the pool's own Parse and the sweep's
    # statements come and go: wait for them)
    wait_for(lambda: metric(anon.get("/metrics").raw.decode(),
                            "threadstore_queries_in_flight") == 0, timeout=10,
             what="no query in flight")
    # the same token three times: one verification, then cache hits
    assert metric(text, "threadstore_token_cache_total", result="hit") >= 2
    # the histogram is cumulative and counts every request answered before this scrape
    count = metric(text, "threadstore_request_duration_seconds_count")
    assert metric(text, "threadstore_request_duration_seconds_bucket", le="+Inf") == count
    assert count >= 6
    c.close()
    anon.close()


@needs_psql
def test_sessions_take_generic_plans(start_server, make_token, user_id):
    """Each pool connection sets plan_cache_mode = force_generic_plan first (Q_SESSION):
    left to auto, PostgreSQL planned threads_count at every execution after an ANALYZE
    (10x its cost, bench/README.md). The counter counts sessions where set_config
    answered force_generic_plan: none on Citus, which keeps its own setting."""
    citus = psql(database_url(), "SELECT count(*) FROM pg_extension WHERE extname = 'citus'")
    want = 0 if citus == [["1"]] else 3
    srv = start_server(["--pool-size", "3"])
    anon = srv.client(None)
    wait_for(lambda: metric(anon.get("/metrics").raw.decode(),
                            "threadstore_db_connections_up") == 3, timeout=10,
             what="three database connections up")
    wait_for(lambda: metric(anon.get("/metrics").raw.decode(),
                            "threadstore_db_generic_plan_sessions_total") == want, timeout=10,
             what="%d sessions set to generic plans" % want)
    c = srv.client(make_token(user_id))
    for _ in range(8):  # past auto's five custom plans: answers as before
        assert c.get("/v1/threads/count?metadata.k=v").json == {"count": 0}
    c.close()
    anon.close()
    # Unnamed statements are planned at each execution with their values, as before.
    srv = start_server(["--pool-size", "2", "--statements", "unnamed"])
    anon = srv.client(None)
    wait_for(lambda: metric(anon.get("/metrics").raw.decode(),
                            "threadstore_db_connections_up") == 2, timeout=10,
             what="both database connections up")
    c = srv.client(make_token(user_id))
    assert c.get("/v1/threads/count").json == {"count": 0}
    assert metric(anon.get("/metrics").raw.decode(),
                  "threadstore_db_generic_plan_sessions_total") == 0
    c.close()
    anon.close()


def test_access_log_and_request_ids(start_server, make_token, user_id):
    srv = start_server([])
    tok = make_token(user_id)
    c = srv.client(tok)
    r = c.get("/v1/threads", headers={"X-Request-Id": "req-abc.123"})
    assert r.headers["x-request-id"] == "req-abc.123"
    r2 = c.get("/v1/threads")
    generated = r2.headers["x-request-id"]
    assert generated and generated != "req-abc.123"
    r3 = c.get("/v1/threads")
    assert r3.headers["x-request-id"] != generated  # unique per request
    # an id with characters unfit for a log line is replaced
    r4 = c.get("/v1/threads", headers={"X-Request-Id": "a b\"c"})
    assert r4.headers["x-request-id"] not in ("a b\"c", "")
    c.close()
    log = srv.log_text()
    lines = [l for l in log.splitlines() if "msg=request " in l]
    assert any("id=req-abc.123" in l and "route=/v1/threads" in l and "status=200" in l
               and "method=GET" in l and re.search(r"ms=\d+\.\d+", l) for l in lines), lines
    assert any("id=" + generated in l for l in lines)
    assert tok not in log, "a token reached the log"
    assert tok.split(".")[2] not in log


@needs_psql
def test_query_timeout_answers_504_and_cancels_the_statement(start_server, make_token,
                                                             user_id):
    url = database_url()
    since = db_now(url)
    srv = start_server(["--pool-size", "1", "--query-timeout", "1"])
    c = srv.client(make_token(user_id))
    c.save_thread(thread_doc("thr_timeout"))
    with TableLocker(url):
        t0 = time.monotonic()
        r = c.get("/v1/threads/thr_timeout")
        took = time.monotonic() - t0
        check_error(r, 504)
        assert json.loads(r.raw)["error"]["code"] == "timeout"
        assert 0.9 < took < 5, took
        # The statement was cancelled on the server, not left waiting on the
        # lock: the lock is still held, yet no backend of ours waits on it.
        wait_for(lambda: not server_backends(url, since, waiting_on_lock=True),
                 timeout=5, what="the timed-out statement to be cancelled")
    # The same database connection serves the next request.
    r = c.get("/v1/threads/thr_timeout")
    assert r.status == 200, r
    text = srv.client(None).get("/metrics").raw.decode()
    assert metric(text, "threadstore_rejected_total", reason="query_timeout") == 1
    assert metric(text, "threadstore_db_reconnects_total") == 0
    c.close()


def test_connection_limit_is_answered_503(start_server, make_token, user_id):
    srv = start_server(["--max-connections", "2"])
    a, b = srv.raw(), srv.raw()
    for conn in (a, b):
        conn.send(raw_request("GET", "/healthz"))
        assert conn.read_response()[0] == 200
    extra = srv.raw()
    status, _, hdrs, body = extra.read_response()
    assert status == 503
    assert json.loads(body)["error"]["code"] == "unavailable"
    extra.wait_eof()
    a.close()
    # a slot freed: a new connection is served again
    def served():
        d = srv.raw()
        try:
            d.send(raw_request("GET", "/healthz"))
            return d.read_response()[0] == 200
        finally:
            d.close()
    wait_for(served, timeout=5, what="a freed connection slot")
    b.close()
    text = srv.client(None).get("/metrics").raw.decode()
    assert metric(text, "threadstore_rejected_total", reason="max_connections") >= 1


def test_reading_resumes_after_pipelined_input_hits_its_bound(start_server, make_token,
                                                              user_id):
    """Input waiting behind a busy request is bounded (max header + max body):
    past it the server stops reading, and must start again once it has caught up."""
    srv = start_server(["--max-body", "1024", "--max-header", "1024"])
    tok = make_token(user_id)
    conn = srv.raw()
    n = 1000  # ~300 KB: more than one read
    data = b"".join(raw_request("GET", "/v1/threads?limit=1", token=tok) for _ in range(n))
    sender = threading.Thread(target=conn.send, args=(data,))
    sender.start()  # the server may stop reading: send from another thread
    for i in range(n):
        assert conn.read_response()[0] == 200, i
    sender.join(10)
    conn.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_of_pipelined_pages_is_bounded(start_server, make_token, user_id):
    """A client pipelines many large pages and does not read: the server
    stops producing once a few MiB wait for it, instead of buffering them all."""
    srv = start_server(["--pool-size", "2"])
    tok = make_token(user_id)
    c = srv.client(tok)
    t = thread_doc()
    c.save_thread(t)
    big = "x" * 2000
    for i in range(200):
        item = user_message(t["id"], created_at="2025-06-01T12:00:00")
        item["content"][0]["text"] = big
        assert c.post("/v1/threads/%s/items" % t["id"], item).status == 201
    n = 300  # 300 pages x ~450 KB = ~135 MB of responses
    base = rss_kb(srv.proc.pid)
    conn = srv.raw()
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    req = raw_request("GET", "/v1/threads/%s/items?limit=200" % t["id"], token=tok)
    sender = threading.Thread(target=conn.send, args=(req * n,))
    sender.start()
    time.sleep(2)  # the client reads nothing meanwhile
    grown_mb = (rss_kb(srv.proc.pid) - base) / 1024
    assert grown_mb < 48, "server buffered %.0f MB for a client that does not read" % grown_mb
    for i in range(n):
        status, _, _, body = conn.read_response()
        assert status == 200 and len(json.loads(body)["data"]) == 200, i
    sender.join(10)
    conn.close()
    c.close()
