"""A threaded HTTPS/1.1 server for a WSGI application, from the standard library (internal).

One implementation for the two places that serve over TLS in-process: the notification
receiver (``anpr notifications serve --certfile``, :mod:`anpr_client.notifications.server`) and
the simulator (:mod:`anpr_client.simulator.runtime`). Why not waitress: it has no TLS, and the
simulator's fault knobs need the raw connection. What a long-running service needs is here:
TLS ≥ 1.2 (optionally a required client certificate), the TLS handshake in the connection's
own thread (a slow client cannot stall the accept loop), persistent connections (HTTP/1.1
keep-alive, so clients do not pay a handshake per call), idle and handshake timeouts, a cap on
concurrent connections, and a shutdown that closes every open connection.

An application may ask for the connection to be dropped instead of answered: it sets the
:class:`ConnectionControl` it finds under :data:`CONTROL_KEY` in the environ. A dropped
connection is reset (``SO_LINGER`` 0): the client sees a connection reset, as with a crashed
or unreachable back end.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

from .transport.wsgi import WsgiApp

__all__ = [
    "CONTROL_KEY",
    "ConnectionAction",
    "ConnectionControl",
    "TlsWsgiServer",
    "server_ssl_context",
]

log = logging.getLogger("anpr_client.wsgiserver")

#: The WSGI environ key where the server puts the connection's :class:`ConnectionControl`.
CONTROL_KEY: Final = "anpr_client.connection_control"

ConnectionAction = Literal["answer", "close", "refuse"]
"""What to do with a request's connection: answer it; ``close`` it after reading the request,
sending nothing; ``refuse`` it, as if the request had never been read."""

_HANDSHAKE_TIMEOUT: Final = 10.0
_IDLE_TIMEOUT: Final = 30.0


class ConnectionControl:
    """Set by the application, read by the server: the :data:`ConnectionAction` to take."""

    __slots__ = ("action",)

    def __init__(self) -> None:
        self.action: ConnectionAction = "answer"


def server_ssl_context(
    cert_file: str | Path, key_file: str | Path | None = None, *, client_ca: Path | None = None
) -> ssl.SSLContext:
    """A server context: TLS ≥ 1.2, the certificate chain in ``cert_file`` (PEM; the key in it
    or in ``key_file``); with ``client_ca``, a client certificate it issued is required."""
    ctx = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=None if client_ca is None else str(client_ca)
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), None if key_file is None else str(key_file))
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (no FIN handshake, pending data discarded)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Dropped(Exception):
    pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    server: TlsWsgiServer

    def version_string(self) -> str:
        return self.server.ident

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        # Wait for the next request before consulting the refusal hook, so that a refusal
        # decided while this kept-alive connection was idle applies to the request that follows.
        if not self._readable():
            self.close_connection = True
            return
        if self.server.refuse_next():
            raise _Dropped()
        super().handle_one_request()

    def _readable(self) -> bool:
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket) and conn.pending():
            return True
        try:
            ready, _, _ = select.select([conn], [], [], _IDLE_TIMEOUT)
        except (OSError, ValueError):
            return False
        return bool(ready)

    def do_GET(self) -> None:
        self._wsgi()

    def do_POST(self) -> None:
        self._wsgi()

    def _wsgi(self) -> None:
        path, _, query = self.path.partition("?")
        length = self.headers.get("Content-Length")
        if self.command == "POST" and length is None:
            self.send_error(411, "Content-Length required")
            return
        control = ConnectionControl()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": length or "0",
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": self.rfile,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            CONTROL_KEY: control,
        }
        for key, value in self.headers.items():
            name = "HTTP_" + key.upper().replace("-", "_")
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[name] = value
        status_line: list[str] = []
        headers: list[tuple[str, str]] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            status_line[:] = [status]
            headers[:] = response_headers
            return lambda data: None

        chunks = self.server.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if control.action != "answer":
            raise _Dropped()
        code, _, reason = status_line[0].partition(" ")
        head = [
            f"{self.protocol_version} {code} {reason}\r\n",
            f"Server: {self.version_string()}\r\n",
            f"Date: {self.date_time_string()}\r\n",
            *(f"{key}: {value}\r\n" for key, value in headers),
            "\r\n",
        ]
        # Status, headers and body in one write: one TLS record, no Nagle/delayed-ACK stall.
        self.wfile.write("".join(head).encode("latin-1") + body)
        self.log_request(int(code))


class TlsWsgiServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Serves ``app`` over HTTPS on ``address`` (port 0: a free one); run
    :meth:`serve_forever` in a thread of your own, :meth:`close` from any thread.

    ``refuse`` is asked before each connection and each request: ``True`` resets the connection
    unread. At most ``max_connections`` connections are served at once (each in its own
    thread); further ones wait to be accepted.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: WsgiApp,
        ssl_context: ssl.SSLContext,
        *,
        refuse: Callable[[], bool] = lambda: False,
        max_connections: int = 32,
        ident: str = "anpr-client",
    ):
        self.app = app
        self.ssl_context = ssl_context
        self.ident = ident
        self._refuse = refuse
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._serving = threading.Event()
        super().__init__(address, _Handler)

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def refuse_next(self) -> bool:
        """Whether the next connection or request must be refused."""
        return self._refuse()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving.set()
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving.clear()

    def close(self) -> None:
        """Stop serving (if :meth:`serve_forever` is running), close every open connection and
        the listening socket. A thread that was just started to serve may not be serving yet:
        its owner calls :meth:`shutdown` first."""
        if self._serving.is_set():
            self.shutdown()  # returns once serve_forever has stopped
        self.close_connections()
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        if self.refuse_next():
            _reset(sock)
            return
        sock.settimeout(_HANDSHAKE_TIMEOUT)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        except (OSError, ssl.SSLError) as exc:
            log.info("TLS set-up with %s failed: %s", client_address[0], exc)
            _reset(sock)
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            tls.do_handshake()
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        except _Dropped:
            _reset(tls)
        except (OSError, ssl.SSLError) as exc:
            log.debug("connection from %s ended: %s", client_address[0], exc)
        finally:
            with self._open_lock:
                self._open.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("error serving %s", client_address)

    def close_connections(self) -> None:
        """Close every open connection (at shutdown)."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
