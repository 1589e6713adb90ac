"""Where the bearer token for a call comes from.

threadstore knows users only by the ``sub`` of the JWT each request carries, so every ``Store``
call needs the token of the user ChatKit is serving. ChatKit hands the store the request context
you passed to ``ChatKitServer.process(..., context)``; the *token hook* turns that context into a
token. It is any callable ``hook(context) -> str`` (or an ``async`` one returning ``str``):

* default, :func:`token_from_context`: ``context.threadstore_token``, or
  ``context["threadstore_token"]`` for a mapping context;
* your own, e.g. ``ThreadStore(url, token=lambda ctx: ctx.jwt)``;
* :class:`HS256Tokens`: mint a short-lived token per user with the service's shared HS256
  secret, e.g. ``ThreadStore(url, token=HS256Tokens(secret, subject=lambda ctx: ctx.user_id))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar, Union

__all__ = ["HS256Tokens", "TokenHook", "mint_hs256", "token_from_context"]

C = TypeVar("C")

#: A token hook: ``hook(context) -> str`` or ``async hook(context) -> str``.
TokenHook = Callable[[C], Union[str, Awaitable[str]]]

TOKEN_ATTRIBUTE = "threadstore_token"


def token_from_context(context: Any) -> str:
    """The default hook: ``context.threadstore_token`` (or ``context["threadstore_token"]``)."""
    token: Any = getattr(context, TOKEN_ATTRIBUTE, None)
    if token is None and isinstance(context, Mapping):
        token = context.get(TOKEN_ATTRIBUTE)
    if not isinstance(token, str) or not token:
        raise TypeError(
            "threadstore_chatkit: the request context has no 'threadstore_token'; give the "
            "context that attribute or pass token=<hook(context) -> str> to ThreadStore"
        )
    return token


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_hs256(secret: str | bytes, sub: str, ttl: float = 300.0, **claims: Any) -> str:
    """An HS256 JWT for ``sub`` expiring in ``ttl`` seconds, signed with ``secret``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + int(ttl), **claims}
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{body}".encode("ascii")
    signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


class HS256Tokens(Generic[C]):
    """A token hook that mints (and caches) one HS256 token per user.

    For a backend that shares threadstore's ``--jwt-secret``. ``subject(context)`` gives the
    user id (the token's ``sub``). Tokens live ``ttl`` seconds and are reused until less than a
    third of that is left.
    """

    def __init__(
        self, secret: str | bytes, subject: Callable[[C], str], *, ttl: float = 900.0
    ) -> None:
        if ttl < 30:
            raise ValueError("ttl must be at least 30 seconds")
        self._secret = secret
        self._subject = subject
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, context: C) -> str:
        sub = self._subject(context)
        if not isinstance(sub, str) or not sub:
            raise ValueError("HS256Tokens: subject(context) must return a non-empty string")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(sub)
            if hit is not None and hit[0] > now:
                return hit[1]
            token = mint_hs256(self._secret, sub, self._ttl)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[sub] = (now + self._ttl * 2 / 3, token)
            return token
