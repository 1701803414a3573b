"""A failure is classified by *where* it happened, for every kind of failure, on every attempt.

The hostile server (:mod:`tests.client.hostile`) fails each attempt at one stage — in the TLS
handshake, while the request is read, right after it, in the status line, the headers, the
body, or with an answer that is not XML — and, where a real server cannot produce a failure
(a timeout while connecting, a break or ``MemoryError`` in the middle of writing, a
``MemoryError`` while reading), the transport's ``trace`` hook raises it at that stage. Before
the request's last byte was written the error says *not delivered*; after it, *outcome
unknown*; and the journal agrees: ``anpr journal pending`` lists the unknown ones, a
not-delivered one is settled ``failed_not_delivered`` and is safe to send again.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    MalformedAnswer,
    OutcomeUnknown,
    ProtocolError,
    ReadTimeout,
    TLSError,
    TLSErrorAfterSending,
    TransportError,
    WriteError,
    WriteTimeout,
)
from anpr_client.journal import Disposition, Journal, State, classify, resolve
from anpr_client.settings import Timeouts
from anpr_client.transport import HttpRequest, HttpTransport, Stage
from anpr_client.transport.tls import create_ssl_context
from tests.client import hostile as h
from tests.client.hostile import Behaviour, Hostile, hostile
from tests.journal.support import COMUNE, FakeAnpr, payload_5005
from tests.journal.support import settings as journal_settings

__all__ = ["hostile"]

ATTEMPTS = 3
FAST = Timeouts(connect=0.5, read=0.5)


@dataclass(frozen=True)
class Failure:
    """How every attempt fails: what the server does (given the fake ANPR), or what the trace
    hook raises at which stage; the error expected, the stage it names, and whether the
    server applied the operation before failing."""

    behaviour: Callable[[FakeAnpr], Behaviour]
    error: type[AnprError]
    stage: Stage | None
    applies: bool = False
    inject: tuple[Stage, type[BaseException]] | None = None

    @property
    def delivered(self) -> bool | None:
        return None if self.stage is None else self.stage.delivered


def _after(failure: h.Failing, apply: bool = True) -> Callable[[FakeAnpr], Behaviour]:
    return lambda fake: h.fail_after_request(fake if apply else None, failure)


FAILURES: dict[str, Failure] = {
    # not delivered: the request's last byte never left
    "connect: timeout (injected)": Failure(
        h.behave, ConnectTimeout, Stage.CONNECT, inject=(Stage.CONNECT, TimeoutError)
    ),
    "tls_handshake: reset": Failure(
        lambda _: h.reset_in_handshake, ConnectError, Stage.TLS_HANDSHAKE
    ),
    "tls_handshake: stalled": Failure(
        lambda _: h.stall_handshake, ConnectTimeout, Stage.TLS_HANDSHAKE
    ),
    "tls_handshake: MemoryError (injected)": Failure(
        h.behave, ConnectError, Stage.TLS_HANDSHAKE, inject=(Stage.TLS_HANDSHAKE, MemoryError)
    ),
    "sending: reset (injected)": Failure(
        h.behave, WriteError, Stage.SENDING, inject=(Stage.SENDING, ConnectionResetError)
    ),
    "sending: MemoryError (injected)": Failure(
        h.behave, WriteError, Stage.SENDING, inject=(Stage.SENDING, MemoryError)
    ),
    # outcome unknown: sent, applied or not
    "sent: closed, not applied": Failure(
        _after(h.close_silently, False), ConnectionLost, Stage.SENT
    ),
    "sent: closed after applying": Failure(
        _after(h.close_silently), ConnectionLost, Stage.SENT, applies=True
    ),
    "sent: reset after applying": Failure(
        _after(h.reset_at_once), ConnectionLost, Stage.SENT, True
    ),
    "sent: no answer": Failure(_after(h.stay_silent), ReadTimeout, Stage.SENT, True),
    "sent: corrupted TLS record": Failure(
        _after(h.corrupt_first_record), TLSErrorAfterSending, Stage.SENT, True
    ),
    "status_line: cut": Failure(
        _after(h.half_status_line), ConnectionLost, Stage.STATUS_LINE, True
    ),
    "status_line: not HTTP": Failure(
        _after(h.garbage_status_line), MalformedAnswer, Stage.STATUS_LINE, True
    ),
    "headers: corrupted TLS record": Failure(
        _after(h.corrupt_headers), TLSErrorAfterSending, Stage.HEADERS, True
    ),
    "body: cut": Failure(_after(h.cut_body), ConnectionLost, Stage.BODY, True),
    "body: corrupted TLS record": Failure(
        _after(h.corrupt_body), TLSErrorAfterSending, Stage.BODY, True
    ),
    "body: gzip that does not decode": Failure(
        _after(h.bad_gzip), MalformedAnswer, Stage.BODY, True
    ),
    "body: MemoryError (injected)": Failure(
        h.behave, ConnectionLost, Stage.BODY, True, inject=(Stage.BODY, MemoryError)
    ),
    "parse: not XML": Failure(_after(h.not_xml), ProtocolError, None, True),
}


def _trace(failure: Failure) -> Callable[[Stage], None] | None:
    if failure.inject is None:
        return None
    stage, kind = failure.inject

    def trace(now: Stage) -> None:
        if now is stage:
            raise kind("injected")

    return trace


def _client(server: Hostile, journal: Journal, failure: Failure | None = None) -> Client:
    settings = journal_settings(max_attempts=ATTEMPTS).replace(
        base_url=server.url, ca_bundle=server.ca_pem, timeouts=FAST
    )
    trace = _trace(failure) if failure is not None else None
    transport = HttpTransport(create_ssl_context(server.ca_pem), trace=trace)
    return Client(settings, transport=transport, journal=journal)


def _pending(journal: Path) -> list[dict[str, object]]:
    from anpr_client.cli.main import cli

    result = CliRunner().invoke(
        cli, ["journal", "pending", "--json"], env={"ANPR_JOURNAL": str(journal), "ANPR_CONFIG": ""}
    )
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("name", list(FAILURES))
def test_every_stage_on_every_attempt(name: str, hostile: Hostile, tmp_path: Path) -> None:
    failure = FAILURES[name]
    fake = FakeAnpr()
    hostile.default = failure.behaviour(fake)
    path = tmp_path / "journal.sqlite"
    journal = Journal(path, durable=False)
    with _client(hostile, journal, failure) as client, pytest.raises(failure.error) as info:
        client.call("5005", payload_5005())
    exc = info.value
    if isinstance(exc, TransportError):
        assert exc.stage == failure.stage, exc
        assert exc.delivered is failure.delivered
        assert isinstance(exc, OutcomeUnknown) is (failure.delivered is None)
    disposition = Disposition.OUTCOME_UNKNOWN
    if failure.delivered is False:
        disposition = Disposition.NOT_DELIVERED
    assert classify(exc, resend=False) is disposition
    ((key, applied),) = fake.applied.items() if failure.applies else ((None, 0),)
    assert sum(fake.applied.values()) == applied  # once at most: every resend has the same id
    (record,) = journal.since(journal_start())
    ident = record.id_operazione_comune
    assert [a.state for a in record.attempts] == [
        "not_delivered" if failure.delivered is False else "outcome_unknown"
    ] * ATTEMPTS
    pending = [p["idOperazioneComune"] for p in _pending(path)]
    if failure.delivered is False:
        assert (record.state, record.outcome) == (State.FAILED_NOT_DELIVERED, "not_applied")
        assert fake.applied == {}
        assert pending == []
        # Safe to send again: nothing reached ANPR. The same id, now with a working server.
        hostile.default = h.behave(fake)
        with _client(hostile, journal) as client:
            result = client.call("5005", payload_5005(), header={"idOperazioneComune": ident})
        assert result.id_operazione_comune == ident
    else:
        assert record.state is State.OUTCOME_UNKNOWN
        assert pending == [ident]
        if failure.applies:
            assert key == (COMUNE, ident)
        hostile.default = h.behave(fake)
        with _client(hostile, journal) as client:
            resolve(client, journal, journal.get(ident))
        assert journal.get(ident).state is State.RESOLVED
    assert fake.applied == {(COMUNE, ident): 1}
    assert journal.get(ident).outcome == "ok"
    assert _pending(path) == []


def journal_start() -> dt.datetime:
    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# ----------------------------------------------------------------------------- the transport


def _send(server: Hostile, body: bytes = b"<request/>", **kwargs: object) -> None:
    transport = HttpTransport(create_ssl_context(server.ca_pem), **kwargs)  # type: ignore[arg-type]
    try:
        transport.send(HttpRequest(server.url + "/x", body, timeouts=FAST))
    finally:
        transport.close()


def test_an_untrusted_server_certificate_is_not_delivered(tmp_path: Path) -> None:
    stranger = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stranger.issue_cert("127.0.0.1").configure_cert(context)
    with h.serve(trustme.CA(), tmp_path, context=context) as server:
        server.default = h.never_read
        with pytest.raises(TLSError) as info:
            _send(server)
    assert (info.value.delivered, info.value.stage) == (False, Stage.TLS_HANDSHAKE)
    assert "certificate verify failed" in str(info.value)


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [(h.never_read, WriteTimeout), (h.reset_while_reading, WriteError)],
)
def test_a_request_that_cannot_be_written_whole_was_not_delivered(
    hostile: Hostile, behaviour: Behaviour, error: type[TransportError]
) -> None:
    """A real server stops reading (or resets) while a large request is being written."""
    hostile.default = behaviour
    with pytest.raises(error) as info:
        _send(hostile, b"x" * (64 * 1024 * 1024))
    assert (info.value.delivered, info.value.stage) == (False, Stage.SENDING)
    assert hostile.received == []


def test_a_connection_the_server_closed_while_idle_is_not_reused(hostile: Hostile) -> None:
    fake = FakeAnpr()

    def once_then_close(peer: h.Peer) -> None:
        peer.handshake()
        peer.answer(h.as_anpr(fake, peer))
        time.sleep(0.2)  # the client has read the answer; now a clean close (FIN)

    hostile.script = [once_then_close]
    hostile.default = h.behave(fake)
    transport = HttpTransport(create_ssl_context(hostile.ca_pem))
    request = HttpRequest(hostile.url, _signed_free_request(), timeouts=FAST)
    try:
        assert transport.send(request).status == 200
        time.sleep(0.4)
        assert transport.send(request).status == 200
    finally:
        transport.close()
    assert hostile.connections == 2
    assert sum(fake.applied.values()) == 1


def test_a_pooled_connection_that_breaks_before_sending_is_replaced(hostile: Hostile) -> None:
    """The server may close a kept-alive connection just as a request starts on it: the
    request, never written, goes on a new connection (this is not a resend)."""
    fake = FakeAnpr()
    hostile.default = h.behave(fake)
    sendings: list[int] = []

    def trace(stage: Stage) -> None:
        if stage is Stage.SENDING:
            sendings.append(1)
            if len(sendings) == 2:  # the second request, on the pooled connection
                raise ConnectionResetError("injected: reset as the request starts")

    transport = HttpTransport(create_ssl_context(hostile.ca_pem), trace=trace)
    request = HttpRequest(hostile.url, _signed_free_request(), timeouts=FAST)
    try:
        assert transport.send(request).status == 200
        assert transport.send(request).status == 200
    finally:
        transport.close()
    assert (len(sendings), hostile.connections) == (3, 2)
    assert len(hostile.received) == 2


def _signed_free_request() -> bytes:
    client = Client(journal_settings(), journal=None)
    return client.prepare("5005", payload_5005()).envelope


def test_a_handshake_refusal_read_after_sending_is_not_delivered() -> None:
    """With TLS 1.3 a server refusing our client certificate says so with an alert the client
    reads only after writing its request: the server never accepted the connection."""
    from anpr_client.transport.https import _failure

    refusal = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert")
    refusal.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    request = HttpRequest("https://anpr.test/x", b"")
    assert type(_failure(refusal, Stage.SENT, request)) is TLSError
    corrupted = ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac")
    corrupted.reason = "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    assert type(_failure(corrupted, Stage.SENT, request)) is TLSErrorAfterSending
    # Once the answer has begun, even a handshake-looking alert is after sending.
    assert type(_failure(refusal, Stage.HEADERS, request)) is TLSErrorAfterSending


def test_every_transport_error_class_says_delivered() -> None:
    import inspect

    from anpr_client.errors import exceptions

    classes = [
        c
        for _, c in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(c, TransportError) and c is not TransportError
    ]
    assert len(classes) >= 14
    for cls in classes:
        assert cls.delivered in (False, None, True), cls
        if cls.delivered is False:  # not sent: never "may have been applied"
            assert not issubclass(cls, OutcomeUnknown), cls
        if cls.delivered is None:  # sent, no answer: always "may have been applied"
            assert issubclass(cls, OutcomeUnknown), cls
