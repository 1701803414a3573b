"""The ANPR error-code catalogue (facts as data) and the mapping from codes to exceptions."""

from __future__ import annotations

from collections.abc import Sequence

from ..exceptions import (
    AnprRejected,
    BusinessRuleError,
    ErrorItem,
    NotFoundError,
    OperationNotAllowedError,
    PrivilegeError,
)

__all__ = ["rejection_for"]

_NAMED: dict[str, type[AnprRejected]] = {
    "EN122": NotFoundError,
    "EN148": OperationNotAllowedError,
    "EN493": PrivilegeError,
}


def rejection_for(
    errors: Sequence[ErrorItem],
    *,
    operation: str,
    id_operazione_comune: str | None = None,
    id_operazione_anpr: str | None = None,
    esito_operazione: str | None = None,
    raw: bytes | None = None,
) -> AnprRejected:
    """The exception for a KO answer: its class follows the most specific blocking code."""
    cls: type[AnprRejected] = AnprRejected
    for item in errors:
        if item.blocking and item.code in _NAMED:
            cls = _NAMED[item.code]
            break
        if item.blocking and item.code.startswith("EN"):
            cls = BusinessRuleError
    return cls(
        errors,
        operation=operation,
        id_operazione_comune=id_operazione_comune,
        id_operazione_anpr=id_operazione_anpr,
        esito_operazione=esito_operazione,
        raw=raw,
    )
