"""Attack: response memory has no global bound. Each reader that takes nothing
keeps its whole page (up to --max-page-bytes, 8 MiB by default, as the PGresult
the reply references) for --write-timeout (30 s), and nothing caps how many do
so at once (only --max-connections, 20000). Request bodies have a shared budget
(--max-body-total); replies do not, so one authenticated client with N sockets
that never read pins about N x 8 MiB: 24 sockets here pin ~200 MiB, 1000 would
pin 8 GiB.

The fix: --max-reply-total, a shared bound on reply bytes queued to readers
(like the body budget): past it, reads get 503 + Retry-After until the slow
readers drain or time out. With it at 32 MiB, 24 stalled readers pin well
under 64 MiB."""

import socket
import time

import tshelpers as th
from tshelpers import raw_request, thread_doc, user_message


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


def th_metric_503(srv):
    c = srv.client(None)
    try:
        text = c.get("/metrics").raw.decode()
    finally:
        c.close()
    for line in text.splitlines():
        if line.startswith('threadstore_rejected_total{reason="reply_budget"}'):
            return int(float(line.split()[-1]))
    return 0


def test_stalled_readers_cannot_pin_unbounded_reply_memory(start_server, make_token, user_id):
    srv = start_server(["--write-timeout", "30", "--pool-size", "2",
                        "--max-reply-total", str(32 << 20)])
    tok = make_token(user_id)
    api = srv.client(tok)
    tid = "thr_p1nned0"
    api.save_thread(thread_doc(tid))
    for i in range(8):  # 8 x 1 MiB: a page of ~7-8 MiB (cut at the default --max-page-bytes)
        api.add_item(user_message(tid, "msg_p1n%05d" % i, text=("%d" % i) * (1 << 20),
                                  created_at="2025-06-01T12:00:%02dZ" % i))
    # Warm up: one page read whole, so allocator caches are already grown.
    assert len(api.list_items(tid, limit=8)["data"]) >= 7  # cut at --max-page-bytes
    api.close()
    time.sleep(0.5)
    before = rss_mib(srv.proc.pid)
    socks = []
    try:
        for _ in range(24):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(th.TIMEOUT)
            s.connect((srv.host, srv.port))
            s.sendall(raw_request("GET", "/v1/threads/%s/items?limit=8" % tid, token=tok))
            socks.append(s)
            # One after the other, as replies get queued: the bound is checked when a
            # read is admitted (a burst admitted at once can still overshoot it by
            # the pages already being fetched: see the closing note of issue 10).
            time.sleep(0.2)
        peak = before
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the pages are fetched and queued meanwhile
            peak = max(peak, rss_mib(srv.proc.pid))
            time.sleep(0.1)
        grown = peak - before
        refused = th_metric_503(srv)
        assert refused > 0, "no read was refused: the bound was never reached"
        assert grown < 64, ("24 sockets that read nothing pin %.0f MiB of replies "
                            "(RSS %.0f -> %.0f MiB); nothing bounds this but "
                            "--max-connections" % (grown, before, peak))
    finally:
        for s in socks:
            s.close()
