"""Health, readiness, database outages (503), reconnection, and graceful
shutdown with a request in flight."""

import json
import signal
import socket
import subprocess

import pytest

from tshelpers import (TableLocker, check_error, db_now, psql_path, raw_request,
                       server_backends, terminate, thread_doc, wait_for)

needs_psql = pytest.mark.skipif(psql_path() is None, reason="psql not installed")


def allow_db_errors(line):
    # Losing database connections is logged as an error by design in these
    # tests; sanitizer reports still fail them.
    return True


def test_healthz_and_readyz(anon):
    assert anon.get("/healthz").status == 200
    assert anon.get("/readyz").status == 200
    assert anon.get("/healthz?probe=1").status == 200


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_no_database_503_at_once(start_server, make_token, user_id):
    url = "postgresql://threadstore@127.0.0.1:%d/threadstore?connect_timeout=2" % _closed_port()
    srv = start_server(["--no-migrate", "--pool-size", "2"], database_url=url,
                       wait_ready=False, allow_error=allow_db_errors)
    c = srv.client(make_token(user_id))
    try:
        assert c.get("/healthz").status == 200
        r = c.get("/readyz")
        assert r.status == 503, r
        # Requests do not wait for a connection that is not there.
        check_error(c.get("/v1/threads"), 503, "unavailable")
        check_error(c.put("/v1/threads/thr_1", thread_doc("thr_1")), 503, "unavailable")
        check_error(c.get("/v1/attachments/atc_1"), 503, "unavailable")
        # Auth and routing still come first.
        check_error(c.get("/v1/threads", token=None), 401)
        check_error(c.get("/v1/nope"), 404)
    finally:
        c.close()


@needs_psql
def test_reconnects_after_connections_are_killed(start_server, make_token, user_id):
    from tshelpers import database_url

    url = database_url()
    since = db_now(url)
    srv = start_server(["--pool-size", "2"], allow_error=allow_db_errors)
    c = srv.client(make_token(user_id))
    try:
        doc = thread_doc("thr_rec0aaaa")
        c.save_thread(doc)
        pids = wait_for(lambda: server_backends(url, since), what="server backends")
        terminate(url, pids)
        # Every answer meanwhile is 200 or a clean 503; service comes back.
        statuses = []

        def recovered():
            r = c.get("/v1/threads/thr_rec0aaaa")
            statuses.append(r.status)
            if r.status == 503:
                check_error(r, 503, "unavailable")
                return False
            assert r.status == 200, r
            return r.json == doc and c.get("/readyz").status == 200

        wait_for(recovered, what="recovery after pg_terminate_backend")
        new = server_backends(url, since)
        assert new and not set(new) & set(pids), (pids, new)
        # And it keeps working: several requests in a row.
        for i in range(20):
            assert c.get("/v1/threads?limit=1").status == 200
    finally:
        c.close()


@needs_psql
def test_in_flight_requests_get_503_when_connection_is_lost(start_server, make_token,
                                                           user_id):
    from tshelpers import database_url

    url = database_url()
    since = db_now(url)
    srv = start_server(["--pool-size", "1"], allow_error=allow_db_errors)
    tok = make_token(user_id)
    c = srv.client(tok)
    try:
        c.save_thread(thread_doc("thr_1f11a000"))
        assert c.get("/v1/threads/thr_1f11a000").status == 200
        rc = srv.raw()
        with TableLocker(url):
            # Queries pile up behind the lock: in flight on the server's connection.
            rc.send(raw_request("GET", "/v1/threads/thr_1f11a000", token=tok)
                    + raw_request("GET", "/v1/threads?limit=3", token=tok))
            wait_for(lambda: server_backends(url, since, waiting_on_lock=True),
                     timeout=10, what="a server query waiting on the lock")
            terminate(url, server_backends(url, since))
            for _ in range(2):
                status, _, _, body = rc.read_response()
                assert status == 503, body
                assert json.loads(body)["error"]["code"] == "unavailable"
        rc.close()
        wait_for(lambda: c.get("/v1/threads/thr_1f11a000").status == 200,
                 what="recovery after the lock was released")
    finally:
        c.close()


@needs_psql
def test_sigterm_finishes_in_flight_request(start_server, make_token, user_id):
    from tshelpers import database_url

    url = database_url()
    since = db_now(url)
    srv = start_server(["--pool-size", "1"])
    tok = make_token(user_id)
    doc = thread_doc("thr_519e0000")
    c = srv.client(tok)
    c.save_thread(doc)
    c.close()
    rc = srv.raw()
    try:
        with TableLocker(url) as lock:
            rc.send(raw_request("GET", "/v1/threads/thr_519e0000", token=tok))
            wait_for(lambda: server_backends(url, since, waiting_on_lock=True),
                     timeout=10, what="the query waiting on the lock")
            srv.proc.send_signal(signal.SIGTERM)
            # Still running: the request has not been answered.
            with pytest.raises(subprocess.TimeoutExpired):
                srv.proc.wait(0.3)
            lock.release()
            status, _, _, body = rc.read_response()
            assert status == 200, body
            assert json.loads(body) == doc
        assert srv.proc.wait(10) == 0
    finally:
        rc.close()


@needs_psql
def test_full_query_queue_503_with_retry_after(start_server, make_token, user_id):
    import select

    from tshelpers import database_url

    url = database_url()
    since = db_now(url)
    srv = start_server(["--pool-size", "1", "--pipeline-depth", "1", "--max-queue", "2"])
    tok = make_token(user_id)
    c = srv.client(tok)
    c.save_thread(thread_doc("thr_0e0e0000"))
    c.close()
    conns = [srv.raw() for _ in range(4)]
    try:
        with TableLocker(url) as lock:
            req = raw_request("GET", "/v1/threads/thr_0e0e0000", token=tok)
            conns[0].send(req)
            wait_for(lambda: server_backends(url, since, waiting_on_lock=True),
                     timeout=10, what="the first query waiting on the lock")
            # One query in flight, room for two waiting: one of the next three
            # is refused at once.
            for rc in conns[1:]:
                rc.send(req)
            ready, _, _ = select.select([rc.sock for rc in conns[1:]], [], [], 10)
            assert ready, "no immediate 503 with a full queue"
            first = next(rc for rc in conns[1:] if rc.sock is ready[0])
            status, _, hdrs, body = first.read_response()
            assert status == 503, body
            assert json.loads(body)["error"]["code"] == "unavailable"
            assert "retry-after" in hdrs
            lock.release()
            statuses = []
            for rc in conns:
                if rc is first:
                    continue
                status, _, _, body = rc.read_response()
                statuses.append(status)
            assert statuses == [200, 200, 200], statuses
    finally:
        for rc in conns:
            rc.close()
