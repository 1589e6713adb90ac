"""Stand-in for ``chatkit.types`` (openai-chatkit 1.6.5): the models a Store handles, with
ChatKit's names, fields, defaults and JSON shapes: ``ThreadMetadata`` (with
``allowed_image_domains``), ``Thread``, ``Page``, all eleven ``ThreadItem`` types, attachments
with ``upload_descriptor``, ``thread_id`` and ``metadata``, and what those contain (content,
annotations and sources, workflows and tasks, structured inputs, generated images). Built on
``_model``: real pydantic 2 models when pydantic 2 is importable, else the look-alike.
Request and event types (``ThreadsCreateReq``, ``ThreadItemDoneEvent``, ...) are left out: a
Store never sees them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from ._model import PYDANTIC, AnyUrl, BaseModel, Field, union
from .widgets import WidgetRoot

if PYDANTIC:
    from pydantic import SerializationInfo, model_serializer

T = TypeVar("T")

# -- pages ---------------------------------------------------------------------------------

if PYDANTIC:

    class Page(BaseModel, Generic[T]):
        data: list[T] = []
        has_more: bool = False
        after: str | None = None

else:

    class Page(BaseModel):  # type: ignore[no-redef]
        """``Page[T]``: ``data``, ``has_more``, ``after``."""

        data: list[Any] = Field(default_factory=list)
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


# -- threads -------------------------------------------------------------------------------


class ActiveStatus(BaseModel):
    type: Literal["active"] = Field(default="active", frozen=True)


class LockedStatus(BaseModel):
    type: Literal["locked"] = Field(default="locked", frozen=True)
    reason: str | None = None


class ClosedStatus(BaseModel):
    type: Literal["closed"] = Field(default="closed", frozen=True)
    reason: str | None = None


ThreadStatus = union(ActiveStatus, LockedStatus, ClosedStatus)


class ThreadMetadata(BaseModel):
    title: str | None = None
    id: str
    created_at: datetime
    status: ThreadStatus = Field(default_factory=lambda: ActiveStatus())
    allowed_image_domains: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Thread(ThreadMetadata):
    items: Page[ThreadItem]  # type: ignore[valid-type]


# -- sources and annotations ---------------------------------------------------------------


class SourceBase(BaseModel):
    title: str
    description: str | None = None
    timestamp: str | None = None
    group: str | None = None


class FileSource(SourceBase):
    type: Literal["file"] = "file"
    filename: str


class URLSource(SourceBase):
    type: Literal["url"] = "url"
    url: str
    attribution: str | None = None


class EntitySource(SourceBase):
    type: Literal["entity"] = "entity"
    id: str
    icon: str | None = None
    label: str | None = None
    inline_label: str | None = None
    interactive: bool = False
    data: dict[str, Any] = Field(default_factory=dict)
    preview: Literal["lazy"] | None = None


Source = union(URLSource, FileSource, EntitySource)


class Annotation(BaseModel):
    type: Literal["annotation"] = "annotation"
    source: URLSource | FileSource | EntitySource
    index: int | None = None


class AssistantMessageContent(BaseModel):
    annotations: list[Annotation] = Field(default_factory=list)
    text: str
    type: Literal["output_text"] = "output_text"


# -- user messages -------------------------------------------------------------------------


class UserMessageTextContent(BaseModel):
    type: Literal["input_text"] = "input_text"
    text: str


class UserMessageTagContent(BaseModel):
    type: Literal["input_tag"] = "input_tag"
    id: str
    text: str
    data: dict[str, Any]
    group: str | None = None
    interactive: bool = False


UserMessageContent = union(UserMessageTextContent, UserMessageTagContent)


class ToolChoice(BaseModel):
    id: str


class InferenceOptions(BaseModel):
    tool_choice: ToolChoice | None = None
    model: str | None = None


# -- attachments ---------------------------------------------------------------------------


class AttachmentUploadDescriptor(BaseModel):
    url: AnyUrl
    method: Literal["POST", "PUT"]
    headers: dict[str, str] = Field(default_factory=dict)


def _drop_metadata(data: Any, context: Any) -> Any:
    # ChatKit leaves out the integration-only metadata when serialised with
    # context={"exclude_metadata": True}; a Store's plain model_dump keeps it.
    if isinstance(data, dict) and (context or {}).get("exclude_metadata"):
        data.pop("metadata", None)
    return data


class AttachmentBase(BaseModel):
    id: str
    name: str
    mime_type: str
    upload_descriptor: AttachmentUploadDescriptor | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None

    if PYDANTIC:

        @model_serializer(mode="wrap")
        def _serialize_attachment(self, handler: Any, info: SerializationInfo) -> Any:
            return _drop_metadata(handler(self), info.context)

    else:

        def _serialize(self, data: dict[str, Any], context: Any) -> dict[str, Any]:
            return _drop_metadata(data, context)


class FileAttachment(AttachmentBase):
    type: Literal["file"] = "file"


class ImageAttachment(AttachmentBase):
    type: Literal["image"] = "image"
    preview_url: AnyUrl


Attachment = union(FileAttachment, ImageAttachment)


class AttachmentCreateParams(BaseModel):
    name: str
    size: int
    mime_type: str


# -- workflows and tasks -------------------------------------------------------------------


class BaseTask(BaseModel):
    status_indicator: Literal["none", "loading", "complete"] = "none"


class CustomTask(BaseTask):
    type: Literal["custom"] = "custom"
    title: str | None = None
    icon: str | None = None
    content: str | None = None


class SearchTask(BaseTask):
    type: Literal["web_search"] = "web_search"
    title: str | None = None
    title_query: str | None = None
    queries: list[str] = Field(default_factory=list)
    sources: list[URLSource] = Field(default_factory=list)


class ThoughtTask(BaseTask):
    type: Literal["thought"] = "thought"
    title: str | None = None
    content: str


class FileTask(BaseTask):
    type: Literal["file"] = "file"
    title: str | None = None
    sources: list[FileSource] = Field(default_factory=list)


class ImageTask(BaseTask):
    type: Literal["image"] = "image"
    title: str | None = None


Task = union(CustomTask, SearchTask, ThoughtTask, FileTask, ImageTask)


class CustomSummary(BaseModel):
    title: str
    icon: str | None = None


class DurationSummary(BaseModel):
    duration: int


class Workflow(BaseModel):
    type: Literal["custom", "reasoning"]
    tasks: list[Task]  # type: ignore[valid-type]
    summary: CustomSummary | DurationSummary | None = None
    expanded: bool = False


# -- structured input ----------------------------------------------------------------------


class StructuredInputAnswer(BaseModel):
    values: list[str] = Field(default_factory=list)
    skipped: bool = False


class StructuredInputBase(BaseModel):
    id: str
    question: str
    answer: StructuredInputAnswer | None = None


class StructuredInputMultipleChoiceOption(BaseModel):
    value: str


class StructuredInputMultipleChoice(StructuredInputBase):
    type: Literal["multiple_choice"] = "multiple_choice"
    options: list[StructuredInputMultipleChoiceOption]
    multiple: bool = False


class StructuredInputFreeform(StructuredInputBase):
    type: Literal["freeform"] = "freeform"
    description: str | None = None


StructuredInput = union(StructuredInputMultipleChoice, StructuredInputFreeform)


# -- thread items --------------------------------------------------------------------------


class ThreadItemBase(BaseModel):
    id: str
    thread_id: str
    created_at: datetime


class UserMessageItem(ThreadItemBase):
    type: Literal["user_message"] = "user_message"
    content: list[UserMessageContent]  # type: ignore[valid-type]
    attachments: list[Attachment] = Field(default_factory=list)  # type: ignore[valid-type]
    quoted_text: str | None = None
    inference_options: InferenceOptions


class AssistantMessageItem(ThreadItemBase):
    type: Literal["assistant_message"] = "assistant_message"
    content: list[AssistantMessageContent]


class ClientToolCallItem(ThreadItemBase):
    type: Literal["client_tool_call"] = "client_tool_call"
    status: Literal["pending", "completed"] = "pending"
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: Any | None = None


class WidgetItem(ThreadItemBase):
    type: Literal["widget"] = "widget"
    widget: WidgetRoot  # type: ignore[valid-type]
    copy_text: str | None = None


class GeneratedImage(BaseModel):
    id: str
    url: str


class GeneratedImageItem(ThreadItemBase):
    type: Literal["generated_image"] = "generated_image"
    image: GeneratedImage | None = None


class StructuredInputItem(ThreadItemBase):
    type: Literal["structured_input"] = "structured_input"
    status: Literal["pending", "answered", "skipped"] = "pending"
    inputs: list[StructuredInput]  # type: ignore[valid-type]


class TaskItem(ThreadItemBase):
    type: Literal["task"] = "task"
    task: Task  # type: ignore[valid-type]


class WorkflowItem(ThreadItemBase):
    type: Literal["workflow"] = "workflow"
    workflow: Workflow


class EndOfTurnItem(ThreadItemBase):
    type: Literal["end_of_turn"] = "end_of_turn"


class HiddenContextItem(ThreadItemBase):
    type: Literal["hidden_context_item"] = "hidden_context_item"
    content: Any


class SDKHiddenContextItem(ThreadItemBase):
    type: Literal["sdk_hidden_context"] = "sdk_hidden_context"
    content: str


ThreadItem = union(
    UserMessageItem,
    AssistantMessageItem,
    ClientToolCallItem,
    WidgetItem,
    GeneratedImageItem,
    StructuredInputItem,
    WorkflowItem,
    TaskItem,
    HiddenContextItem,
    SDKHiddenContextItem,
    EndOfTurnItem,
)

if PYDANTIC:
    Thread.model_rebuild()
