"""Read replicas (--replica-url) against real streaming replicas made here
(pgcluster.py: a primary, pg_basebackup -R): one that keeps up, and one held
back by recovery_min_apply_delay = 2s. Proves: every write answers with
Threadstore-LSN; a read carrying it as Threadstore-Min-LSN sees the write,
even right after it on the delayed replica (which, without it, serves stale
reads: it is used); fresh reads go to the replica (its metrics count them);
a replica stopped costs no error (the primary serves) and is used again once
restarted; a malformed Min-LSN is a 400 with JSON."""

import re
import threading
import time
import uuid

import pytest

import pgcluster
import tshelpers as th
from tshelpers import q, thread_doc, wait_for

pytestmark = pytest.mark.skipif(not pgcluster.available(),
                                reason="PostgreSQL 15 server binaries not installed")

DELAY_S = 2


@pytest.fixture(scope="module")
def cluster():
    c = pgcluster.Cluster()
    try:
        c.fresh = c.add_replica("fresh")
        c.delayed = c.add_replica("delayed",
                                  "recovery_min_apply_delay = '%ds'\n" % DELAY_S)
        yield c
    finally:
        c.close()


def start(cluster, jwt_secret, log_dir, replica, *args):
    srv = th.ServerProcess(th.binary_path(), cluster.primary.url, jwt_secret,
                           extra_args=["--pool-size", "2", "--replica-url", replica.url]
                           + list(args), log_dir=log_dir, name="replica")
    return srv.start()


@pytest.fixture(scope="module")
def fresh_srv(cluster, jwt_secret, log_dir):
    srv = start(cluster, jwt_secret, log_dir, cluster.fresh)
    yield srv
    srv.stop_and_check()


@pytest.fixture(scope="module")
def delayed_srv(cluster, jwt_secret, log_dir):
    # The delayed replica is seconds behind; allowed here so that reads
    # without Min-LSN do go to it (and show what Min-LSN protects against).
    srv = start(cluster, jwt_secret, log_dir, cluster.delayed, "--replica-max-lag", "30000")
    yield srv
    srv.stop_and_check()


def metric(srv, name, labels=""):
    c = srv.client()
    try:
        r = c.get("/metrics", token=None)
    finally:
        c.close()
    assert r.status == 200
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)),
                  r.raw.decode(), re.M)
    assert m, "%s%s not in /metrics" % (name, labels)
    return float(m.group(1))


def usable(srv):
    c = srv.client()
    try:
        r = c.get("/readyz", token=None)
    finally:
        c.close()
    assert r.status == 200, r  # a replica down or stale never makes the instance unready
    return r.json["replicas"][0]["usable"]


def parse_lsn(s):
    hi, lo = s.split("/")
    return int(hi, 16) << 32 | int(lo, 16)


def write_thread(c, title="t"):
    doc = thread_doc(title=title)
    r = c.put("/v1/threads/" + q(doc["id"]), doc)
    assert r.status == 204, r
    lsn = r.headers.get("Threadstore-LSN")
    assert lsn and re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", lsn), lsn
    return doc, lsn


def test_writes_carry_lsn_and_bad_min_lsn_is_400(fresh_srv, make_token):
    c = fresh_srv.client(make_token("u-" + uuid.uuid4().hex))
    try:
        _, a = write_thread(c)
        _, b = write_thread(c)
        assert parse_lsn(b) > parse_lsn(a)
        # after the commit: the primary is there already
        now = cluster_primary_lsn(fresh_srv)
        assert parse_lsn(b) <= now
        for bad in ("x", "1/", "/1", "1/2/3", "123456789/0", "1 /2", "-1/2", "0x1/2", ""):
            r = c.get("/v1/threads?limit=1", headers={"Threadstore-Min-LSN": bad})
            if bad == "":
                assert r.status == 200  # an empty header is no header
                continue
            th.check_error(r, 400, "bad_request")
            assert "Threadstore-Min-LSN" in r.json["error"]["message"]
        r = c.get("/v1/threads?limit=1", headers={"Threadstore-Min-LSN": " %s " % b})
        assert r.status == 200
        # reads carry no position
        assert r.headers.get("Threadstore-LSN") is None
    finally:
        c.close()


def cluster_primary_lsn(srv):
    url = srv.database_url
    out = th.psql(url, "SELECT pg_current_wal_insert_lsn()")
    return parse_lsn(out[0][0])


def test_fresh_replica_serves_reads(fresh_srv, make_token):
    c = fresh_srv.client(make_token("u-" + uuid.uuid4().hex))
    try:
        doc, lsn = write_thread(c)
        wait_for(lambda: usable(fresh_srv), timeout=15, what="the replica to be usable")
        # Once the probe has seen it replay the write, a Min-LSN read goes there.

        def on_replica():
            n = metric(fresh_srv, "threadstore_db_reads_total", '{node="replica1"}')
            r = c.get("/v1/threads/" + q(doc["id"]), headers={"Threadstore-Min-LSN": lsn})
            assert r.status == 200 and r.json["id"] == doc["id"], r
            return metric(fresh_srv, "threadstore_db_reads_total", '{node="replica1"}') > n
        wait_for(on_replica, timeout=10, what="a Min-LSN read served by the replica")
        before = metric(fresh_srv, "threadstore_db_served_total", '{node="replica1"}')
        before_p = metric(fresh_srv, "threadstore_db_served_total", '{node="primary"}')
        for _ in range(20):  # reads without Min-LSN: to the fresh replica
            r = c.get("/v1/threads/" + q(doc["id"]))
            assert r.status == 200 and r.json["id"] == doc["id"], r
            r = c.get("/v1/threads?limit=5")
            assert r.status == 200 and doc["id"] in [t["id"] for t in r.json["data"]], r
        # (the lag probes are not counted: user statements only)
        served = metric(fresh_srv, "threadstore_db_served_total", '{node="replica1"}') - before
        assert served >= 40, served
        assert metric(fresh_srv, "threadstore_db_served_total", '{node="primary"}') == before_p
    finally:
        c.close()


def test_in_transaction_position_is_not_enough(cluster):
    """Why Threadstore-LSN is read after the commit: the WAL insert position
    read inside the writing transaction is before its commit record, and the
    delayed replica reaches it (it holds back only commit records) while the
    row is still invisible there."""
    p, d = cluster.primary, cluster.delayed
    p.sql("CREATE TABLE IF NOT EXISTS rt_probe (x int)")
    wait_for(lambda: d.sql("SELECT to_regclass('rt_probe') IS NOT NULL") == "t",
             timeout=15, what="the table on the delayed replica")
    mark = uuid.uuid4().int % 1000000
    inside = p.sql("BEGIN; INSERT INTO rt_probe VALUES (%d); "
                   "SELECT pg_current_wal_insert_lsn(); COMMIT;" % mark)
    after = p.sql("SELECT pg_current_wal_insert_lsn()")
    wait_for(lambda: parse_lsn(d.sql("SELECT pg_last_wal_replay_lsn()")) >= parse_lsn(inside),
             timeout=DELAY_S, interval=0.02, what="replay past the in-transaction position")
    assert d.sql("SELECT count(*) FROM rt_probe WHERE x = %d" % mark) == "0"
    assert parse_lsn(d.sql("SELECT pg_last_wal_replay_lsn()")) < parse_lsn(after)
    # once past the position read after the commit, the row is there
    wait_for(lambda: parse_lsn(d.sql("SELECT pg_last_wal_replay_lsn()")) >= parse_lsn(after),
             timeout=DELAY_S * 5, what="replay past the commit")
    assert d.sql("SELECT count(*) FROM rt_probe WHERE x = %d" % mark) == "1"


def test_read_your_writes_on_delayed_replica(delayed_srv, make_token):
    c = delayed_srv.client(make_token("u-" + uuid.uuid4().hex))
    try:
        wait_for(lambda: usable(delayed_srv), timeout=20, what="the delayed replica usable")
        stale = 0
        for i in range(10):
            doc, lsn = write_thread(c, title="w%d" % i)
            # Right after the write, with its position: always seen.
            r = c.get("/v1/threads/" + q(doc["id"]), headers={"Threadstore-Min-LSN": lsn})
            assert r.status == 200 and r.json["title"] == "w%d" % i, r
            # Without it the replica answers, seconds behind: not in its list yet.
            r = c.get("/v1/threads?limit=100&order=desc")
            assert r.status == 200, r
            stale += doc["id"] not in [t["id"] for t in r.json["data"]]
            # A row named by id is never 404 for want of replay: the primary is asked.
            r = c.get("/v1/threads/" + q(doc["id"]))
            assert r.status == 200 and r.json["title"] == "w%d" % i, r
        assert stale >= 8, "the delayed replica was not used: %d stale reads of 10" % stale
        assert metric(delayed_srv, "threadstore_db_reads_min_lsn_primary_total") >= 10
        assert metric(delayed_srv, "threadstore_replica_handoffs_total",
                      '{replica="replica1"}') >= 8
        # Once it has replayed that far, Min-LSN reads go to the replica.
        before = metric(delayed_srv, "threadstore_db_reads_total", '{node="replica1"}')

        def replica_takes_it():
            r = c.get("/v1/threads/" + q(doc["id"]), headers={"Threadstore-Min-LSN": lsn})
            assert r.status == 200 and r.json["title"] == "w9", r
            return metric(delayed_srv, "threadstore_db_reads_total",
                          '{node="replica1"}') > before
        wait_for(replica_takes_it, timeout=DELAY_S * 5, interval=0.2,
                 what="a Min-LSN read served by the replica")
    finally:
        c.close()


def test_replica_stopped_then_restarted(cluster, fresh_srv, make_token):
    token = make_token("u-" + uuid.uuid4().hex)
    c = fresh_srv.client(token)
    doc, lsn = write_thread(c)
    c.close()
    wait_for(lambda: usable(fresh_srv), timeout=15, what="the replica to be usable")
    failures, done, count = [], threading.Event(), [0]

    def reader():
        rc = fresh_srv.client(token)
        try:
            while not done.is_set():
                r = rc.get("/v1/threads/" + q(doc["id"]),
                           headers={"Threadstore-Min-LSN": lsn})
                if r.status != 200:
                    failures.append(r)
                count[0] += 1
        finally:
            rc.close()

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        time.sleep(0.5)
        cluster.fresh.stop("fast")  # sessions get 57P01, then the socket closes
        wait_for(lambda: not usable(fresh_srv), timeout=10, what="the replica unusable")
        n = count[0]
        wait_for(lambda: count[0] > n + 50, timeout=10, what="reads while it is down")
        cluster.fresh.start()
        wait_for(lambda: usable(fresh_srv), timeout=20, what="the replica used again")
        served = metric(fresh_srv, "threadstore_db_served_total", '{node="replica1"}')
        wait_for(lambda: metric(fresh_srv, "threadstore_db_served_total",
                                '{node="replica1"}') > served + 20,
                 timeout=10, what="reads served by the restarted replica")
    finally:
        done.set()
        for t in readers:
            t.join()
    assert not failures, failures[:5]
    assert count[0] > 100
