"""The one mechanism behind every typed method: model in, typed result out.

:func:`call` is what every face method does; :class:`Face` is the base of the faces (bound to
a client); :func:`operation` and :func:`convenience` tag a face's methods with the operation
they send, so that tools (``tools/gen_operation_docs.py``, the tests) find every operation's
method by code without a second table: :func:`methods` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..errors.exceptions import PayloadError, ProtocolError, Violation
from ..models import answer_plan, from_payload, ok_types, request_type
from ..results import Result
from ..soap.binding import TYPED_ANSWER, TypedAnswer

if TYPE_CHECKING:
    from ..client import Client
    from ..models import Request

R = TypeVar("R")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_TAG = "__anpr_operation__"


class Face:
    """Base of the faces: the typed methods of one family, bound to a client."""

    FAMILY: str = ""
    """The family whose operations the face sends (``"1000"``…; E000's face: ``"E000"``)."""

    def __init__(self, client: Client):
        self._client = client


def operation(code: str) -> Callable[[F], F]:
    """Tag a face method as the one that sends ``code`` with its request model."""

    def tag(method: F) -> F:
        setattr(method, _TAG, (code, False))
        return method

    return tag


def convenience(code: str) -> Callable[[F], F]:
    """Tag a face method as one that builds a ``code`` request from plain parameters."""

    def tag(method: F) -> F:
        setattr(method, _TAG, (code, True))
        return method

    return tag


class Method(NamedTuple):
    """A face method and the operation it sends."""

    code: str
    name: str
    convenience: bool
    function: Callable[..., Any]


def methods(face: type[Face]) -> Iterator[Method]:
    """The tagged methods of a face class, in the order the class defines them."""
    for name, function in vars(face).items():
        tag = getattr(function, _TAG, None)
        if tag is not None:
            yield Method(tag[0], name, tag[1], function)


def typed_call(
    client: Client,
    operation: str,
    request: Any,
    result_type: type[R],
    header: Mapping[str, Any] | None = None,
) -> Result[R]:
    """Call ``operation`` with a request (a model or a payload) and read the answer branch as
    ``result_type``, tolerantly (see :func:`anpr_client.models.from_payload`)."""
    result = client.call(operation, request, header=header)
    return _with_value(result, from_payload(result_type, result.value, path=result.outcome))


def call(
    client: Client,
    operation: str,
    request: Request[T],
    *,
    header: Mapping[str, Any] | None = None,
) -> Result[T]:
    """Call ``operation`` with its request model; the answer's OK branch comes back as its model
    (:func:`anpr_client.models.ok_types`: the branch :attr:`Result.outcome` names).

    Raises :class:`~anpr_client.errors.PayloadError` (nothing sent) when ``request`` is not the
    operation's request class, and whatever :meth:`Client.call` raises.
    """
    code = client.operation(operation).code
    expected = request_type(code)
    if not isinstance(request, expected):
        given = type(request).__name__
        raise PayloadError(
            code,
            [
                Violation(
                    "request", "type", f"operation {code} takes {expected.__name__}, not {given}"
                )
            ],
        )
    # The answer is read into its models in the decoder's walk (TypedAnswer), when it follows
    # them to the letter; from_payload reads it otherwise, and says what deviates.
    typed = TypedAnswer(code, answer_plan(code))
    token = TYPED_ANSWER.set(typed)
    try:
        result = client.call(code, request, header=header)
    finally:
        TYPED_ANSWER.reset(token)
    model = ok_types(code).get(result.outcome)
    if model is None:  # Client.read and the generated table disagree: a bug, said plainly
        raise ProtocolError(f"the answer to {code} came back as {result.outcome}: no model")
    value: Any = typed.model
    if typed.value is not result.value or type(value) is not model:
        value = from_payload(model, result.value, path=result.outcome)
    return _with_value(result, value)


def _with_value(result: Result[Any], value: T) -> Result[T]:
    """``result`` with ``value`` in place of its payload dict: ``dataclasses.replace`` without
    its field-by-field ``__init__`` (a :class:`Result` has no ``__post_init__`` and no
    ``init=False`` field, so the copy is the same object replace would build)."""
    copy: Result[T] = object.__new__(type(result))
    vars(copy).update(vars(result))
    vars(copy)["value"] = value
    return copy
