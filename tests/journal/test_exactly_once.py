"""The journal's promise, as a property: every operation is applied exactly once or known not
applied, and the journal says which.

Hypothesis draws, for each attempt of a journaled 5005, how it fails — at any stage, from the
hostile loopback server (:mod:`tests.client.hostile`) or injected by the transport's ``trace``
hook, the server having applied the operation first or not — or that it succeeds. The server
is an ANPR stub with ANPR's idempotency rules (:class:`~tests.journal.support.FakeAnpr`: one
application per ``idOperazioneComune``, the stored answer replayed), so the test knows what
really happened and compares it with what the journal says:

- right after the call: ``answered`` ⇒ applied once; ``failed_not_delivered`` ⇒ applied
  never; otherwise ``outcome_unknown``, listed as pending, applied once or never;
- after ``resolve`` against a server that behaves: applied exactly once, settled ``ok``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprError
from anpr_client.journal import Disposition, Journal, State, classify, resolve
from anpr_client.settings import Timeouts
from anpr_client.transport import HttpTransport, Stage
from anpr_client.transport.tls import create_ssl_context
from tests.client import hostile as h
from tests.journal.support import COMUNE, FakeAnpr, payload_5005
from tests.journal.support import settings as journal_settings

ATTEMPTS = 3


@dataclass(frozen=True)
class Plan:
    """One attempt: the server's behaviour (``None``: no connection reaches it), and what the
    client's trace raises at which stage (``None``: nothing)."""

    name: str
    server: Callable[[FakeAnpr], h.Behaviour] | None
    inject: tuple[Stage, type[BaseException]] | None = None


def _after(failure: h.Failing, applies: bool) -> Callable[[FakeAnpr], h.Behaviour]:
    return lambda fake: h.fail_after_request(fake if applies else None, failure)


SERVER_FAILURES: dict[str, h.Failing] = {
    "closed after the request": h.close_silently,
    "reset after the request": h.reset_at_once,
    "silent after the request": h.stay_silent,
    "corrupted first record": h.corrupt_first_record,
    "status line cut": h.half_status_line,
    "headers corrupted": h.corrupt_headers,
    "body cut": h.cut_body,
    "body corrupted": h.corrupt_body,
    "gzip that does not decode": h.bad_gzip,
    "not XML": h.not_xml,
}
PLANS = [
    Plan("answers", h.behave),
    Plan("reset in the handshake", lambda fake: h.reset_in_handshake),
    Plan("connect timeout (injected)", None, (Stage.CONNECT, TimeoutError)),
    Plan(
        "reset in the handshake (injected)", h.behave, (Stage.TLS_HANDSHAKE, ConnectionResetError)
    ),
    Plan("reset while writing (injected)", h.behave, (Stage.SENDING, ConnectionResetError)),
    Plan("MemoryError while writing (injected)", h.behave, (Stage.SENDING, MemoryError)),
    Plan("MemoryError while reading (injected)", h.behave, (Stage.BODY, MemoryError)),
    *(
        Plan(f"{name}, {'applied' if applies else 'not applied'}", _after(failure, applies))
        for name, failure in SERVER_FAILURES.items()
        for applies in (True, False)
    ),
]


NOT_DELIVERED = [p for p in PLANS if p.inject is not None and p.inject[0] is not Stage.BODY]
NOT_DELIVERED.append(PLANS[1])  # the server resets the handshake
"""Plans whose attempt never delivers: drawn alone too, so that every attempt fails so."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Hostile]:
    with h.serve(trustme.CA(), tmp_path_factory.mktemp("exactly-once")) as hostile:
        yield hostile


def _transport(server: h.Hostile, plans: list[Plan]) -> HttpTransport:
    """A transport whose ``trace`` plays each attempt's injected failure."""
    attempt = [-1]

    def trace(stage: Stage) -> None:
        if stage is Stage.CONNECT:
            attempt[0] += 1
        plan = plans[attempt[0]] if attempt[0] < len(plans) else None
        if plan is not None and plan.inject is not None and plan.inject[0] is stage:
            raise plan.inject[1]("injected")

    return HttpTransport(create_ssl_context(server.ca_pem), pool_size=0, trace=trace)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.sampled_from([True, True, True, False]).flatmap(
        lambda mixed: (
            st.lists(st.sampled_from(PLANS), min_size=1, max_size=ATTEMPTS)
            if mixed
            else st.lists(st.sampled_from(NOT_DELIVERED), min_size=ATTEMPTS, max_size=ATTEMPTS)
        )
    )
)
def test_applied_exactly_once_or_known_not_applied(server: h.Hostile, plans: list[Plan]) -> None:
    fake = FakeAnpr()
    server.script = [p.server(fake) for p in plans if p.server is not None]
    server.default = h.behave(fake)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite", durable=False)
        settings = journal_settings(max_attempts=ATTEMPTS).replace(
            base_url=server.url, ca_bundle=server.ca_pem, timeouts=Timeouts(connect=1, read=0.3)
        )
        raised: AnprError | None = None
        with Client(settings, transport=_transport(server, plans), journal=journal) as client:
            try:
                client.call("5005", payload_5005())
            except AnprError as exc:
                raised = exc
        (record,) = journal.since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        ident = record.id_operazione_comune
        applied = fake.applied[(COMUNE, ident)]
        event(f"journal: {record.state}, applied {applied}")
        assert applied <= 1
        if record.state is State.ANSWERED:
            assert (raised, applied, record.outcome) == (None, 1, "ok")
        elif record.state is State.FAILED_NOT_DELIVERED:
            assert raised is not None
            assert classify(raised, resend=False) is Disposition.NOT_DELIVERED
            assert (applied, record.outcome) == (0, "not_applied")
            assert journal.pending() == []
            return
        else:
            assert record.state is State.OUTCOME_UNKNOWN, record.state
            assert raised is not None
            assert classify(raised, resend=True) is Disposition.OUTCOME_UNKNOWN
            assert [p.id_operazione_comune for p in journal.pending()] == [ident]
            server.script = []
            with Client(settings, journal=journal) as healthy:
                resolve(healthy, journal, record)
            record = journal.get(ident)
            assert (record.state, record.outcome) == (State.RESOLVED, "ok")
        assert fake.applied == {(COMUNE, ident): 1}
        assert journal.pending() == []
