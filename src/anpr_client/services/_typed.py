"""The one mechanism behind every typed method: model in, typed result out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..models import from_payload
from ..results import Result

if TYPE_CHECKING:
    from ..client import Client

R = TypeVar("R")


def typed_call(
    client: Client,
    operation: str,
    request: Any,
    result_type: type[R],
    header: Mapping[str, Any] | None = None,
) -> Result[R]:
    """Call ``operation`` with a request model and read the answer branch as ``result_type``."""
    result = client.call(operation, request, header=header)
    value = from_payload(result_type, result.value, path=result.outcome)
    return dataclasses.replace(result, value=value)  # type: ignore[arg-type,return-value]
