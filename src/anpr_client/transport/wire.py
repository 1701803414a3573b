"""HTTP/1.1 on a connected socket: write one request, read one answer within bounds.

The HTTPS transport (:mod:`.https`) opens connections with urllib3 and hands their socket here.
The answer is read by hand rather than through ``http.client`` because the transport must know
three things ``http.client`` hides:

- **where it is** (:class:`~.models.Stage`): the request's last byte written, the answer's
  first byte, the end of its status line, the end of its headers — a failure before the last
  byte was written means the request was not delivered, one after means the outcome is unknown;
- **how long the attempt has left**: every wait is bounded by the read timeout *and* by what
  is left of the attempt's deadline (``http.client``'s timeout applies to each read alone, so an
  answer trickling in a byte at a time never ends);
- **how large the answer may grow**: a declared ``Content-Length`` above the limit is refused
  unread, a chunked or unframed body stops at the limit, decompression stops one byte past it.

Failures come out as the socket's own exceptions (``TimeoutError``, ``OSError``,
``ssl.SSLError``) or as :class:`DeadlinePassed`, :class:`TooLarge`, :class:`Malformed` and
:class:`PeerClosed`; the transport turns each into the typed error its stage implies.
"""

from __future__ import annotations

import functools
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Final

from urllib3 import HTTPHeaderDict

from .models import Stage

__all__ = [
    "AnswerReader",
    "Attempt",
    "DeadlinePassed",
    "Malformed",
    "PeerClosed",
    "TooLarge",
    "build_head",
    "decode_content",
    "write_request",
]

Socket = socket.socket | ssl.SSLSocket
Trace = Callable[[Stage], None]

_RECV_SIZE: Final = 65536
_WRITE_CHUNK: Final = 256 * 1024
"""A request larger than this is written in pieces, the deadline checked between them."""
_MAX_HEAD: Final = 64 * 1024
"""The longest status line plus headers accepted (real ones are well under 2 KiB)."""
_MAX_HEADERS: Final = 100
_MAX_LINE: Final = 8192
"""The longest chunk-size or trailer line accepted."""
_MAX_CODINGS: Final = 4
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK: Final = re.compile(r"\r?\n")
_HEX: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FORBIDDEN_IN_VALUE: Final = re.compile(r"[\r\n\x00]")
_FORBIDDEN_IN_TARGET: Final = re.compile(r"[\x00-\x20\x7f]")
_OURS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})
"""Request headers the transport writes itself (a caller's are left out)."""


class DeadlinePassed(Exception):
    """The attempt's deadline passed."""


class Malformed(Exception):
    """The answer is not HTTP/1.1 that can be read (or its encoding cannot be undone)."""


class TooLarge(Exception):
    """The answer is larger than the limit."""


class PeerClosed(ConnectionError):
    """The server closed the connection before the answer was complete."""


class Attempt:
    """One attempt's progress: its stage (reported to ``trace``) and its deadline."""

    __slots__ = ("deadline", "stage", "trace")

    def __init__(self, deadline: float, trace: Trace | None = None):
        self.deadline = deadline
        self.trace = trace
        self.stage = Stage.CONNECT

    def advance(self, stage: Stage) -> None:
        self.stage = stage
        if self.trace is not None:
            self.trace(stage)

    def wait(self, longest: float) -> tuple[float, bool]:
        """How long the next wait may last: ``longest``, or less when the deadline is nearer
        (then ``True``: a timeout means the deadline passed). Raises :class:`DeadlinePassed`
        when it already has."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed
        if remaining < longest:
            return remaining, True
        return longest, False


def build_head(method: str, target: str, host: str, headers: Mapping[str, str], size: int) -> bytes:
    """The request line and headers of a request whose body has ``size`` bytes.

    Raises ``ValueError`` for a method, target, header name or value that would break the
    request's framing (a line break, a control character) or is not Latin-1.
    """
    return _head_before_length(method, target, host, tuple(headers.items())) + (
        b"Content-Length: %d\r\n\r\n" % size
    )


@functools.lru_cache(maxsize=256)
def _head_before_length(
    method: str, target: str, host: str, headers: tuple[tuple[str, str], ...]
) -> bytes:
    """:func:`build_head` up to its ``Content-Length``, checked and encoded once for each
    request line and set of headers (a client sends the same few again and again); what is
    refused raises each time, since exceptions are not cached."""
    if not _TOKEN.fullmatch(method) or _FORBIDDEN_IN_TARGET.search(target):
        raise ValueError(f"invalid request line {method!r} {target!r}")
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
    given = set()
    for name, value in headers:
        if not _TOKEN.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
            raise ValueError(f"invalid request header {name!r}")
        lower = name.lower()
        if lower not in _OURS:
            given.add(lower)
            lines.append(f"{name}: {value}\r\n")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    return "".join(lines).encode("latin-1")


def write_request(sock: Socket, attempt: Attempt, data: bytes, write_timeout: float) -> None:
    """Write ``data`` (head and body): :attr:`Stage.SENDING` until its last byte has been
    written, then :attr:`Stage.SENT`."""
    attempt.advance(Stage.SENDING)
    with memoryview(data) as view:
        for start in range(0, len(data), _WRITE_CHUNK):
            timeout, by_deadline = attempt.wait(write_timeout)
            sock.settimeout(timeout)
            try:
                sock.sendall(view[start : start + _WRITE_CHUNK])
            except TimeoutError:
                if by_deadline:
                    raise DeadlinePassed from None
                raise
    attempt.advance(Stage.SENT)


class AnswerReader:
    """Reads one answer from ``sock``: :meth:`read_head`, then :meth:`read_body`."""

    def __init__(self, sock: Socket, attempt: Attempt, read_timeout: float, max_bytes: int):
        self._sock = sock
        self._attempt = attempt
        self._read_timeout = read_timeout
        self._max = max_bytes
        self._buffer = bytearray()
        self._timeout: float | None = None

    # ------------------------------------------------------------------ the socket

    def _wait(self) -> bool:
        timeout, by_deadline = self._attempt.wait(self._read_timeout)
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout
        return by_deadline

    def _fill(self) -> int:
        """Append what the socket has to the buffer; 0 at the end of the stream."""
        by_deadline = self._wait()
        try:
            data = self._sock.recv(_RECV_SIZE)
        except TimeoutError:
            if by_deadline:
                raise DeadlinePassed from None
            raise
        self._buffer += data
        return len(data)

    def _into(self, view: memoryview) -> int:
        by_deadline = self._wait()
        try:
            return self._sock.recv_into(view, min(len(view), 1 << 20))
        except TimeoutError:
            if by_deadline:
                raise DeadlinePassed from None
            raise

    # ------------------------------------------------------------------ the head

    def read_head(self) -> tuple[int, str, HTTPHeaderDict]:
        """The status, the HTTP version and the headers (interim 1xx answers skipped)."""
        while True:
            status, version, headers = self._one_head()
            if status >= 200:
                return status, version, headers
            if status == 101:
                raise Malformed("the server switched protocols")

    def _one_head(self) -> tuple[int, str, HTTPHeaderDict]:
        attempt, buffer = self._attempt, self._buffer
        status: tuple[int, str] | None = None
        scanned = 0
        while True:
            if buffer and attempt.stage is Stage.SENT:
                attempt.advance(Stage.STATUS_LINE)
            if status is None and (line_end := buffer.find(b"\n")) >= 0:
                status = _status(bytes(buffer[:line_end]))
                if attempt.stage is Stage.STATUS_LINE:
                    attempt.advance(Stage.HEADERS)
            if status is not None:
                end = _HEAD_END.search(buffer, max(0, scanned - 3))
                if end is not None and end.end() <= _MAX_HEAD:
                    text = bytes(buffer[: end.start()]).decode("latin-1")
                    del buffer[: end.end()]
                    return status[0], status[1], _headers(text)
            if len(buffer) > _MAX_HEAD:
                raise Malformed(f"the answer's head is longer than {_MAX_HEAD} bytes")
            scanned = len(buffer)
            if not self._fill():
                raise PeerClosed(
                    "the server closed the connection without answering"
                    if attempt.stage is Stage.SENT
                    else "the server closed the connection in the middle of the answer's head"
                )

    # ------------------------------------------------------------------ the body

    def read_body(self, status: int, version: str, headers: HTTPHeaderDict) -> tuple[bytes, bool]:
        """The body, decompressed, and whether the connection may carry another request."""
        self._attempt.advance(Stage.BODY)
        reusable = version == "HTTP/1.1" and "close" not in (headers.get("connection", "").lower())
        coding = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if status in (204, 304):
            raw = b""
        elif coding is not None:
            codings = [c.strip().lower() for c in coding.split(",")]
            if codings[-1] != "chunked" or any(c not in ("chunked", "identity") for c in codings):
                raise Malformed(f"unsupported transfer encoding {coding!r}")
            raw = self._chunked()
            reusable = reusable and length is None  # both framings: do not trust what follows
        elif length is not None:
            raw = self._exact(_content_length(length, self._max))
        else:
            raw, reusable = self._until_closed(), False
        if self._buffer:
            reusable = False  # more than one answer came: do not trust what follows
        return decode_content(raw, headers.get("content-encoding"), self._max), reusable

    def _exact(self, size: int) -> bytes:
        buffer = self._buffer
        if len(buffer) >= size:
            body = bytes(buffer[:size])
            del buffer[:size]
            return body
        out = bytearray(size)
        self._read_into(out, 0)
        return bytes(out)

    def _read_into(self, out: bytearray, start: int) -> None:
        """Fill ``out[start:]``: first from the buffer, then from the socket."""
        buffer = self._buffer
        taken = min(len(buffer), len(out) - start)
        out[start : start + taken] = buffer[:taken]
        del buffer[:taken]
        got, size = start + taken, len(out)
        with memoryview(out) as view:
            while got < size:
                count = self._into(view[got:])
                if not count:
                    raise PeerClosed(
                        f"the server closed the connection after {got} of {size} body bytes"
                    )
                got += count

    def _line(self) -> bytes:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n", 0, _MAX_LINE + 1)
            if end >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(buffer) > _MAX_LINE:
                raise Malformed(f"a chunk-size or trailer line is longer than {_MAX_LINE} bytes")
            if not self._fill():
                raise PeerClosed("the server closed the connection inside a chunked answer")

    def _chunked(self) -> bytes:
        out = bytearray()
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise Malformed(f"invalid chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(out) + size > self._max:
                raise TooLarge(f"the chunked answer grows past the limit of {self._max} bytes")
            start = len(out)
            out.extend(bytes(size))
            self._read_into(out, start)
            if self._line():
                raise Malformed("a chunk is not followed by CRLF")
        for _ in range(_MAX_HEADERS + 1):  # trailer fields, read and ignored
            if not self._line():
                return bytes(out)
        raise Malformed(f"the chunked answer has more than {_MAX_HEADERS} trailer lines")

    def _until_closed(self) -> bytes:
        while len(self._buffer) <= self._max:
            if not self._fill():
                body = bytes(self._buffer)
                self._buffer.clear()
                return body
        raise TooLarge(f"the answer grows past the limit of {self._max} bytes")


def _headers(head: str) -> HTTPHeaderDict:
    """The header fields of an answer's head (its status line first, already checked)."""
    lines = _LINE_BREAK.split(head)
    if len(lines) > _MAX_HEADERS + 1:
        raise Malformed(f"the answer has more than {_MAX_HEADERS} header lines")
    pairs: list[list[str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # an obsolete folded continuation
            if not pairs:
                raise Malformed("the answer's first header line is a continuation")
            pairs[-1][1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise Malformed(f"the answer has an invalid header line {line[:80]!r}")
        pairs.append([name, value.strip()])
    headers = HTTPHeaderDict()
    for name, value in pairs:
        headers.add(name, value)
    return headers


def _status(line: bytes) -> tuple[int, str]:
    """The status code and version of a status line (``HTTP/1.1 200 OK``)."""
    text = line.decode("latin-1").rstrip("\r")
    version, _, rest = text.partition(" ")
    code = rest.partition(" ")[0]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not (
        len(code) == 3 and code.isascii() and code.isdigit() and code[0] != "0"
    ):
        raise Malformed(f"the answer's status line is not HTTP/1.1: {text[:80]!r}")
    return int(code), version


def _content_length(value: str, limit: int) -> int:
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise Malformed(f"conflicting Content-Length values {value!r}")
    (text,) = values
    if not (text.isascii() and text.isdigit()):
        raise Malformed(f"invalid Content-Length {value!r}")
    size = int(text)
    if size > limit:
        raise TooLarge(f"the answer declares {size} bytes; the limit is {limit}")
    return size


def decode_content(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """``raw`` with its ``Content-Encoding`` (gzip, deflate) undone, never past ``limit``."""
    if not encoding or not raw:
        return raw
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    if len(codings) > _MAX_CODINGS:
        raise Malformed(f"too many content encodings {encoding!r}")
    data = raw
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS, limit, coding)
        elif coding == "deflate":
            try:  # RFC 9110 says zlib-wrapped; some servers send raw deflate
                data = _inflate(data, zlib.MAX_WBITS, limit, coding)
            except Malformed:
                data = _inflate(data, -zlib.MAX_WBITS, limit, coding)
        else:
            raise Malformed(f"unsupported content encoding {coding!r}")
    return data


def _inflate(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    out = bytearray()
    try:
        while True:  # one round per gzip member
            inflater = zlib.decompressobj(wbits)
            pending = data
            while True:
                out += inflater.decompress(pending, limit - len(out) + 1)
                if len(out) > limit:
                    raise TooLarge(f"the answer decompresses to more than {limit} bytes")
                pending = inflater.unconsumed_tail
                if inflater.eof or not pending:
                    break
            if not inflater.eof:
                raise Malformed(f"the {coding} answer is truncated")
            data = inflater.unused_data
            if not data or wbits < 16:
                return bytes(out)
    except zlib.error as exc:
        raise Malformed(f"the {coding} answer is corrupt: {exc}") from None
