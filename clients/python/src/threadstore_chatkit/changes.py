"""The per-user change feed (``GET /v1/changes``): a page at a time, or as an async iterator
over Server-Sent Events that resumes by itself. No ChatKit dependency.

Every change after the cursor you resume from arrives once, in order, whichever instance
serves the stream and however often the connection drops. A cursor older than the service's
retention raises :class:`~threadstore_chatkit.errors.ChangesGoneError` (410): reload what you
show and start again without a cursor::

    async for change in watch_changes(client, token, after=saved_cursor):
        if change.kind == "item.added":
            ...
        saved_cursor = change.cursor
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from .client import ThreadStoreClient, _error_from_response
from .errors import (
    ChangesGoneError,
    ThreadStoreConnectionError,
    ThreadStoreHTTPError,
    ThreadStoreProtocolError,
)
from .history import parse_time

__all__ = ["Change", "ChangePage", "fetch_changes", "parse_change", "watch_changes"]

#: Kinds a change may have.
KINDS = frozenset({
    "thread.saved", "thread.deleted", "item.added", "item.saved", "item.deleted",
    "attachment.saved", "attachment.deleted", "user.erased",
})  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Change:
    """One change. Ids only (load what you need), except ``attachment``: the stored document
    of a deleted attachment (``attachment.deleted``), so its bytes can be deleted too.
    ``user_id`` is set on the admin feed only."""

    cursor: str
    kind: str
    thread_id: str | None
    item_id: str | None
    attachment_id: str | None
    at: datetime
    attachment: dict[str, Any] | None = None
    user_id: str | None = None


@dataclasses.dataclass(frozen=True)
class ChangePage:
    """Changes oldest first; ``after`` is where to resume (None before the first change)."""

    data: list[Change]
    has_more: bool
    after: str | None


def parse_change(obj: Any) -> Change:
    if not isinstance(obj, dict) or not isinstance(obj.get("cursor"), str):
        raise ThreadStoreProtocolError(f"threadstore: not a change: {obj!r:.200}")
    return Change(
        cursor=obj["cursor"],
        kind=obj["kind"],
        thread_id=obj.get("thread_id"),
        item_id=obj.get("item_id"),
        attachment_id=obj.get("attachment_id"),
        at=parse_time(obj["at"]),
        attachment=obj.get("attachment"),
        user_id=obj.get("user_id"),
    )


async def fetch_changes(
    client: ThreadStoreClient, token: str, *, after: str | None = None, limit: int | None = None
) -> ChangePage:
    """One page of the caller's changes after ``after`` (from the oldest kept without it)."""
    params: dict[str, str | int] = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    body = json.loads(await client.request_json("GET", "/v1/changes", token=token, params=params))
    return ChangePage(
        data=[parse_change(c) for c in body["data"]],
        has_more=bool(body["has_more"]),
        after=body["after"],
    )


TokenSource = str | Callable[[], str | Awaitable[str]]


async def _token(source: TokenSource) -> str:
    if isinstance(source, str):
        return source
    t = source()
    return await t if isinstance(t, Awaitable) else t  # type: ignore[return-value]


async def watch_changes(
    client: ThreadStoreClient,
    token: TokenSource,
    *,
    after: str | None = None,
    max_backoff: float = 5.0,
    read_timeout: float = 60.0,
) -> AsyncIterator[Change]:
    """The caller's changes as they commit, forever: an SSE stream that reconnects (with
    ``Last-Event-ID``, jittered backoff up to ``max_backoff`` seconds) whenever it drops,
    including when an instance shuts down. ``token`` may be a callable (called on each
    connect: a token that expires is renewed). ``read_timeout`` must exceed the service's
    heartbeat (15 s). Raises :class:`ChangesGoneError` (410) and other HTTP errors but 503;
    stop by breaking out of the loop (the connection is closed)."""
    cursor = after
    attempt = 0
    timeout = httpx.Timeout(10.0, read=read_timeout)
    while True:
        headers = {"Authorization": f"Bearer {await _token(token)}",
                   "Accept": "text/event-stream"}  # fmt: skip
        if cursor is not None:
            headers["Last-Event-ID"] = cursor
        try:
            async with client.http.stream(
                "GET", "/v1/changes", headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    error = _error_from_response("GET", "/v1/changes", response)
                    if response.status_code != 503:
                        raise error
                    raise ThreadStoreConnectionError(str(error))
                attempt = 0
                async for change in _events(response):
                    cursor = change.cursor
                    yield change
        except (httpx.TransportError, ThreadStoreConnectionError):
            pass  # dropped, refused or 503: resume below
        except ChangesGoneError:
            raise
        except ThreadStoreHTTPError:
            raise
        step = min(max_backoff, 0.05 * (2**attempt))
        attempt += 1
        await asyncio.sleep(random.uniform(step / 2, step))


async def _events(response: httpx.Response) -> AsyncIterator[Change]:
    """Parses the SSE body: blocks end with an empty line; comments (heartbeats) are skipped."""
    data: list[str] = []
    async for raw in response.aiter_lines():
        line = raw.rstrip("\r\n")  # httpx before 0.24 keeps the line ending
        if line == "":
            if data:
                yield parse_change(json.loads("\n".join(data)))
            data = []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        # id:, event:, retry: and ":" comments carry nothing the JSON does not
