"""One HTTP/1.1 server for a WSGI application, plain or over TLS, from the standard library
(internal).

It serves the two places that answer in-process: the notification receiver (``anpr
notifications serve``, :mod:`anpr_client.notifications.server`, plain behind a reverse proxy or
with ``--certfile``) and the simulator (:mod:`anpr_client.simulator.runtime`). Slow or hostile
clients must not starve them: ANPR gives up on a push that is not acknowledged in time and
suspends the notification after five failed attempts (italia/anpr#3318), and a simulator with
a hundred keep-alive clients must serve them all.

**Design.** One thread runs a selector loop that owns every connection while it is not being
answered: it accepts, runs the TLS handshake without blocking, reads the request line, the
headers and the body, and hands only a *complete* request to a bounded pool of worker threads,
which run the application and write the answer (and, with epoll, put a kept-alive connection
whose answer went whole back in the selector themselves, without waking the loop). A
connection that is slow to shake hands or to send its request costs a few kilobytes of memory
and no thread, however many there are.
Each connection has deadlines (:class:`ServerLimits`): the TLS handshake, the headers from the
request's first byte, the whole request, the wait for the next request on a kept-alive
connection, and the write of an answer to a client that does not read; past its deadline it is
closed. At most ``max_connections`` are open at once; when the count nears the cap, idle
kept-alive connections are closed (oldest first), and at the cap the oldest connection still
sending its request makes room for a new one.

**HTTP.** HTTP/1.1 with keep-alive and ``Content-Length`` bodies, strictly parsed: a body
without a length (411), ``Transfer-Encoding`` (501: no chunked requests, so no request
smuggling through a proxy), conflicting lengths, folded or malformed header lines (400), too
large headers (431) or body (413) get an error answer and the connection is closed (lingering:
what the client still sends is read and discarded for a moment, so that it sees the answer
instead of a reset). ``Expect: 100-continue`` is honoured; header names with an underscore
are left out of the environ (they would pass for their dashed twin, as proxies warn); a
request followed by the client closing its side is still answered.

An application may ask for the connection to be dropped instead of answered: it sets the
:class:`ConnectionControl` it finds under :data:`CONTROL_KEY` in the environ. A dropped
connection is reset (``SO_LINGER`` 0): the client sees a connection reset, as with a crashed
or unreachable back end. ``refuse`` is asked before each connection and each request: ``True``
resets it unread (the simulator's fault knobs).
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import logging
import queue
import re
import selectors
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, Literal

from .errors.exceptions import ConfigurationError
from .transport.wsgi import WsgiApp

__all__ = [
    "CONTROL_KEY",
    "ConnectionAction",
    "ConnectionControl",
    "ServerLimits",
    "WsgiServer",
    "server_ssl_context",
]

log = logging.getLogger("anpr_client.wsgiserver")

#: The WSGI environ key where the server puts the connection's :class:`ConnectionControl`.
CONTROL_KEY: Final = "anpr_client.connection_control"

ConnectionAction = Literal["answer", "close", "refuse"]
"""What to do with a request's connection: answer it; ``close`` it after reading the request,
sending nothing; ``refuse`` it, as if the request had never been read."""

_READ_CHUNK: Final = 65536
_WRITE_CHUNK: Final = 262144
_LINGER: Final = 2.0  # seconds of reading and discarding after an error answer
_TICK: Final = 0.25  # how often deadlines are checked
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in a field value
_VERSION: Final = re.compile(rb"HTTP/[0-9]\.[0-9]")
_EPOLL: Final = getattr(selectors, "EpollSelector", None)  # Linux only


@dataclass(frozen=True)
class ServerLimits:
    """What one connection may take. Times in seconds, sizes in bytes."""

    handshake_timeout: float = 10.0
    """From the accepted connection to a completed TLS handshake."""
    header_timeout: float = 10.0
    """From a request's first byte (or, for the first request, the end of the handshake) to
    the end of its headers."""
    request_timeout: float = 60.0
    """From a request's first byte to its last (headers and body)."""
    idle_timeout: float = 30.0
    """How long a kept-alive connection may wait for its next request."""
    write_timeout: float = 30.0
    """How long a client may take to read an answer."""
    max_header_bytes: int = 65536
    """Request line and headers together."""
    max_headers: int = 100
    max_body_bytes: int = 16 * 1024 * 1024


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


# Connection states. A connection is in the selector in every state but BUSY.
_HANDSHAKE: Final = "handshake"  # TLS handshake under way
_WAITING: Final = "waiting"  # no byte of the next request yet
_READING: Final = "reading"  # part of a request received
_BUSY: Final = "busy"  # a worker has it
_WRITING: Final = "writing"  # the rest of an answer the client has not taken yet
_DRAINING: Final = "draining"  # an error was answered; reading and discarding, then close


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    close: bool
    """The client asked to close after this one (or cannot send another)."""


class _BadRequest(Exception):
    """A request the server answers itself with ``status`` and closes."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Connection:
    __slots__ = (
        "address",
        "body_at",
        "buffer",
        "continued",
        "deadline",
        "eof",
        "head",
        "keep_alive",
        "length",
        "opened",
        "out",
        "served",
        "since",
        "sock",
        "state",
        "want",
    )

    def __init__(self, sock: socket.socket, address: Any, state: str, deadline: float):
        self.sock = sock
        self.address = address
        self.state = state
        self.opened = self.since = time.monotonic()
        self.deadline = deadline
        self.buffer = bytearray()
        self.head: tuple[str, str, str, list[tuple[str, str]], bool] | None = None
        self.body_at = 0
        self.length = 0
        self.continued = False
        self.served = 0
        self.out: memoryview | None = None
        self.keep_alive = True
        self.eof = False
        self.want = selectors.EVENT_READ

    @property
    def client(self) -> str:
        return str(self.address[0]) if isinstance(self.address, tuple) else str(self.address)


class WsgiServer:
    """Serves ``app`` over HTTP/1.1 on ``address`` (port 0: a free one), over TLS with
    ``ssl_context``. Run :meth:`serve_forever` in a thread of your own, :meth:`close` from any
    thread (see the module docstring for the design).

    ``workers`` threads run the application; ``max_connections`` connections may be open at
    once; ``limits`` bounds what each may take.
    """

    def __init__(
        self,
        address: tuple[str, int],
        app: WsgiApp,
        ssl_context: ssl.SSLContext | None = None,
        *,
        refuse: Callable[[], bool] = lambda: False,
        workers: int = 8,
        max_connections: int = 1024,
        limits: ServerLimits | None = None,
        ident: str = "anpr-client",
    ):
        if workers < 1 or max_connections < 1:
            raise ConfigurationError(
                f"a server needs at least one worker and one connection "
                f"(workers={workers}, max_connections={max_connections})",
                setting="workers" if workers < 1 else "max_connections",
                rule=">= 1",
            )
        self.app = app
        self.ssl_context = ssl_context
        self.ident = ident
        self.limits = limits or ServerLimits()
        self.workers = workers
        self.max_connections = max_connections
        self._refuse = refuse
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server(
            (host, port), family=family, backlog=min(max_connections, 4096)
        )
        self._listener.setblocking(False)
        bound = self._listener.getsockname()
        self.server_address: tuple[str, int] = (str(bound[0]), int(bound[1]))
        self.scheme = "http" if ssl_context is None else "https"
        self._selector = selectors.DefaultSelector()
        # epoll takes a registration from another thread while a select is under way.
        self._direct = _EPOLL is not None and isinstance(self._selector, _EPOLL)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()  # guards _connections and _returned
        self._returned: list[_Connection] = []
        self._work: queue.SimpleQueue[tuple[_Connection, _Request] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._serving = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._accepting = False
        self._closed = False

    # ------------------------------------------------------------------ public

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def open_connections(self) -> int:
        """Connections open now (in every state)."""
        with self._lock:
            return len(self._connections)

    def refuse_next(self) -> bool:
        """Whether the next connection or request must be refused."""
        return self._refuse()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown` or :meth:`close` (returns at once if either came
        first). ``poll_interval`` is kept for compatibility: the loop wakes on events."""
        if self._stop.is_set() or self._closed:
            return
        self._stopped.clear()
        self._serving.set()
        try:
            self._start_workers()
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)
            self._listen(True)
            self._loop()
        finally:
            self._serving.clear()
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._wake_r)
            self._listen(False)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (waits until it has returned; never blocks if it was
        never started). Open connections stay open until :meth:`close`."""
        self._stop.set()
        self._wake()
        if self._serving.is_set():
            self._stopped.wait()

    def close(self) -> None:
        """Stop serving, close every open connection, the workers and the listening socket."""
        self.shutdown()
        if self._closed:
            return
        self._closed = True
        self.close_connections()
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        with contextlib.suppress(OSError):
            self._listener.close()
        for sock in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(OSError, ValueError):
            self._selector.close()

    def server_close(self) -> None:
        """Close the listening socket (the name :mod:`socketserver` uses); see :meth:`close`."""
        self.close()

    def close_connections(self) -> None:
        """Close every open connection (at shutdown)."""
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.sock.close()

    # ------------------------------------------------------------------ the loop

    def _start_workers(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(
                target=self._worker, name=f"{self.ident}-worker-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _listen(self, on: bool) -> None:
        if on == self._accepting:
            return
        if on:
            self._selector.register(self._listener, selectors.EVENT_READ, None)
        else:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._listener)
        self._accepting = on

    def _loop(self) -> None:
        next_tick = time.monotonic() + _TICK
        while not self._stop.is_set():
            timeout = max(0.0, next_tick - time.monotonic())
            for key, events in self._selector.select(timeout):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        while self._wake_r.recv(4096):
                            pass
                else:
                    self._ready(key.data, events)
            self._take_back()
            now = time.monotonic()
            if now >= next_tick:
                self._expire(now)
                next_tick = now + _TICK
            if not self._accepting and self.open_connections < self.max_connections:
                self._listen(True)

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: try again on the next event
                log.warning("accept failed: %s", exc)
                return
            if self.refuse_next():
                _reset(sock)
                continue
            if not self._make_room():
                # Every connection is being answered: refuse this one, accept again later.
                log.warning("%d connections are being answered: refused one", self.max_connections)
                _reset(sock)
                self._listen(False)
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = time.monotonic()
            if self.ssl_context is None:
                conn = _Connection(sock, address, _WAITING, now + self.limits.header_timeout)
            else:
                try:
                    tls = self.ssl_context.wrap_socket(
                        sock, server_side=True, do_handshake_on_connect=False
                    )
                except (OSError, ValueError) as exc:
                    log.info("TLS set-up with %s failed: %s", address, exc)
                    _reset(sock)
                    continue
                conn = _Connection(tls, address, _HANDSHAKE, now + self.limits.handshake_timeout)
            with self._lock:
                self._connections.add(conn)
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            if conn.state == _HANDSHAKE:
                self._handshake(conn)

    def _make_room(self) -> bool:
        """Room for one more connection: near the cap, idle kept-alive connections go (the
        longest idle first); at the cap, the oldest one still sending its request. ``False``
        if every connection is being answered."""
        with self._lock:
            count = len(self._connections)
            conns = list(self._connections) if count >= self._high_water() else []
        if not conns:
            return True
        idle = sorted((c for c in conns if c.state == _WAITING and c.served), key=lambda c: c.since)
        for conn in idle:
            if count < self._high_water():
                break
            self._close(conn, "idle, closed to make room")
            count -= 1
        if count < self.max_connections:
            return True
        incomplete = [c for c in conns if c.state in (_HANDSHAKE, _WAITING, _READING)]
        incomplete = [c for c in incomplete if c.sock.fileno() != -1]
        if not incomplete:
            return False
        self._close(min(incomplete, key=lambda c: c.opened), "oldest unfinished, at the cap")
        return True

    def _high_water(self) -> int:
        """From here on, idle kept-alive connections are closed to make room (90 %)."""
        return max(self.max_connections - self.max_connections // 10, 1)

    def _ready(self, conn: _Connection, events: int) -> None:
        if conn.state == _HANDSHAKE:
            self._handshake(conn)
        elif conn.state == _WRITING:
            self._write(conn)
        else:
            self._read(conn)

    def _watch(self, conn: _Connection, events: int) -> None:
        if events != conn.want:
            conn.want = events
            with contextlib.suppress(KeyError, ValueError):
                self._selector.modify(conn.sock, events, conn)

    def _handshake(self, conn: _Connection) -> None:
        tls = conn.sock
        assert isinstance(tls, ssl.SSLSocket)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(conn, selectors.EVENT_WRITE)
            return
        except (OSError, ValueError) as exc:
            self._close(conn, f"TLS handshake failed: {exc}")
            return
        self._watch(conn, selectors.EVENT_READ)
        conn.state = _WAITING
        conn.since = time.monotonic()
        conn.deadline = conn.since + self.limits.header_timeout
        self._read(conn)  # the first request may have come with the handshake's last flight

    def _read(self, conn: _Connection) -> None:
        sock = conn.sock
        got = False
        while True:
            try:
                data = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                break
            except ssl.SSLWantWriteError:
                self._watch(conn, selectors.EVENT_WRITE)
                return
            except ssl.SSLEOFError:
                data = b""  # the client closed without close_notify: an end of stream too
            except (OSError, ValueError) as exc:
                self._close(conn, f"read failed: {exc}")
                return
            if not data:
                if conn.state == _READING:
                    conn.eof = True  # it may have sent a whole request before closing
                    break
                self._close(conn, "closed by the client")
                return
            if conn.state == _DRAINING:
                continue  # read and discard until the client closes or the deadline
            if conn.state == _WAITING and not conn.buffer:
                if self.refuse_next():
                    self._drop(conn)
                    return
                conn.state = _READING
                conn.since = time.monotonic()
                conn.deadline = conn.since + self.limits.header_timeout
            conn.buffer += data
            got = True
            if len(conn.buffer) > self.limits.max_header_bytes + self.limits.max_body_bytes:
                break
            if isinstance(sock, ssl.SSLSocket):
                if not sock.pending():
                    break  # more may be in the kernel: the selector will say
            elif len(data) < _READ_CHUNK:
                break
        if conn.want != selectors.EVENT_READ and conn.state != _DRAINING:
            self._watch(conn, selectors.EVENT_READ)
        if got or conn.eof:
            self._advance(conn)

    def _advance(self, conn: _Connection) -> None:
        """Parse what ``conn`` has received; dispatch a complete request."""
        try:
            request = self._parse(conn)
        except _BadRequest as bad:
            log.info("refused a request from %s: %s %s", conn.client, bad.status, bad.message)
            self._answer_error(conn, bad.status, bad.message)
            return
        if request is None:
            if conn.eof:
                self._close(conn, "closed by the client in the middle of a request")
            return
        if conn.eof:
            request.close = True  # answer it, then nothing more can come
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.state = _BUSY
        self._work.put((conn, request))

    def _parse(self, conn: _Connection) -> _Request | None:
        buffer = conn.buffer
        limits = self.limits
        if conn.head is None:
            start = 0
            while buffer.startswith(b"\r\n", start):  # RFC 9112 §2.2: tolerate blank lines
                start += 2
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                if len(buffer) - start > limits.max_header_bytes:
                    raise _BadRequest(431, "request headers too large")
                return None
            if end - start > limits.max_header_bytes:
                raise _BadRequest(431, "request headers too large")
            conn.head = _parse_head(bytes(buffer[start:end]), limits)
            conn.body_at = end + 4
            method, _, _, headers, _ = conn.head
            conn.length = _content_length(method, headers, limits)
            conn.deadline = conn.since + limits.request_timeout
            expect = _header(headers, "expect")
            if expect is not None:
                if expect.lower() != "100-continue":
                    raise _BadRequest(417, "only Expect: 100-continue is understood")
                if len(buffer) - conn.body_at < conn.length and not conn.continued:
                    conn.continued = True
                    with contextlib.suppress(OSError, ssl.SSLError):
                        conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        end_of_body = conn.body_at + conn.length
        if len(buffer) < end_of_body:
            return None
        method, target, version, headers, close = conn.head
        body = bytes(buffer[conn.body_at : end_of_body])
        del buffer[:end_of_body]
        conn.head = None
        conn.continued = False
        return _Request(method, target, version, headers, body, close)

    def _answer_error(self, conn: _Connection, status: int, message: str) -> None:
        """Answer ``status`` from the loop and close, lingering so the client reads it."""
        phrase = HTTPStatus(status).phrase
        body = f"{status} {phrase}: {message}\n".encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nServer: {self.ident}\r\n"
            f"Date: {_http_date()}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        conn.keep_alive = False
        conn.buffer.clear()
        conn.head = None
        conn.out = memoryview(head + body)
        conn.state = _WRITING
        conn.deadline = time.monotonic() + self.limits.write_timeout
        self._write(conn)

    def _write(self, conn: _Connection) -> None:
        """Send what is left of the answer; then the next request, or close."""
        if conn.out is not None:
            try:
                conn.out, wait = _send(conn.sock, conn.out)
            except (OSError, ValueError) as exc:
                self._close(conn, f"write failed: {exc}")
                return
            if wait:
                self._watch(conn, wait)
                return
        conn.out = None
        self._after_answer(conn)

    def _after_answer(self, conn: _Connection) -> None:
        now = time.monotonic()
        if not conn.keep_alive or self._stop.is_set():
            # Lingering close: stop writing, read and discard what the client still sends
            # for a moment, so that a reset does not destroy the answer in flight.
            with contextlib.suppress(OSError, ValueError):
                conn.sock.shutdown(socket.SHUT_WR)
            conn.state = _DRAINING
            conn.deadline = now + _LINGER
            self._watch(conn, selectors.EVENT_READ)
            return
        conn.served += 1
        conn.state = _WAITING
        conn.since = now
        conn.deadline = now + self.limits.idle_timeout
        self._watch(conn, selectors.EVENT_READ)
        if conn.buffer or (isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()):
            # A pipelined request, or TLS data already decrypted: the selector will not say.
            if conn.buffer:
                conn.state = _READING
                conn.deadline = now + self.limits.header_timeout
                self._advance(conn)
            else:
                self._read(conn)

    def _take_back(self) -> None:
        """Connections the workers finished with: watch them again, or write the rest."""
        with self._lock:
            returned, self._returned = self._returned, []
        for conn in returned:
            if conn.sock.fileno() == -1:
                continue
            conn.want = selectors.EVENT_READ
            try:
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (KeyError, ValueError, OSError):
                self._close(conn, "lost while being answered")
                continue
            if conn.out is not None:
                conn.state = _WRITING
                conn.deadline = time.monotonic() + self.limits.write_timeout
                self._write(conn)
            else:
                self._after_answer(conn)

    def _expire(self, now: float) -> None:
        with self._lock:
            late = [c for c in self._connections if c.state != _BUSY and c.deadline <= now]
        for conn in late:
            reason = {
                _HANDSHAKE: "TLS handshake too slow",
                _WAITING: "no request in time" if not conn.served else "idle",
                _READING: "request too slow",
                _WRITING: "answer not read in time",
                _DRAINING: "closed after an error",
            }.get(conn.state, "timed out")
            self._close(conn, reason)

    def _close(self, conn: _Connection, reason: str) -> None:
        log.debug("connection from %s closed: %s", conn.client, reason)
        with self._lock:  # with the unregistration: a worker may be registering it (_rewatch)
            self._connections.discard(conn)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _drop(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        _reset(conn.sock)

    # ------------------------------------------------------------------ workers

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            conn, request = item
            try:
                self._serve(conn, request)
            except Exception:  # never lose the thread
                log.exception("error serving %s", conn.client)
                self._forget(conn, reset=True)

    def _serve(self, conn: _Connection, request: _Request) -> None:
        control = ConnectionControl()
        status, headers, body = self._call_app(conn, request, control)
        if control.action != "answer":
            self._forget(conn, reset=True)
            return
        close = request.close or any(
            k.lower() == "connection" and "close" in v.lower() for k, v in headers
        )
        code, _, reason = status.partition(" ")
        if not code.isdigit():
            code, reason = "500", "Internal Server Error"
        lines = [
            f"HTTP/1.1 {code} {reason}\r\n",
            f"Server: {self.ident}\r\n",
            f"Date: {_http_date()}\r\n",
        ]
        has_length = False
        for key, value in headers:
            lowered = key.lower()
            if lowered == "content-length":
                has_length = True
            elif lowered == "connection":
                continue
            lines.append(f"{key}: {value}\r\n")
        if not has_length:
            lines.append(f"Content-Length: {len(body)}\r\n")
        if close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        log.debug('%s "%s %s" %s', conn.client, request.method, request.target, code)
        # Status, headers and body in one write: one TLS record, no Nagle/delayed-ACK stall.
        data = "".join(lines).encode("latin-1") + (b"" if request.method == "HEAD" else body)
        conn.keep_alive = not close
        try:
            rest, _ = _send(conn.sock, memoryview(data))
        except (OSError, ValueError) as exc:
            log.debug("connection from %s lost while answering: %s", conn.client, exc)
            self._forget(conn, reset=False)
            return
        # Still BUSY: the loop takes it back and writes the rest when the client takes it.
        conn.out = rest if len(rest) else None
        self._give_back(conn)

    def _call_app(
        self, conn: _Connection, request: _Request, control: ConnectionControl
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        target = request.target
        if target.startswith(("http://", "https://")):  # absolute-form (RFC 9112 §3.2.2)
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": str(len(request.body)),
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": request.version,
            "REMOTE_ADDR": conn.client,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            CONTROL_KEY: control,
        }
        for key, value in request.headers:
            if "_" in key:
                continue  # X_Forwarded_For would pass for X-Forwarded-For in the environ
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ[name] = value
            elif name != "CONTENT_LENGTH":
                field = "HTTP_" + name
                environ[field] = f"{environ[field]}, {value}" if field in environ else value
        status_line: list[str] = []
        response_headers: list[tuple[str, str]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            status_line[:] = [status]
            response_headers[:] = headers
            return written.append

        try:
            chunks: Iterable[bytes] = self.app(environ, start_response)
            try:
                body = b"".join([*written, *chunks])
            finally:
                closer = getattr(chunks, "close", None)
                if closer is not None:
                    closer()
        except Exception:
            log.exception("the application failed on %s %s", request.method, path)
            text = b"500 Internal Server Error\n"
            return (
                "500 Internal Server Error",
                [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")],
                text,
            )
        if not status_line:
            return "500 Internal Server Error", [("Connection", "close")], b""
        return status_line[0], response_headers, body

    def _give_back(self, conn: _Connection) -> None:
        with self._lock:
            if conn not in self._connections:  # closed meanwhile (shutdown)
                with contextlib.suppress(OSError):
                    conn.sock.close()
                return
            if self._rewatch(conn):
                return
            self._returned.append(conn)
        self._wake()

    def _rewatch(self, conn: _Connection) -> bool:
        """The common end of an answer, done by the worker (under ``_lock``): the whole answer
        went, the connection stays open and nothing of a next request has come yet, so it
        waits for one in the selector again, without waking the loop to take it back. Only
        where a registration from this thread reaches a ``select`` under way (epoll);
        ``False`` leaves everything else to :meth:`_take_back`."""
        if (
            not self._direct
            or conn.out is not None
            or not conn.keep_alive
            or conn.buffer
            or self._stop.is_set()
            or (isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending())
        ):
            return False
        now = time.monotonic()
        conn.served += 1
        conn.since = now
        conn.deadline = now + self.limits.idle_timeout
        conn.state = _WAITING
        conn.want = selectors.EVENT_READ
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (KeyError, ValueError, OSError) as exc:
            log.debug("connection from %s lost while being answered: %s", conn.client, exc)
            self._connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.sock.close()
        return True

    def _forget(self, conn: _Connection, *, reset: bool) -> None:
        with self._lock:
            self._connections.discard(conn)
        if reset:
            _reset(conn.sock)
        else:
            with contextlib.suppress(OSError):
                conn.sock.close()
        self._wake()  # a slot is free: the loop may accept again


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header's value, made once a second."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def _send(sock: socket.socket, out: memoryview) -> tuple[memoryview, int]:
    """Send as much of ``out`` as ``sock`` takes now (it never blocks): what is left, and the
    selector event to wait for before sending it (0 when everything went). A failed connection
    raises :class:`OSError` (or :class:`ValueError` once closed)."""
    while len(out):
        try:
            sent = sock.send(out[:_WRITE_CHUNK])
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
            return out, selectors.EVENT_WRITE
        except ssl.SSLWantReadError:
            return out, selectors.EVENT_READ
        out = out[sent:]
    return out, 0


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    found = [v for k, v in headers if k.lower() == name]
    return ", ".join(found) if found else None


def _parse_head(
    head: bytes, limits: ServerLimits
) -> tuple[str, str, str, list[tuple[str, str]], bool]:
    """The request line and header fields, strictly (RFC 9112); raises :class:`_BadRequest`."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if not _VERSION.fullmatch(version):
        raise _BadRequest(400, "malformed HTTP version")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise _BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are served")
    if len(lines) - 1 > limits.max_headers:
        raise _BadRequest(431, f"more than {limits.max_headers} header fields")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise _BadRequest(400, "malformed header field")  # also obs-fold and "name :"
        text = value.strip(b" \t")
        if _CONTROL.search(text):
            raise _BadRequest(400, "control character in a header field")
        headers.append((name.decode("ascii"), text.decode("latin-1")))
    connection = (_header(headers, "connection") or "").lower()
    close = "close" in connection or (version == b"HTTP/1.0" and "keep-alive" not in connection)
    if version == b"HTTP/1.0":
        close = True  # keep-alive for 1.0 clients is not worth its corner cases
    try:
        target_text = target.decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest(400, "the request target is not ASCII") from None
    return method.decode("ascii"), target_text, version.decode("ascii"), headers, close


def _content_length(method: str, headers: list[tuple[str, str]], limits: ServerLimits) -> int:
    if any(k.lower() == "transfer-encoding" for k, _ in headers):
        raise _BadRequest(501, "Transfer-Encoding is not supported: send a Content-Length")
    values = {v.strip() for k, v in headers if k.lower() == "content-length"}
    values = {part.strip() for v in values for part in v.split(",")}
    if not values:
        if method in ("POST", "PUT", "PATCH"):
            raise _BadRequest(411, "Content-Length required")
        return 0
    if len(values) > 1:
        raise _BadRequest(400, "conflicting Content-Length values")
    (text,) = values
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise _BadRequest(400, "malformed Content-Length")
    length = int(text)
    if length > limits.max_body_bytes:
        raise _BadRequest(413, f"request body larger than {limits.max_body_bytes} bytes")
    return length
