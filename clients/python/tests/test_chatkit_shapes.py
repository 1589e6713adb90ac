"""Every ChatKit 1.6.5 document shape, through the adapter and the real binary.

data/chatkit-1.6.5-shapes.jsonl is what the real openai-chatkit 1.6.5 (pydantic 2) writes with
``model_dump(mode="json")`` for the objects that :func:`shapes` builds: the thread metadata
(with ``allowed_image_domains``, a locked status), all eleven ThreadItem types (the content,
annotations, sources, tasks, workflows and structured inputs they hold, a widget, a generated
image as a data: URL) and both attachment types with ``upload_descriptor``, ``thread_id`` and
``metadata``; datetimes naive, UTC (``Z``) and with an offset. The same objects built here with
whichever chatkit is importable (the real SDK or tests/standins) must write the same bytes, and
must come back from threadstore equal and byte-identical.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from chatkit.store import Store
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    AttachmentUploadDescriptor,
    ClientToolCallItem,
    CustomSummary,
    CustomTask,
    DurationSummary,
    EndOfTurnItem,
    EntitySource,
    FileAttachment,
    FileSource,
    FileTask,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    ImageTask,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    SearchTask,
    StructuredInputAnswer,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadMetadata,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Card, Text

from threadstore_chatkit.store import _reader

GOLDEN = Path(__file__).resolve().parent / "data" / "chatkit-1.6.5-shapes.jsonl"
ITEM_TYPES = {
    "user_message", "assistant_message", "client_tool_call", "widget", "generated_image",
    "structured_input", "workflow", "task", "hidden_context_item", "sdk_hidden_context",
    "end_of_turn",
}


def shapes(thread_id: str = "thr_1") -> list[Any]:
    now = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    naive = datetime(2025, 6, 1, 12, 0, 0)
    off = datetime(2025, 6, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    t = thread_id
    ud = AttachmentUploadDescriptor(url="https://Up.example.com", method="PUT", headers={"x": "y"})
    fa = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain", upload_descriptor=ud,
                        thread_id=t, metadata={"k": [1, 2]})
    ia = ImageAttachment(id="atc_2", name="a.png", mime_type="image/png",
                         preview_url="https://example.com/p.png?x=1")
    with warnings.catch_warnings():  # the real SDK deprecates building widgets by class
        warnings.simplefilter("ignore", DeprecationWarning)
        card = Card(children=[Text(value="hi")])
    return [
        ThreadMetadata(id=t, created_at=now, title="t", allowed_image_domains=["cdn.example.com"],
                       metadata={"a": 1}),
        ThreadMetadata(id=t, created_at=naive, status=LockedStatus(reason="r")),
        UserMessageItem(
            id="msg_1", thread_id=t, created_at=off,
            content=[UserMessageTextContent(text="hi"),
                     UserMessageTagContent(id="tag", text="@x", data={"a": 1}, group="g",
                                           interactive=True)],
            attachments=[fa, ia], quoted_text="q",
            inference_options=InferenceOptions(tool_choice=ToolChoice(id="tool"), model="gpt")),
        AssistantMessageItem(id="msg_2", thread_id=t, created_at=now, content=[
            AssistantMessageContent(text="ok", annotations=[
                Annotation(source=URLSource(title="u", url="https://x"), index=1),
                Annotation(source=FileSource(title="f", filename="f.txt")),
                Annotation(source=EntitySource(title="e", id="ent", data={"z": 1}))])]),
        ClientToolCallItem(id="tc_1", thread_id=t, created_at=now, call_id="c", name="n",
                           arguments={"a": [1]}, output={"r": 1}, status="completed"),
        WidgetItem(id="wdg_1", thread_id=t, created_at=now, widget=card, copy_text="c"),
        GeneratedImageItem(id="img_1", thread_id=t, created_at=now,
                           image=GeneratedImage(id="g", url="data:image/png;base64,AAAA")),
        StructuredInputItem(id="si_1", thread_id=t, created_at=now, status="answered", inputs=[
            StructuredInputMultipleChoice(
                id="s", question="q?", options=[StructuredInputMultipleChoiceOption(value="A")],
                multiple=True, answer=StructuredInputAnswer(values=["A"])),
            StructuredInputFreeform(id="f", question="f?", description="d")]),
        WorkflowItem(id="wf_1", thread_id=t, created_at=now, workflow=Workflow(
            type="reasoning",
            tasks=[CustomTask(title="c", content="x"),
                   SearchTask(queries=["q"], sources=[URLSource(title="u", url="https://u")]),
                   ThoughtTask(content="th"),
                   FileTask(sources=[FileSource(title="f", filename="f")]),
                   ImageTask(title="i")],
            summary=DurationSummary(duration=3), expanded=True)),
        WorkflowItem(id="wf_2", thread_id=t, created_at=now,
                     workflow=Workflow(type="custom", tasks=[], summary=CustomSummary(title="s"))),
        TaskItem(id="tsk_1", thread_id=t, created_at=now,
                 task=ThoughtTask(content="t", status_indicator="complete")),
        HiddenContextItem(id="hc_1", thread_id=t, created_at=now, content={"any": [1, "x"]}),
        SDKHiddenContextItem(id="shcx_1", thread_id=t, created_at=now, content="cancelled"),
        EndOfTurnItem(id="eot_1", thread_id=t, created_at=now),
        fa,
        ia,
    ]


def dump(obj: Any) -> str:
    return json.dumps(obj.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


def test_json_is_chatkit_1_6_5s() -> None:
    golden = GOLDEN.read_text(encoding="utf-8").splitlines()
    built = [dump(o) for o in shapes()]
    assert len(built) == len(golden)
    for mine, theirs in zip(built, golden):
        assert mine == theirs
    types = {json.loads(line).get("type") for line in golden[2:-2]}
    assert types == ITEM_TYPES  # all eleven ThreadItem types are covered
    assert '"created_at":"2025-06-01T12:00:00.123456Z"' in golden[0]  # pydantic 2's UTC


def test_every_shape_validates_back() -> None:
    item, attachment = _reader("ThreadItem", ThreadItem), _reader("Attachment", Attachment)
    objs = shapes()
    for obj in objs[2:-2]:
        again = item(dump(obj).encode())
        assert type(again) is type(obj) and again == obj and dump(again) == dump(obj)
    for obj in objs[-2:]:
        again = attachment(dump(obj).encode())
        assert type(again) is type(obj) and again == obj
    for obj in objs[:2]:
        assert ThreadMetadata.model_validate_json(dump(obj)) == obj


def test_generated_ids_have_chatkits_prefixes() -> None:
    class S(Store):  # the defaults are concrete; the abstract methods are not called
        pass

    for name in list(S.__abstractmethods__):
        setattr(S, name, None)
    S.__abstractmethods__ = frozenset()
    s, thread = S(), shapes()[0]
    expected = {"thread": "thr", "message": "msg", "tool_call": "tc", "task": "tsk",
                "workflow": "wf", "attachment": "atc", "sdk_hidden_context": "shcx"}
    assert re.fullmatch(r"thr_[0-9a-f]{8}", s.generate_thread_id(None))
    for kind, prefix in expected.items():
        assert re.fullmatch(prefix + r"_[0-9a-f]{8}", s.generate_item_id(kind, thread, None))


async def test_every_item_type_round_trips_through_threadstore(store: Any, ctx: Any) -> None:
    objs = shapes("thr_shapes")
    thread, items, attachments = objs[0], objs[2:-2], objs[-2:]
    await store.save_thread(thread, ctx)
    assert await store.load_thread(thread.id, ctx) == thread
    for it in items:
        await store.add_thread_item(thread.id, it, ctx)
    for it in items:
        loaded = await store.load_item(thread.id, it.id, ctx)
        assert type(loaded) is type(it) and loaded == it and dump(loaded) == dump(it)
    page = await store.load_thread_items(thread.id, None, 100, "asc", ctx)
    assert {x.id for x in page.data} == {x.id for x in items}
    by_id = {x.id: x for x in items}
    for x in page.data:
        assert x == by_id[x.id] and dump(x) == dump(by_id[x.id])
    # A retried add of the same document is harmless.
    await store.add_thread_item(thread.id, items[0], ctx)
    assert await store.load_item(thread.id, items[0].id, ctx) == items[0]
    for a in attachments:
        await store.save_attachment(a, ctx)
        loaded = await store.load_attachment(a.id, ctx)
        assert type(loaded) is type(a) and loaded == a and dump(loaded) == dump(a)
    locked = objs[1].model_copy(update={"id": "thr_locked"})
    await store.save_thread(locked, ctx)
    assert await store.load_thread("thr_locked", ctx) == locked
