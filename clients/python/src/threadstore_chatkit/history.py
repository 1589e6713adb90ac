"""Types and query encoding of threadstore's history API (activity order, filters, counts,
``before`` and search): no ChatKit dependency. The ``ThreadStore`` methods that use them are
``list_threads``, ``count_threads``, ``load_thread_items_before`` and ``search``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "ACTIVITY_MEMBER",
    "HistoryPage",
    "MetadataValue",
    "OrderBy",
    "SearchHit",
    "SearchPage",
    "ThreadStatusType",
    "filter_params",
    "parse_time",
]

#: The member each thread of a history list carries: its activity time.
ACTIVITY_MEMBER = "threadstore_updated_at"

OrderBy = Literal["created_at", "updated_at"]
ThreadStatusType = Literal["active", "locked", "closed"]
MetadataValue = str | int | float | bool | None

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class HistoryPage(Generic[T]):
    """A page of the history list (or of items before a cursor).

    ``updated_at`` maps each listed thread's id to its activity time (empty for items).
    ``before`` is set on pages asked for with ``before=``: the cursor of the page preceding
    this one when ``has_more``, else None.
    """

    data: list[T]
    has_more: bool
    after: str | None
    before: str | None = None
    updated_at: dict[str, datetime] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One match: in a thread's title (``item_id`` None) or in an item's text. ``snippet`` is
    plain text with the matched words between ``<mark>`` and ``</mark>`` (not HTML-escaped)."""

    thread_id: str
    item_id: str | None
    snippet: str
    rank: float
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class SearchPage:
    """Hits, best first; pass ``after`` to :meth:`ThreadStore.search` for the next page."""

    data: list[SearchHit]
    has_more: bool
    after: str | None


def parse_time(value: str) -> datetime:
    """threadstore's "YYYY-MM-DDTHH:MM:SS.ffffffZ" as an aware UTC datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _filter_value(key: str, value: MetadataValue) -> str:
    """The query value that matches ``value`` exactly (a string is always sent quoted, so
    ``"7"`` stays a string and never matches the number 7)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"metadata filter {key!r}: {value!r} is not a JSON number")
        return json.dumps(value)
    if isinstance(value, str):
        return f'"{value}"'
    raise TypeError(
        f"metadata filter {key!r}: {type(value).__name__} is not a string, number, bool or None"
    )


def filter_params(
    metadata: Mapping[str, MetadataValue] | None, status: ThreadStatusType | None
) -> list[tuple[str, str]]:
    """Query parameters for metadata (exact match on top-level keys, ANDed) and status."""
    params: list[tuple[str, str]] = []
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not key:
            raise ValueError("metadata filter keys must be non-empty strings")
        params.append((f"metadata.{key}", _filter_value(key, value)))
    if status is not None:
        if status not in ("active", "locked", "closed"):
            raise ValueError(f"status must be active, locked or closed, not {status!r}")
        params.append(("status", status))
    return params


def search_page(body: bytes) -> SearchPage:
    raw = json.loads(body)
    return SearchPage(
        data=[
            SearchHit(
                thread_id=h["thread_id"],
                item_id=h["item_id"],
                snippet=h["snippet"],
                rank=float(h["rank"]),
                created_at=parse_time(h["created_at"]),
            )
            for h in raw["data"]
        ],
        has_more=bool(raw["has_more"]),
        after=raw["after"],
    )


def page_parts(body: bytes) -> tuple[list[dict[str, Any]], bool, str | None, str | None]:
    raw = json.loads(body)
    return raw["data"], bool(raw["has_more"]), raw.get("after"), raw.get("before")
