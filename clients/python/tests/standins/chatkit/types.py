"""Stand-in for ``chatkit.types`` (openai-chatkit 1.6): the models the store handles, with the
same names, fields and JSON shapes, built on the tiny model in ``_model``."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, ClassVar, Literal

from ._model import Model, Union


class Page(Model):
    """``Page[T]``: ``data``, ``has_more``, ``after``."""

    data: list[Any] = field(default_factory=list)
    has_more: bool = False
    after: str | None = None

    item_type: ClassVar[Any] = Any
    _specialised: ClassVar[dict[Any, type[Page]]] = {}

    def __class_getitem__(cls, item: Any) -> type[Page]:
        hit = cls._specialised.get(item)
        if hit is None:
            name = getattr(item, "__name__", repr(item))
            hit = type(f"Page[{name}]", (Page,), {"item_type": item, "__module__": __name__})
            cls._specialised[item] = hit
        return hit

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        hints = super()._hints()
        hints["data"] = list[cls.item_type]  # type: ignore[name-defined]
        return hints


# -- thread status -------------------------------------------------------------------------


class ActiveStatus(Model):
    type: Literal["active"] = "active"


class LockedStatus(Model):
    type: Literal["locked"] = "locked"
    reason: str | None = None


class ClosedStatus(Model):
    type: Literal["closed"] = "closed"
    reason: str | None = None


class ThreadStatus(Union):
    members = (ActiveStatus, LockedStatus, ClosedStatus)


# -- threads -------------------------------------------------------------------------------


class ThreadMetadata(Model):
    title: str | None = None
    id: str
    created_at: datetime
    status: ThreadStatus = field(default_factory=ActiveStatus)  # type: ignore[assignment]
    metadata: dict[str, Any] = field(default_factory=dict)


# -- attachments ---------------------------------------------------------------------------


class FileAttachment(Model):
    id: str
    name: str
    mime_type: str
    type: Literal["file"] = "file"


class ImageAttachment(Model):
    id: str
    name: str
    mime_type: str
    preview_url: str
    type: Literal["image"] = "image"


class Attachment(Union):
    members = (FileAttachment, ImageAttachment)


# -- items ---------------------------------------------------------------------------------


class UserMessageTextContent(Model):
    type: Literal["input_text"] = "input_text"
    text: str


class UserMessageTagContent(Model):
    type: Literal["input_tag"] = "input_tag"
    id: str
    text: str
    data: dict[str, Any]
    group: str | None = None
    interactive: bool = False


class UserMessageContent(Union):
    members = (UserMessageTextContent, UserMessageTagContent)


class ToolChoice(Model):
    id: str


class InferenceOptions(Model):
    tool_choice: ToolChoice | None = None
    model: str | None = None


class Annotation(Model):
    type: Literal["annotation"] = "annotation"
    source: dict[str, Any]
    index: int | None = None


class AssistantMessageContent(Model):
    annotations: list[Annotation] = field(default_factory=list)
    text: str
    type: Literal["output_text"] = "output_text"


class UserMessageItem(Model):
    id: str
    thread_id: str
    created_at: datetime
    type: Literal["user_message"] = "user_message"
    content: list[UserMessageContent]
    attachments: list[Attachment] = field(default_factory=list)
    quoted_text: str | None = None
    inference_options: InferenceOptions


class AssistantMessageItem(Model):
    id: str
    thread_id: str
    created_at: datetime
    type: Literal["assistant_message"] = "assistant_message"
    content: list[AssistantMessageContent]


class ClientToolCallItem(Model):
    id: str
    thread_id: str
    created_at: datetime
    type: Literal["client_tool_call"] = "client_tool_call"
    status: Literal["pending", "completed"] = "pending"
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: Any | None = None


class HiddenContextItem(Model):
    id: str
    thread_id: str
    created_at: datetime
    type: Literal["hidden_context_item"] = "hidden_context_item"
    content: Any


class EndOfTurnItem(Model):
    id: str
    thread_id: str
    created_at: datetime
    type: Literal["end_of_turn"] = "end_of_turn"


class ThreadItem(Union):
    members = (
        UserMessageItem,
        AssistantMessageItem,
        ClientToolCallItem,
        HiddenContextItem,
        EndOfTurnItem,
    )


class Thread(ThreadMetadata):
    items: Page[ThreadItem]  # type: ignore[valid-type]
