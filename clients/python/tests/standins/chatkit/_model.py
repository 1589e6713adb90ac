"""A tiny stand-in for pydantic 2's BaseModel, enough for the adapter's tests.

Only what threadstore_chatkit uses: keyword construction, equality, ``model_dump(mode="json",
exclude=...)``, ``model_validate`` and ``model_validate_json`` (extra keys ignored, datetimes
from ISO 8601, nested models, ``X | None``, lists, literals), and discriminated unions by
``type`` (:class:`Union`). Written for these tests; not a copy of pydantic or chatkit.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from typing import Any, ClassVar, Literal

_NoneType = type(None)


def _dump(value: Any, json_mode: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(mode="json" if json_mode else "python")
    if isinstance(value, datetime):
        return value.isoformat() if json_mode else value
    if isinstance(value, (list, tuple)):
        return [_dump(v, json_mode) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, json_mode) for k, v in value.items()}
    return value


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and _NoneType in args:
            return None
        errors = []
        for arg in args:
            if arg is _NoneType:
                continue
            try:
                return _coerce(arg, value, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(f"{where}: no member of {tp} accepts {value!r}: {errors}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ValueError(f"{where}: {value!r} is not one of {typing.get_args(tp)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (arg,) = typing.get_args(tp) or (Any,)
        return [_coerce(arg, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, got {value!r}")
        return dict(value)
    if tp is datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        raise ValueError(f"{where}: expected a datetime, got {value!r}")
    if isinstance(tp, type) and hasattr(tp, "model_validate"):
        return tp.model_validate(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(tp, type):
        if tp is not bool and isinstance(value, bool):
            raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")
        if not isinstance(value, tp):
            raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    raise TypeError(f"stand-in model cannot validate {tp!r}")


class Model:
    """Subclasses become keyword-only dataclasses."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(kw_only=True)(cls)

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    def model_dump(self, *, mode: str = "python", exclude: Any = None) -> dict[str, Any]:
        skip = set(exclude or ())
        return {
            f.name: _dump(getattr(self, f.name), mode == "json")
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name not in skip
        }

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"))

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {data!r}")
        kwargs = {}
        for name, tp in cls._hints().items():
            if name in data:
                kwargs[name] = _coerce(tp, data[name], f"{cls.__name__}.{name}")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"{cls.__name__}: {exc}") from None

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> Any:
        return cls.model_validate(json.loads(data))


class Union:
    """A discriminated union by the ``type`` field: ``model_validate`` picks the member."""

    members: ClassVar[tuple[type[Model], ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__name__} is a union; build one of its members")

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        if isinstance(data, cls.members):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {data!r}")
        tag = data.get("type")
        for member in cls.members:
            if _tag_of(member) == tag:
                return member.model_validate(data)
        raise ValueError(f"{cls.__name__}: unknown type {tag!r}")

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> Any:
        return cls.model_validate(json.loads(data))


def _tag_of(member: type[Model]) -> Any:
    for f in dataclasses.fields(member):  # type: ignore[arg-type]
        if f.name == "type":
            return f.default
    return None
