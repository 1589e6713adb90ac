"""Attack: the request-body budget (--max-body-total) is reserved in full at the
headers, for the whole Content-Length, before a single body byte has arrived.
A client that sends only the headers of a few max-body uploads (a few hundred
bytes, no body) holds the whole budget until --request-timeout, and every other
upload on the instance, however small, gets 503 meanwhile.

With the defaults (256 MiB budget, 64 MiB max body, 30 s request timeout) four
sockets and ~1 KB every 30 s shut uploads off for everyone. The budget should
count bytes actually held (received), not bytes promised."""

import socket
import time

import tshelpers as th
from tshelpers import thread_doc


def test_header_only_uploads_do_not_lock_everyone_out_of_the_budget(
        start_server, make_token, user_id):
    max_body = 1 << 20
    srv = start_server(["--max-body-total", str(4 * max_body), "--max-body", str(max_body),
                        "--request-timeout", "30"])
    tok = make_token(user_id)
    hogs = []
    try:
        for i in range(4):
            s = socket.create_connection((srv.host, srv.port), timeout=th.TIMEOUT)
            # Headers only: the body is promised, never sent.
            s.sendall(("PUT /v1/threads/thr_hog%05d HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % (i, tok, max_body)).encode())
            hogs.append(s)
        # Let the server take the four connections and read their header blocks.
        th.wait_for(lambda: _metric(srv, "threadstore_connections") >= 5,
                    what="the hogs' connections")
        time.sleep(0.5)
        # A 150-byte thread from an unrelated client, sent whole at once.
        api = srv.client(make_token("user-victim-" + user_id))
        r = api.put("/v1/threads/thr_victim00", thread_doc("thr_victim00"))
        api.close()
        assert r.status == 204, (
            "a small, complete upload was refused because four sockets that sent "
            "no body bytes hold the budget: %r (held: %s bytes)" % (r, _metric(srv, "threadstore_request_body_bytes")))
    finally:
        for s in hogs:
            s.close()


def _metric(srv, name):
    c = srv.client(None)
    try:
        text = c.get("/metrics").raw.decode()
    finally:
        c.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
