"""Low-level async HTTP client for threadstore's v1 API (no ChatKit dependency).

One :class:`ThreadStoreClient` is meant to live as long as the process: it owns an
``httpx.AsyncClient`` with a keep-alive connection pool. :class:`threadstore_chatkit.ThreadStore`
builds on it; use it directly only for calls the ``Store`` interface does not have.

Retries: ``GET``, ``PUT`` and ``DELETE`` (all idempotent in threadstore's API) are retried on a
503 answer and on a connection that failed or closed before any response, up to ``retries``
times. A 503's ``Retry-After`` is honoured: the retry waits that long, and when it is longer than
``max_retry_wait`` the call gives up at once with :class:`UnavailableError` (its ``retry_after``
says how long the service asked for). Without ``Retry-After`` the wait is an exponential backoff
with jitter. ``POST`` (add an item) is never retried. Timeouts are not retried.

Read-your-writes: the highest ``Threadstore-LSN`` each user's writes returned is sent with that
user's reads as ``Threadstore-Min-LSN`` (see :mod:`threadstore_chatkit.positions`), so behind
read replicas a read never misses the user's own earlier write.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .positions import WritePositions
from .errors import (
    ThreadStoreConnectionError,
    ThreadStoreHTTPError,
    ThreadStoreProtocolError,
    ThreadStoreTimeoutError,
    error_class_for_status,
)

__all__ = ["DEFAULT_TIMEOUT", "IDEMPOTENT_METHODS", "ThreadStoreClient", "path_segment"]

#: connect 2 s, read/write 10 s, waiting for a pooled connection 10 s.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)

#: Methods retried on 503 and on connection failures.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})

_USER_AGENT = "threadstore-chatkit/0.1"


def path_segment(value: str) -> str:
    """Percent-encode one path segment (``/``, ``?``, ``#``, ``%``, spaces, non-ASCII...)."""
    return quote(value, safe="")


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _error_from_response(method: str, path: str, response: httpx.Response) -> ThreadStoreHTTPError:
    code: str | None = None
    message: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        message = err.get("message") if isinstance(err.get("message"), str) else None
    elif response.content:
        message = response.text[:200]
    cls = error_class_for_status(response.status_code)
    return cls(
        status=response.status_code,
        method=method,
        path=path,
        code=code,
        message=message,
        retry_after=_parse_retry_after(response.headers.get("retry-after")),
    )


class ThreadStoreClient:
    """Async HTTP client for threadstore, with a keep-alive pool, timeouts and retries.

    :param base_url: threadstore's address, e.g. ``"http://threadstore:8080"``.
    :param timeout: an ``httpx.Timeout`` or seconds; default :data:`DEFAULT_TIMEOUT`.
    :param max_connections: pool size (connections open at once to threadstore).
    :param max_keepalive_connections: idle connections kept open for reuse.
    :param keepalive_expiry: seconds an idle connection is kept (below threadstore's
        ``--idle-timeout``, 60 s by default).
    :param retries: extra attempts for idempotent calls (see the module doc).
    :param max_retry_wait: the longest single wait before a retry, in seconds.
    :param backoff: first backoff step in seconds when a 503 carries no ``Retry-After``.
    :param http_client: use this ``httpx.AsyncClient`` instead of making one (its
        ``base_url`` must point at threadstore). It is closed by :meth:`aclose` only if
        ``close_http_client`` is true.
    :param read_your_writes: send each user's highest write position with their reads
        (default); a :class:`WritePositions` to share or tune, or False for none.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_connections: int = 64,
        max_keepalive_connections: int = 32,
        keepalive_expiry: float = 30.0,
        retries: int = 3,
        max_retry_wait: float = 5.0,
        backoff: float = 0.05,
        http_client: httpx.AsyncClient | None = None,
        close_http_client: bool | None = None,
        read_your_writes: bool | WritePositions = True,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if http_client is None:
            if not base_url:
                raise ValueError("base_url is required (or pass http_client)")
            http_client = httpx.AsyncClient(
                base_url=base_url,
                timeout=timeout,
                limits=httpx.Limits(
                    max_connections=max_connections,
                    max_keepalive_connections=max_keepalive_connections,
                    keepalive_expiry=keepalive_expiry,
                ),
                headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
                trust_env=False,
            )
            if close_http_client is None:
                close_http_client = True
        self._http = http_client
        self._close_http = bool(close_http_client)
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        if isinstance(read_your_writes, WritePositions):
            self.positions: WritePositions | None = read_your_writes
        else:
            self.positions = WritePositions() if read_your_writes else None

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient``."""
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool (if this client made it)."""
        if self._close_http:
            await self._http.aclose()

    async def __aenter__(self) -> ThreadStoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _retry_wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        step = min(self.max_retry_wait, self.backoff * (2**attempt))
        return random.uniform(step / 2, step)

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        expect: Iterable[int] | None = None,
    ) -> httpx.Response:
        """Send one API call and return its response.

        ``path`` must already be encoded (see :func:`path_segment`). ``json_body`` is serialised
        as compact JSON with ``Content-Type: application/json``. The response is returned when its
        status is in ``expect`` (default: any 2xx); otherwise the matching
        :class:`ThreadStoreHTTPError` subclass is raised.
        """
        method = method.upper()
        headers = {"Authorization": f"Bearer {token}"}
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(
                json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
            headers["Content-Type"] = "application/json"
        positions = self.positions
        if positions is not None and method in ("GET", "HEAD"):
            min_lsn = positions.min_lsn(token)
            if min_lsn is not None:
                headers["Threadstore-Min-LSN"] = min_lsn
        expected = frozenset(expect) if expect is not None else None
        retryable = method in IDEMPOTENT_METHODS
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise ThreadStoreTimeoutError(
                    f"threadstore {method} {path}: {type(exc).__name__}: {exc}"
                ) from exc
            except httpx.TransportError as exc:
                if retryable and attempt < self.retries:
                    await asyncio.sleep(self._retry_wait(attempt, None))
                    attempt += 1
                    continue
                raise ThreadStoreConnectionError(
                    f"threadstore {method} {path}: {type(exc).__name__}: {exc}"
                ) from exc
            status = response.status_code
            if positions is not None:
                positions.saw(token, response.headers.get("threadstore-lsn"))
            if (status in expected) if expected is not None else (200 <= status < 300):
                return response
            error = _error_from_response(method, path, response)
            if status == 503 and retryable and attempt < self.retries:
                wait = self._retry_wait(attempt, error.retry_after)
                if wait <= self.max_retry_wait:
                    await asyncio.sleep(wait)
                    attempt += 1
                    continue
            raise error

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
    ) -> bytes:
        """A call that must answer 200 with a JSON body; returns the body's bytes."""
        response = await self.request(method, path, token=token, params=params, expect=(200,))
        ctype = response.headers.get("content-type", "")
        if not ctype.lower().startswith("application/json"):
            raise ThreadStoreProtocolError(
                f"threadstore {method} {path}: 200 with Content-Type {ctype!r}, expected JSON"
            )
        return response.content

