"""The transport's data: an HTTP request going out, an HTTP response coming back.

A :class:`~anpr_client.transport.MockTransport` handler takes an :class:`HttpRequest` and
returns an :class:`HttpResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..settings import Timeouts

__all__ = ["HttpRequest", "HttpResponse"]


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    method: str = "POST"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    """Case-insensitive."""
    body: bytes
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")
