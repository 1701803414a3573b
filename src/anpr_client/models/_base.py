"""The two base classes of the generated models, and the check that keeps a choice one branch.

Every generated class derives from :class:`Model`; a request element's class derives from
:class:`Request`, parametrised by the type of its answer's OK branch, so that
``client.typed_call(code, request)`` is typed ``Result[<that branch>]`` by mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..errors.exceptions import ChoiceError

__all__ = ["Model", "Request", "check_choices"]

OkT = TypeVar("OkT", covariant=True)


class Model:
    """Base of every generated model class (frozen, keyword-only dataclasses)."""

    __slots__ = ()

    CHOICES: ClassVar[tuple[tuple[tuple[str, ...], bool], ...]] = ()
    """The class's ``xs:choice`` groups: (branch field names, whether one is required)."""

    if TYPE_CHECKING:  # every concrete model is a dataclass: dataclasses.fields() & co. apply
        import dataclasses

        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]


class Request(Model, Generic[OkT]):
    """Base of the request elements' classes; ``OkT`` is the OK branch of the answer."""

    __slots__ = ()

    OPERATION: ClassVar[str]
    """The ANPR operation code this request belongs to (``"3002"``, ``"TestConn"``…)."""


def check_choices(model: Any) -> None:
    """Refuse two branches of one choice, or none of a required one (:class:`ChoiceError`).

    Called by the generated ``__post_init__`` of the classes that have a choice; answers read
    with :func:`anpr_client.models.from_payload` are not refused (see its tolerance rules).
    """
    for branches, required in type(model).CHOICES:
        given = [name for name in branches if getattr(model, name) is not None]
        if len(given) > 1 or (required and not given):
            raise ChoiceError(type(model).__name__, branches, given, required=required)
