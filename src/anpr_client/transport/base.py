"""The transport interface: one method, bytes in and bytes out."""

from __future__ import annotations

from typing import Protocol

from .models import HttpRequest, HttpResponse

__all__ = ["Transport"]


class Transport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...

    def close(self) -> None: ...
