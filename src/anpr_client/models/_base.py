"""The two base classes of the generated models, and the check that keeps a choice one branch.

Every generated class derives from :class:`Model`; a request element's class derives from
:class:`Request`, parametrised by the type of its answer's OK branch, so that
``client.typed_call(code, request)`` is typed ``Result[<that branch>]`` by mypy.

The generated classes are ``@dataclass(frozen=True, kw_only=True, eq=False, repr=False)``:
:class:`Model` gives them the dataclass ``==``, ``hash`` and ``repr`` once, instead of a copy
compiled for each of some 400 classes when their module is imported (a third of the cost).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Generic, TypeVar

from ..errors.exceptions import ChoiceError

__all__ = ["Model", "Request", "check_choices", "field_names"]

OkT = TypeVar("OkT", covariant=True)


class Model:
    """Base of every generated model class (frozen, keyword-only dataclasses)."""

    __slots__ = ()

    CHOICES: ClassVar[tuple[tuple[tuple[str, ...], bool], ...]] = ()
    """The class's ``xs:choice`` groups: (branch field names, whether one is required)."""

    # Every concrete model is a dataclass: dataclasses.fields(), replace() & co. apply.
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in field_names(type(self)))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Model)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in field_names(type(self)))
        return f"{type(self).__qualname__}({values})"


class Request(Model, Generic[OkT]):
    """Base of the request elements' classes; ``OkT`` is the OK branch of the answer."""

    __slots__ = ()

    OPERATION: ClassVar[str]
    """The ANPR operation code this request belongs to (``"3002"``, ``"TestConn"``…)."""


_names: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a model class, in schema order (looked up once per class)."""
    names = _names.get(cls)
    if names is None:
        names = _names[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def check_choices(model: Any) -> None:
    """Refuse two branches of one choice, or none of a required one (:class:`ChoiceError`).

    Called by the generated ``__post_init__`` of the classes that have a choice; answers read
    with :func:`anpr_client.models.from_payload` are not refused (see its tolerance rules).
    """
    for branches, required in type(model).CHOICES:
        given = [name for name in branches if getattr(model, name) is not None]
        if len(given) > 1 or (required and not given):
            raise ChoiceError(type(model).__name__, branches, given, required=required)
