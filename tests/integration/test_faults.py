"""Faults: PostgreSQL stopped and restarted, its postmaster killed -9, while a
mixed read/write load runs. The service keeps answering (503 at once while
the database is down), reconnects soon after it is back, and every write that
got a 2xx is there afterwards. Each test runs its own PostgreSQL cluster, since
it kills it."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

import tshelpers as th
from tshelpers import thread_doc, user_message, wait_for

PG_BIN = "/usr/lib/postgresql/15/bin"
pytestmark = pytest.mark.skipif(not os.path.exists(PG_BIN + "/initdb"),
                                reason="PostgreSQL 15 server binaries not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster (run as the postgres user when we are root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ts-faults-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run(PG_BIN + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--locale=C", "--no-sync")
        self.url = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def run(self, *args, check=True):
        cmd = (["runuser", "-u", "postgres", "--"] if self.root else []) + list(args)
        return subprocess.run(cmd, check=check, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self, options=""):
        deadline = time.monotonic() + 30
        while True:
            r = self.run(PG_BIN + "/pg_ctl", "-D", self.data, "-w", "-l",
                         os.path.join(self.dir, "log"), "-o",
                         "-p %d -k %s -c listen_addresses=127.0.0.1 %s"
                         % (self.port, self.dir, options), "start", check=False)
            if r.returncode == 0:
                return
            # After a kill -9, orphaned backends hold the shared memory briefly.
            if time.monotonic() > deadline:
                raise RuntimeError("pg_ctl start failed: %s" % r.stderr)
            time.sleep(0.2)

    def stop(self, mode="fast"):
        self.run(PG_BIN + "/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop", check=False)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster()
    c.start()
    yield c
    c.destroy()


class Load:
    """Threads doing mixed writes and reads. Records every write acknowledged
    with a 2xx, and how long each non-2xx answer took."""

    def __init__(self, srv, token, threads=3):
        self.srv, self.token = srv, token
        self.acked_threads, self.acked_items = [], []
        self.statuses = {}
        self.slow_errors = []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.workers = [threading.Thread(target=self.work, args=(i,)) for i in range(threads)]

    def work(self, n):
        c = self.srv.client(self.token)
        tid = None
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            t0 = time.monotonic()
            try:
                if tid is None or i % 5 == 0:
                    doc = thread_doc("thr_%d_%d_%s" % (n, i, uuid.uuid4().hex[:6]))
                    r = c.put("/v1/threads/" + doc["id"], doc)
                    if r.status == 204:
                        tid = doc["id"]
                        with self.lock:
                            self.acked_threads.append(doc["id"])
                elif i % 5 in (1, 2):
                    item = user_message(tid)
                    r = c.post("/v1/threads/%s/items" % tid, item)
                    if r.status == 201:
                        with self.lock:
                            self.acked_items.append((tid, item["id"]))
                else:
                    r = c.get("/v1/threads?limit=5")
                status = r.status
            except (OSError, EOFError) as e:  # the service must not drop us
                status = "conn-error: %s" % e
                c.close()
                c = self.srv.client(self.token)
            took = time.monotonic() - t0
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status not in (200, 201, 204) and took > 1.5:
                    self.slow_errors.append((status, took))
            if status not in (200, 201, 204):
                time.sleep(0.01)
        c.close()

    def __enter__(self):
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for w in self.workers:
            w.join(30)

    def ok_count(self):
        with self.lock:
            return sum(v for k, v in self.statuses.items() if k in (200, 201, 204))


def first_success_after(srv, token, since_deadline=20):
    c = srv.client(token)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < since_deadline:
            r = c.get("/v1/threads?limit=1")
            if r.status == 200:
                return time.monotonic() - t0
            assert r.status == 503, r
            time.sleep(0.02)
        raise AssertionError("no success within %ss after the database came back"
                             % since_deadline)
    finally:
        c.close()


def check_all_acked_present(cluster_url, user, load):
    threads = {r[0] for r in th.psql(cluster_url,
               "SELECT id FROM threads WHERE user_id = '%s'" % user)}
    items = {(r[0], r[1]) for r in th.psql(cluster_url,
             "SELECT thread_id, id FROM items WHERE user_id = '%s'" % user)}
    missing_t = [t for t in load.acked_threads if t not in threads]
    missing_i = [i for i in load.acked_items if i not in items]
    assert not missing_t and not missing_i, (missing_t[:5], missing_i[:5])
    assert load.acked_threads and load.acked_items


def allow_db_errors(line):
    # connection losses are logged as warnings; nothing else may be an error
    return False


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_database_outage_under_load(cluster, start_server, make_token, how):
    srv = start_server(["--pool-size", "2", "--query-timeout", "5"],
                       database_url=cluster.url)
    user = "user-" + uuid.uuid4().hex
    token = make_token(user)
    with Load(srv, token) as load:
        wait_for(lambda: load.ok_count() > 30, timeout=20, what="load to get going")
        if how == "restart":
            cluster.stop("fast")
        else:
            os.kill(cluster.postmaster_pid(), signal.SIGKILL)
        # While the database is down the service answers, quickly, with 503.
        c = srv.client(token)
        wait_for(lambda: c.get("/readyz").status == 503, timeout=10,
                 what="readyz to report the database down")
        for _ in range(5):
            t0 = time.monotonic()
            r = c.get("/v1/threads")
            assert r.status == 503, r
            assert time.monotonic() - t0 < 1.0
            assert r.headers.get("retry-after")
        c.close()
        time.sleep(0.5)
        cluster.start()
        took = first_success_after(srv, token)
        # backoff is capped at 1 s (plus jitter and the connect itself)
        assert took < 2.5, took
        before = load.ok_count()
        wait_for(lambda: load.ok_count() > before + 30, timeout=20,
                 what="load to succeed again")
    assert not [s for s in load.statuses if isinstance(s, str)], load.statuses
    assert not load.slow_errors, load.slow_errors[:5]
    check_all_acked_present(cluster.url, user, load)
    text = srv.client(None).get("/metrics").raw.decode()
    assert "threadstore_db_reconnects_total 0" not in text


def test_backend_terminated_mid_load(cluster, start_server, make_token):
    srv = start_server(["--pool-size", "2"], database_url=cluster.url)
    user = "user-" + uuid.uuid4().hex
    token = make_token(user)
    with Load(srv, token) as load:
        wait_for(lambda: load.ok_count() > 30, timeout=20, what="load to get going")
        for _ in range(3):
            th.psql(cluster.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'threadstore'")
            time.sleep(0.3)
        before = load.ok_count()
        wait_for(lambda: load.ok_count() > before + 30, timeout=20,
                 what="load to succeed after the terminations")
    assert not [s for s in load.statuses if isinstance(s, str)], load.statuses
    check_all_acked_present(cluster.url, user, load)


@pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")
def test_client_gone_mid_query_connection_reused(start_server, make_token):
    """The client leaves while its query waits on a lock: the query's result is
    dropped when it comes, and the one database connection serves on."""
    url = th.database_url()
    since = th.db_now(url)
    srv = start_server(["--pool-size", "1"])
    user = "user-" + uuid.uuid4().hex
    token = make_token(user)
    c = srv.client(token)
    c.save_thread(thread_doc("thr_gone"))
    with th.TableLocker(url):
        for _ in range(3):
            gone = srv.raw()
            gone.send(th.raw_request("GET", "/v1/threads/thr_gone", token=token))
            gone.close()
        wait_for(lambda: th.server_backends(url, since, waiting_on_lock=True),
                 timeout=10, what="the queries to wait on the lock")
    r = c.get("/v1/threads/thr_gone")
    assert r.status == 200
    text = srv.client(None).get("/metrics").raw.decode()
    assert "threadstore_db_reconnects_total 0" in text
    assert "threadstore_queries_in_flight 0" in text
    c.close()


def test_connects_when_the_first_address_refuses(start_server):
    """libpq moves to the next host after a refusal with a new socket, which
    usually gets the same descriptor number: the service must watch the new
    socket, not the closed one (else every connect hangs until its timeout)."""
    import urllib.parse
    u = urllib.parse.urlparse(th.database_url())
    conninfo = "host=127.0.0.1,%s port=%d,%d user=%s dbname=%s" % (
        u.hostname, free_port(), u.port or 5432, u.username or "postgres", u.path.lstrip("/"))
    srv = start_server(["--pool-size", "2", "--no-migrate"], database_url=conninfo)
    assert srv.client(None).get("/readyz").status == 200
