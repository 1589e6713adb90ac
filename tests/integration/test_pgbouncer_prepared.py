"""Neon's pooler is PgBouncer >= 1.21 in transaction mode with prepared
statements tracked (max_prepared_statements). Debian 12 ships 1.18, so this
runs only with a PgBouncer >= 1.21 named by THREADSTORE_PGBOUNCER_BIN (a local
run; CI has none, and skips it saying so): one built from its public source
(github pgbouncer/pgbouncer, tag pgbouncer_1_25_2 was used; on Debian 12 it
needs libevent-dev, autoconf, automake and libtool) in a scratch folder
outside the repository, never committed.

With max_prepared_statements = 200 (at least Q_COUNT, 38 statements): two
instances in --statements prepared share 4 server connections; mixed load
from both, then the contract tests through the pooler: no error, no lost
statement, every acknowledged write there. With max_prepared_statements = 0
(the default of 1.21-1.23): the symptoms README.md describes (26000/42P05)
and the pool's fall back to unnamed statements, with no failed request."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

import tshelpers as th
from tshelpers import thread_doc, user_message, wait_for

BIN = os.environ.get("THREADSTORE_PGBOUNCER_BIN", "")
HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    if not BIN or not os.path.exists(BIN):
        return None
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
    m = re.search(r"PgBouncer (\d+)\.(\d+)", out.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else None


VERSION = version()
pytestmark = pytest.mark.skipif(
    VERSION is None or VERSION < (1, 21),
    reason="local only: set THREADSTORE_PGBOUNCER_BIN to a PgBouncer >= 1.21 built from its "
    "public source (see this file's docstring); Debian 12's 1.18 has no "
    "max_prepared_statements, and CI has none" + ("" if VERSION is None else
                                                 " (got %d.%d)" % VERSION))

LOST = "prepared statements lost"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bouncer(max_prepared):
    u = urllib.parse.urlparse(th.database_url())
    d = tempfile.mkdtemp(prefix="ts-pgbouncer-prep-")
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
default_pool_size = 4
max_client_conn = 200
max_prepared_statements = %d
logfile = %s/pgbouncer.log
""" % (u.hostname or "127.0.0.1", u.port or 5432, u.path.lstrip("/"),
            u.username or "postgres", port, d, max_prepared, d))
    root = os.geteuid() == 0
    if root:
        shutil.chown(d, "postgres")
        for name in os.listdir(d):
            shutil.chown(os.path.join(d, name), "postgres")
    cmd = (["runuser", "-u", "postgres", "--"] if root else []) + [
        BIN, os.path.join(d, "pgbouncer.ini")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout=10, what="pgbouncer to listen")
    url = "postgresql://%s@127.0.0.1:%d/threadstore" % (u.username or "postgres", port)
    return proc, url, d


@pytest.fixture
def bouncer200():
    proc, url, d = start_bouncer(200)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def bouncer0():
    proc, url, d = start_bouncer(0)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(d, ignore_errors=True)


def metric(srv, name):
    for line in srv.client().get("/metrics").raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def mixed_load(servers, make_token, seconds):
    """Writes and reads from 16 clients over all servers; returns (errors, acked)."""
    errors, acked, stop = [], [], time.monotonic() + seconds
    user = "user-" + uuid.uuid4().hex

    def work(n):
        c = servers[n % len(servers)].client(make_token(user))
        i = 0
        while time.monotonic() < stop:
            t = thread_doc("thr_pgp_%d_%d" % (n, i))
            r = c.put("/v1/threads/" + t["id"], t)
            if r.status != 204:
                errors.append(r)
                continue
            acked.append(t["id"])
            it = user_message(t["id"], created_at="2025-06-01T12:00:00")
            r = c.post("/v1/threads/%s/items" % t["id"], it)
            if r.status != 201:
                errors.append(r)
            r = c.get("/v1/threads/%s?items=5" % t["id"])
            if r.status != 200 or len(r.json["items"]["data"]) != 1:
                errors.append(r)
            r = c.get("/v1/threads?limit=5")
            if r.status != 200:
                errors.append(r)
            i += 1
        c.close()
    ts = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for x in ts:
        x.start()
    for x in ts:
        x.join(seconds + 60)
    return user, errors, acked


def test_prepared_mode_two_instances_share_the_pool(bouncer200, start_server, make_token):
    args = ["--statements", "prepared", "--pool-size", "4", "--no-migrate"]
    a = start_server(args, database_url=bouncer200)
    b = start_server(args, database_url=bouncer200)
    user, errors, acked = mixed_load([a, b], make_token, 15)
    assert not errors, errors[:3]
    assert len(acked) > 100
    print("pgbouncer %d.%d prepared: %d threads written (each with an item and two reads), "
          "0 errors" % (VERSION + (len(acked),)))
    # every acknowledged write is there (read straight from PostgreSQL)
    n = th.psql(th.database_url(), "SELECT count(*) FROM threads WHERE user_id = '%s'" % user)
    assert int(n[0][0]) == len(acked)
    for srv in (a, b):
        assert LOST not in srv.log_text()
        assert metric(srv, "threadstore_db_prepared_statements_lost") == 0
        assert metric(srv, "threadstore_db_statement_lost_total") == 0
        assert "degraded" not in srv.client().get("/readyz").raw.decode()


def test_conformance_suite_through_the_pooler_prepared(bouncer200):
    """The contract tests, their server reaching PostgreSQL through the pooler."""
    env = dict(os.environ, DATABASE_URL=bouncer200, THREADSTORE_STATEMENTS="prepared")
    files = ["test_threads.py", "test_items.py", "test_attachments.py", "test_ordering.py",
             "test_isolation_matrix.py", "test_history.py", "test_search.py",
             "test_export.py"]
    # (the migration test makes databases of its own: the pooler knows only threadstore)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-k", "not test_migration_from_the_previous_schema"]
                         + [os.path.join(HERE, f) for f in files],
                         env=env, capture_output=True, text=True, timeout=900, cwd=HERE)
    tail = "\n".join(out.stdout.splitlines()[-15:])
    assert out.returncode == 0, tail
    print(tail)


def test_without_tracking_falls_back(bouncer0, start_server, make_token):
    """max_prepared_statements = 0 (the default of 1.21-1.23): the symptoms,
    then the fall back to unnamed statements; no request fails."""
    a = start_server(["--statements", "prepared", "--pool-size", "4", "--no-migrate"],
                     database_url=bouncer0, allow_error=lambda line: LOST in line)
    b = start_server(["--statements", "prepared", "--pool-size", "4", "--no-migrate"],
                     database_url=bouncer0, allow_error=lambda line: LOST in line)
    _, errors, acked = mixed_load([a, b], make_token, 5)
    assert not errors, errors[:3]
    lost = sum(metric(s, "threadstore_db_prepared_statements_lost") for s in (a, b))
    assert lost >= 1  # 26000/42P05 met, and said
    for s in (a, b):
        if metric(s, "threadstore_db_prepared_statements_lost"):
            assert "--statements unnamed" in s.client().get("/readyz").json["degraded"]
