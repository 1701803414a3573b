"""Serve the receiver over HTTP (waitress) or, when given a certificate, HTTPS.

ANPR connects with TLS 1.2 to a certificate from a public CA and does not authenticate itself
at the TLS level (italia/anpr#689, #3095): the usual set-up is a reverse proxy that terminates
TLS and forwards to the receiver over plain HTTP, served by waitress (a production WSGI server).
Waitress cannot speak TLS; with ``ssl_context`` (e.g. from :func:`server_ssl_context`) the
library's small threaded server of the standard library is used instead
(:class:`anpr_client._wsgiserver.TlsWsgiServer`: TLS 1.2 or later, per-connection timeouts, at
most ``threads`` connections at once).

>>> server = make_server(receiver, "0.0.0.0", 8443)   # doctest: +SKIP
>>> server.serve_forever()                               # doctest: +SKIP
"""

from __future__ import annotations

import ssl
import threading
from typing import Protocol

from .._wsgiserver import TlsWsgiServer, server_ssl_context
from ..transport.wsgi import WsgiApp

__all__ = ["ReceiverServer", "make_server", "server_ssl_context"]


class ReceiverServer(Protocol):
    """A bound server: ``host``/``port`` are where it listens (port 0 picks a free one)."""

    host: str
    port: int
    scheme: str

    def serve_forever(self) -> None: ...

    def close(self) -> None: ...


class _Waitress:
    scheme = "http"

    def __init__(self, app: WsgiApp, host: str, port: int, threads: int, max_body: int):
        import waitress

        self._server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=max_body,
            ident="anpr-notifications",
            clear_untrusted_proxy_headers=True,
        )
        self.host = str(self._server.effective_host)
        self.port = int(self._server.effective_port)
        self._serving = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        self._serving.set()
        try:
            self._server.run()
        finally:
            self._stopped.set()

    def close(self) -> None:
        """Stop from any thread: the event loop closes every channel (kept-alive connections
        included, which would otherwise keep it running) and then its own trigger."""
        server = self._server
        if not self._serving.is_set() or self._stopped.is_set():
            server.close()
            server.task_dispatcher.shutdown()
            return

        def shut_down() -> None:
            for channel in list(server._map.values()):
                if channel is not server.trigger:
                    channel.close()
            server.trigger.close()

        server.trigger.pull_trigger(shut_down)
        self._stopped.wait(10)
        server.task_dispatcher.shutdown()


class _Tls:
    scheme = "https"

    def __init__(self, app: WsgiApp, host: str, port: int, context: ssl.SSLContext, threads: int):
        self._server = TlsWsgiServer(
            (host, port), app, context, max_connections=threads, ident="anpr-notifications"
        )
        self.host, self.port = self._server.host, self._server.port

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self._server.close()


def make_server(
    app: WsgiApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ssl_context: ssl.SSLContext | None = None,
    threads: int = 8,
    max_body_bytes: int = 16 * 1024 * 1024,
) -> ReceiverServer:
    """Bind a server for ``app``: waitress over HTTP, or HTTPS with ``ssl_context``.

    ``max_body_bytes`` is the transport's own cap (the receiver applies its own, smaller one).
    """
    if ssl_context is None:
        return _Waitress(app, host, port, threads, max_body_bytes)
    return _Tls(app, host, port, ssl_context, threads)
