"""Typed models of ANPR messages, and their conversion to and from payload dicts.

>>> from anpr_client.models.consultazione import Richiesta3002, TipoCriteriRicerca
>>> from anpr_client.models import request_type, to_payload
>>> request_type("3002") is Richiesta3002
True

The model classes are generated from our bundle by ``tools/generate_models.py``: one module per
family folder of ``wsdl/`` (:mod:`~anpr_client.models.consultazione` for ``3000-consultazione``,
:mod:`~anpr_client.models.mutazione` for ``5000-mutazione``…) and :mod:`.common` for what several
families share. Each complex type is one frozen, keyword-only dataclass whose fields keep the
XML element names (ANPR's protocol names). Importing this package imports no family module:
:func:`request_type` and :func:`response_type` load the one they need.

**The rules of a field** (so that mypy catches a wrong request before it runs):

- an element with ``minOccurs >= 1`` is a required field without default; an optional one is
  ``X | None = None``; a repeated one is a ``Sequence[X]`` (``()`` by default when it may be
  empty). Exception: a request's ``testataRichiesta`` is optional, because the client fills it
  (fields you give override the generated ones);
- the branches of an ``xs:choice`` are ``X | None = None`` fields, and the class has one
  constructor overload per way of choosing: giving two branches (or none of a required choice)
  is a mypy error (``call-overload``), and at run time a
  :class:`~anpr_client.errors.ChoiceError` naming the choice and the branches given. This keeps
  the XML names for reading (``generalita.cognome``), where a ``str | None`` says the branch may
  be the other one;
- an enumeration is a ``Literal`` of its wire values (``TipoSesso``, ``TipoSN1``…), documented
  with the values; dates and times are :class:`datetime.date` / :class:`datetime.datetime`;
  ``base64Binary`` is ``bytes``;
- one class per type: ``testataRichiesta``, ``testataRisposta``, ``rispostaKO``,
  ``tipoErroriAnomalia`` and every type of ``wsdl/common/`` are classes of :mod:`.common`, which
  the family modules re-export, so ``isinstance`` works across families (a family's
  ``TipoTestataRichiesta`` is an alias of :class:`.common.TipoDatoTestataRichiesta`: ANPR's
  families declare it as an extension that adds nothing).

Every request class derives from :class:`Request` parametrised by its answer's OK branch, which
is what :meth:`anpr_client.Client.typed_call` returns (``Result[Risposta3002OK]`` for a
``Richiesta3002``).

**Answers are read tolerantly.** :func:`from_payload` builds a model without its constructor:
an answer that lacks a required field, holds two branches of a choice, a value outside an
enumeration or a value that does not parse (a date that is no date) still reads — the field
holds ``None`` or the text as received — and each deviation is reported by :func:`violations`
on the model returned, as a :class:`~anpr_client.errors.Violation` with its path. Elements the
bundle does not know (ANPR 9.2's ``anncsu`` section, say) never reach the model: the decoder
keeps them aside, in :attr:`anpr_client.Result.unknown_elements`, and reads everything after
them. ``from_payload(..., strict=True)`` instead raises
:class:`~anpr_client.errors.ModelError` listing every deviation: the way to build a request
from untrusted JSON.

:func:`to_payload` turns a model into the payload dict :meth:`anpr_client.Client.call` takes,
with every value in its wire form (``date`` → ``2026-11-20``, a ``datetime`` with its UTC offset
— a naive one gets the local offset — ``bytes`` → base64).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final, TypeVar

from ..errors.exceptions import ModelError, Violation
from ..soap import codec
from ..soap.codec import render_value
from ._base import Model, Request, field_names
from ._index import OPERATIONS, load

__all__ = [
    "Model",
    "Request",
    "from_payload",
    "ok_types",
    "request_type",
    "response_type",
    "to_payload",
    "violations",
]

M = TypeVar("M")


# ----------------------------------------------------------------------------- by code


def _entry(code: str) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    entry = OPERATIONS.get(code)
    if entry is None:
        from ..soap.bundle import get_bundle

        # Bundle.operation knows the accepted spellings ("testconn") and raises
        # UnknownOperationError listing the codes.
        entry = OPERATIONS.get(get_bundle().operation(code).code)
        if entry is None:  # a user bundle's operation that our models do not know
            from ..soap.bundle import UnknownOperationError

            raise UnknownOperationError(f"no typed models for operation {code!r}")
    return entry


_classes: dict[tuple[str, str], type[Any]] = {}


def _class(module: str, name: str) -> type[Any]:
    cls = _classes.get((module, name))
    if cls is None:
        cls = _classes[(module, name)] = getattr(load(module), name)
    return cls


def request_type(code: str) -> type[Request[Any]]:
    """The request class of operation ``code`` (``"3002"`` → ``Richiesta3002``).

    Raises :class:`~anpr_client.UnknownOperationError` for a code that is not an operation.
    """
    module, request, _, _ = _entry(code)
    return _class(module, request)


def response_type(code: str) -> type[Model]:
    """The class of the answer element of operation ``code`` (``"3002"`` → ``Risposta3002``,
    its branches ``Risposta3002_OK`` and ``rispostaKO`` as fields)."""
    module, _, response, _ = _entry(code)
    return _class(module, response)


def answer_plan(code: str) -> Any:
    """The reading plan of the answer element of ``code``, for
    :func:`anpr_client.soap.codec.decode_typed` (internal: the typed calls')."""
    return _plan(response_type(code))


_ok: dict[str, Mapping[str, type[Model]]] = {}


def ok_types(code: str) -> Mapping[str, type[Model]]:
    """The answer branches a successful call of ``code`` returns, by the name
    :attr:`anpr_client.Result.outcome` gives them (``{"Risposta3002_OK": Risposta3002OK}``;
    the answer element itself when it has no branches, as for TestConn)."""
    found = _ok.get(code)
    if found is None:
        module, _, _, outcomes = _entry(code)
        found = MappingProxyType({outcome: _class(module, name) for outcome, name in outcomes})
        _ok[code] = found
    return found


# ----------------------------------------------------------------------------- to payloads


def to_payload(model: Any) -> dict[str, Any]:
    """A model instance as a payload dict, values in their wire form (``None`` fields and empty
    sequences left out)."""
    held = vars(model)
    if isinstance(model, Model) and "_violations" not in held:
        # A generated model's __dict__ holds its fields and nothing else (frozen: its
        # constructor, or from_payload, set them; a field left out holds its default, None
        # or (), left out here too): read it without a getattr per field.
        items: Any = held.items()
    else:
        items = [(name, getattr(model, name)) for name in field_names(type(model))]
    out: dict[str, Any] = {}
    for name, value in items:
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            out[name] = value
        elif kind is tuple or kind is list:
            if value:
                out[name] = _dump_all(value)
        else:
            out[name] = (_dumpers.get(kind) or _dumper(kind))(value)
    return out


def _dump_all(values: Sequence[Any]) -> list[Any]:
    return [v if type(v) is str else (_dumpers.get(type(v)) or _dumper(type(v)))(v) for v in values]


_dumpers: dict[type, Callable[[Any], Any]] = {}
"""How a value of each type is written, by type (decided once per type by :func:`_dumper`)."""


def _dumper(kind: type) -> Callable[[Any], Any]:
    """How to write a value of type ``kind`` (it depends on the type only)."""
    dump: Callable[[Any], Any]
    if issubclass(kind, str):
        dump = _same
    elif issubclass(kind, Model) or dataclasses.is_dataclass(kind):
        dump = to_payload
    elif issubclass(kind, list | tuple):
        dump = _dump_all
    elif issubclass(kind, dt.datetime):
        dump = wire_datetime
    elif kind is dt.date:
        dump = dt.date.isoformat  # what render_value writes, without its isinstance chain
    else:
        dump = _rendered
    _dumpers[kind] = dump
    return dump


def _same(value: Any) -> Any:
    return value


def _rendered(value: Any) -> Any:
    try:
        return render_value(value)
    except TypeError:  # not a wire value: left for the encoder to report with its path
        return value


def wire_datetime(value: dt.datetime) -> str:
    """A ``datetime`` the way ANPR writes one: with its UTC offset (a naive value is taken as
    local time) and milliseconds, e.g. ``2026-11-20T10:15:00.000+01:00``; microseconds are kept
    when there are any."""
    aware = value if value.tzinfo is not None else value.astimezone()
    spec = "milliseconds" if aware.microsecond % 1000 == 0 else "microseconds"
    return aware.isoformat(timespec=spec)


# ----------------------------------------------------------------------------- from payloads


def from_payload(
    cls: type[M], data: Mapping[str, Any], *, path: str = "", strict: bool = False
) -> M:
    """Build ``cls`` from a payload dict (a decoded answer, or a request written as JSON).

    Tolerant by default (see the module docstring): deviations are reported by
    :func:`violations` on the result. With ``strict=True`` they raise
    :class:`~anpr_client.errors.ModelError` instead. Either way, ``data`` that is not a
    mapping raises :class:`~anpr_client.errors.ModelError`.
    """
    if not isinstance(data, Mapping):
        raise ModelError(
            getattr(cls, "__name__", str(cls)),
            [Violation(path or "payload", "type", f"expected an object, got {type(data)}")],
        )
    issues: list[Violation] = []
    model = _load(_plan(cls), data, path or cls.__name__, issues)
    if issues:
        if strict:
            raise ModelError(cls.__name__, issues)
        model.__dict__["_violations"] = tuple(issues)
    result: M = model
    return result


def violations(model: object) -> tuple[Violation, ...]:
    """What did not follow the schema in the payload ``model`` was read from (see
    :func:`from_payload`): a required field missing, two branches of a choice, a value outside
    an enumeration or that does not parse, a key that is no field. Empty for a model built by
    its constructor."""
    found: tuple[Violation, ...] = getattr(model, "__dict__", {}).get("_violations", ())
    return found


_Converter = Callable[[str], Any]


@dataclasses.dataclass(frozen=True)
class _Slot:
    """How to read one field."""

    name: str
    required: bool
    repeated: bool
    plan: _Plan | None  # a model field
    convert: _Converter | None  # a simple field (``None``: kept as text)
    python: type | None  # the Python type a simple value has once read
    allowed: frozenset[str] | None  # a Literal's values

    @property
    def text(self) -> bool:
        """A single field whose text is its value (most of them): the fast path."""
        simple = self.plan is None and self.convert is None and self.allowed is None
        return simple and not self.repeated


@dataclasses.dataclass(eq=False)
class _Plan:
    cls: type
    slots: dict[str, _Slot] = dataclasses.field(default_factory=dict)
    """By field name, in schema order."""
    text: frozenset[str] = frozenset()
    """The fields read as plain text (:attr:`_Slot.text`)."""
    nested: dict[str, _Plan] = dataclasses.field(default_factory=dict)
    """The single fields that hold a model, with its plan."""
    converted: dict[str, _Converter] = dataclasses.field(default_factory=dict)
    """The single simple fields whose text converts (dates, numbers…), with the converter."""
    listed: dict[str, _Slot] = dataclasses.field(default_factory=dict)
    """The repeated fields that hold a model, with their slot."""
    required: tuple[tuple[str, object], ...] = ()
    """The required fields, each with what it holds when missing (``None`` or ``()``)."""
    choices: tuple[tuple[tuple[str, ...], bool], ...] = ()
    fields: dict[str, tuple[int, Any]] = dataclasses.field(default_factory=dict)
    """Every field as :func:`anpr_client.soap.codec.decode_typed` reads it: its kind
    (``codec.TEXT``…) and the kind's argument."""
    required_names: frozenset[str] = frozenset()
    """The names of :attr:`required`."""


_plans: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    """The reading plan of a model class, built once from its type hints."""
    plan = _plans.get(cls)
    if plan is not None:
        return plan
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a model class")
    plan = _plans[cls] = _Plan(cls)  # before the fields: models may nest themselves
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        hint = _unwrap_optional(hints[f.name])
        repeated = typing.get_origin(hint) in (Sequence, list, tuple)
        if repeated:
            hint = typing.get_args(hint)[0]
        plan.slots[f.name] = _slot(f.name, hint, required=required, repeated=repeated)
    plan.required = tuple(
        (s.name, () if s.repeated else None) for s in plan.slots.values() if s.required
    )
    plan.text = frozenset(s.name for s in plan.slots.values() if s.text)
    plan.nested = {
        s.name: s.plan for s in plan.slots.values() if s.plan is not None and not s.repeated
    }
    plan.converted = {
        s.name: s.convert for s in plan.slots.values() if s.convert is not None and not s.repeated
    }
    plan.listed = {s.name: s for s in plan.slots.values() if s.plan is not None and s.repeated}
    plan.choices = getattr(cls, "CHOICES", ())
    plan.fields = {s.name: _field(s) for s in plan.slots.values()}
    plan.required_names = frozenset(name for name, _ in plan.required)
    return plan


def _field(slot: _Slot) -> tuple[int, Any]:
    """``slot`` as :func:`anpr_client.soap.codec.decode_typed` reads it (see
    :attr:`_Plan.fields`)."""
    if slot.repeated:
        if slot.plan is not None:
            return codec.LISTED, slot.plan
        return codec.LISTED_TEXT, (slot.convert, slot.allowed)
    if slot.plan is not None:
        return codec.NESTED, slot.plan
    if slot.convert is not None:
        return codec.CONVERTED, slot.convert
    if slot.allowed is not None:
        return codec.ENUMERATED, slot.allowed
    return codec.TEXT, None


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _slot(name: str, hint: Any, *, required: bool, repeated: bool) -> _Slot:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _Slot(name, required, repeated, _plan(hint), None, None, None)
    if typing.get_origin(hint) is typing.Literal:
        allowed = frozenset(str(a) for a in typing.get_args(hint))
        return _Slot(name, required, repeated, None, None, str, allowed)
    convert = _CONVERTERS.get(hint)
    python = hint if isinstance(hint, type) else None
    return _Slot(name, required, repeated, None, convert, python, None)


# Where a value is, built cheaply while reading and spelled out only for a violation: the
# root's name, or (parent, field) and (parent, field, index) for an item of a repeated one.
_Where = str | tuple[Any, ...]


def _path(where: _Where) -> str:
    parts = []
    while isinstance(where, tuple):
        parts.append(where[1] if len(where) == 2 else f"{where[1]}[{where[2]}]")
        where = where[0]
    parts.append(where)
    return "/".join(reversed(parts))


def _load(plan: _Plan, data: Mapping[str, Any], where: _Where, issues: list[Violation]) -> Any:
    """A model read without its constructor; fields left out take the class's defaults (a
    dataclass keeps them as class attributes).

    The common cases are inline and the rest is in :func:`_other` (an answer is thousands of
    values); no comprehension here, whose closure would make every call build cells."""
    model: Any = object.__new__(plan.cls)
    values = model.__dict__
    text, nested, converted, listed = plan.text, plan.nested, plan.converted, plan.listed
    for key, raw in data.items():
        kind = type(raw)
        if kind is str:
            if key in text:
                values[key] = raw
                continue
            convert = converted.get(key)
            if convert is not None:
                try:
                    values[key] = convert(raw)
                    continue
                except (ValueError, InvalidOperation, binascii.Error):
                    pass  # reported by _other
        elif kind is dict:
            sub = nested.get(key)
            if sub is not None:
                values[key] = _load(sub, raw, (where, key), issues)
                continue
        elif kind is list:
            slot = listed.get(key)
            if slot is not None:
                if raw:
                    values[key] = _items(slot, raw, where, key, issues)
                continue
        _other(plan, values, key, raw, where, issues)
    for name, empty in plan.required:
        if name not in values:
            values[name] = empty
            issues.append(
                Violation(_path((where, name)), "required", "a required element is missing")
            )
    if plan.choices:
        _choices(plan.choices, values, where, issues)
    return model


def _items(
    slot: _Slot, raw: Sequence[Any], where: _Where, key: str, issues: list[Violation]
) -> tuple[Any, ...]:
    """The items of the repeated field ``key`` of the model at ``where``, each at its index."""
    return tuple([_value(slot, item, (where, key, i), issues) for i, item in enumerate(raw)])


def _other(
    plan: _Plan,
    values: dict[str, Any],
    key: str,
    raw: Any,
    where: _Where,
    issues: list[Violation],
) -> None:
    """Read the value of ``key`` that :func:`_load` does not read inline: a key that is no
    field, a ``None``, a repeated field given once, a list for a single field, an enumeration,
    a value written in Python, a value that does not parse."""
    slot = plan.slots.get(key)
    if slot is None:
        issues.append(
            Violation(_path((where, key)), "unknown-element", "not an element of this type")
        )
        return
    if raw is None:
        return
    many = type(raw) is list or type(raw) is tuple
    if slot.repeated:
        if not many:
            values[key] = (_value(slot, raw, (where, key), issues),)
        elif raw:
            values[key] = _items(slot, raw, where, key, issues)
    elif many:
        issues.append(
            Violation(_path((where, key)), "max-occurs", "one element expected, got a list")
        )
        values[key] = tuple([_value(slot, item, (where, key), issues) for item in raw])
    else:
        values[key] = _value(slot, raw, (where, key), issues)


def _choices(
    choices: tuple[tuple[tuple[str, ...], bool], ...],
    values: dict[str, Any],
    where: _Where,
    issues: list[Violation],
) -> None:
    """Report each ``xs:choice`` given two branches, or none when one is required."""
    for branches, required in choices:
        given = [b for b in branches if b in values]
        if len(given) > 1 or (required and not given):
            rule = "exactly one" if required else "at most one"
            issues.append(
                Violation(
                    _path((where, f"({' | '.join(branches)})")),
                    "choice",
                    f"an xs:choice takes {rule} of its branches; got {len(given)}",
                )
            )


def _value(slot: _Slot, raw: Any, where: _Where, issues: list[Violation]) -> Any:
    if type(raw) is str:
        if slot.plan is None and slot.allowed is None:
            if slot.convert is None:
                return raw
            try:
                return slot.convert(raw)
            except (ValueError, InvalidOperation, binascii.Error):
                name = getattr(slot.python, "__name__", "value")
                issues.append(Violation(_path(where), "type", f"{raw!r} is not a valid {name}"))
                return raw
        if slot.allowed is not None:
            if raw not in slot.allowed:
                allowed = ", ".join(sorted(slot.allowed))
                issues.append(
                    Violation(_path(where), "enumeration", f"{raw!r} is not one of {allowed}")
                )
            return raw
    if slot.plan is not None:
        if type(raw) is dict or isinstance(raw, Mapping):
            return _load(slot.plan, raw, where, issues)
        if isinstance(raw, slot.plan.cls):
            return raw
        issues.append(Violation(_path(where), "type", "expected child elements, got a value"))
        return raw
    if isinstance(raw, str):  # a str subclass
        return _value(slot, str(raw), where, issues)
    if _is_python(raw, slot.python):  # a payload written in Python (a date, an int…)
        return raw
    issues.append(Violation(_path(where), "type", f"expected text, got {type(raw).__name__}"))
    return raw


def _is_python(value: Any, python: type | None) -> bool:
    """Whether ``value`` already is the Python value of a simple field (a ``bool`` is no
    ``int`` here, a ``datetime`` no ``date``)."""
    if python is None or python is str or not isinstance(value, python):
        return False
    if isinstance(value, bool):
        return python is bool
    return not (python is dt.date and isinstance(value, dt.datetime))


_DATE: Final = re.compile(r"\s*(-?\d{4,}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?\s*")


def _date(text: str) -> dt.date:
    """An ``xs:date`` (a time zone, which ANPR does not send, is dropped)."""
    if len(text) == 10 and text[4] == text[7] == "-":  # the usual YYYY-MM-DD
        return dt.date.fromisoformat(text)
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return dt.date.fromisoformat(match.group(1))


def _datetime(text: str) -> dt.datetime:
    text = text.strip()
    if "T" not in text:
        raise ValueError(text)
    return dt.datetime.fromisoformat(text)


def _bool(text: str) -> bool:
    value = text.strip()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError(text)


def _bytes(text: str) -> bytes:
    return base64.b64decode("".join(text.split()), validate=True)


_CONVERTERS: Final[dict[Any, _Converter | None]] = {
    str: None,
    int: int,
    Decimal: lambda text: Decimal(text.strip()),
    bool: _bool,
    dt.date: _date,
    dt.datetime: _datetime,
    bytes: _bytes,
}
