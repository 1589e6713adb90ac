"""threadstore_chatkit: a ChatKit ``Store`` that keeps chat history in the threadstore service.

``ThreadStore`` (and ``ThreadStoreNotFoundError``) need ``chatkit`` (``openai-chatkit``) and are
imported on first use; everything else here works without it::

    from threadstore_chatkit import ThreadStore
    store = ThreadStore("http://threadstore:8080", token=lambda ctx: ctx.threadstore_token)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .changes import Change, ChangePage, fetch_changes, watch_changes
from .client import DEFAULT_TIMEOUT, IDEMPOTENT_METHODS, ThreadStoreClient, path_segment
from .errors import (
    AuthenticationError,
    BadRequestError,
    ChangesGoneError,
    ConflictError,
    NotFoundHTTPError,
    PayloadTooLargeError,
    ThreadStoreConnectionError,
    ThreadStoreError,
    ThreadStoreHTTPError,
    ThreadStoreProtocolError,
    ThreadStoreTimeoutError,
    UnavailableError,
)
from .positions import WritePositions
from .tokens import HS256Tokens, TokenHook, mint_hs256, token_from_context

if TYPE_CHECKING:
    from .store import ThreadStore, ThreadStoreNotFoundError

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "AuthenticationError",
    "BadRequestError",
    "Change",
    "ChangePage",
    "ChangesGoneError",
    "ConflictError",
    "HS256Tokens",
    "NotFoundHTTPError",
    "PayloadTooLargeError",
    "ThreadStore",
    "ThreadStoreClient",
    "ThreadStoreConnectionError",
    "ThreadStoreError",
    "ThreadStoreHTTPError",
    "ThreadStoreNotFoundError",
    "ThreadStoreProtocolError",
    "ThreadStoreTimeoutError",
    "TokenHook",
    "UnavailableError",
    "WritePositions",
    "fetch_changes",
    "mint_hs256",
    "path_segment",
    "token_from_context",
    "watch_changes",
]

_NEEDS_CHATKIT = ("ThreadStore", "ThreadStoreNotFoundError")


def __getattr__(name: str) -> Any:
    if name in _NEEDS_CHATKIT:
        try:
            from . import store
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] in ("chatkit", "pydantic"):
                raise ImportError(
                    f"threadstore_chatkit.{name} needs the ChatKit SDK: pip install "
                    f"'openai-chatkit>=1.6' ({exc})",
                    name=exc.name,
                ) from exc
            raise
        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
