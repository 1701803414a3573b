"""A transport that calls a WSGI application in-process (e.g. the simulator)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from urllib3 import HTTPHeaderDict

from .models import HttpRequest, HttpResponse

__all__ = ["WsgiApp", "WsgiTransport"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WsgiTransport:
    """Calls a WSGI application in-process, as if it were served at the request's URL."""

    def __init__(self, app: WsgiApp, *, remote_addr: str = "127.0.0.1"):
        self.app = app
        self.remote_addr = remote_addr

    def send(self, request: HttpRequest) -> HttpResponse:
        url = urlsplit(request.url)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": url.path or "/",
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "CONTENT_LENGTH": str(len(request.body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = HTTPHeaderDict(headers)
            return lambda data: None

        started = time.monotonic()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return HttpResponse(
            captured["status"], captured["headers"], body, time.monotonic() - started
        )

    def close(self) -> None:
        pass
