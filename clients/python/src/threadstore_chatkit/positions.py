"""Read-your-writes across read replicas: the highest write position seen per user.

threadstore answers every write with ``Threadstore-LSN: <lsn>``, the primary's WAL position after
the commit. A read that sends it back as ``Threadstore-Min-LSN`` is served only by a node that has
replayed at least that far (a replica that has, else the primary), so it sees the write.
:class:`WritePositions` keeps, per user, the highest position that user's writes returned, and
:class:`~threadstore_chatkit.ThreadStoreClient` sends it with each of that user's reads: a ChatKit
server reads its own writes without thinking about it.

The user is the token's ``iss`` and ``sub`` (read, not verified: threadstore verifies), or the
token itself when it is not a JWT. A position is forgotten ``ttl`` seconds after the user's last
write (any replica threadstore reads from is at most ``--replica-max-lag`` behind, at most 60 s),
and at most ``max_users`` users are remembered (the least recently written forgotten first): the
memory is bounded by recent writers.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable

__all__ = ["WritePositions", "parse_lsn"]


def parse_lsn(text: str) -> int | None:
    """``"16/B374D848"`` -> an integer, or None when it is not a WAL position."""
    hi, sep, lo = text.strip().partition("/")
    if not sep or not (0 < len(hi) <= 8 and 0 < len(lo) <= 8):
        return None
    try:
        return int(hi, 16) << 32 | int(lo, 16)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def user_key(token: str) -> str:
    """Who the token speaks for: ``iss`` and ``sub`` of a JWT, else the token itself."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            payload = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(payload))
            if isinstance(claims, dict) and isinstance(claims.get("sub"), str):
                iss = claims.get("iss")
                return "jwt:%s\n%s" % (iss if isinstance(iss, str) else "", claims["sub"])
        except (ValueError, UnicodeDecodeError):
            pass
    return "token:" + token


class WritePositions:
    def __init__(
        self,
        *,
        ttl: float = 60.0,
        max_users: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_users <= 0:
            raise ValueError("ttl and max_users must be positive")
        self.ttl = ttl
        self.max_users = max_users
        self._clock = clock
        self._seen: dict[str, tuple[int, str, float]] = {}  # oldest write first

    def __len__(self) -> int:
        return len(self._seen)

    def min_lsn(self, token: str) -> str | None:
        """The position to send with this user's read, or None."""
        key = user_key(token)
        entry = self._seen.get(key)
        if entry is None:
            return None
        if self._clock() - entry[2] > self.ttl:
            del self._seen[key]
            return None
        return entry[1]

    def saw(self, token: str, header: str | None) -> None:
        """A response for this user carried ``Threadstore-LSN: header`` (None: it did not)."""
        if header is None:
            return
        lsn = parse_lsn(header)
        if lsn is None:
            return
        key = user_key(token)
        old = self._seen.pop(key, None)
        if old is not None and old[0] > lsn:
            lsn, header = old[0], old[1]  # a slower answer never moves it back
        self._seen[key] = (lsn, header.strip(), self._clock())
        while len(self._seen) > self.max_users:
            del self._seen[next(iter(self._seen))]
