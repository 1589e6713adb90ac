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
