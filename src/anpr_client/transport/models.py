"""The transport's data: an HTTP request going out, an HTTP response coming back, and the stages
an attempt goes through.

A :class:`~anpr_client.transport.MockTransport` handler takes an :class:`HttpRequest` and
returns an :class:`HttpResponse`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..settings import Limits, Timeouts

__all__ = ["HttpRequest", "HttpResponse", "Stage"]


class Stage(enum.StrEnum):
    """Where an attempt is, in order. A failure's ``stage`` says whether the request may have
    reached the server: not before :attr:`SENT` (``delivered`` is ``False``), perhaps from
    then on (``None``: the outcome is unknown)."""

    CONNECT = "connect"
    """Opening the TCP connection (name resolution included)."""
    TLS_HANDSHAKE = "tls_handshake"
    """The TLS handshake: the server's certificate checked, ours presented."""
    SENDING = "sending"
    """Writing the request; its last byte has not left yet."""
    SENT = "sent"
    """The request's last byte was written; nothing of the answer has come yet."""
    STATUS_LINE = "status_line"
    """The answer has begun: its status line is being read."""
    HEADERS = "headers"
    """The answer's headers are being read."""
    BODY = "body"
    """The answer's body is being read (and decompressed)."""

    @property
    def delivered(self) -> bool | None:
        """``False`` before :attr:`SENT` (the server never got the whole request), else
        ``None`` (it may have, and may have applied it)."""
        return False if _ORDER[self] < _ORDER[Stage.SENT] else None


_ORDER = {stage: number for number, stage in enumerate(Stage)}


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    method: str = "POST"
    limits: Limits = field(default_factory=Limits)
    """Bounds on the answer's size and on the attempt's time (``[limits]``)."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    """Case-insensitive."""
    body: bytes
    """Decompressed (``Content-Encoding`` undone)."""
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")
