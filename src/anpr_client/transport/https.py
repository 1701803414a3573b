"""HTTPS over requests with one ``ssl.SSLContext``; network failures become typed errors.

Each error says whether the request may have reached the server: a failure before the request
was written is :class:`~anpr_client.errors.ConnectError` (safe to resend), one after it is an
*outcome unknown* error.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from ..errors.exceptions import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    ReadTimeout,
    TLSError,
    TransportError,
)
from .models import HttpRequest, HttpResponse

__all__ = ["HttpTransport"]


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
