"""A hostile HTTPS server on loopback, controlled byte by byte, bounded in time and memory.

Each accepted connection runs the next :data:`Behaviour` of the server's ``script`` (then
``default``) in a thread of its own, with a :class:`Peer`: a TCP socket whose TLS is done by
hand over ``ssl.MemoryBIO``, so a behaviour can stall or reset the handshake, read part of a
request, write a status line and stop, corrupt one TLS record, drip an answer, or stream one
that never ends. Every socket wait is bounded (:data:`PEER_TIMEOUT`), a request is read up to
:data:`MAX_REQUEST` bytes, and the endless answers stop when the client goes away or after
:data:`STREAM_BUDGET` bytes: a test can fail, never hang or fill the memory.

The behaviours that answer take a :class:`~tests.journal.support.FakeAnpr` when they should act
like ANPR (one application per ``idOperazioneComune``, the stored answer replayed), so the
journal tests can count what was applied.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from anpr_client.transport import HttpRequest, HttpResponse
from tests.journal.support import FakeAnpr

PEER_TIMEOUT = 10.0
"""The longest any single wait of the server lasts."""
MAX_REQUEST = 16 * 1024 * 1024
STREAM_BUDGET = 256 * 1024 * 1024
"""The most an endless answer writes before giving up on the client noticing."""

Behaviour = Callable[["Peer"], None]
Failing = Callable[["Peer", HttpResponse | None], None]
"""What a behaviour does once it has read the request (and the fake ANPR answered it)."""


class Peer:
    """One connection, TLS by hand: every byte on the wire is the behaviour's choice."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server: Hostile):
        self.raw = sock
        self.raw.settimeout(PEER_TIMEOUT)
        self.server = server
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._out, server_side=True)
        self._plain = bytearray()

    # ------------------------------------------------------------------ TLS by hand

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self.raw.sendall(data)

    def _pull(self) -> bool:
        data = self.raw.recv(65536)
        if not data:
            return False
        self._in.write(data)
        return True

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not self._pull():
                    raise ConnectionError("the client left during the handshake") from None
        self._flush()

    def _read_plain(self) -> bool:
        while True:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush()
                if not self._pull():
                    return False
                continue
            except ssl.SSLZeroReturnError:
                return False
            self._plain += data
            return bool(data)

    def send(self, data: bytes) -> None:
        """Write ``data`` as proper TLS records."""
        self.tls.write(data)
        self._flush()

    def send_corrupted(self, data: bytes) -> None:
        """Write ``data`` as a TLS record with its last byte (part of the tag) flipped."""
        self.tls.write(data)
        record = bytearray(self._out.read())
        record[-1] ^= 0xFF
        self.raw.sendall(bytes(record))

    # ------------------------------------------------------------------ HTTP

    def read_head(self) -> bytes:
        while b"\r\n\r\n" not in self._plain:
            if len(self._plain) > MAX_REQUEST or not self._read_plain():
                raise ConnectionError("no complete request head")
        head, _, rest = bytes(self._plain).partition(b"\r\n\r\n")
        self._plain = bytearray(rest)
        return head

    def read_request(self, limit: int | None = None) -> bytes:
        """The request's body (its head read first); at most ``limit`` body bytes."""
        head = self.read_head()
        found = re.search(rb"(?i)content-length:\s*(\d+)", head)
        length = int(found.group(1)) if found else 0
        wanted = min(length, MAX_REQUEST) if limit is None else min(length, limit)
        while len(self._plain) < wanted:
            if not self._read_plain():
                raise ConnectionError("the request's body is incomplete")
        body = bytes(self._plain[:wanted])
        del self._plain[:wanted]
        if limit is None:
            self.server.received.append(body)
        return body

    def answer(self, response: HttpResponse) -> None:
        self.send(head(response.status, response.content_type, len(response.body)))
        self.send(response.body)

    # ------------------------------------------------------------------ ending

    def reset(self) -> None:
        """Close with a TCP reset (RST), not a clean FIN."""
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.raw.close()

    def hold(self) -> None:
        """Keep the connection without reading from it, until the client closes it (bounded
        by the socket timeout): what it writes piles up until its writes block."""
        poller = select.poll()
        poller.register(self.raw, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        poller.poll(PEER_TIMEOUT * 1000)

    def wait_for_close(self) -> None:
        """Keep the connection until the client closes it (bounded by the socket timeout)."""
        with contextlib.suppress(OSError):
            while self.raw.recv(65536):
                pass


def head(status: int, content_type: str, length: int | None, *extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Hostile:
    """The server: where it listens, whom to trust for it, what it will do and what it got."""

    url: str
    ca_pem: Path
    script: list[Behaviour] = field(default_factory=list)
    """Behaviours for the next connections, in order (consumed)."""
    default: Behaviour | None = None
    """The behaviour once the script is spent (``None``: close at once)."""
    received: list[bytes] = field(default_factory=list)
    """The request bodies read in full."""
    connections: int = 0
    errors: list[BaseException] = field(default_factory=list)
    """What behaviours raised (a client going away mid-answer is expected, so not fatal)."""

    def next_behaviour(self) -> Behaviour | None:
        self.connections += 1
        return self.script.pop(0) if self.script else self.default


@contextlib.contextmanager
def serve(
    ca: trustme.CA, tmp_path: Path, *, context: ssl.SSLContext | None = None
) -> Iterator[Hostile]:
    """Run a :class:`Hostile` server for the block; its threads are joined on the way out."""
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    ca_pem = tmp_path / "hostile-ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server = Hostile(f"https://127.0.0.1:{listener.getsockname()[1]}", ca_pem)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def run(sock: socket.socket) -> None:
        peer = Peer(sock, context, server)
        try:
            behaviour = server.next_behaviour()
            if behaviour is not None:
                behaviour(peer)
        except (OSError, ssl.SSLError) as exc:
            server.errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=run, args=(sock,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for worker in workers:
            worker.join(PEER_TIMEOUT + 5)
        assert not any(w.is_alive() for w in workers), "a hostile behaviour did not end"


@pytest.fixture
def hostile(ca: trustme.CA, tmp_path: Path) -> Iterator[Hostile]:
    """A :class:`Hostile` server on 127.0.0.1 with a certificate from the ``ca`` fixture."""
    with serve(ca, tmp_path) as server:
        yield server


# ----------------------------------------------------------------------------- behaviours


def as_anpr(fake: FakeAnpr, peer: Peer) -> HttpResponse:
    """Read the request and let ``fake`` (ANPR's idempotency rules) apply and answer it."""
    body = peer.read_request()
    return fake(HttpRequest(peer.server.url, body))


def behave(fake: FakeAnpr) -> Behaviour:
    """Answer like ANPR, on a connection kept open for more requests."""

    def run(peer: Peer) -> None:
        peer.handshake()
        while True:
            try:
                response = as_anpr(fake, peer)
            except ConnectionError:
                return
            peer.answer(response)

    return run


def reply(body: bytes = b"ok") -> Behaviour:
    """Answer every request of the connection with ``body`` (HTTP 200, text/plain)."""

    def run(peer: Peer) -> None:
        peer.handshake()
        while True:
            try:
                peer.read_request()
            except ConnectionError:
                return
            peer.answer(HttpResponse(200, {"content-type": "text/plain"}, body))

    return run


def reset_in_handshake(peer: Peer) -> None:
    peer.raw.recv(5)  # the ClientHello's record header
    peer.reset()


def stall_handshake(peer: Peer) -> None:
    peer.raw.recv(5)
    peer.wait_for_close()


def never_read(peer: Peer) -> None:
    """Complete the handshake, then read nothing: a large request cannot be written."""
    peer.handshake()
    peer.hold()


def reset_while_reading(peer: Peer) -> None:
    peer.handshake()
    peer.read_request(limit=1024)
    peer.reset()


def fail_after_request(fake: FakeAnpr | None, failure: Failing) -> Behaviour:
    """Read the whole request, apply it when ``fake`` is given, then ``failure``."""

    def run(peer: Peer) -> None:
        peer.handshake()
        response = None
        if fake is None:
            peer.read_request()
        else:
            response = as_anpr(fake, peer)
        failure(peer, response)

    return run


def _ok(response: HttpResponse | None) -> bytes:
    return response.body if response is not None else b"<answer/>"


# failures after the whole request was read, by the stage the client is in when it happens


def close_silently(peer: Peer, response: HttpResponse | None) -> None:  # sent
    peer.raw.shutdown(socket.SHUT_RDWR)


def reset_at_once(peer: Peer, response: HttpResponse | None) -> None:  # sent
    peer.reset()


def stay_silent(peer: Peer, response: HttpResponse | None) -> None:  # sent: a read timeout
    peer.wait_for_close()


def half_status_line(peer: Peer, response: HttpResponse | None) -> None:  # status_line
    peer.send(b"HTTP/1.1 2")
    time.sleep(0.05)
    peer.reset()


def garbage_status_line(peer: Peer, response: HttpResponse | None) -> None:  # status_line
    peer.send(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    peer.wait_for_close()


def corrupt_headers(peer: Peer, response: HttpResponse | None) -> None:  # headers
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n")
    time.sleep(0.05)
    peer.send_corrupted(b"Content-Length: 10\r\n\r\n")
    peer.wait_for_close()


def corrupt_first_record(peer: Peer, response: HttpResponse | None) -> None:  # sent
    body = _ok(response)
    peer.send_corrupted(head(200, "text/xml; charset=utf-8", len(body)) + body)
    peer.wait_for_close()


def cut_body(peer: Peer, response: HttpResponse | None) -> None:  # body
    body = _ok(response)
    peer.send(head(200, "text/xml; charset=utf-8", len(body)) + body[: len(body) // 2])
    time.sleep(0.05)
    peer.reset()


def corrupt_body(peer: Peer, response: HttpResponse | None) -> None:  # body
    body = _ok(response)
    peer.send(head(200, "text/xml; charset=utf-8", len(body)) + body[: len(body) // 2])
    time.sleep(0.05)
    peer.send_corrupted(body[len(body) // 2 :])
    peer.wait_for_close()


def bad_gzip(peer: Peer, response: HttpResponse | None) -> None:  # body: a decode error
    body = gzip.compress(_ok(response))[:-12] + b"not gzip at all"
    peer.send(head(200, "text/xml", len(body), "Content-Encoding: gzip") + body)
    peer.wait_for_close()


def not_xml(peer: Peer, response: HttpResponse | None) -> None:  # parse
    peer.answer(HttpResponse(200, {"content-type": "text/xml"}, b"<unclosed"))
    peer.wait_for_close()


def answer_ok(peer: Peer, response: HttpResponse | None) -> None:
    assert response is not None
    peer.answer(response)
    peer.wait_for_close()


def drip(data: bytes, every: float) -> Failing:
    """Send ``data`` one byte every ``every`` seconds (never idle long enough to time out)."""

    def run(peer: Peer, response: HttpResponse | None) -> None:
        for i in range(len(data)):
            peer.send(data[i : i + 1])
            time.sleep(every)

    return run


def stream(first: bytes, more: Callable[[int], bytes]) -> Failing:
    """Send ``first``, then ``more(n)`` for n = 0, 1, … until the client leaves or the budget
    is spent."""

    def run(peer: Peer, response: HttpResponse | None) -> None:
        peer.send(first)
        sent = len(first)
        n = 0
        while sent < STREAM_BUDGET:
            chunk = more(n)
            try:
                peer.send(chunk)
            except OSError:
                return
            sent += len(chunk)
            n += 1

    return run
