"""The change feed's direct path (issue 12): a write returns its change, and a
stream at the number before it gets the event with no statement, on the
instance that wrote it and (through the NOTIFY payload) on another. A gap (a
change committed that nobody announced, as from an instance that died before
its NOTIFY) falls back to the fetch; ordering holds when direct events and
fetches race. The metrics tell which path delivered."""

import contextlib
import re
import threading
import time

import pytest

import ssehelpers as sh
import tshelpers as th


@pytest.fixture(scope="module")
def two(jwt_secret, log_dir):
    srvs = [th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                             extra_args=["--pool-size", "2"], log_dir=log_dir,
                             name=n).start() for n in ("direct-a", "direct-b")]
    yield srvs
    for s in srvs:
        s.stop_and_check()


def metric(srv, name):
    m = srv.client().get("/metrics").raw.decode()
    return int(re.search(r"^%s (\d+)$" % re.escape(name), m, re.M).group(1))


def counters(srv):
    return {k: metric(srv, "threadstore_change_" + k) for k in
            ("direct_events_total", "fetches_total", "events_total", "notifies_total")}


def stream(srv, token, **kw):
    s = sh.SSEStream(srv.host, srv.port, token, **kw)
    assert s.read_head() == 200, getattr(s, "error", None)
    return s


@contextlib.contextmanager
def watching(two, make_token, user_id, where):
    """(srv, writer on A, thread, stream on srv) with the stream live: it got a
    first event and its catch-up and go-live fetch are over."""
    a, b = two
    srv = a if where == "same" else b
    tok = make_token(user_id)
    ca = a.client(tok)
    t = th.thread_doc()
    s = stream(srv, tok)
    try:
        ca.save_thread(t)
        assert s.next_event(timeout=10)["event"] == "thread.saved"
        settle(srv)
        yield srv, ca, t, s
    finally:
        s.close()
        ca.close()


def settle(srv):
    """Until no statement of the feed's is in flight (its counters hold still)."""
    last = [None]

    def still():
        c = counters(srv)
        same, last[0] = c == last[0], c
        time.sleep(0.1)
        return same

    th.wait_for(still, timeout=10, what="the feed's counters to settle")


@pytest.mark.parametrize("where", ["same", "other"])
def test_direct_delivery_costs_no_fetch(two, make_token, user_id, where):
    with watching(two, make_token, user_id, where) as (srv, ca, t, s):
        before = counters(srv)
        n = 20
        for i in range(n):  # one at a time: each lands on a stream at the number before it
            ca.add_item(th.user_message(t["id"], iid="d%d" % i))
            e = s.next_event(timeout=10)
            assert e["event"] == "item.added" and e["json"]["item_id"] == "d%d" % i
            assert e["id"] == e["json"]["cursor"]
        after = counters(srv)
        assert after["direct_events_total"] - before["direct_events_total"] == n
        assert after["fetches_total"] == before["fetches_total"]
        # the same text as the table's: the page of the same changes
        page = ca.get("/v1/changes?limit=1000").json["data"]
        assert page[-1]["item_id"] == "d%d" % (n - 1)
        ca.save_item(dict(th.user_message(t["id"], iid="d0"), created_at="2025-06-01T12:00:02Z"))
        e = s.next_event(timeout=10)
        assert e["json"] == ca.get("/v1/changes?limit=1000").json["data"][-1]
        assert e["event"] == "item.saved"


def test_a_noop_write_announces_nothing(two, make_token, user_id):
    a, _ = two
    ca = a.client(make_token(user_id))
    t = th.thread_doc()
    ca.save_thread(t)
    m = th.user_message(t["id"])
    ca.add_item(m)
    settle(a)
    before = metric(a, "threadstore_change_notifies_total")
    for _ in range(5):
        ca.add_item(m)  # the same item again: 201, nothing recorded
    assert metric(a, "threadstore_change_notifies_total") == before
    assert [c["kind"] for c in ca.get("/v1/changes").json["data"]] == ["thread.saved",
                                                                      "item.added"]
    ca.close()


@pytest.mark.parametrize("where", ["same", "other"])
def test_a_gap_falls_back_to_the_table(two, make_token, user_id, where):
    """A change committed with no announcement (as from an instance that died
    between its commit and its NOTIFY): the next write's change is not next
    for the stream, which fetches, and gets both, in order, once."""
    with watching(two, make_token, user_id, where) as (srv, ca, t, s):
        before = counters(srv)
        th.psql(th.database_url(),
                "WITH h AS (UPDATE change_heads SET n = n + 1 WHERE user_id = '%s'"
                " RETURNING n, at_us) INSERT INTO changes (user_id, n, kind, thread_id, at_us)"
                " SELECT '%s', n, 'thread.saved', 'silent', at_us FROM h" % (user_id, user_id))
        assert s.next_event(timeout=1.0) is None  # nobody announced it
        ca.add_item(th.user_message(t["id"], iid="after-gap"))
        evs = s.events(2, timeout=10)
        assert [e["json"]["thread_id"] for e in evs] == ["silent", t["id"]]
        assert evs[1]["json"]["item_id"] == "after-gap"
        after = counters(srv)
        assert after["fetches_total"] > before["fetches_total"]
        assert after["direct_events_total"] == before["direct_events_total"]
        # and the next one is direct again
        ca.add_item(th.user_message(t["id"], iid="next"))
        assert s.next_event(timeout=10)["json"]["item_id"] == "next"
        assert counters(srv)["direct_events_total"] == before["direct_events_total"] + 1
        assert s.next_event(timeout=0.5) is None  # nothing twice


@pytest.mark.parametrize("where", ["same", "other"])
def test_direct_and_fetch_race_in_order(two, make_token, user_id, where):
    """16 writers for one user on A: their results come back out of number
    order, so streams meet changes that are next (direct) and changes past a
    gap (fetch) in any interleaving; streams on the writing instance or the
    other one, dropping and resuming, see every change once, in order."""
    a, b = two
    srv = a if where == "same" else b
    tok = make_token(user_id)
    ca = a.client(tok)
    t = th.thread_doc()
    ca.save_thread(t)
    base = ca.get("/v1/changes").json["after"]
    writers, per = 16, 20
    total = writers * per
    before = counters(srv)

    def write(w):
        c = a.client(tok)
        for i in range(per):
            c.add_item(th.user_message(t["id"], iid="r%d-%d" % (w, i)))
        c.close()

    results, errors = [], []

    def subscribe(seed):
        try:
            got = sh.read_resuming(lambda last: stream(srv, tok, last_event_id=last), base,
                                   total, seed, most=80)
            results.append([g["cursor"] for g in got])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    subs = [threading.Thread(target=subscribe, args=(k,)) for k in range(4)]
    for x in subs:
        x.start()
    ws = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    for x in subs:
        x.join(60)
    assert not errors, errors
    page = ca.get("/v1/changes?limit=1000&after=" + base).json["data"]
    assert len(page) == total
    for got in results:
        assert got == [c["cursor"] for c in page]
    # both paths were taken (the direct one at least once)
    assert counters(srv)["direct_events_total"] > before["direct_events_total"]
    ca.close()
