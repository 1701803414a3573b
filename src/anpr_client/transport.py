"""Transports: bytes and headers in; status, headers and bytes out.

A transport knows nothing of SOAP, WS-Security or retries. Three implementations:

- :class:`HttpTransport`: HTTPS with one ``ssl.SSLContext`` (see :mod:`anpr_client.tls`) and
  timeouts always set; network errors become :mod:`anpr_client.exceptions` classes that say
  whether the request may have reached the server (``delivered``);
- :class:`WsgiTransport`: calls a WSGI application in-process (e.g. the simulator);
- :class:`MockTransport`: a function turned into a server, for tests.
"""

from __future__ import annotations

import io
import ssl
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .exceptions import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    ReadTimeout,
    TLSError,
    TransportError,
)
from .settings import Timeouts

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "MockTransport",
    "Transport",
    "WsgiTransport",
]


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


class Transport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...

    def close(self) -> None: ...


class _ContextAdapter(HTTPAdapter):
    """A requests adapter that uses our SSLContext for every connection."""

    def __init__(self, ssl_context: ssl.SSLContext):
        self._ssl_context = ssl_context
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=16)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._ssl_context
        return super().proxy_manager_for(*args, **kwargs)


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while True:
        nxt = exc.__cause__ or exc.__context__
        args = getattr(exc, "args", ())
        if nxt is None and args and isinstance(args[0], BaseException):
            nxt = args[0]
        reason = getattr(exc, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None or id(nxt) in seen:
            return exc
        seen.add(id(exc))
        exc = nxt


# urllib3 opens (and TLS-handshakes) a connection in these frames, before it writes a request.
_CONNECTING_FRAMES = frozenset({"_validate_conn", "_new_conn", "do_handshake", "wrap_socket"})


def _raised_while_connecting(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in _CONNECTING_FRAMES:
            return True
        tb = tb.tb_next
    return False


class HttpTransport:
    """HTTPS (or plain HTTP on loopback for tests) over requests, with our SSLContext.

    Thread-safe: one pooled session shared by all threads.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        from .tls import create_ssl_context

        self.ssl_context = ssl_context or create_ssl_context()
        self.session = requests.Session()
        """The pooled requests session (our SSLContext on every HTTPS connection)."""
        self.session.trust_env = False  # no proxies or CA overrides from the environment
        adapter = _ContextAdapter(self.ssl_context)
        self.session.mount("https://", adapter)
        self.session.mount("http://", HTTPAdapter(max_retries=0))

    def send(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        try:
            resp = self.session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                timeout=(request.timeouts.connect, request.timeouts.read),
                allow_redirects=False,
                verify=True,
            )
            body = resp.content
        except requests.exceptions.SSLError as exc:
            raise TLSError(
                f"TLS handshake with {request.url} failed: {_root_cause(exc)}", url=request.url
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise ConnectTimeout(
                f"could not connect to {request.url} within {request.timeouts.connect}s",
                url=request.url,
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise ReadTimeout(
                f"no answer from {request.url} within {request.timeouts.read}s after sending; "
                "the operation may have been applied",
                url=request.url,
            ) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
            raise self._classify(e, request.url) from e
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"request to {request.url} failed: {exc}", url=request.url
            ) from exc
        return HttpResponse(
            resp.status_code, CaseInsensitiveDict(resp.headers), body, time.monotonic() - started
        )

    @staticmethod
    def _classify(exc: Exception, url: str) -> TransportError:
        import urllib3.exceptions as u3

        cause = _root_cause(exc)
        text = str(cause)
        chain: list[BaseException] = []
        e: BaseException | None = exc
        while e is not None and len(chain) < 10:
            chain.append(e)
            e = e.__cause__ or e.__context__ or getattr(e, "reason", None)
            if not isinstance(e, BaseException):
                e = None
        if any(isinstance(x, u3.NewConnectionError | u3.NameResolutionError) for x in chain) or (
            isinstance(cause, ConnectionRefusedError)
        ):
            return ConnectError(f"cannot connect to {url}: {text}", url=url)
        if any(isinstance(x, ssl.SSLError) for x in chain):
            return TLSError(f"TLS failure with {url}: {text}", url=url)
        if any(_raised_while_connecting(x) for x in chain):
            # e.g. the peer reset the connection during the TLS handshake: the request was
            # never written, so it is safe to resend and the journal can say so.
            return ConnectError(f"the connection to {url} failed before sending: {text}", url=url)
        return ConnectionLost(
            f"the connection to {url} was lost after sending ({text}); "
            "the operation may have been applied",
            url=url,
        )

    def close(self) -> None:
        self.session.close()


class MockTransport:
    """A transport that hands each request to ``handler``: a server in one function."""

    def __init__(self, handler: Callable[[HttpRequest], HttpResponse]):
        self.handler = handler

    def send(self, request: HttpRequest) -> HttpResponse:
        return self.handler(request)

    def close(self) -> None:
        pass


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
            captured["headers"] = CaseInsensitiveDict(dict(headers))
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
