"""``ThreadStore``: ChatKit's ``Store`` backed by the threadstore service.

This module imports ``chatkit`` (package ``openai-chatkit``, 1.6); the rest of the package does
not. One HTTP call per ``Store`` method::

    load_threads        GET    /v1/threads?limit=&after=&order=
    load_thread         GET    /v1/threads/{thread_id}
    save_thread         PUT    /v1/threads/{thread_id}
    delete_thread       DELETE /v1/threads/{thread_id}          (its items too)
    load_thread_items   GET    /v1/threads/{thread_id}/items?limit=&after=&order=
    add_thread_item     POST   /v1/threads/{thread_id}/items
    save_item           PUT    /v1/threads/{thread_id}/items/{item_id}
    load_item           GET    /v1/threads/{thread_id}/items/{item_id}
    delete_thread_item  DELETE /v1/threads/{thread_id}/items/{item_id}
    save_attachment     PUT    /v1/attachments/{attachment_id}
    load_attachment     GET    /v1/attachments/{attachment_id}
    delete_attachment   DELETE /v1/attachments/{attachment_id}

Documents go out as ``model_dump(mode="json")`` and come back through ``model_validate_json``
(``ThreadMetadata``, ``Page[...]``, ``Thread``) or ``TypeAdapter(...)`` (the ``ThreadItem`` and
``Attachment`` unions). Any 404 raises :class:`ThreadStoreNotFoundError`, a
``chatkit.store.NotFoundError`` worded as ChatKit's reference store words it; a 409 from
``add_thread_item`` raises :class:`~threadstore_chatkit.errors.ConflictError`; other failures
raise the errors of :mod:`threadstore_chatkit.errors`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar, cast

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, Thread, ThreadItem, ThreadMetadata

from .client import ThreadStoreClient, path_segment
from .errors import NotFoundHTTPError, ThreadStoreProtocolError
from .history import (
    ACTIVITY_MEMBER,
    HistoryPage,
    MetadataValue,
    OrderBy,
    SearchPage,
    ThreadStatusType,
    filter_params,
    page_parts,
    parse_time,
    search_page,
)
from .tokens import TokenHook, token_from_context

__all__ = ["ThreadStore", "ThreadStoreNotFoundError"]

TContext = TypeVar("TContext")


class ThreadStoreNotFoundError(NotFoundError, NotFoundHTTPError):
    """A 404 from threadstore: ChatKit's ``NotFoundError`` carrying the HTTP details.

    ``str(exc)`` is worded as ChatKit's reference store words it (``Thread thr_1 not found``,
    ``Item msg_1 not found in thread thr_1``, ``File atc_1 not found``), so code that shows or
    matches those messages behaves the same; ``exc.detail`` is the HTTP exchange
    (``threadstore GET /v1/threads/thr_1: 404 not_found: no such thread``).
    """

    def __init__(self, text: str, **http: Any) -> None:
        NotFoundHTTPError.__init__(self, **http)
        self.detail = str(Exception.__str__(self))
        self.args = (text,)


_Reader = Callable[[bytes], Any]
_readers: dict[str, _Reader] = {}


def _reader(name: str, tp: Any) -> _Reader:
    """``tp.model_validate_json`` for a model class, else ``TypeAdapter(tp).validate_json``."""
    fn = _readers.get(name)
    if fn is None:
        if isinstance(tp, type) and hasattr(tp, "model_validate_json"):
            fn = tp.model_validate_json
        else:
            from pydantic import TypeAdapter

            fn = TypeAdapter(tp).validate_json
        _readers[name] = fn
    return fn


def _thread_page_type() -> Any:
    return Page[ThreadMetadata]


def _item_page_type() -> Any:
    return Page[ThreadItem]


class ThreadStore(Store[TContext]):
    """ChatKit ``Store`` that keeps threads, items and attachments in threadstore.

    :param base_url: threadstore's address, e.g. ``"http://threadstore:8080"``.
    :param token: the token hook, ``hook(context) -> str`` or an async one (see
        :mod:`threadstore_chatkit.tokens`); default reads ``context.threadstore_token``.
    :param client: a :class:`ThreadStoreClient` to share; else one is made from ``base_url``
        and ``client_options`` (``timeout``, ``retries``, ``max_retry_wait``,
        ``max_connections``, ``http_client``, ...).

    Make one per process and close it at shutdown (``await store.aclose()``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: TokenHook[TContext] | None = None,
        client: ThreadStoreClient | None = None,
        **client_options: Any,
    ) -> None:
        if client is None:
            client = ThreadStoreClient(base_url, **client_options)
        elif base_url is not None or client_options:
            raise TypeError("pass either client or base_url/client options, not both")
        self.client = client
        self._token_hook: TokenHook[TContext] = token if token is not None else token_from_context

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self.client.aclose()

    async def __aenter__(self) -> ThreadStore[TContext]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing ------------------------------------------------------------------------

    def watch_changes(self, context: TContext, after: str | None = None) -> AsyncIterator[Any]:
        """The context user's changes as they commit (``threadstore_chatkit.Change``), resuming
        by itself after a drop; see :func:`threadstore_chatkit.changes.watch_changes`."""
        from .changes import watch_changes

        return watch_changes(self.client, lambda: self.bearer_token(context), after=after)

    async def changes(
        self, context: TContext, after: str | None = None, limit: int | None = None
    ) -> Any:
        """One page of the context user's changes (``threadstore_chatkit.ChangePage``)."""
        from .changes import fetch_changes

        return await fetch_changes(
            self.client, await self.bearer_token(context), after=after, limit=limit
        )

    async def bearer_token(self, context: TContext) -> str:
        """The token for this context: the token hook's result (awaited if need be)."""
        token = self._token_hook(context)
        if inspect.isawaitable(token):
            token = await token
        if not isinstance(token, str) or not token:
            raise TypeError("threadstore_chatkit: the token hook must return a non-empty str")
        return token

    async def _send(
        self,
        method: str,
        path: str,
        context: TContext,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        not_found: str,
    ) -> None:
        token = await self.bearer_token(context)
        try:
            await self.client.request(method, path, token=token, params=params, json_body=json_body)
        except NotFoundHTTPError as exc:
            raise _not_found(exc, not_found) from None

    async def _fetch(
        self,
        path: str,
        context: TContext,
        reader: _Reader,
        what: str,
        *,
        params: Mapping[str, str | int] | None = None,
        not_found: str,
    ) -> Any:
        token = await self.bearer_token(context)
        try:
            body = await self.client.request_json("GET", path, token=token, params=params)
        except NotFoundHTTPError as exc:
            raise _not_found(exc, not_found) from None
        try:
            return reader(body)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ThreadStoreProtocolError(
                f"threadstore GET {path}: the response does not validate as {what}: {exc}"
            ) from exc

    @staticmethod
    def _page_params(limit: int, after: str | None, order: str) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": limit, "order": order}
        if after:
            params["after"] = after
        return params

    # -- threads -------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        fetched = await self._fetch(
            f"/v1/threads/{path_segment(thread_id)}",
            context,
            _reader("ThreadMetadata", ThreadMetadata),
            "ThreadMetadata",
            not_found=f"Thread {thread_id} not found",
        )
        return cast("ThreadMetadata", fetched)

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        # A full Thread's items are stored as items, not inside the thread document.
        exclude = {"items"} if isinstance(thread, Thread) else None
        await self._send(
            "PUT",
            f"/v1/threads/{path_segment(thread.id)}",
            context,
            json_body=thread.model_dump(mode="json", exclude=exclude),
            not_found=f"Thread {thread.id} not found",
        )

    async def load_threads(
        self,
        limit: int,
        after: str | None,
        order: str,
        context: TContext,
    ) -> Page[ThreadMetadata]:
        fetched = await self._fetch(
            "/v1/threads",
            context,
            _reader("Page[ThreadMetadata]", _thread_page_type()),
            "Page[ThreadMetadata]",
            params=self._page_params(limit, after, order),
            # the only 404 here: an after cursor that names none of the user's threads
            not_found=f"Thread {after} not found",
        )
        return cast("Page[ThreadMetadata]", fetched)

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        await self._send(
            "DELETE",
            f"/v1/threads/{path_segment(thread_id)}",
            context,
            not_found=f"Thread {thread_id} not found",
        )

    async def load_full_thread(
        self, thread_id: str, context: TContext, *, items_limit: int = 20
    ) -> Thread:
        """Not part of ``Store``: the thread with its first ``items_limit`` items (oldest
        first) in one round trip (``GET /v1/threads/{id}?items=N``)."""
        fetched = await self._fetch(
            f"/v1/threads/{path_segment(thread_id)}",
            context,
            _reader("Thread", Thread),
            "Thread",
            params={"items": items_limit},
            not_found=f"Thread {thread_id} not found",
        )
        return cast("Thread", fetched)

    # -- items ---------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: TContext,
    ) -> Page[ThreadItem]:
        fetched = await self._fetch(
            f"/v1/threads/{path_segment(thread_id)}/items",
            context,
            _reader("Page[ThreadItem]", _item_page_type()),
            "Page[ThreadItem]",
            params=self._page_params(limit, after, order),
            # the only 404 here: an after cursor that names none of the thread's items
            not_found=f"Item {after} not found",
        )
        return cast("Page[ThreadItem]", fetched)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        """Persist a new item. Adding the same document again is harmless (201); an item with
        that id already in the thread with other content raises
        :class:`~threadstore_chatkit.ConflictError` and changes nothing. The item is filed
        under ``thread_id`` whatever its own ``thread_id`` says, as ChatKit's reference store
        does."""
        await self._send(
            "POST",
            f"/v1/threads/{path_segment(thread_id)}/items",
            context,
            json_body=item.model_dump(mode="json"),
            not_found=f"Thread {thread_id} not found",
        )

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        await self._send(
            "PUT",
            f"/v1/threads/{path_segment(thread_id)}/items/{path_segment(item.id)}",
            context,
            json_body=item.model_dump(mode="json"),
            not_found=f"Thread {thread_id} not found",
        )

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        fetched = await self._fetch(
            f"/v1/threads/{path_segment(thread_id)}/items/{path_segment(item_id)}",
            context,
            _reader("ThreadItem", ThreadItem),
            "ThreadItem",
            not_found=f"Item {item_id} not found in thread {thread_id}",
        )
        return cast("ThreadItem", fetched)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        await self._send(
            "DELETE",
            f"/v1/threads/{path_segment(thread_id)}/items/{path_segment(item_id)}",
            context,
            not_found=f"Item {item_id} not found in thread {thread_id}",
        )

    # -- attachments ---------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        await self._send(
            "PUT",
            f"/v1/attachments/{path_segment(attachment.id)}",
            context,
            json_body=attachment.model_dump(mode="json"),
            not_found=f"File {attachment.id} not found",
        )

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        fetched = await self._fetch(
            f"/v1/attachments/{path_segment(attachment_id)}",
            context,
            _reader("Attachment", Attachment),
            "Attachment",
            not_found=f"File {attachment_id} not found",
        )
        return cast("Attachment", fetched)

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        await self._send(
            "DELETE",
            f"/v1/attachments/{path_segment(attachment_id)}",
            context,
            not_found=f"File {attachment_id} not found",
        )

    # -- history (not part of Store): activity order, filters, counts, before, search -----

    async def _get_json(
        self, path: str, context: TContext, params: list[tuple[str, str]]
    ) -> bytes:
        token = await self.bearer_token(context)
        try:
            return await self.client.request_json(
                "GET", path, token=token, params=cast("Any", params)
            )
        except NotFoundHTTPError as exc:  # not a Store method: the server's words
            raise _not_found(exc, exc.message or str(exc)) from None

    async def list_threads(
        self,
        context: TContext,
        *,
        limit: int = 20,
        after: str | None = None,
        before: str | None = None,
        order: str = "desc",
        order_by: OrderBy = "created_at",
        metadata: Mapping[str, MetadataValue] | None = None,
        status: ThreadStatusType | None = None,
    ) -> HistoryPage[ThreadMetadata]:
        """``load_threads`` with activity order, filters and ``before``
        (``GET /v1/threads?order_by=&metadata.<key>=&status=&before=``).

        ``metadata`` matches top-level keys of the thread's metadata exactly (ANDed); strings
        match strings only. The page's ``updated_at`` gives each thread's activity time.
        """
        params: list[tuple[str, str]] = [
            ("limit", str(limit)), ("order", order), ("order_by", order_by)
        ]
        if after:
            params.append(("after", after))
        if before:
            params.append(("before", before))
        params += filter_params(metadata, status)
        body = await self._get_json("/v1/threads", context, params)
        read = _reader("ThreadMetadata", ThreadMetadata)
        try:
            docs, has_more, page_after, page_before = page_parts(body)
            threads = [read(json.dumps(d)) for d in docs]
            updated = {d["id"]: parse_time(d[ACTIVITY_MEMBER]) for d in docs}
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreadStoreProtocolError(
                f"threadstore GET /v1/threads: not a history page of threads: {exc}"
            ) from exc
        return HistoryPage(threads, has_more, page_after, page_before, updated)

    async def count_threads(
        self,
        context: TContext,
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
        status: ThreadStatusType | None = None,
    ) -> int:
        """How many of the caller's threads match (``GET /v1/threads/count``)."""
        body = await self._get_json(
            "/v1/threads/count", context, filter_params(metadata, status)
        )
        try:
            count = json.loads(body)["count"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreadStoreProtocolError(f"threadstore count: bad body: {exc}") from exc
        if not isinstance(count, int) or isinstance(count, bool):
            raise ThreadStoreProtocolError(f"threadstore count: {count!r} is not an integer")
        return count

    async def load_thread_items_before(
        self,
        thread_id: str,
        before: str,
        limit: int,
        order: str,
        context: TContext,
    ) -> HistoryPage[ThreadItem]:
        """The ``limit`` items just before item ``before`` in ``order``, in that order
        (``GET /v1/threads/{id}/items?before=``); ``page.before`` continues backwards."""
        params = [("before", before), ("limit", str(limit)), ("order", order)]
        body = await self._get_json(
            f"/v1/threads/{path_segment(thread_id)}/items", context, params
        )
        read = _reader("ThreadItem", ThreadItem)
        try:
            docs, has_more, page_after, page_before = page_parts(body)
            items = [read(json.dumps(d)) for d in docs]
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreadStoreProtocolError(
                f"threadstore GET items?before=: not a page of items: {exc}"
            ) from exc
        return HistoryPage(items, has_more, page_after, page_before)

    async def search(
        self,
        query: str,
        context: TContext,
        *,
        limit: int = 20,
        after: str | None = None,
        thread_id: str | None = None,
    ) -> SearchPage:
        """Full-text search of the caller's thread titles and message texts, best first
        (``GET /v1/search``; ``query`` in ``websearch_to_tsquery`` syntax)."""
        params = [("q", query), ("limit", str(limit))]
        if after:
            params.append(("after", after))
        if thread_id is not None:
            params.append(("thread_id", thread_id))
        body = await self._get_json("/v1/search", context, params)
        try:
            return search_page(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreadStoreProtocolError(f"threadstore search: bad body: {exc}") from exc


def _not_found(exc: NotFoundHTTPError, text: str) -> ThreadStoreNotFoundError:
    return ThreadStoreNotFoundError(
        text,
        status=exc.status,
        method=exc.method,
        path=exc.path,
        code=exc.code,
        message=exc.message,
        retry_after=exc.retry_after,
    )
