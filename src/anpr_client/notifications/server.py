"""Serve the receiver over HTTP (waitress) or, when given a certificate, HTTPS.

ANPR connects with TLS 1.2 to a certificate from a public CA and does not authenticate itself
at the TLS level (ANPR-FACTS §5.3): the usual set-up is a reverse proxy that terminates TLS and
forwards to the receiver over plain HTTP, served by waitress (a production WSGI server).
Waitress cannot speak TLS; with ``ssl_context`` a small threaded server of the standard library
is used instead (TLS 1.2 or later, per-connection timeouts, a bounded number of threads).

>>> server = make_server(receiver, "0.0.0.0", 8443)   # doctest: +SKIP
>>> server.serve_forever()                               # doctest: +SKIP
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

__all__ = ["ReceiverServer", "make_server"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # seconds per connection read (slow clients cannot hold a thread)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the receiver logs each notification itself


class _TlsServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, threads: int):
        self._context = context
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="anpr-n000")
        super().__init__(address, _QuietHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: socket.socket, client_address: Any) -> None:
        try:
            request.settimeout(30)
            tls = self._context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            self.shutdown_request(request)
            return
        self.process_request_thread(tls, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Tls:
    scheme = "https"

    def __init__(self, app: WsgiApp, host: str, port: int, context: ssl.SSLContext, threads: int):
        self._server = _TlsServer((host, port), context, threads)
        self._server.set_app(app)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._serving = threading.Event()

    def serve_forever(self) -> None:
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._serving.clear()

    def close(self) -> None:
        if self._serving.is_set():
            self._server.shutdown()  # returns once serve_forever has stopped
        self._server.server_close()


def server_tls_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server context: TLS 1.2+, the certificate chain in ``certfile`` (PEM)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


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
