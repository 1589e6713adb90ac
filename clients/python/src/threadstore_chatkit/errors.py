"""Exceptions raised by the threadstore client.

Every failure to get the expected answer from threadstore is a :class:`ThreadStoreError`:

* :class:`ThreadStoreHTTPError` — threadstore answered with an error status. ``status``,
  ``code`` (``bad_request``, ``unauthorized``, ...), ``message`` and ``retry_after`` come from the
  response. Subclasses by status: :class:`BadRequestError` (400), :class:`AuthenticationError`
  (401), :class:`NotFoundHTTPError` (404), :class:`ConflictError` (409),
  :class:`PayloadTooLargeError` (413), :class:`UnavailableError` (503).
* :class:`ThreadStoreConnectionError` — no HTTP answer (refused, reset, closed);
  :class:`ThreadStoreTimeoutError` when a timeout ran out.
* :class:`ThreadStoreProtocolError` — an answer that is not what the API promises (a body
  that is not JSON or does not validate as the expected ChatKit model).

In :class:`threadstore_chatkit.ThreadStore` a 404 is raised as
``threadstore_chatkit.store.ThreadStoreNotFoundError``, which is both ChatKit's
``chatkit.store.NotFoundError`` and a :class:`NotFoundHTTPError`; its text is worded as
ChatKit's reference store words it (``Thread thr_1 not found``). A 409 from ``add_thread_item``
(an item with that id is already in the thread, with other content) is a
:class:`ConflictError`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ChangesGoneError",
    "ConflictError",
    "NotFoundHTTPError",
    "PayloadTooLargeError",
    "ThreadStoreConnectionError",
    "ThreadStoreError",
    "ThreadStoreHTTPError",
    "ThreadStoreProtocolError",
    "ThreadStoreTimeoutError",
    "UnavailableError",
    "error_class_for_status",
]


class ThreadStoreError(Exception):
    """Base class of every error raised by this package."""


class ThreadStoreConnectionError(ThreadStoreError):
    """The request got no HTTP response: connection refused, reset or closed early."""


class ThreadStoreTimeoutError(ThreadStoreConnectionError):
    """A connect, write, read or pool timeout ran out."""


class ThreadStoreProtocolError(ThreadStoreError):
    """threadstore answered, but not as its API promises (e.g. a 200 body that is not JSON)."""


class ThreadStoreHTTPError(ThreadStoreError):
    """threadstore answered with an unexpected status.

    Attributes: ``status`` (int), ``code`` and ``message`` from the JSON error body (``None`` when
    the body is not threadstore's error shape), ``method`` and ``path`` of the request, and
    ``retry_after`` (seconds, from the ``Retry-After`` header, else ``None``).
    """

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.code = code
        self.message = message
        self.retry_after = retry_after
        text = f"threadstore {method} {path}: {status}"
        if code:
            text += f" {code}"
        if message:
            text += f": {message}"
        if retry_after is not None:
            text += f" (Retry-After {retry_after:g}s)"
        super().__init__(text)


class BadRequestError(ThreadStoreHTTPError):
    """400: the request or document was rejected (bad JSON, ids that disagree, bad params)."""


class AuthenticationError(ThreadStoreHTTPError):
    """401: the bearer token is missing, invalid or expired."""


class NotFoundHTTPError(ThreadStoreHTTPError):
    """404: no such thread, item, attachment or cursor for this user."""


class ConflictError(ThreadStoreHTTPError):
    """409: ``add_thread_item`` with the id of an item already in that thread, whose stored
    document differs; nothing was changed. (Adding the byte-identical document again is a
    success: a retried add is harmless.) ``save_item`` is the upsert."""


class PayloadTooLargeError(ThreadStoreHTTPError):
    """413: the document is over the service's body limit (default 1 MiB)."""


class UnavailableError(ThreadStoreHTTPError):
    """503: no database connection, or the service's queue is full; retry later."""


class ChangesGoneError(ThreadStoreHTTPError):
    """410: the change feed no longer holds the changes after this cursor (past the service's
    ``--changes-retention``): reload what you show and start again without a cursor."""


_BY_STATUS: dict[int, type[ThreadStoreHTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundHTTPError,
    409: ConflictError,
    410: ChangesGoneError,
    413: PayloadTooLargeError,
    503: UnavailableError,
}


def error_class_for_status(status: int) -> type[ThreadStoreHTTPError]:
    """The exception class raised for an HTTP status."""
    return _BY_STATUS.get(status, ThreadStoreHTTPError)
