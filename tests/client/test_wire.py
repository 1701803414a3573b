"""The HTTP/1.1 reader on its own, over a scripted socket: framing, interim answers, folded
headers, and every malformed answer as :class:`~anpr_client.transport.wire.Malformed`."""

from __future__ import annotations

import time
import zlib

import pytest

from anpr_client.transport import Stage
from anpr_client.transport.wire import (
    AnswerReader,
    Attempt,
    DeadlinePassed,
    Malformed,
    PeerClosed,
    TooLarge,
    build_head,
    decode_content,
)


class ScriptedSocket:
    """Hands out ``chunks`` one per ``recv``, then the end of the stream."""

    def __init__(self, *chunks: bytes):
        self.chunks = list(chunks)
        self.timeouts: list[float] = []

    def settimeout(self, value: float) -> None:
        self.timeouts.append(value)

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def recv_into(self, view: memoryview, size: int) -> int:
        if not self.chunks:
            return 0
        chunk = self.chunks.pop(0)
        taken, rest = chunk[:size], chunk[size:]
        if rest:
            self.chunks.insert(0, rest)
        view[: len(taken)] = taken
        return len(taken)


def read(*chunks: bytes, limit: int = 1 << 20) -> tuple[int, dict[str, str], bytes, bool]:
    attempt = Attempt(time.monotonic() + 10)
    attempt.stage = Stage.SENT
    reader = AnswerReader(ScriptedSocket(*chunks), attempt, 5, limit)  # type: ignore[arg-type]
    status, version, headers = reader.read_head()
    body, reusable = reader.read_body(status, version, headers)
    return status, dict(headers), body, reusable


def test_content_length_and_keep_alive() -> None:
    status, headers, body, reusable = read(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", b"lo"
    )
    assert (status, headers, body, reusable) == (200, {"Content-Length": "5"}, b"hello", True)


def test_chunked_with_extensions_and_trailers() -> None:
    status, _, body, reusable = read(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"3;ext=1\r\nabc\r\n",
        b"2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
    )
    assert (status, body, reusable) == (200, b"abcde", True)


def test_interim_answers_are_skipped_and_folded_headers_joined() -> None:
    status, headers, body, _ = read(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nX-Long: a\r\n  b\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert (status, headers["X-Long"], body) == (500, "a b", b"")


def test_lf_only_heads_close_delimited_bodies_and_http_1_0() -> None:
    status, _, body, reusable = read(b"HTTP/1.0 200 OK\nServer: x\n\nall of it", b" until close")
    assert (status, body, reusable) == (200, b"all of it until close", False)


def test_an_answer_asking_to_close_is_not_reused() -> None:
    *_, reusable = read(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert reusable is False
    *_, reusable = read(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")
    assert reusable is False  # bytes after the answer


def test_gzip_is_undone() -> None:
    packed = zlib.compress(b"<soap/>" * 100, wbits=31)
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n\r\n"
    assert read(head.encode() + packed)[2] == b"<soap/>" * 100


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 \xb2\xb3\xb9 OK\r\n\r\n",  # superscript digits are digits to str.isdigit
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n bad: fold first\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"e" * 9000 + b"\r\n",
    ],
)
def test_malformed_answers(answer: bytes) -> None:
    with pytest.raises(Malformed):
        read(answer)


@pytest.mark.parametrize(
    "chunks",
    [
        (),
        (b"HTTP/1.1 200",),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",),
    ],
)
def test_an_answer_cut_short_is_the_peer_closing(chunks: tuple[bytes, ...]) -> None:
    with pytest.raises(PeerClosed):
        read(*chunks)


def test_sizes_are_bounded() -> None:
    with pytest.raises(TooLarge):
        read(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", limit=10)
    with pytest.raises(TooLarge):
        read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n5\r\n", limit=10)
    with pytest.raises(TooLarge):
        read(b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 11, limit=10)
    with pytest.raises(TooLarge):
        decode_content(zlib.compress(bytes(11)), "deflate", 10)


def test_the_stages_follow_the_bytes() -> None:
    seen: list[Stage] = []
    attempt = Attempt(time.monotonic() + 10, seen.append)
    attempt.stage = Stage.SENT
    sock = ScriptedSocket(b"HTTP/1.1 2", b"00 OK\r\nContent-", b"Length: 0\r\n\r\n")
    reader = AnswerReader(sock, attempt, 5, 100)  # type: ignore[arg-type]
    reader.read_body(*reader.read_head())
    assert seen == [Stage.STATUS_LINE, Stage.HEADERS, Stage.BODY]


def test_each_wait_is_bounded_by_what_is_left_of_the_deadline() -> None:
    attempt = Attempt(time.monotonic() + 0.5)
    attempt.stage = Stage.SENT
    sock = ScriptedSocket(b"HTTP/1.1 200 OK\r\n")
    reader = AnswerReader(sock, attempt, 30, 100)  # type: ignore[arg-type]
    with pytest.raises(PeerClosed):
        reader.read_head()
    assert sock.timeouts
    assert all(t <= 0.5 for t in sock.timeouts)
    attempt.deadline = time.monotonic() - 1
    with pytest.raises(DeadlinePassed):
        AnswerReader(ScriptedSocket(b"x"), attempt, 30, 100).read_head()  # type: ignore[arg-type]


def test_request_heads_cannot_be_smuggled() -> None:
    head = build_head("POST", "/a?b=1", "anpr.test", {"SOAPAction": '""'}, 3)
    assert head == (
        b'POST /a?b=1 HTTP/1.1\r\nHost: anpr.test\r\nSOAPAction: ""\r\n'
        b"Accept-Encoding: gzip, deflate\r\nContent-Length: 3\r\n\r\n"
    )
    ours = build_head("POST", "/", "h", {"Content-Length": "99", "Host": "evil"}, 3)
    assert b"99" not in ours
    assert b"evil" not in ours
    for bad in (
        ("POST", "/a b", {}),
        ("POST\r\n", "/", {}),
        ("POST", "/", {"X": "a\r\nInjected: 1"}),
        ("POST", "/", {"Bad Name": "x"}),
        ("POST", "/", {"X": "\u20ac"}),
    ):
        for _ in range(2):  # refused again the second time: the checked heads are memoised
            with pytest.raises(ValueError):  # noqa: PT011 - UnicodeEncodeError for the last
                build_head(bad[0], bad[1], "h", bad[2], 0)


def test_a_memoised_head_takes_each_requests_length() -> None:
    first = build_head("POST", "/x", "h", {"SOAPAction": '""'}, 12)
    again = build_head("POST", "/x", "h", {"SOAPAction": '""'}, 12345)
    assert first.endswith(b"Content-Length: 12\r\n\r\n")
    assert again == first.replace(b"Content-Length: 12", b"Content-Length: 12345")
