"""SOAP faults → typed exceptions with ranked likely causes."""

from __future__ import annotations

from .exceptions import SoapFault

__all__ = ["fault_exception"]


def fault_exception(
    faultstring: str,
    *,
    faultcode: str = "",
    detail: str | None = None,
    http_status: int | None = None,
    operation: str | None = None,
) -> SoapFault:
    """The exception for a SOAP fault received in answer to ``operation``."""
    return SoapFault(faultstring, faultcode=faultcode, detail=detail, operation=operation)
