"""Attack: the change feed's batches were bounded by rows only. An
attachment.deleted change carries the deleted document (up to --max-body), so
one user who saved and deleted big attachments made every catch-up batch (100
changes) and every page (up to 1000) that many megabytes: PGresult, the event
text and the reply each held whole. 8 streams that never read plus 4 pages
held 1.9 GiB of RSS (threadstore_reply_bytes_queued 1.34 GB with
--max-reply-total at 256 MiB, --subscriber-buffer at 64 KiB): a few hundred
sockets exhaust any machine.

The fix: batches are bounded by bytes too (queries.c's CHANGES_CAPPED): a page
(and the admin feed's) holds at most --max-page-bytes of documents, as items
do; a stream's batch at most --subscriber-buffer, always one change at least.
A page cut short says has_more, and everything still arrives once, in order."""

import json
import socket
import time
import uuid

import ssehelpers as sh
import tshelpers as th

DOC = 1 << 20  # each deleted attachment's document: ~1 MiB
N = 12
ADMIN = "adm-bytes-token"


def queued(srv):
    text = srv.client().get("/metrics").raw.decode()
    for line in text.splitlines():
        if line.startswith("threadstore_reply_bytes_queued "):
            return float(line.split()[1])
    raise AssertionError("no threadstore_reply_bytes_queued")


def raw_get(srv, path, headers):
    c = th.RawConn(srv.host, srv.port)
    try:
        c.send(("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (
            path, "".join("%s: %s\r\n" % kv for kv in headers.items()))).encode())
        status, _, _, body = c.read_response()
        return status, json.loads(body)
    finally:
        c.close()


def test_big_documents_do_not_make_big_batches(start_server, make_token, tmp_path):
    f = tmp_path / "admin-tokens"
    f.write_text(ADMIN + "\n")
    srv = start_server(["--pool-size", "2", "--max-page-bytes", str(3 * DOC),
                        "--subscriber-buffer", "65536", "--admin-token-file", str(f)])
    user = "user-" + uuid.uuid4().hex
    tok = make_token(user)
    c = srv.client(tok)
    for i in range(N):
        a = th.file_attachment("atc_big%03d" % i)
        a["note"] = "x" * DOC
        assert c.put("/v1/attachments/" + a["id"], a).status == 204
        assert c.delete("/v1/attachments/" + a["id"]).status == 204
    c.close()
    want = [x for i in range(N) for x in (("attachment.saved", "atc_big%03d" % i),
                                          ("attachment.deleted", "atc_big%03d" % i))]

    # Streams that never read: each holds about one document, not a batch of them.
    stalled = []
    for _ in range(4):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.connect((srv.host, srv.port))
        s.sendall(("GET /v1/changes HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % tok).encode())
        stalled.append(s)
    time.sleep(2)
    try:
        q = queued(srv)
        assert q < 4 * (DOC + 256 * 1024), "stalled streams pin %d bytes" % q

        # A page: cut by bytes, has_more, and paging gets everything once.
        got, after, pages = [], None, 0
        while True:
            path = "/v1/changes?limit=1000" + ("&after=" + after if after else "")
            status, page = raw_get(srv, path, {"Authorization": "Bearer " + tok})
            assert status == 200, page
            pages += 1
            big = sum(1 for e in page["data"] if e["kind"] == "attachment.deleted")
            assert big <= 3, "a page of %d big documents" % big
            got += [(e["kind"], e["attachment_id"]) for e in page["data"]]
            after = page["after"]
            if not page["has_more"]:
                break
        assert got == want and pages > 1

        # The admin feed: the same bound.
        seen, after = [], None
        while True:
            path = "/admin/v1/changes?limit=1000" + ("&after=" + after if after else "")
            status, page = raw_get(srv, path, {"Authorization": "Bearer " + ADMIN})
            assert status == 200, page
            sizes = sorted(len(json.dumps(e["attachment"])) for e in page["data"]
                           if "attachment" in e)  # every user's: the budget is shared
            assert sum(sizes[:-1]) <= 3 * DOC, "an admin page of %d bytes" % sum(sizes)
            seen += [(e["kind"], e["attachment_id"]) for e in page["data"]
                     if e["user_id"] == user]
            after = page["after"]
            if not page["has_more"]:
                break
        assert seen == want

        # A reader that keeps up gets every change once, in order, across cut batches.
        s = sh.SSEStream(srv.host, srv.port, tok, timeout=30)
        assert s.read_head() == 200
        evs = s.events(2 * N, timeout=60)
        assert [(e["event"], e["json"]["attachment_id"]) for e in evs] == want
        s.close()
    finally:
        for s in stalled:
            s.close()
