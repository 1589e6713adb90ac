"""Behind a load balancer (issue 14).

Debian's HAProxy runs the very docker/haproxy.cfg that docker/compose.yaml
ships (addresses from the environment), in front of three instances on one
PostgreSQL, under mixed keep-alive read/write load:
- a rolling restart of all three (SIGTERM, exit, start, healthy, next): no
  request fails, no acknowledged write is lost, and HAProxy took each instance
  out because its /readyz said 503, not because its connections were refused;
- kill -9 of one: only the requests in flight on it may fail (at most one per
  client), HAProxy marks it down promptly, the other two keep serving.

And the service's side on its own: the drain delay (/readyz 503 while still
serving, `Connection: close`, idle connections kept until the delay ends, a
second signal cuts it short), and listening only once ready.

The figures (failed requests, time to out of rotation, retries) are printed
and written to lb-figures.json in the log directory."""

import collections
import csv
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

import tshelpers as th
from tshelpers import q, raw_request, thread_doc, user_message, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CFG = os.path.join(th.REPO, "docker", "haproxy.cfg")
NAMES = ("ts1", "ts2", "ts3")
CLIENTS = 32
MAX_REQUESTS = 200000  # a bound on the load, whatever the machine's speed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixed_port():
    """A free port below the ephemeral range, for an instance that is restarted
    on the same address: in the moment between exit and start, an outgoing
    connection (HAProxy opens many) could take an ephemeral one."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def needs_haproxy():
    if not os.path.exists(HAPROXY):
        pytest.fail("haproxy is not installed (scripts/packages.sh DEV_PKGS has it)",
                    pytrace=False)


# --------------------------------------------------------------------------
# HAProxy


class Balancer:
    """haproxy -db -f docker/haproxy.cfg, with the servers' addresses, the
    frontend's port and the stats socket passed in the environment."""

    def __init__(self, log_dir, backends):
        self.dir = log_dir
        self.port = free_port()
        self.sock = os.path.join(log_dir, "haproxy-%s.sock" % uuid.uuid4().hex[:6])
        self.log_path = os.path.join(log_dir, "haproxy-%s.log" % uuid.uuid4().hex[:6])
        self.env = dict(os.environ,
                        THREADSTORE_LB_BIND="127.0.0.1:%d" % self.port,
                        THREADSTORE_LB_MAXCONN="1000",
                        THREADSTORE_LB_STATS_SOCKET=self.sock)
        for i, (host, port) in enumerate(backends):
            self.env["THREADSTORE_LB_SERVER%d" % (i + 1)] = "%s:%d" % (host, port)
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", CFG], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf)
        wait_for(lambda: self._alive() and os.path.exists(self.sock), timeout=10,
                 what="haproxy's stats socket")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited with %s:\n%s"
                                 % (self.proc.returncode, self.log_text()))
        return True

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def command(self, cmd):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def status(self):
        """{server name: status} for the threadstore backend ("UP", "DOWN",
        "UP 1/2" = going down, "DOWN 1/2" = coming up, "MAINT", ...)."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r["status"] for r in rows
                if r["pxname"] == "threadstore" and r["svname"] in NAMES}

    def wait_status(self, name, want, timeout=20):
        return wait_for(lambda: self.status().get(name) == want, timeout=timeout,
                        interval=0.02, what="haproxy to see %s %s" % (name, want))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.logf.close()


class Watcher(threading.Thread):
    """Samples the servers' status every 10 ms and records each change with
    its time, to measure when HAProxy took an instance out and put it back."""

    def __init__(self, lb):
        super().__init__(daemon=True)
        self.lb = lb
        self.stopping = threading.Event()
        self.changes = []  # (monotonic time, name, old, new)
        self.errors = []

    def run(self):
        last = {}
        while not self.stopping.is_set():
            try:
                now = self.lb.status()
            except OSError as e:
                self.errors.append(repr(e))
                now = {}
            t = time.monotonic()
            for name, st in now.items():
                if last.get(name) != st:
                    self.changes.append((t, name, last.get(name), st))
            last.update(now)
            time.sleep(0.01)

    def first(self, name, status, after):
        for t, n, _, st in self.changes:
            if n == name and st == status and t >= after:
                return t
        return None

    def stop(self):
        self.stopping.set()
        self.join(5)


# --------------------------------------------------------------------------
# Load


class Load:
    """CLIENTS threads, each with one keep-alive connection to the balancer
    and a user of its own: adds items (POST), rewrites (PUT) and deletes some,
    reads pages, single items (checking the text last acknowledged) and the
    thread. Every request is counted in the phase it ended in; a failure is
    any exception or unexpected status. Writes acknowledged with 2xx are
    remembered, so they can all be read back at the end."""

    def __init__(self, port, make_token):
        self.port = port
        self.make_token = make_token
        self.phase = "warm-up"
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.ok = collections.Counter()
        self.failed = collections.defaultdict(list)
        self.count = 0
        self.users = []  # (user, token, thread id, acknowledged {id: text}, uncertain ids)
        self.threads = []

    def start(self):
        for i in range(CLIENTS):
            t = threading.Thread(target=self.worker, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def worker(self, idx):
        rng = random.Random(idx)
        user = "lb-%s" % uuid.uuid4().hex
        tok = self.make_token(user)
        tid = "thr_lb%02d" % idx
        acked, uncertain = {}, set()
        state = {"conn": None}
        with self.lock:
            self.users.append((user, tok, tid, acked, uncertain))

        def call(method, path, body, expect):
            with self.lock:
                self.count += 1
            hdrs = {"Authorization": "Bearer " + tok}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            try:
                if state["conn"] is None:
                    state["conn"] = http.client.HTTPConnection("127.0.0.1", self.port,
                                                               timeout=th.TIMEOUT)
                state["conn"].request(method, path, body=data, headers=hdrs)
                r = state["conn"].getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException) as e:
                if state["conn"] is not None:
                    state["conn"].close()
                state["conn"] = None
                self._fail("%s %s: %r" % (method, path, e))
                return None
            if r.status != expect:
                self._fail("%s %s: %d %r" % (method, path, r.status, raw[:200]))
                return None
            with self.lock:
                self.ok[self.phase] += 1
            return raw

        doc = thread_doc(tid)
        while call("PUT", "/v1/threads/" + tid, doc, 204) is None:
            if self.stopping.wait(0.1):
                return
        items_path = "/v1/threads/%s/items" % tid
        n = 0
        while not self.stopping.is_set() and self.count < MAX_REQUESTS:
            op = rng.random()
            live = [i for i in acked if i not in uncertain]
            if op < 0.35 or not live:
                n += 1
                iid = "msg_%02d_%06d" % (idx, n)
                text = "t%d-%d" % (idx, n)
                if call("POST", items_path, user_message(tid, iid, text=text), 201) is not None:
                    acked[iid] = text
                else:
                    uncertain.add(iid)
            elif op < 0.45:
                iid = rng.choice(live)
                text = acked[iid] + "'"
                if call("PUT", "%s/%s" % (items_path, q(iid)),
                        user_message(tid, iid, text=text), 204) is not None:
                    acked[iid] = text
                else:
                    uncertain.add(iid)
            elif op < 0.50:
                iid = rng.choice(live)
                if call("DELETE", "%s/%s" % (items_path, q(iid)), None, 204) is not None:
                    del acked[iid]
                else:
                    uncertain.add(iid)
            elif op < 0.75:
                call("GET", items_path + "?limit=20&order=desc", None, 200)
            elif op < 0.95:
                iid = rng.choice(live)
                raw = call("GET", "%s/%s" % (items_path, q(iid)), None, 200)
                if raw is not None:
                    got = json.loads(raw)["content"][0]["text"]
                    if got != acked[iid]:
                        self._fail("stale read of %s: %r, acknowledged %r"
                                   % (iid, got, acked[iid]))
            else:
                call("GET", "/v1/threads/" + tid, None, 200)
        if state["conn"] is not None:
            state["conn"].close()

    def _fail(self, what):
        # Counted in the phase it ended in: a request in flight when an
        # instance is killed belongs to the kill, whenever it began.
        with self.lock:
            self.failed[self.phase].append((time.monotonic(), what))

    def set_phase(self, name):
        with self.lock:
            self.phase = name

    def read_back(self, port):
        """Every acknowledged item is there with its acknowledged text; nothing
        that was deleted (acknowledged) or never written is. Returns the number
        of items checked."""
        checked = 0
        problems = []
        for user, tok, tid, acked, uncertain in self.users:
            c = th.Client("127.0.0.1", port, tok)
            try:
                docs, _ = c.page_all("/v1/threads/%s/items" % tid, 100)
            finally:
                c.close()
            stored = {d["id"]: d["content"][0]["text"] for d in docs}
            for iid, text in acked.items():
                if iid in uncertain:
                    continue
                checked += 1
                if stored.get(iid) != text:
                    problems.append("%s/%s: acknowledged %r, stored %r"
                                    % (user, iid, text, stored.get(iid)))
            for iid in stored:
                if iid not in acked and iid not in uncertain:
                    problems.append("%s/%s: stored but deleted" % (user, iid))
        assert not problems, "%d acknowledged writes lost or wrong:\n  %s" % (
            len(problems), "\n  ".join(problems[:30]))
        return checked


# --------------------------------------------------------------------------
# The instances


def instance(jwt_secret, log_dir, port, name):
    srv = th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                           extra_args=["--listen", "127.0.0.1:%d" % port, "--pool-size", "2",
                                       "--no-access-log"],
                           log_dir=log_dir, name=name)
    # The shipped default drain delay, not the suite's 0: it is what is tested.
    srv.env.pop("THREADSTORE_DRAIN_DELAY", None)
    return srv


def stop_all(servers):
    """SIGTERM to all at once (their drain delays overlap), then check each."""
    for s in servers:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    th.stop_all_and_check([(s, None) for s in servers])


def retried(lb_log):
    """Requests HAProxy retried (the retries field of its httplog lines; a '+'
    means redispatched to another server)."""
    n = 0
    for m in re.finditer(r" \d+/\d+/\d+/\d+/(\+?)(\d+) \d+/\d+ ", lb_log):
        if m.group(1) or int(m.group(2)) > 0:
            n += 1
    return n


def test_rolling_restart_and_kill_behind_haproxy(jwt_secret, make_token, log_dir):
    needs_haproxy()
    ports = [fixed_port() for _ in NAMES]
    servers = [instance(jwt_secret, log_dir, p, n).start() for p, n in zip(ports, NAMES)]
    lb = Balancer(log_dir, [("127.0.0.1", p) for p in ports]).start()
    watcher = Watcher(lb)
    load = None
    killed = None
    try:
        for n in NAMES:
            lb.wait_status(n, "UP")
        watcher.start()
        load = Load(lb.port, make_token).start()
        wait_for(lambda: load.ok["warm-up"] >= 200, timeout=30, what="load to start")

        # Rolling restart: one after the other, each back in rotation before the next.
        load.set_phase("rolling restart")
        restarts = []
        for i, name in enumerate(NAMES):
            t_term = time.monotonic()
            servers[i].stop_and_check()  # SIGTERM, exit 0, clean log
            t_exit = time.monotonic()
            servers[i] = instance(jwt_secret, log_dir, ports[i], name).start()
            t_ready = time.monotonic()
            t_up = wait_for(lambda: watcher.first(name, "UP", t_exit), timeout=20,
                            interval=0.01, what="haproxy to put %s back" % name)
            t_down = watcher.first(name, "DOWN", t_term)
            assert t_down is not None and t_down < t_exit, (
                "%s was not out of rotation before it exited" % name)
            restarts.append({"server": name, "down_s": round(t_down - t_term, 3),
                             "exit_s": round(t_exit - t_term, 3),
                             "ready_s": round(t_ready - t_exit, 3),
                             "up_s": round(t_up - t_ready, 3)})
        # Load carried on over the last instance's comeback.
        time.sleep(1)
        load.set_phase("after restart")

        # HAProxy took each instance out on its /readyz 503, not on refused connections.
        text = lb.log_text()
        for name in NAMES:
            downs = re.findall(r"Server threadstore/%s is DOWN, reason: ([^,]*), code: (\d+)"
                               % name, text)
            assert downs and downs[0] == ("Layer7 wrong status", "503"), (name, downs)

        # kill -9 of one instance under load.
        time.sleep(1)
        load.set_phase("kill -9")
        victim = 1
        t_kill = time.monotonic()
        killed = servers[victim]
        killed.kill()
        t_down = wait_for(lambda: watcher.first(NAMES[victim], "DOWN", t_kill), timeout=20,
                          interval=0.01, what="haproxy to take %s out" % NAMES[victim])
        ok_at_down = sum(load.ok.values())
        time.sleep(2)
        load.set_phase("after kill")
        time.sleep(1)
        assert sum(load.ok.values()) - ok_at_down > 100, "traffic did not continue"
        load.stop()
        checked = load.read_back(lb.port)
        lb_log = lb.log_text()

        figures = {
            "clients": CLIENTS,
            "requests": load.count,
            "ok_by_phase": dict(load.ok),
            "failed_by_phase": {k: len(v) for k, v in load.failed.items()},
            "failures": {k: ["%+.3fs after the kill: %s" % (t - t_kill, w) for t, w in v[:10]]
                         for k, v in load.failed.items()},
            "restarts": restarts,
            "kill_to_down_s": round(t_down - t_kill, 3),
            "retried_by_haproxy": retried(lb_log),
            "acknowledged_items_checked": checked,
        }
        print("\nbalancer figures: " + json.dumps(figures, indent=1))
        with open(os.path.join(log_dir, "lb-figures.json"), "a") as f:
            f.write(json.dumps(figures) + "\n")

        for phase in ("warm-up", "rolling restart", "after restart", "kill -9", "after kill"):
            assert load.ok[phase] > 100, "too little load in phase %r: %r" % (phase, load.ok)
        for phase in ("warm-up", "rolling restart", "after restart", "after kill"):
            assert not load.failed[phase], "%d failed in %r: %r" % (
                len(load.failed[phase]), phase, load.failed[phase][:10])
        # At most the requests in flight on the killed instance: one per client.
        assert len(load.failed["kill -9"]) <= CLIENTS, load.failed["kill -9"][:10]
        # Out of rotation within the check settings (inter 1s + fall 2 x fastinter
        # 250ms + timeout check 1s = 2.5 s at most; a refused connection on real
        # traffic is quicker still). Far above any noise: failing means no checks.
        assert t_down - t_kill < 5.0, figures
    finally:
        if load is not None:
            load.stop()
        watcher.stop()
        lb.stop()
        stop_all([s for s in servers if s is not killed])


# --------------------------------------------------------------------------
# The service's side, without a balancer


def test_drain_delay(start_server, make_token, user_id):
    srv = start_server(["--pool-size", "1"], env={"THREADSTORE_DRAIN_DELAY": "3"})
    tok = make_token(user_id)
    idle = srv.raw()
    idle.send(raw_request("GET", "/readyz"))
    status, _, hdrs, _ = idle.read_response()
    assert status == 200 and hdrs.get("connection") != "close"
    busy = srv.raw()
    busy.send(raw_request("GET", "/healthz"))
    assert busy.read_response()[0] == 200

    srv.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "msg=draining" in srv.log_text(), what="the drain to begin")
    # New connections are still accepted and served; readiness says 503.
    c = srv.raw()
    c.send(raw_request("GET", "/readyz"))
    status, _, hdrs, body = c.read_response()
    assert status == 503 and json.loads(body)["error"]["message"] == "shutting down"
    assert hdrs.get("connection") == "close"
    assert c.wait_eof()
    c = srv.raw()
    c.send(raw_request("PUT", "/v1/threads/thr_d1a1", body=thread_doc("thr_d1a1"), token=tok))
    status, _, hdrs, _ = c.read_response()
    assert status == 204 and hdrs.get("connection") == "close"
    assert c.wait_eof()
    # A keep-alive connection with a request on it gets its answer, then is closed.
    busy.send(raw_request("GET", "/v1/threads/thr_d1a1", token=tok))
    status, _, hdrs, _ = busy.read_response()
    assert status == 200 and hdrs.get("connection") == "close"
    assert busy.wait_eof()
    # An idle one is left open while draining, then closed with the listener.
    assert not idle.wait_eof(timeout=0.5), "idle connection closed during the drain delay"
    assert srv.proc.poll() is None
    assert idle.wait_eof(timeout=15)
    assert srv.proc.wait(15) == 0
    log = srv.log_text()
    assert log.index("msg=draining") < log.index('msg="closing connections"')
    with pytest.raises(OSError):
        socket.create_connection((srv.host, srv.port), timeout=2).close()


def test_answer_written_during_the_drain_keeps_its_connection(start_server, make_token,
                                                               user_id):
    """A keep-alive answer made before SIGTERM, still being written when it
    comes (a slow reader): once written, the connection is not closed under
    the balancer, who was told it may reuse it; the next answer says close."""
    srv = start_server(["--pool-size", "1", "--max-body", str(16 << 20)],
                       env={"THREADSTORE_DRAIN_DELAY": "60"})
    tok = make_token(user_id)
    c = srv.client(tok)
    c.save_thread(thread_doc("thr_b16a"))
    # More than the kernel's send and receive buffers (4 MiB and 128 KiB by
    # default) hold while the client does not read.
    c.save_item(user_message("thr_b16a", "msg_b16a", text="x" * (8 << 20)))
    c.close()
    conn = srv.raw()
    conn.send(raw_request("GET", "/v1/threads/thr_b16a/items/msg_b16a", token=tok))
    while b"\r\n\r\n" not in conn.buf:  # the head is here, most of the body is not
        assert conn._fill()
    srv.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "msg=draining" in srv.log_text(), what="the drain to begin")
    status, _, hdrs, body = conn.read_response()
    assert status == 200 and hdrs.get("connection") != "close", hdrs
    assert len(json.loads(body)["content"][0]["text"]) == 8 << 20
    assert not conn.wait_eof(timeout=0.3), "closed after an answer that promised keep-alive"
    conn.send(raw_request("GET", "/healthz"))
    status, _, hdrs, _ = conn.read_response()
    assert status == 200 and hdrs.get("connection") == "close"
    assert conn.wait_eof()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(th.STOP_TIMEOUT) == 0


@pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")
def test_stream_begun_before_the_drain_keeps_its_connection(start_server, make_token,
                                                             user_id):
    """An export whose head said keep-alive, still streaming when SIGTERM
    comes: its end does not close the connection (a balancer may already be
    reusing it); the next answer on it says Connection: close."""
    from test_export import bulk_items

    srv = start_server(["--pool-size", "1"], env={"THREADSTORE_DRAIN_DELAY": "60"})
    tok = make_token(user_id)
    c = srv.client(tok)
    c.save_thread(thread_doc("thr_5e0a"))
    c.close()
    ids = bulk_items(user_id, "thr_5e0a", 20000)  # ~6 MB: far more than the socket holds
    conn = srv.raw()
    conn.send(raw_request("GET", "/v1/threads/thr_5e0a/export", token=tok))
    while b"\r\n\r\n" not in conn.buf:
        assert conn._fill()
    srv.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "msg=draining" in srv.log_text(), what="the drain to begin")
    status, _, hdrs, body = conn.read_response()
    assert status == 200 and hdrs.get("connection") != "close", hdrs
    assert [it["id"] for it in json.loads(body)["items"]] == ids
    assert not conn.wait_eof(timeout=0.3), "closed after a stream that promised keep-alive"
    conn.send(raw_request("GET", "/healthz"))
    status, _, hdrs, _ = conn.read_response()
    assert status == 200 and hdrs.get("connection") == "close"
    assert conn.wait_eof()
    srv.proc.send_signal(signal.SIGTERM)  # no need to wait out the delay
    assert srv.proc.wait(th.STOP_TIMEOUT) == 0


def test_second_signal_cuts_the_drain_delay_short(start_server):
    # The flag beats the environment (the suite sets THREADSTORE_DRAIN_DELAY=0).
    srv = start_server(["--pool-size", "1", "--drain-delay", "3600"])
    srv.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "msg=draining" in srv.log_text(), what="the drain to begin")
    assert srv.client(None).get("/readyz").status == 503
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(th.STOP_TIMEOUT) == 0
    assert "drain delay cut short" in srv.log_text()


def test_listens_once_ready(start_server):
    srv = start_server(["--pool-size", "2"])
    # The pool had a connection before the port opened.
    assert re.search(r"msg=listening addr=\S+ pool=2 ready=yes", srv.log_text()), \
        srv.log_text()


def test_port_stays_closed_while_the_database_hangs(start_server):
    # A "database" that accepts and never answers: the first connect can only
    # end by its 5 s timeout, and until then the port refuses connections.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    port = free_port()
    url = "postgresql://threadstore@127.0.0.1:%d/threadstore" % hole.getsockname()[1]
    try:
        srv = th.ServerProcess(th.binary_path(), url, "x" * 32,
                               extra_args=["--listen", "127.0.0.1:%d" % port, "--no-migrate",
                                           "--pool-size", "1"])
        srv.logf = open(srv.log_path, "wb")
        srv.proc = subprocess.Popen(srv.args(), stdin=subprocess.DEVNULL, stdout=srv.logf,
                                    stderr=srv.logf, env=srv.env)
        try:
            wait_for(lambda: "waiting for the database before listening" in srv.log_text(),
                     what="the start-up wait")
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            assert "msg=listening" not in srv.log_text()
            wait_for(lambda: "msg=listening" in srv.log_text(), timeout=15,
                     what="listening after the connect timeout")
            srv.host, srv.port = "127.0.0.1", port
            c = srv.client(None)
            assert c.get("/healthz").status == 200
            r = c.get("/readyz")
            assert r.status == 503, r
            c.close()
        finally:
            rc, text = srv.stop()
        assert rc == 0, text
        assert not any(m in text for m in th.SANITIZER_MARKERS), text
    finally:
        hole.close()


def test_port_in_use_fails_start_up_at_once():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        r = subprocess.run([th.binary_path(), "--listen", "127.0.0.1:%d" % taken.getsockname()[1],
                            "--database-url", th.database_url(), "--jwt-secret", "x" * 32],
                           capture_output=True, text=True, timeout=th.TIMEOUT,
                           stdin=subprocess.DEVNULL)
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert "cannot listen" in r.stderr and "address already in use" in r.stderr, r.stderr
    assert "waiting for the database" not in r.stderr, r.stderr


@pytest.mark.parametrize("value", ["-1", "x", "3601"])
def test_bad_drain_delay_is_refused(value):
    r = subprocess.run([th.binary_path(), "--drain-delay", value, "--jwt-secret", "x" * 32],
                       capture_output=True, text=True, timeout=th.TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert "--drain-delay must be an integer in 0..3600" in r.stderr, r.stderr
