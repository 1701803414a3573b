"""Serve the receiver over plain HTTP (behind a reverse proxy) or, with a certificate, HTTPS.

ANPR connects with TLS 1.2 to a certificate from a public CA and does not authenticate itself
at the TLS level (italia/anpr#689, #3095): the usual set-up is a reverse proxy that terminates
TLS and forwards to the receiver over plain HTTP; with ``ssl_context`` (e.g. from
:func:`server_ssl_context`) the receiver terminates TLS itself. Both modes run the library's
own server (:class:`anpr_client._wsgiserver.WsgiServer`): one thread owns every connection
while it shakes hands and sends its request, and only complete requests reach the ``threads``
workers that verify, decrypt and store. Slow or hostile clients — hundreds of connections
dripping their headers or stalling their TLS handshake — cost no worker, and each is closed at
its deadline, so a genuine push is acknowledged at once (ANPR suspends a notification after
five failed pushes, italia/anpr#3318). At most ``max_connections`` are open at once.

>>> server = make_server(receiver, "0.0.0.0", 8443)   # doctest: +SKIP
>>> server.serve_forever()                               # doctest: +SKIP
"""

from __future__ import annotations

import ssl
from typing import Protocol

from .._wsgiserver import ServerLimits, WsgiServer, server_ssl_context
from ..transport.wsgi import WsgiApp

__all__ = ["ReceiverServer", "make_server", "server_ssl_context"]


class ReceiverServer(Protocol):
    """A bound server: ``host``/``port`` are where it listens (port 0 picks a free one)."""

    host: str
    port: int
    scheme: str

    def serve_forever(self) -> None: ...

    def close(self) -> None: ...


class _Server:
    """:class:`ReceiverServer` over :class:`WsgiServer`."""

    def __init__(self, server: WsgiServer):
        self._server = server
        self.host, self.port, self.scheme = server.host, server.port, server.scheme

    @property
    def open_connections(self) -> int:
        """Connections open now (for monitoring and tests)."""
        return self._server.open_connections

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        """Stop from any thread, closing every open connection."""
        self._server.close()


def make_server(
    app: WsgiApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ssl_context: ssl.SSLContext | None = None,
    threads: int = 8,
    max_body_bytes: int = 16 * 1024 * 1024,
    max_connections: int = 1024,
    limits: ServerLimits | None = None,
) -> ReceiverServer:
    """Bind a server for ``app``: plain HTTP, or HTTPS with ``ssl_context``.

    ``threads`` workers answer; ``max_connections`` may be open at once; ``max_body_bytes`` is
    the server's own cap on a request (the receiver applies its own, smaller one); ``limits``
    sets every deadline and size (its ``max_body_bytes`` wins).
    """
    if limits is None:
        limits = ServerLimits(max_body_bytes=max_body_bytes)
    server = WsgiServer(
        (host, port),
        app,
        ssl_context,
        workers=threads,
        max_connections=max_connections,
        limits=limits,
        ident="anpr-notifications",
    )
    return _Server(server)
