"""Stand-in for ``chatkit.store`` (openai-chatkit 1.6): ``NotFoundError`` and the ``Store`` ABC
with ChatKit's twelve abstract methods, their argument names and orders."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from .types import Attachment, Page, ThreadItem, ThreadMetadata

TContext = TypeVar("TContext")


class NotFoundError(Exception):
    pass


class Store(ABC, Generic[TContext]):
    def generate_thread_id(self, context: TContext) -> str:
        return f"thr_{uuid.uuid4().hex[:8]}"

    def generate_item_id(self, item_type: str, thread: ThreadMetadata, context: TContext) -> str:
        return f"{item_type}_{uuid.uuid4().hex[:8]}"

    @abstractmethod
    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata: ...

    @abstractmethod
    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None: ...

    @abstractmethod
    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]: ...

    @abstractmethod
    async def save_attachment(self, attachment: Attachment, context: TContext) -> None: ...

    @abstractmethod
    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment: ...

    @abstractmethod
    async def delete_attachment(self, attachment_id: str, context: TContext) -> None: ...

    @abstractmethod
    async def load_threads(
        self, limit: int, after: str | None, order: str, context: TContext
    ) -> Page[ThreadMetadata]: ...

    @abstractmethod
    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None: ...

    @abstractmethod
    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None: ...

    @abstractmethod
    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem: ...

    @abstractmethod
    async def delete_thread(self, thread_id: str, context: TContext) -> None: ...

    @abstractmethod
    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None: ...


