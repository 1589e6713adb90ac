"""Stand-in for ``chatkit.widgets`` (openai-chatkit 1.6.5): a few widget components, enough
for a ``WidgetItem`` whose JSON is shaped like the real one's: ``{"type": "Card",
"children": [{"type": "Text", "value": "..."}]}``, with ``None`` members left out (ChatKit's
widget serializer drops them). The real module has some forty components; threadstore stores
the JSON as it is, so these few stand for all of them."""

from __future__ import annotations

from typing import Any, Literal

from ._model import PYDANTIC, BaseModel, Field, union

if PYDANTIC:
    from pydantic import model_serializer


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


class WidgetComponentBase(BaseModel):
    key: str | None = None
    id: str | None = None

    if PYDANTIC:

        @model_serializer(mode="wrap")
        def _serialize_widget(self, handler: Any) -> Any:
            return _drop_none(handler(self))

    else:

        def _serialize(self, data: dict[str, Any], context: Any) -> dict[str, Any]:
            return _drop_none(data)


class Text(WidgetComponentBase):
    type: Literal["Text"] = Field(default="Text", frozen=True)
    value: str
    streaming: bool | None = None
    italic: bool | None = None
    size: str | None = None


class Title(WidgetComponentBase):
    type: Literal["Title"] = Field(default="Title", frozen=True)
    value: str
    size: str | None = None


class Markdown(WidgetComponentBase):
    type: Literal["Markdown"] = Field(default="Markdown", frozen=True)
    value: str
    streaming: bool | None = None


class Col(WidgetComponentBase):
    type: Literal["Col"] = Field(default="Col", frozen=True)
    children: list[WidgetComponent] | None = None
    gap: int | str | None = None


WidgetComponent = union(Text, Title, Markdown, Col)


class Card(WidgetComponentBase):
    type: Literal["Card"] = Field(default="Card", frozen=True)
    children: list[WidgetComponent]
    size: Literal["sm", "md", "lg", "full"] | None = None
    padding: int | str | None = None
    background: str | None = None


class ListViewItem(WidgetComponentBase):
    type: Literal["ListViewItem"] = Field(default="ListViewItem", frozen=True)
    children: list[WidgetComponent]


class ListView(WidgetComponentBase):
    type: Literal["ListView"] = Field(default="ListView", frozen=True)
    children: list[ListViewItem]
    limit: int | Literal["auto"] | None = None


class BasicRoot(WidgetComponentBase):
    type: Literal["Basic"] = Field(default="Basic", frozen=True)
    children: list[WidgetComponent] | None = None


WidgetRoot = union(Card, ListView, BasicRoot)

if PYDANTIC:
    for _m in (Col, Card, ListViewItem, ListView, BasicRoot):
        _m.model_rebuild()
