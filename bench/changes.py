#!/usr/bin/env python3
"""bench/changes.py: the change feed's figures (issue 12), measured on running instances.

  latency  a write's 2xx on instance A -> its event on an SSE stream on instance B:
           open loop at --rate writes/s (PUT thread) over --users users, one stream each on B
  rss      B's RSS with --idle streams open and idle, against none (same process)
  w3       loadgen's W3 (chat turns) on A, rounds alternating: with --w3-subs streams
           attached on A for the writing users (read as fast as they come), and with none;
           each round also counts the CPU time (from /proc) of the service (A and B), of
           PostgreSQL (the postmaster and its children) and of this reader, per turn: on a
           shared machine a figure other loads distort less than turns/s

Driven by bench/changes.sh, which starts PostgreSQL and the instances. Standard library only.
Tokens are minted with the service's dev-token command (the same HS256 secret)."""

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time


def tokens(binary, secret, subs):
    out = {}
    for s in subs:
        out[s] = subprocess.run([binary, "dev-token", "--sub", s, "--jwt-secret", secret],
                                check=True, capture_output=True, text=True).stdout.strip()
    return out


async def open_stream(port, token, last_id=None):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(("GET /v1/changes HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n"
             "Authorization: Bearer %s\r\n%s\r\n"
             % (token, "Last-Event-ID: %s\r\n" % last_id if last_id else "")).encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError("stream refused: %r" % head[:200])
    return r, w


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


async def newest_cursors(port, toks, users):
    """Each user's newest change cursor (None before any): a stream attached from there
    gets what happens next, not the user's whole retained history."""
    heads = {}
    for u in users:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(("GET /v1/changes?limit=1000 HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s"
                 "\r\nConnection: close\r\n\r\n" % toks[u]).encode())
        body = (await r.read()).split(b"\r\n\r\n", 1)[1]
        page = json.loads(body)
        while page["has_more"]:  # more than 1000 kept
            w.close()
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(("GET /v1/changes?limit=1000&after=%s HTTP/1.1\r\nHost: b\r\n"
                     "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
                     % (page["after"], toks[u])).encode())
            page = json.loads((await r.read()).split(b"\r\n\r\n", 1)[1])
        heads[u] = page["after"]
        w.close()
    return heads


async def latency(a, b, toks, rate, seconds, conns):
    users = list(toks)
    acked, seen, wlat = {}, {}, []
    resumed = [0]
    # start at each user's newest change: the earlier runs' changes are not this run's
    heads = await newest_cursors(b, toks, users)
    streams = [await open_stream(b, toks[u], heads[u]) for u in users]

    async def reader(u, r):
        """Reads events; a stream the server closes (its reader fell behind) resumes from
        its last id, as a client does."""
        pat = re.compile(rb'"thread_id":"(lat_[0-9a-f_]+)"')
        idpat = re.compile(rb"\nid: ([^\n]+)|^id: ([^\n]+)")
        tail, last = b"", heads[u]
        while True:
            d = await r.read(65536)
            if not d:
                r, _ = await open_stream(b, toks[u], last)
                resumed[0] += 1
                tail = b""
                continue
            now = time.monotonic()
            d = tail + d
            cut = d.rfind(b"\n\n")  # whole events only; the rest waits for more
            if cut < 0:
                tail = d
                continue
            cut += 2
            for m in pat.finditer(d, 0, cut):
                seen.setdefault(m.group(1).decode(), now)
            ids = idpat.findall(d, 0, cut)
            if ids:
                last = (ids[-1][0] or ids[-1][1]).decode()
            tail = d[cut:]

    readers = [asyncio.create_task(reader(u, r)) for u, (r, _) in zip(users, streams)]
    await asyncio.sleep(0.5)
    # writers: `conns` keep-alive connections; op i is due at start + i/rate
    start = time.monotonic() + 0.2
    total = int(rate * seconds)
    queue = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def writer(k):
        r, w = await asyncio.open_connection("127.0.0.1", a)
        while not queue.empty():
            i = queue.get_nowait()
            due = start + i / rate
            d = due - time.monotonic()
            if d > 0:
                await asyncio.sleep(d)
            u = users[i % len(users)]
            tid = "lat_%d_%x" % (k, i)
            body = json.dumps({"id": tid, "created_at": "2025-06-01T12:00:00Z",
                               "status": {"type": "active"}, "metadata": {}, "title": "t"})
            w.write(("PUT /v1/threads/%s HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (tid, toks[u], len(body), body)).encode())
            sent = time.monotonic()
            await w.drain()
            head = await r.readuntil(b"\r\n\r\n")
            if b" 204 " not in head.split(b"\r\n", 1)[0]:
                raise RuntimeError("write failed: %r" % head[:200])
            acked[tid] = time.monotonic()
            wlat.append((acked[tid] - sent) * 1000)
        w.close()

    t0 = time.monotonic()
    await asyncio.gather(*(writer(k) for k in range(conns)))
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 5
    while len(seen) < len(acked) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for t in readers:
        t.cancel()
    for _, w in streams:
        w.close()
    lat = [(seen[t] - acked[t]) * 1000 for t in acked if t in seen]
    return {"writes": len(acked), "rate_done": len(acked) / elapsed, "events": len(lat),
            "missing": len(acked) - len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "max_ms": max(lat) if lat else float("nan"),
            "write_p50_ms": pct(wlat, 50), "write_p99_ms": pct(wlat, 99),
            "streams_resumed": resumed[0]}


def cpu_s(pid, children=False):
    """CPU seconds of a process; with children, also of its live children and of those it
    reaped (PostgreSQL's backends)."""
    hz = os.sysconf("SC_CLK_TCK")

    def fields(p):
        try:
            with open("/proc/%d/stat" % p) as f:
                return f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None

    f = fields(pid)
    if f is None:
        return 0.0
    t = int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if children else 0)
    if children:
        for d in os.listdir("/proc"):
            if d.isdigit():
                c = fields(int(d))
                if c is not None and int(c[1]) == pid:
                    t += int(c[11]) + int(c[12])
    return t / hz


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def idle_rss(b, bpid, toks, n):
    before = rss_kib(bpid)
    users = list(toks)
    streams = []
    for i in range(0, n, 200):  # 200 connects at a time
        streams += await asyncio.gather(*(open_stream(b, toks[users[j % len(users)]])
                                          for j in range(i, min(n, i + 200))))
    await asyncio.sleep(2)
    during = rss_kib(bpid)
    for _, w in streams:
        w.close()
    await asyncio.sleep(2)
    return {"streams": n, "rss_before_kib": before, "rss_with_kib": during,
            "per_stream_bytes": (during - before) * 1024 / n, "rss_after_kib": rss_kib(bpid)}


def writes(db):
    """Changes recorded so far, over all users (one a write)."""
    return int(subprocess.run(["psql", db, "-XAtqc", "SELECT coalesce(sum(n), 0) FROM change_heads"],
                              check=True, capture_output=True, text=True).stdout.strip())


async def w3(a, toks, rounds, subs, loadgen, lg_args, pids, db):
    users = list(toks)
    out = {"with": [], "none": []}
    for rnd in range(rounds):
        for mode in ("with", "none"):
            streams, readers, got = [], [], [0]
            if mode == "with":
                # attached at each user's newest change: the cost of live subscribers,
                # not of catching up the history earlier rounds wrote
                heads = await newest_cursors(a, toks, users)
                streams = [await open_stream(a, toks[users[i % len(users)]],
                                             heads[users[i % len(users)]])
                           for i in range(subs)]

                async def drain(r):
                    while True:
                        d = await r.read(262144)
                        if not d:
                            return
                        got[0] += d.count(b"\nid: ")

                readers = [asyncio.create_task(drain(r)) for r, _ in streams]
            w0 = writes(db)
            c0 = [cpu_s(p, ch) for p, ch in pids] + [time.process_time()]
            t0 = time.monotonic()
            p = await asyncio.create_subprocess_exec(loadgen, *lg_args,
                                                     stdout=asyncio.subprocess.PIPE)
            text = (await p.communicate())[0].decode()
            m = re.search(r"RESULT .*? ops_s=([0-9.]+)", text)
            rps = float(m.group(1)) if m else float("nan")
            await asyncio.sleep(0.5)
            c1 = [cpu_s(p, ch) for p, ch in pids] + [time.process_time()]
            # every W3 write records one change: the turns of the whole window, exactly
            # (loadgen's ops_s is of its measured window, in steps of 1 turn a connection)
            turns = (writes(db) - w0) / 2
            us = [(y - x) * 1e6 / turns if turns else float("nan") for x, y in zip(c0, c1)]
            cpu = {"service_us": us[0] + us[1], "pg_us": us[2], "reader_us": us[3],
                   "turns": turns}
            for t in readers:
                t.cancel()
            for _, w in streams:
                w.close()
            out[mode].append(dict({"rps": rps, "events": got[0]}, **cpu))
            print("w3 round %d %s: %s turns/s, %d events to %d streams; %d turns in the window;"
                  " CPU per turn: service %.0f us, PostgreSQL %.0f us, reader %.0f us" %
                  (rnd, mode, rps, got[0], len(streams), turns, cpu["service_us"], cpu["pg_us"],
                   cpu["reader_us"]), file=sys.stderr, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--a", type=int, required=True)
    ap.add_argument("--b", type=int, required=True)
    ap.add_argument("--b-pid", type=int, required=True)
    ap.add_argument("--a-pid", type=int, required=True)
    ap.add_argument("--pg-pid", type=int, required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--what", default="latency,rss,w3")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--w3-subs", type=int, default=1000)
    ap.add_argument("--w3-rounds", type=int, default=3)
    ap.add_argument("--w3-users", type=int, default=100)
    ap.add_argument("--loadgen")
    ap.add_argument("--loadgen-arg", action="append", default=[])
    o = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    what = o.what.split(",")
    res = {}
    if "latency" in what or "rss" in what:
        toks = tokens(o.bin, o.secret, ["feedbench-%d" % i for i in range(o.users)])
        if "latency" in what:
            res["latency"] = asyncio.run(latency(o.a, o.b, toks, o.rate, o.seconds, o.conns))
            print("latency:", json.dumps(res["latency"]), flush=True)
        if "rss" in what:
            res["rss"] = asyncio.run(idle_rss(o.b, o.b_pid, toks, o.idle))
            print("rss:", json.dumps(res["rss"]), flush=True)
    if "w3" in what:
        # loadgen's users are 1000000 + (connection index mod users)
        toks = tokens(o.bin, o.secret, [str(1000000 + i) for i in range(o.w3_users)])
        pids = [(o.a_pid, False), (o.b_pid, False), (o.pg_pid, True)]
        res["w3"] = asyncio.run(w3(o.a, toks, o.w3_rounds, o.w3_subs, o.loadgen,
                                   o.loadgen_arg, pids, o.database_url))

        def median(k):
            return {m: sorted(r[k] for r in v)[len(v) // 2] for m, v in res["w3"].items()}

        med = median("rps")
        res["w3_median"] = med
        print("w3:", json.dumps(res["w3"]), flush=True)
        print("w3 median turns/s: with %.0f, none %.0f, ratio %.3f" %
              (med["with"], med["none"], med["with"] / med["none"]), flush=True)
        sv, pg, rd = median("service_us"), median("pg_us"), median("reader_us")
        print("w3 median CPU per turn, with / none: service %.0f / %.0f us, PostgreSQL %.0f /"
              " %.0f us, reader %.0f / %.0f us; service + PostgreSQL: none/with %.3f" %
              (sv["with"], sv["none"], pg["with"], pg["none"], rd["with"], rd["none"],
               (sv["none"] + pg["none"]) / (sv["with"] + pg["with"])), flush=True)


if __name__ == "__main__":
    main()
