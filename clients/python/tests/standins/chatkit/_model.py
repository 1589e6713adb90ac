"""The model layer of the stand-ins: pydantic 2 when it is importable, else a tiny look-alike.

With pydantic 2 (e.g. a pyenv or venv Python) the stand-in types are real pydantic models, so
JSON comes out exactly as ChatKit's does (``created_at`` of an aware UTC datetime ends in
``Z``, ``AnyUrl`` normalised, discriminated unions by ``type``). Without it (Debian's
``/usr/bin/python3`` has no pydantic 2), :class:`BaseModel` below is a keyword-only dataclass
with what threadstore_chatkit and its tests use: construction, equality, ``model_dump(mode=
"json", exclude=..., context=...)``, ``model_dump_json``, ``model_validate(_json)``,
``model_copy`` (extra keys ignored, datetimes from ISO 8601, nested models, ``X | None``,
lists, dicts, literals), discriminated unions by ``type`` (:func:`union`), and datetimes,
URLs and dropped-``None`` widgets serialised as pydantic 2 does. Written for these tests; not
a copy of pydantic or chatkit. ``PYDANTIC`` says which one is in use; set
``THREADSTORE_STANDINS_NO_PYDANTIC=1`` to force the look-alike.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import types
import typing
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

__all__ = ["PYDANTIC", "AnyUrl", "BaseModel", "Field", "union"]

PYDANTIC = False
if not os.environ.get("THREADSTORE_STANDINS_NO_PYDANTIC"):
    try:
        import pydantic

        PYDANTIC = int(pydantic.VERSION.split(".")[0]) >= 2
    except ImportError:
        pass

if PYDANTIC:
    from pydantic import AnyUrl, BaseModel, Field

    def union(*members: Any) -> Any:
        """A union discriminated by ``type``, as ChatKit writes them."""
        return Annotated[typing.Union[members], Field(discriminator="type")]  # noqa: UP007

else:
    _NoneType = type(None)
    _MISSING = dataclasses.MISSING

    def Field(  # noqa: N802 - pydantic's name
        default: Any = _MISSING,
        *,
        default_factory: Any = _MISSING,
        discriminator: str | None = None,
        frozen: bool = False,
        deprecated: Any = None,
        description: str | None = None,
    ) -> Any:
        if default is ...:
            default = _MISSING
        return dataclasses.field(default=default, default_factory=default_factory)

    class AnyUrl(str):
        """A URL normalised as pydantic 2's ``AnyUrl`` is: lower-case scheme and host, and
        ``/`` for an empty path of a URL with a host."""

        def __new__(cls, value: str) -> AnyUrl:
            if not isinstance(value, str):
                raise ValueError(f"expected a URL string, got {value!r}")
            parts = urlsplit(value)
            if not parts.scheme or (not parts.netloc and parts.scheme in ("http", "https")):
                raise ValueError(f"not a URL: {value!r}")
            netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
            path = parts.path or ("/" if netloc else "")
            return super().__new__(
                cls, urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))
            )

        def __repr__(self) -> str:
            return f"AnyUrl({str(self)!r})"

    def _iso(value: datetime) -> str:
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    def _dump(value: Any, json_mode: bool, context: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json" if json_mode else "python", context=context)
        if isinstance(value, datetime):
            return _iso(value) if json_mode else value
        if isinstance(value, AnyUrl):
            return str(value) if json_mode else value
        if isinstance(value, (list, tuple)):
            return [_dump(v, json_mode, context) for v in value]
        if isinstance(value, dict):
            return {k: _dump(v, json_mode, context) for k, v in value.items()}
        return value

    def _coerce(tp: Any, value: Any, where: str) -> Any:
        if tp is Any:
            return value
        origin = typing.get_origin(tp)
        if origin is Annotated:
            return _coerce(typing.get_args(tp)[0], value, where)
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
            args = typing.get_args(tp)
            if len(args) == 2:
                return {k: _coerce(args[1], v, f"{where}[{k!r}]") for k, v in value.items()}
            return dict(value)
        if tp is datetime:
            if isinstance(value, datetime):
                return value
            if isinstance(value, str):
                try:  # Python 3.11's fromisoformat reads "Z"; 3.10's does not
                    return datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
            raise ValueError(f"{where}: expected a datetime, got {value!r}")
        if tp is AnyUrl:
            return AnyUrl(value)
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

    _HINTS: dict[type, dict[str, Any]] = {}

    class BaseModel:
        """Subclasses become keyword-only dataclasses."""

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            dataclasses.dataclass(kw_only=True)(cls)

        def __post_init__(self) -> None:
            # Construction validates and coerces, as pydantic does (a str preview_url becomes
            # an AnyUrl, a dict a nested model), so equality after a round trip is honest.
            for name, tp in type(self)._hints().items():
                setattr(self, name, _coerce(tp, getattr(self, name), f"{type(self).__name__}.{name}"))

        @classmethod
        def _hints(cls) -> dict[str, Any]:
            hit = _HINTS.get(cls)
            if hit is None:
                hints = typing.get_type_hints(cls, include_extras=True)
                hit = {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
                _HINTS[cls] = hit
            return hit

        def _serialize(self, data: dict[str, Any], context: Any) -> dict[str, Any]:
            """Hook for the subclasses that ChatKit gives a model_serializer."""
            return data

        def model_dump(
            self, *, mode: str = "python", exclude: Any = None, context: Any = None
        ) -> dict[str, Any]:
            skip = set(exclude or ())
            data = {
                f.name: _dump(getattr(self, f.name), mode == "json", context)
                for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if f.name not in skip
            }
            return self._serialize(data, context)

        def model_dump_json(self, *, exclude: Any = None, context: Any = None) -> str:
            return json.dumps(
                self.model_dump(mode="json", exclude=exclude, context=context),
                separators=(",", ":"),
                ensure_ascii=False,
            )

        def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
            new = copy.deepcopy(self) if deep else copy.copy(self)
            for k, v in (update or {}).items():
                setattr(new, k, v)
            return new

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

    class _Union:
        """A discriminated union by ``type``: ``model_validate`` picks the member."""

        members: ClassVar[tuple[type[BaseModel], ...]] = ()

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise TypeError(f"{cls.__name__} is a union; build one of its members")

        @classmethod
        def model_validate(cls, data: Any) -> Any:
            if isinstance(data, cls.members):
                return data
            if not isinstance(data, dict):
                raise ValueError(f"union: expected an object, got {data!r}")
            tag = data.get("type")
            for member in cls.members:
                if tag in _tags_of(member):
                    return member.model_validate(data)
            raise ValueError(f"union of {[m.__name__ for m in cls.members]}: unknown type {tag!r}")

        @classmethod
        def model_validate_json(cls, data: str | bytes) -> Any:
            return cls.model_validate(json.loads(data))

    def _tags_of(member: type[BaseModel]) -> tuple[Any, ...]:
        tp = member._hints().get("type")
        if tp is not None and typing.get_origin(tp) is Literal:
            return typing.get_args(tp)
        return ()

    def union(*members: Any) -> Any:
        """A union discriminated by ``type`` (a class with ``model_validate``)."""
        return type("Union", (_Union,), {"members": members, "__module__": __name__})
