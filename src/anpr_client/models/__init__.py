"""Typed models of ANPR messages, and their conversion to and from payload dicts.

The model classes (``anpr_client.models.consultazione`` …) are generated from our bundle by
``tools/generate_models.py``: one frozen, keyword-only dataclass per XSD complex type, fields
named like the XML elements (ANPR's protocol names), ``list[...]`` for repeated elements and
``None`` for absent ones. Every field is optional in the Python type because the same types
appear in answers, which are read tolerantly; what a *request* requires is enforced by the XSD
validation that runs before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from ..errors.exceptions import ProtocolError

__all__ = ["from_payload", "to_payload"]

M = TypeVar("M")


def to_payload(model: Any) -> dict[str, Any]:
    """A model instance as a payload dict (``None`` fields and empty lists left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        value = getattr(model, f.name)
        if value is None or value == []:
            continue
        out[f.name] = _dump(value)
    return out


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_payload(value)
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


_hint_cache: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _hint_cache.get(cls)
    if hints is None:
        hints = _hint_cache[cls] = typing.get_type_hints(cls)
    return hints


def from_payload(cls: type[M], data: Mapping[str, Any], *, path: str = "") -> M:
    """Build ``cls`` from a decoded payload dict; raises ``ProtocolError`` naming a bad value."""
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for name, hint in hints.items():
        if name not in data:
            continue
        kwargs[name] = _load(hint, data[name], f"{path}/{name}" if path else name)
    return cls(**kwargs)


def _unwrap_optional(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _load(hint: Any, value: Any, path: str) -> Any:
    hint = _unwrap_optional(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        values = value if isinstance(value, list) else [value]
        return [_load(item, v, f"{path}[{i}]") for i, v in enumerate(values)]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ProtocolError(f"answer field {path}: expected child elements, got text")
        return from_payload(hint, value, path=path)
    if not isinstance(value, str):
        return value
    try:
        if hint is str:
            return value
        if hint is int:
            return int(value)
        if hint is Decimal:
            return Decimal(value)
        if hint is bool:
            if value.strip() in ("true", "1"):
                return True
            if value.strip() in ("false", "0"):
                return False
            raise ValueError(value)
        if hint is dt.date:
            return dt.date.fromisoformat(value.strip()[:10])
        if hint is dt.datetime:
            return dt.datetime.fromisoformat(value.strip())
        if hint is bytes:
            return base64.b64decode(value, validate=False)
    except (ValueError, InvalidOperation, binascii.Error):
        raise ProtocolError(
            f"answer field {path}: {value!r} is not a valid {getattr(hint, '__name__', hint)}"
        ) from None
    return value
