"""A transport that is a function: a server in one line, for tests."""

from __future__ import annotations

from collections.abc import Callable

from .models import HttpRequest, HttpResponse

__all__ = ["MockTransport"]


class MockTransport:
    """A transport that hands each request to ``handler``: a server in one function."""

    def __init__(self, handler: Callable[[HttpRequest], HttpResponse]):
        self.handler = handler

    def send(self, request: HttpRequest) -> HttpResponse:
        return self.handler(request)

    def close(self) -> None:
        pass
