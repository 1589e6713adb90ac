"""Through PgBouncer in transaction mode (what Neon's pooler is): a real
pgbouncer started here in front of the test database. Debian 12's PgBouncer
(1.18) does not track protocol-level prepared statements, so the service runs
with --statements unnamed; pipelining works because every query ends with its
own Sync, i.e. is its own transaction."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

import tshelpers as th
from tshelpers import thread_doc, user_message, wait_for

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
pytestmark = pytest.mark.skipif(not os.path.exists(PGBOUNCER), reason="pgbouncer not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bouncer():
    u = urllib.parse.urlparse(th.database_url())
    d = tempfile.mkdtemp(prefix="ts-pgbouncer-")
    port = free_port()
    with open(os.path.join(d, "users.txt"), "w") as f:
        f.write('"%s" ""\n' % (u.username or "postgres"))
    with open(os.path.join(d, "pgbouncer.ini"), "w") as f:
        f.write("""[databases]
threadstore = host=%s port=%d dbname=%s user=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s/users.txt
pool_mode = transaction
default_pool_size = 3
max_client_conn = 200
logfile = %s/pgbouncer.log
""" % (u.hostname or "127.0.0.1", u.port or 5432, u.path.lstrip("/"), u.username or "postgres",
       port, d, d))
    root = os.geteuid() == 0
    if root:  # pgbouncer, like PostgreSQL, will not run as root
        shutil.chown(d, "postgres")
        for name in os.listdir(d):
            shutil.chown(os.path.join(d, name), "postgres")
    cmd = (["runuser", "-u", "postgres", "--"] if root else []) + [
        PGBOUNCER, os.path.join(d, "pgbouncer.ini")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout=10, what="pgbouncer to listen")
    yield "postgresql://%s@127.0.0.1:%d/threadstore" % (u.username or "postgres", port), d
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(d, ignore_errors=True)


def test_store_through_pgbouncer_transaction_mode(bouncer, start_server, make_token):
    url, d = bouncer
    srv = start_server(["--statements", "unnamed", "--pool-size", "4", "--no-migrate"],
                       database_url=url)
    user = "user-" + uuid.uuid4().hex
    c = srv.client(make_token(user))
    t = thread_doc()
    assert c.put("/v1/threads/" + t["id"], t).status == 204
    items = [user_message(t["id"], created_at="2025-06-01T12:00:00") for _ in range(25)]
    for it in items:
        assert c.post("/v1/threads/%s/items" % t["id"], it).status == 201
    got, sizes = c.page_all("/v1/threads/%s/items" % t["id"], 7)
    assert sizes == [7, 7, 7, 4]
    assert [i["id"] for i in got] == [i["id"] for i in items]
    assert json.loads(c.get("/v1/threads/" + t["id"]).raw) == t

    # Many clients at once: many queries in flight on each pooled connection.
    errors, done = [], []

    def work(n):
        cc = srv.client(make_token(user))
        for i in range(40):
            doc = thread_doc("thr_pgb_%d_%d" % (n, i))
            r1 = cc.put("/v1/threads/" + doc["id"], doc)
            r2 = cc.get("/v1/threads/" + doc["id"])
            if r1.status != 204 or r2.status != 200 or json.loads(r2.raw) != doc:
                errors.append((r1, r2))
        done.append(n)
        cc.close()
    ts = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for x in ts:
        x.start()
    for x in ts:
        x.join(60)
    assert len(done) == 16 and not errors, errors[:3]
    c.close()
    # and it really went through the pooler
    with open(os.path.join(d, "pgbouncer.log")) as f:
        assert "login attempt" in f.read()


def metric(srv, name):
    for line in srv.client().get("/metrics").raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


LOST = "prepared statements lost"


def test_prepared_statements_behind_pgbouncer_fall_back_to_unnamed(bouncer, start_server,
                                                                    make_token):
    """Row 15: --statements prepared behind PgBouncer 1.18 in transaction mode
    (which does not keep prepared statements per client). Before the fix
    about half the requests got 500 (SQLSTATE 26000 / 42P05) for as long as
    it ran, with /readyz 200 and nothing saying why. Now the first lost
    statement is said once, in one error line naming the fix; the pool
    switches to unnamed statements and sends the affected queries again, so
    no request fails; /readyz and /metrics say it."""
    url, d = bouncer
    srv = start_server(["--statements", "prepared", "--pool-size", "4", "--no-migrate"],
                       database_url=url, allow_error=lambda line: LOST in line)
    user = "user-" + uuid.uuid4().hex
    errors, done = [], []

    def work(n):
        cc = srv.client(make_token(user))
        for i in range(30):
            doc = thread_doc("thr_pgbp_%d_%d" % (n, i))
            r1 = cc.put("/v1/threads/" + doc["id"], doc)
            r2 = cc.get("/v1/threads/" + doc["id"])
            if r1.status != 204 or r2.status != 200 or json.loads(r2.raw) != doc:
                errors.append((r1, r2))
        done.append(n)
        cc.close()
    ts = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for x in ts:
        x.start()
    for x in ts:
        x.join(60)
    assert len(done) == 8 and not errors, errors[:3]
    log = srv.log_text()
    lost = [line for line in log.splitlines() if LOST in line]
    assert len(lost) == 1, lost  # said once, not per query
    assert "level=error" in lost[0] and "--statements unnamed" in lost[0]
    assert "max_prepared_statements" in lost[0]
    assert "status=500" not in log
    r = srv.client().get("/readyz")
    assert r.status == 200 and "--statements unnamed" in r.json["degraded"], r
    assert metric(srv, "threadstore_db_prepared_statements_lost") == 1
    assert metric(srv, "threadstore_db_statement_lost_total") >= 1


def test_big_write_through_pgbouncer_with_pipelined_reads(bouncer, start_server, make_token):
    """Item 7: a 20 MB parameter (an item holding an image as a data: URL)
    through PgBouncer 1.18 in transaction mode, while other clients' reads
    are pipelined on the same pooled connections. libpq sends the big Bind
    in pieces as the socket drains; the reads must neither fail nor wait for
    it, and the item reads back byte for byte."""
    url, d = bouncer
    srv = start_server(["--statements", "unnamed", "--pool-size", "2", "--no-migrate",
                        "--max-body", "67108864"], database_url=url)
    user = "user-" + uuid.uuid4().hex
    tok = make_token(user)
    c = srv.client(tok)
    c.conn.timeout = 120
    t = thread_doc()
    assert c.put("/v1/threads/" + t["id"], t).status == 204
    small = user_message(t["id"], created_at="2025-06-01T12:00:00")
    assert c.post("/v1/threads/%s/items" % t["id"], small).status == 201
    image = "data:image/png;base64," + "A" * (20 << 20)
    big = user_message(t["id"], created_at="2025-06-01T12:00:01", text=image)
    stop, errors, reads = threading.Event(), [], [0]

    def reader():
        cc = srv.client(tok)
        while not stop.is_set():
            r = cc.get("/v1/threads/%s/items/%s" % (t["id"], small["id"]))
            if r.status != 200 or json.loads(r.raw) != small:
                errors.append(r)
            reads[0] += 1
        cc.close()
    rs = [threading.Thread(target=reader) for _ in range(4)]
    for x in rs:
        x.start()
    try:
        before = reads[0]
        r = c.post("/v1/threads/%s/items" % t["id"], big)
        during = reads[0] - before
    finally:
        stop.set()
        for x in rs:
            x.join(60)
    assert r.status == 201, r
    assert not errors, errors[:3]
    assert during > 0  # reads went on while the big write was sent
    got = c.get("/v1/threads/%s/items/%s" % (t["id"], big["id"]))
    assert got.status == 200 and json.loads(got.raw) == big
    c.close()
