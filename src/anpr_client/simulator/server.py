"""A threaded HTTPS/1.1 server for the simulator's WSGI application.

Why not waitress: it has no TLS, and the fault knobs need the raw connection (drop it before
reading, close it after the commit without answering). This server is the standard library's
``http.server`` with what a long-running service needs: TLS ≥ 1.2 with the simulator's
certificate (and optionally a required client certificate), the TLS handshake in the
connection's own thread (a slow client cannot stall the accept loop), persistent connections
(HTTP/1.1 keep-alive, so clients do not pay a handshake per call), idle and handshake timeouts,
a cap on concurrent connections, request size limits enforced by the application, and a clean
shutdown that closes every open connection.

A connection the application asks to drop is reset (``SO_LINGER`` 0): the client sees a
connection reset, as with a crashed or unreachable back end.
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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from .app import CONTROL_KEY, ConnectionControl

__all__ = ["SimulatorServer", "server_ssl_context"]

log = logging.getLogger("anpr_client.simulator.server")

_HANDSHAKE_TIMEOUT: Final = 10.0
_IDLE_TIMEOUT: Final = 30.0

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def server_ssl_context(
    cert_file: Path, key_file: Path, *, client_ca: Path | None = None
) -> ssl.SSLContext:
    """A server context: TLS ≥ 1.2; with ``client_ca``, a client certificate is required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(client_ca))
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
    server_version = "anpr-simulator"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        # Wait for the next request before consulting the faults, so that a fault injected
        # while this kept-alive connection was idle applies to the request that follows.
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
        body = b"".join(chunks)
        if control.action != "answer":
            raise _Dropped()
        code, _, reason = status_line[0].partition(" ")
        head = [
            f"{self.protocol_version} {code} {reason}\r\n",
            f"Server: {self.server_version}\r\n",
            f"Date: {self.date_time_string()}\r\n",
            *(f"{key}: {value}\r\n" for key, value in headers),
            "\r\n",
        ]
        # Status, headers and body in one write: one TLS record, no Nagle/delayed-ACK stall.
        self.wfile.write("".join(head).encode("latin-1") + body)
        self.log_request(int(code))


class SimulatorServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Serves ``app`` over HTTPS on ``address``; ``serve_forever`` in a thread of your own."""

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
    ):
        self.app = app
        self.ssl_context = ssl_context
        self._refuse = refuse
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def refuse_next(self) -> bool:
        """Whether the next request must be refused (an injected ``refuse`` fault)."""
        return self._refuse()

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
