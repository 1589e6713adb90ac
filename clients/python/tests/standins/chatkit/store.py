"""Stand-in for ``chatkit.store`` (openai-chatkit 1.6.5): ``NotFoundError``, ``StoreItemType``,
``default_generate_id`` with ChatKit's id prefixes, ``AttachmentStore`` and the ``Store`` ABC
with ChatKit's twelve abstract methods, their argument names and orders."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Generic, Literal, TypeVar

from .types import Attachment, AttachmentCreateParams, Page, ThreadItem, ThreadMetadata

TContext = TypeVar("TContext")

StoreItemType = Literal[
    "thread", "message", "tool_call", "task", "workflow", "attachment", "sdk_hidden_context"
]

# The prefixes of ChatKit 1.6.5's default ids: "msg_1a2b3c4d", "thr_...", ...
ID_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def default_generate_id(item_type: StoreItemType) -> str:
    return f"{ID_PREFIXES[item_type]}_{uuid.uuid4().hex[:8]}"


class NotFoundError(Exception):
    pass


class AttachmentStore(ABC, Generic[TContext]):
    @abstractmethod
    async def delete_attachment(self, attachment_id: str, context: TContext) -> None: ...

    async def create_attachment(
        self, input: AttachmentCreateParams, context: TContext
    ) -> Attachment:
        raise NotImplementedError(
            f"{type(self).__name__} must override create_attachment() to support two-phase "
            "file upload"
        )

    def generate_attachment_id(self, mime_type: str, context: TContext) -> str:
        return default_generate_id("attachment")


class Store(ABC, Generic[TContext]):
    def generate_thread_id(self, context: TContext) -> str:
        return default_generate_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: TContext
    ) -> str:
        return default_generate_id(item_type)

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


