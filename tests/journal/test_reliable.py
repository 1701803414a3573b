"""The journaled call and resolve, against a fake ANPR with ANPR's idempotency rules.

Every test checks both sides: how many times the fake applied the operation, and what the
journal says happened.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprRejected,
    ConnectError,
    ConnectionLost,
    JournalError,
    OperationHeld,
    OperationNotAllowedError,
    RejectedByPolicy,
)
from anpr_client.journal import RetryPolicy, SqlJournal, State, journaled_call, resolve
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.journal.stores import MakeJournal, Raw
from tests.journal.support import (
    COMUNE,
    SOAP,
    FakeAnpr,
    make_client,
    no_sleep,
    payload_3002,
    payload_5005,
    settings,
)


@pytest.fixture
def journal(make_journal: MakeJournal) -> SqlJournal:
    return make_journal(durable=False)


def _sent_ids(fake: FakeAnpr, op: str = "5005") -> list[str]:
    out = []
    for r in fake.requests:
        body = etree.fromstring(r.body).find(f"{{{SOAP}}}Body")
        assert body is not None
        if etree.QName(body[0]).localname == f"Richiesta{op}":
            out.append(body[0].findtext("testataRichiesta/idOperazioneComune") or "")
    return out


def _body(envelope: bytes) -> bytes:
    body = etree.fromstring(envelope).find(f"{{{SOAP}}}Body")
    assert body is not None
    return etree.tostring(body[0], method="c14n")


# ----------------------------------------------------------------------------- fault matrix

# fault → the states of the attempts the journal must show
MATRIX = {
    None: ["answered"],
    "refuse": ["not_delivered", "answered"],
    "drop": ["outcome_unknown", "answered"],
    "lose": ["outcome_unknown", "answered"],
    "timeout": ["outcome_unknown", "answered"],
    "503": ["outcome_unknown", "answered"],
    "503-after": ["outcome_unknown", "answered"],
    "fault": ["outcome_unknown", "answered"],
    "fault-after": ["outcome_unknown", "answered"],
    "garbage": ["outcome_unknown", "answered"],
}


@pytest.mark.parametrize("fault", list(MATRIX))
def test_fault_matrix_applies_exactly_once(journal: SqlJournal, fault: str | None) -> None:
    fake = FakeAnpr(script=[fault])
    client = make_client(fake, journal)
    result = client.call("5005", payload_5005())
    ident = result.id_operazione_comune
    assert ident is not None
    assert ident.startswith(journal.id_prefix)
    assert fake.applied == {(COMUNE, ident): 1}
    assert _sent_ids(fake) == [ident] * len(MATRIX[fault])  # never a new id
    record = journal.get(ident)
    assert (record.state, record.outcome) == (State.ANSWERED, "ok")
    assert record.id_operazione_anpr == result.id_operazione_anpr
    assert [a.state for a in record.attempts] == MATRIX[fault]
    assert record.resolution == ("answer" if fault in (None, "refuse") else "replay")
    assert record.may_have_reached
    # Each attempt's envelope is exactly what went on the wire.
    assert [a.envelope for a in record.attempts] == [r.body for r in fake.requests]
    assert record.response == result.raw
    assert journal.pending() == []


def test_a_resend_is_the_same_request(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"])
    client = make_client(fake, journal)
    result = client.call("3002", payload_3002())
    first, second = (r.body for r in fake.requests)
    assert _body(first) == _body(second)  # same testata (same dataOraRichiesta), same payload
    record = journal.get(result.id_operazione_comune or "")
    assert record.payload == {
        **payload_3002(),
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "0",
            "dataRiferimentoRichiesta": "2026-01-15",
        },
    }
    assert record.header["idOperazioneComune"] == result.id_operazione_comune


# ----------------------------------------------------------------------------- final answers


def test_ko_is_final_and_recorded(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["ko"])
    client = make_client(fake, journal)
    with pytest.raises(AnprRejected) as info:
        client.call("5005", payload_5005())
    assert info.value.codes == ("ES034",)
    ident = info.value.id_operazione_comune or ""
    record = journal.get(ident)
    assert (record.state, record.outcome, record.error_codes) == (
        State.REJECTED,
        "ko",
        ("ES034",),
    )
    assert len(fake.requests) == 1
    assert [a.state for a in record.attempts] == ["rejected"]
    assert record.response is not None
    assert b"ES034" in record.response


def test_en148_on_a_first_send_is_a_refusal(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["busy"])
    with pytest.raises(OperationNotAllowedError):
        make_client(fake, journal).call("5005", payload_5005())
    assert len(fake.requests) == 1
    (record,) = list(journal.since(_epoch()))
    assert (record.state, record.error_codes) == (State.REJECTED, ("EN148",))


def test_en148_on_a_resend_waits_for_the_first(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose", "busy", "busy"])
    waits: list[float] = []
    client = make_client(fake, journal)
    result = journaled_call(
        client,
        journal,
        "5005",
        payload_5005(),
        policy=RetryPolicy(max_attempts=4, backoff=1.0, max_backoff=10.0),
        sleep=waits.append,
        rng=lambda: 1.0,
    )
    record = journal.get(result.id_operazione_comune or "")
    assert [a.state for a in record.attempts] == [
        "outcome_unknown",
        "in_progress",
        "in_progress",
        "answered",
    ]
    assert waits == [1.0, 2.0, 4.0]
    assert sum(fake.applied.values()) == 1


def test_still_in_progress_at_the_end_raises_the_unknown(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose", "busy", "busy", "busy"])
    with pytest.raises(ConnectionLost) as info:  # not the EN148 KO: that would read as final
        make_client(fake, journal).call("5005", payload_5005())
    assert "anpr journal resolve" in "\n".join(info.value.__notes__)
    (record,) = journal.pending()
    assert [a.state for a in record.attempts] == ["outcome_unknown"] + ["in_progress"] * 3


def test_gateway_refusal_is_final_when_nothing_reached(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["policy"])
    with pytest.raises(RejectedByPolicy):
        make_client(fake, journal).call("5005", payload_5005())
    (record,) = list(journal.since(_epoch()))
    assert (record.state, record.outcome) == (State.FAILED, "not_applied")
    assert len(fake.requests) == 1


def test_gateway_refusal_after_an_unknown_leaves_it_unknown(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose", "policy"])
    with pytest.raises(RejectedByPolicy) as info:
        make_client(fake, journal).call("5005", payload_5005())
    assert "anpr journal resolve" in "\n".join(info.value.__notes__)
    (record,) = journal.pending()
    assert record.state is State.OUTCOME_UNKNOWN
    assert record.owner is None


# ----------------------------------------------------------------------------- attempts run out


def test_never_delivered_settles_not_applied(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["refuse"] * 4)
    with pytest.raises(ConnectError):
        make_client(fake, journal).call("5005", payload_5005())
    (record,) = list(journal.since(_epoch()))
    assert (record.state, record.outcome, record.may_have_reached) == (
        State.FAILED_NOT_DELIVERED,
        "not_applied",
        False,
    )
    assert len(record.attempts) == 4
    assert not fake.applied
    assert journal.pending() == []


def test_unknown_outcome_is_left_for_resolve(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"] * 4)
    client = make_client(fake, journal)
    with pytest.raises(ConnectionLost) as info:
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    ident = record.id_operazione_comune
    assert record.state is State.OUTCOME_UNKNOWN
    assert not record.in_flight()
    assert f"anpr journal resolve {ident}" in "\n".join(info.value.__notes__)
    assert fake.applied == {(COMUNE, ident): 1}
    done = resolve(client, journal, record, sleep=no_sleep)
    assert done.settled
    assert done.result is not None
    assert (done.record.state, done.record.outcome, done.record.resolution) == (
        State.RESOLVED,
        "ok",
        "replay",
    )
    assert fake.applied == {(COMUNE, ident): 1}
    assert _sent_ids(fake) == [ident] * 5
    assert journal.pending() == []


def test_a_worker_lost_on_another_machine_is_taken_over_after_its_lease(
    journal: SqlJournal, raw: Raw
) -> None:
    """The operation's holder is a worker of another machine that died mid-send: nothing
    here can see its process, so resolve leaves it alone while the lease runs, and settles
    it (a replay with the same id, applied once) as soon as the lease has run out."""
    fake = FakeAnpr(script=["lose"] * 4)
    client = make_client(fake, journal)
    with pytest.raises(ConnectionLost):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    ident = record.id_operazione_comune
    now = journal._clock()  # the store's clock (a database server's on PostgreSQL)
    raw(
        journal,
        "UPDATE operations SET state = 'sending', owner = ?, lease_until = ? WHERE id = ?",
        ("worker-7.other-machine:4242:boot.1", now + 1.5, record.key),
    )
    held = journal.get(ident)
    assert held.in_flight()
    with pytest.raises(OperationHeld, match="another process"):
        resolve(client, journal, held, sleep=no_sleep)
    assert fake.applied == {(COMUNE, ident): 1}  # nothing sent meanwhile
    while journal._clock() <= now + 1.5:
        time.sleep(0.1)
    assert not journal.get(ident).in_flight()
    done = resolve(client, journal, journal.get(ident), sleep=no_sleep)
    assert (done.record.state, done.record.outcome) == (State.RESOLVED, "ok")
    assert done.record.owner is None
    assert fake.applied == {(COMUNE, ident): 1}  # applied once, never twice


def test_interruption_is_recorded_as_unknown(journal: SqlJournal) -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise KeyboardInterrupt

    client = Client(settings(), transport=MockTransport(handler), journal=journal)
    with pytest.raises(KeyboardInterrupt):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    assert record.state is State.OUTCOME_UNKNOWN
    assert record.attempts[0].error_type == "KeyboardInterrupt"


# ----------------------------------------------------------------------------- 3003 reconcile


def test_reconcile_settles_from_the_stored_answer(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"])
    client = make_client(fake, journal, reconcile=True)
    result = client.call("5005", payload_5005())
    record = journal.get(result.id_operazione_comune or "")
    assert [a.kind for a in record.attempts] == ["send", "lookup"]
    assert [a.state for a in record.attempts] == ["outcome_unknown", "answered"]
    assert (record.state, record.resolution) == (State.ANSWERED, "lookup")
    assert record.attempts[1].id_operazione_comune != record.id_operazione_comune
    assert len(_sent_ids(fake)) == 1  # settled without resending
    assert record.id_operazione_anpr == result.id_operazione_anpr == "900001"


def test_reconcile_not_found_resends_the_same_id(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["drop"])
    client = make_client(fake, journal, reconcile=True)
    result = client.call("5005", payload_5005())
    record = journal.get(result.id_operazione_comune or "")
    assert [(a.kind, a.state) for a in record.attempts] == [
        ("send", "outcome_unknown"),
        ("lookup", "not_found"),
        ("send", "answered"),
    ]
    assert sum(fake.applied.values()) == 1


def test_reconcile_finds_a_ko(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["ko-lose"])
    client = make_client(fake, journal, reconcile=True)
    with pytest.raises(AnprRejected) as info:
        client.call("5005", payload_5005())
    assert info.value.codes == ("ES034",)
    (record,) = list(journal.since(_epoch()))
    assert (record.state, record.outcome, record.resolution) == (State.REJECTED, "ko", "lookup")


def test_reconcile_in_progress_then_resend(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"], lookup=lambda entry: "<statoLavorazione>1</statoLavorazione>")
    client = make_client(fake, journal, reconcile=True)
    result = client.call("5005", payload_5005())
    record = journal.get(result.id_operazione_comune or "")
    assert [a.state for a in record.attempts] == ["outcome_unknown", "in_progress", "answered"]
    assert sum(fake.applied.values()) == 1


def test_consultations_are_never_looked_up(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"])
    client = make_client(fake, journal, reconcile=True)
    result = client.call("3002", payload_3002())
    record = journal.get(result.id_operazione_comune or "")
    assert [a.kind for a in record.attempts] == ["send", "send"]


# ----------------------------------------------------------------------------- caller's ids


def test_callers_id_is_an_idempotency_key(journal: SqlJournal) -> None:
    fake = FakeAnpr()
    client = make_client(fake, journal)
    first = client.call("5005", payload_5005(), header={"idOperazioneComune": "GEST42"})
    assert first.id_operazione_comune == "GEST42"
    again = client.call("5005", payload_5005(), header={"idOperazioneComune": "GEST42"})
    assert again.id_operazione_anpr == first.id_operazione_anpr
    assert len(fake.requests) == 1  # the recorded answer, nothing sent
    changed = payload_5005()
    changed["datiControllo"]["tipoMutazione"] = "01"
    with pytest.raises(JournalError, match="different request"):
        client.call("5005", changed, header={"idOperazioneComune": "GEST42"})
    with pytest.raises(JournalError, match="operation 5005"):
        client.call("3002", payload_3002(), header={"idOperazioneComune": "GEST42"})
    assert len(fake.requests) == 1


def test_callers_id_continues_an_unknown_operation(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"] * 4)
    client = make_client(fake, journal)
    payload: dict[str, Any] = {**payload_5005(), "testataRichiesta": {"idOperazioneComune": "K1"}}
    with pytest.raises(ConnectionLost):
        client.call("5005", payload)
    result = client.call("5005", payload)
    assert result.id_operazione_comune == "K1"
    assert fake.applied == {(COMUNE, "K1"): 1}
    record = journal.get("K1")
    assert record.state is State.ANSWERED
    assert len(record.attempts) == 5
    # The continuation sent the recorded testata, not a new one.
    assert len({_body(a.envelope or b"") for a in record.attempts}) == 1


def test_recorded_ko_is_raised_again(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["ko"])
    client = make_client(fake, journal)
    for _ in range(2):
        with pytest.raises(AnprRejected, match="ES034"):
            client.call("5005", payload_5005(), header={"idOperazioneComune": "K2"})
    assert len(fake.requests) == 1


# ----------------------------------------------------------------------------- resolve


def test_resolve_abandons_what_was_never_sent(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["refuse"] * 4)
    client = make_client(fake, journal)
    record, _ = journal.open_operation(
        comune=COMUNE,
        service="5000",
        operation="5005",
        id_operazione_comune="NEVER1",
        url=client.settings.url_for("5000"),
        header={"idOperazioneComune": "NEVER1"},
        payload=payload_5005(),
        lease=-1,  # its process is gone
    )
    done = resolve(client, journal, record, sleep=no_sleep)
    assert (done.record.state, done.record.outcome, done.record.resolution) == (
        State.FAILED_NOT_DELIVERED,
        "not_applied",
        "abandoned",
    )
    assert fake.requests == []


def test_resolve_checks_it_is_the_same_place(journal: SqlJournal, tmp_path: Path) -> None:
    fake = FakeAnpr(script=["lose"] * 4)
    client = make_client(fake, journal)
    with pytest.raises(ConnectionLost):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    other = Client(
        settings().replace(codice_istat="001272"), transport=fake.transport(), journal=journal
    )
    with pytest.raises(JournalError, match="belongs to Comune 058091"):
        resolve(other, journal, record)
    moved = Client(
        settings().replace(base_url="https://127.0.0.1:9"),
        transport=fake.transport(),
        journal=journal,
    )
    with pytest.raises(JournalError, match="settings now point"):
        resolve(moved, journal, record, sleep=no_sleep)
    assert sum(fake.applied.values()) == 1


def test_resolve_keeps_unknown_when_still_unreachable(journal: SqlJournal) -> None:
    fake = FakeAnpr(script=["lose"] * 8)
    client = make_client(fake, journal)
    with pytest.raises(ConnectionLost):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    done = resolve(client, journal, record, sleep=no_sleep)
    assert not done.settled
    assert isinstance(done.error, ConnectionLost)
    assert done.record.state is State.OUTCOME_UNKNOWN
    assert len(done.record.attempts) == 8


def test_client_without_journal_does_not_journal(tmp_path: Path) -> None:
    fake = FakeAnpr(script=["lose"])
    client = Client(settings(), transport=fake.transport(), journal=None)
    with pytest.raises(ConnectionLost):
        client.call("5005", payload_5005())
    assert len(fake.requests) == 1


def test_typed_calls_are_journaled(journal: SqlJournal) -> None:
    from anpr_client.models import from_payload
    from anpr_client.models.consultazione import Richiesta3002

    fake = FakeAnpr(script=["503"])
    client = make_client(fake, journal)
    result = client.consultazione.find_person(from_payload(Richiesta3002, payload_3002()))
    record = journal.get(result.id_operazione_comune or "")
    assert record.operation == "3002"
    assert record.state is State.ANSWERED


def _epoch() -> Any:
    import datetime as dt

    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
