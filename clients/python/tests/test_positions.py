"""Read-your-writes in the adapter: each user's highest Threadstore-LSN goes out with that user's
reads as Threadstore-Min-LSN (per user, never moving back, forgotten after its ttl, bounded); the
ChatKit Store does it with no help from its caller (scripted server, and the real binary).
tests/integration/test_replica.py proves what the server does with it on real replicas."""

from __future__ import annotations

from typing import Any

import httpx
from chatkit.types import ThreadMetadata

from test_retry import CTX, THREAD, fake, resp
from tsclient_harness import Ctx, make_jwt
from threadstore_chatkit import ThreadStore, ThreadStoreClient, WritePositions
from threadstore_chatkit.positions import parse_lsn, user_key


def test_parse_lsn() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == 0x16 << 32 | 0xB374D848
    assert parse_lsn(" 1/2 ") == 1 << 32 | 2
    for bad in ("", "1", "1/", "/1", "x/1", "123456789/1", "1/2/3"):
        assert parse_lsn(bad) is None, bad


def test_per_user_highest_and_ttl() -> None:
    now = [0.0]
    p = WritePositions(ttl=10.0, max_users=2, clock=lambda: now[0])
    a = make_jwt("s" * 32, {"sub": "alice"})
    a2 = make_jwt("s" * 32, {"sub": "alice", "exp": 99})  # another token, same user
    b = make_jwt("s" * 32, {"sub": "bob"})
    assert p.min_lsn(a) is None
    p.saw(a, "0/20")
    p.saw(a, "0/10")  # an older answer arriving late never moves it back
    p.saw(a, None)
    p.saw(a, "garbage")
    assert p.min_lsn(a) == "0/20" and p.min_lsn(a2) == "0/20"
    assert p.min_lsn(b) is None
    p.saw(b, "1/0")
    assert p.min_lsn(b) == "1/0"
    now[0] = 10.5  # bob wrote at 0 too: both forgotten past the ttl
    assert p.min_lsn(a) is None and p.min_lsn(b) is None
    assert len(p) == 0
    for i, tok in enumerate(("t1", "t2", "t3")):  # not JWTs: the token is the user
        p.saw(tok, "0/%X" % (i + 1))
    assert len(p) == 2 and p.min_lsn("t1") is None and p.min_lsn("t3") == "0/3"
    assert user_key("a.b.c") == "token:a.b.c"


async def test_store_sends_its_users_position() -> None:
    script = [resp(204, headers={"Threadstore-LSN": "0/3000"}), resp(200, THREAD), resp(200, THREAD)]
    other = Ctx("u2", "token-u2")
    async with fake(script) as (srv, store):
        await store.save_thread(ThreadMetadata(id="t1", created_at=THREAD["created_at"]), CTX)
        await store.load_thread("t1", CTX)
        await store.load_thread("t1", other)
    headers = [r[2] for r in srv.requests]
    assert "threadstore-min-lsn" not in headers[0]  # the write itself carries none
    assert headers[1]["threadstore-min-lsn"] == "0/3000"
    assert "threadstore-min-lsn" not in headers[2]  # another user's read


async def test_off_when_asked() -> None:
    script = [resp(204, headers={"Threadstore-LSN": "0/3000"}), resp(200, THREAD)]
    async with fake(script, read_your_writes=False) as (srv, store):
        await store.save_thread(ThreadMetadata(id="t1", created_at=THREAD["created_at"]), CTX)
        await store.load_thread("t1", CTX)
    assert "threadstore-min-lsn" not in srv.requests[1][2]


async def test_real_server_write_then_read(server: Any, ctx: Ctx) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    async def record(response: httpx.Response) -> None:
        seen.append((response.request.method, response.request.headers.get("threadstore-min-lsn"),
                     response.headers.get("threadstore-lsn")))

    http = httpx.AsyncClient(base_url=server.base_url, event_hooks={"response": [record]})
    store: ThreadStore[Ctx] = ThreadStore(client=ThreadStoreClient(http_client=http, close_http_client=True))
    try:
        for i in range(3):
            await store.save_thread(ThreadMetadata(id="t%d" % i, created_at=THREAD["created_at"]), ctx)
            assert (await store.load_thread("t%d" % i, ctx)).id == "t%d" % i
    finally:
        await store.aclose()
    writes = [s for s in seen if s[0] == "PUT"]
    reads = [s for s in seen if s[0] == "GET"]
    assert all(w[2] is not None for w in writes)  # every write answers with its position
    assert [r[1] for r in reads] == [w[2] for w in writes]  # each read sends the one before it
    lsns = [parse_lsn(w[2] or "") for w in writes]
    assert lsns == sorted(lsns) and len(set(lsns)) == 3
    assert all(r[2] is None for r in reads)
