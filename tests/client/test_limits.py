"""Every answer is bounded: its size on the wire and decompressed, its MTOM parts, its time,
and the journal's copy of it. Each limit reached is a typed error, outcome unknown.

The attacks of the reliability issue — a gzip bomb, an 8 GiB ``Content-Length``, an endless
chunked answer, a 600 MB MTOM attachment, an answer dripping one byte at a time — come from
the hostile loopback server, with small limits so the tests stay fast; the ``slow`` ones
repeat the large attacks against the default limits.
"""

from __future__ import annotations

import functools
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnswerDeadlineExceeded,
    AnswerTooLarge,
    ConfigurationError,
    ProtocolError,
    ReadTimeout,
    ServerUnavailable,
)
from anpr_client.journal import Journal, State
from anpr_client.settings import DEFAULT_MAX_ANSWER_BYTES, Limits, Settings, Timeouts, load_settings
from anpr_client.soap.mtom import build_related
from anpr_client.transport import HttpRequest, HttpResponse, HttpTransport, MockTransport, Stage
from anpr_client.transport.tls import create_ssl_context
from anpr_client.transport.wire import TooLarge, decode_content
from tests.client import hostile as h
from tests.client.hostile import Hostile, hostile
from tests.journal.support import FakeAnpr, payload_5005
from tests.journal.support import settings as journal_settings

__all__ = ["hostile"]

MiB = 1024 * 1024
SMALL = Limits(max_answer_bytes=MiB)
FAST = Timeouts(connect=1, read=1)


def _send(server: Hostile, limits: Limits = SMALL, timeouts: Timeouts = FAST) -> HttpResponse:
    transport = HttpTransport(create_ssl_context(server.ca_pem))
    try:
        return transport.send(
            HttpRequest(server.url + "/x", b"<request/>", timeouts=timeouts, limits=limits)
        )
    finally:
        transport.close()


@functools.cache
def _gzip_of_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes: one member up to 64 MiB, then members of 64 MiB each."""
    member = min(size, 64 * MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    one = b"".join([packer.compress(block) for _ in range(member // MiB)] + [packer.flush()])
    return one * (size // member)


def _answer(head: bytes, body: bytes = b"") -> h.Behaviour:
    def failure(peer: h.Peer, response: HttpResponse | None) -> None:
        peer.send(head + body)
        peer.wait_for_close()

    return h.fail_after_request(None, failure)


def _endless_chunks(peer_head: bytes) -> h.Behaviour:
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    return h.fail_after_request(None, h.stream(peer_head, lambda n: chunk))


CHUNKED = h.head(200, "text/xml", None, "Transfer-Encoding: chunked")
UNFRAMED = h.head(200, "text/xml", None, "Connection: close")


# ----------------------------------------------------------------------------- size


def test_a_declared_length_over_the_limit_is_refused_unread(hostile: Hostile) -> None:
    hostile.default = _answer(h.head(200, "text/xml", 8 * 1024**3), b"<a")  # 8 GiB announced
    started = time.monotonic()
    with pytest.raises(AnswerTooLarge) as info:
        _send(hostile, Limits())
    assert time.monotonic() - started < 2
    assert (info.value.limit, info.value.stage) == ("limits.max_answer_bytes", Stage.BODY)
    assert "8589934592" in str(info.value)
    assert info.value.delivered is None
    assert info.value.outcome_unknown


def test_a_gzip_bomb_stops_one_byte_past_the_limit_in_bounded_memory(hostile: Hostile) -> None:
    bomb = _gzip_of_zeros(64 * MiB)
    assert len(bomb) < MiB // 8
    hostile.default = _answer(h.head(200, "text/xml", len(bomb), "Content-Encoding: gzip"), bomb)
    tracemalloc.start()
    try:
        with pytest.raises(AnswerTooLarge, match="decompresses to more than 1048576"):
            _send(hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


@pytest.mark.parametrize("kind", ["chunked", "until-closed"])
def test_an_endless_answer_stops_at_the_limit(hostile: Hostile, kind: str) -> None:
    if kind == "chunked":
        hostile.default = _endless_chunks(CHUNKED)
    else:
        hostile.default = h.fail_after_request(None, h.stream(UNFRAMED, lambda n: b"y" * 65536))
    with pytest.raises(AnswerTooLarge, match="grows past the limit of 1048576") as info:
        _send(hostile)
    assert info.value.stage == Stage.BODY


def test_an_answer_at_the_limit_is_read_whole(hostile: Hostile) -> None:
    body = b"z" * MiB
    hostile.default = _answer(h.head(200, "text/xml", len(body)), body)
    assert _send(hostile).body == body
    packed = _gzip_of_zeros(MiB)
    hostile.default = _answer(
        h.head(200, "text/xml", len(packed), "Content-Encoding: gzip"), packed
    )
    assert _send(hostile).body == bytes(MiB)


def test_decompression_is_bounded_for_every_encoding() -> None:
    zlibbed = zlib.compress(bytes(4 * MiB))
    raw = zlibbed[2:-4]  # the same deflate stream without zlib's wrapper
    for data in (zlibbed, raw):
        assert decode_content(data, "deflate", 4 * MiB) == bytes(4 * MiB)
        with pytest.raises(TooLarge):
            decode_content(data, "deflate", 4 * MiB - 1)
    twice = _gzip_of_zeros(MiB) + _gzip_of_zeros(MiB)  # two gzip members
    assert decode_content(twice, "gzip", 2 * MiB) == bytes(2 * MiB)
    with pytest.raises(TooLarge):
        decode_content(twice, "gzip", 2 * MiB - 1)


def test_a_600_mb_mtom_attachment_is_refused(hostile: Hostile) -> None:
    boundary = "uuid:b"
    ctype = f'multipart/related; type="application/xop+xml"; boundary="{boundary}"'
    start = (
        f"--{boundary}\r\nContent-Type: application/xop+xml\r\n\r\n<soap:Envelope/>\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf\r\nContent-ID: <pdf>\r\n\r\n"
    ).encode()
    hostile.default = _answer(h.head(200, ctype, len(start) + 600 * 1000 * 1000), start)
    with pytest.raises(AnswerTooLarge):
        _send(hostile, Limits())
    hostile.default = _endless_chunks(h.head(200, ctype, None, "Transfer-Encoding: chunked"))
    with pytest.raises(AnswerTooLarge):
        _send(hostile)


def _mtom(parts: int, data: bytes = b"%PDF", encoding: str = "binary") -> HttpResponse:
    envelope = b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>'
    body, ctype = build_related(
        envelope, {f"p{i}": ("application/pdf", data) for i in range(parts)}
    )
    if encoding == "base64":
        binary = b"Content-Transfer-Encoding: binary\r\nContent-ID: <p0>"
        body = body.replace(binary, binary.replace(b"binary", b"base64"))
    return HttpResponse(200, {"content-type": ctype}, body)


def test_mtom_parts_are_bounded_in_number_and_checked(settings: Settings) -> None:
    client = Client(settings.replace(limits=Limits(max_mtom_parts=3)), journal=None)
    with pytest.raises(AnswerTooLarge, match="more than 3 parts") as info:
        client.read("6001", _mtom(3))  # the root part and three attachments
    assert info.value.limit == "limits.max_mtom_parts"
    with pytest.raises(ProtocolError, match="is not valid base64"):
        client.read("6001", _mtom(1, b"not base64 at all!", "base64"))


def test_every_transport_is_bounded_when_the_answer_is_read(settings: Settings) -> None:
    """A WSGI or mock transport reads no socket: the binding bounds what it hands over."""
    big = b"<x>" + b"a" * 2000 + b"</x>"
    client = Client(settings.replace(limits=Limits(max_answer_bytes=1000)), journal=None)
    with pytest.raises(AnswerTooLarge, match="2007 bytes, more than 1000"):
        client.read("3002", HttpResponse(200, {}, big))


# ----------------------------------------------------------------------------- time


def test_a_dripping_answer_ends_at_the_deadline(hostile: Hostile) -> None:
    """A byte every 0.3 s never trips the 1 s read timeout; the deadline ends it."""
    body = b"<a/>" * 100
    dripping = h.head(200, "text/xml", len(body)) + body
    hostile.default = h.fail_after_request(None, h.drip(dripping, 0.3))
    started = time.monotonic()
    with pytest.raises(AnswerDeadlineExceeded) as info:
        _send(hostile, Limits(answer_deadline=1.5))
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 2.5
    assert isinstance(info.value, ReadTimeout)
    assert (info.value.limit, info.value.delivered) == ("limits.answer_deadline", None)
    assert info.value.stage is Stage.STATUS_LINE  # five bytes of "HTTP/1.1 200" in 1.5 s


@pytest.mark.slow
def test_the_default_deadline_follows_the_timeouts(hostile: Hostile) -> None:
    """Unset, the deadline is the connect timeout plus twice the read timeout: 3 s here."""
    dripping = h.head(200, "text/xml", 1000) + b"b" * 1000
    hostile.default = h.fail_after_request(None, h.drip(dripping, 0.2))
    started = time.monotonic()
    with pytest.raises(AnswerDeadlineExceeded, match="deadline of 3s"):
        _send(hostile, Limits())
    assert time.monotonic() - started < 4


# ----------------------------------------------------------------------------- the journal


def test_an_answer_over_the_limit_leaves_the_operation_unknown(
    hostile: Hostile, tmp_path: Path
) -> None:
    fake = FakeAnpr()
    bomb = _gzip_of_zeros(8 * MiB)

    def applied_then_bomb(peer: h.Peer, response: HttpResponse | None) -> None:
        peer.send(h.head(200, "text/xml", len(bomb), "Content-Encoding: gzip") + bomb)
        peer.wait_for_close()

    hostile.default = h.fail_after_request(fake, applied_then_bomb)
    journal = Journal(tmp_path / "j.sqlite", durable=False)
    settings = journal_settings(max_attempts=2).replace(
        base_url=hostile.url, ca_bundle=hostile.ca_pem, timeouts=FAST, limits=SMALL
    )
    with Client(settings, journal=journal) as client, pytest.raises(AnswerTooLarge):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    assert record.state is State.OUTCOME_UNKNOWN
    assert [a.error_type for a in record.attempts] == ["AnswerTooLarge"] * 2
    assert sum(fake.applied.values()) == 1


def test_the_journal_keeps_a_bounded_copy_of_a_failed_answer(tmp_path: Path) -> None:
    page = b"<html>" + b"busy " * 100_000 + b"</html>"  # 500 kB, under the answer limit
    journal = Journal(tmp_path / "j.sqlite", durable=False)
    settings = journal_settings(max_attempts=2).replace(limits=Limits(journal_answer_bytes=1024))
    transport = MockTransport(lambda r: HttpResponse(503, {"content-type": "text/html"}, page))
    with (
        Client(settings, transport=transport, journal=journal) as client,
        pytest.raises(ServerUnavailable),
    ):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    assert [a.response for a in record.attempts] == [page[:1024]] * 2


# ----------------------------------------------------------------------------- settings


def test_limits_and_trust_come_from_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "anpr.toml"
    path.write_text(
        'codice_istat = "058091"\n'
        "[limits]\nmax_answer_bytes = 2048\nanswer_deadline = 30\nmax_mtom_parts = 8\n"
        "journal_answer_bytes = 512\n"
        "[tls]\ntrust_system = true\n",
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert settings.limits == Limits(2048, 30.0, 8, 512)
    assert settings.tls.trust_system is True
    assert settings.limits.deadline(Timeouts(connect=5, read=60)) == 30
    assert Limits().deadline(Timeouts(connect=5, read=60)) == 125
    assert Limits().max_answer_bytes == DEFAULT_MAX_ANSWER_BYTES


@pytest.mark.parametrize(
    ("table", "setting"),
    [
        ("[limits]\nmax_answer_bytes = 0", "limits.max_answer_bytes"),
        ("[limits]\nmax_answer_bytes = '1 MB'", "limits.max_answer_bytes"),
        ("[limits]\nanswer_deadline = -1", "limits.answer_deadline"),
        ("[limits]\nmax_mtom_parts = 0", "limits.max_mtom_parts"),
        ("[limits]\nbogus = 1", "limits.bogus"),
        ("[tls]\ntrust_system = 'yes'", "tls.trust_system"),
    ],
)
def test_bad_limits_name_the_setting(tmp_path: Path, table: str, setting: str) -> None:
    path = tmp_path / "anpr.toml"
    path.write_text(f'codice_istat = "058091"\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_settings(path, env={})
    assert info.value.setting == setting


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["gzip bomb", "endless chunked"])
def test_the_default_limit_holds_against_the_large_attacks(hostile: Hostile, attack: str) -> None:
    if attack == "gzip bomb":
        bomb = _gzip_of_zeros(1024 * MiB)  # 1 GiB of zeros in about 1 MB
        hostile.default = _answer(
            h.head(200, "text/xml", len(bomb), "Content-Encoding: gzip"), bomb
        )
    else:
        hostile.default = _endless_chunks(CHUNKED)
    with pytest.raises(AnswerTooLarge, match=str(DEFAULT_MAX_ANSWER_BYTES)):
        _send(hostile, Limits(), Timeouts(connect=5, read=5))
