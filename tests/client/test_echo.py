"""The echo is checked: an answer naming another id, operation or Comune settles nothing.

ANPR's ``testataRisposta`` repeats the request's ``idOperazioneComune`` (``idOperazioneClient``
for the E00x services), ``codMittente`` and ``operazioneRichiesta`` (italia/anpr#1875 and the
4005 examples). An OK or KO answer that names others is not the answer to this request: it is
:class:`~anpr_client.errors.EchoMismatch`, outcome unknown, and the journal resends rather
than settle the operation with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import EchoMismatch, OutcomeUnknown
from anpr_client.journal import Disposition, Journal, RetryPolicy, State, classify, journaled_call
from anpr_client.settings import Settings
from anpr_client.soap.testata import check_echo
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.client.support import echoed, recorded
from tests.journal.support import COMUNE, FakeAnpr, no_sleep, payload_5005
from tests.journal.support import settings as journal_settings

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


def _replace(field: str, value: str) -> Callable[[bytes], bytes]:
    pattern = re.compile(f"<{field}>[^<]*</{field}>".encode())
    return lambda body: pattern.sub(f"<{field}>{value}</{field}>".encode(), body, count=1)


def _answering(name: str, change: Callable[[bytes], bytes]) -> MockTransport:
    def answer(request: HttpRequest) -> HttpResponse:
        body = change(echoed(recorded(name), request.body))
        return HttpResponse(200, {"content-type": "text/xml"}, body)

    return MockTransport(answer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idOperazioneComune", "SOMEONEELSE1"),
        ("codMittente", "015146"),
        ("operazioneRichiesta", "3001"),
    ],
)
@pytest.mark.parametrize("answer", ["ok_3002.xml", "ko_3002_several.xml"])
def test_an_answer_naming_another_request_is_refused(
    settings: Settings, answer: str, field: str, value: str
) -> None:
    client = Client(settings, transport=_answering(answer, _replace(field, value)), journal=None)
    with pytest.raises(EchoMismatch) as info:
        client.call("3002", PAYLOAD)
    exc = info.value
    assert (exc.field, exc.received) == (field, value)
    assert isinstance(exc, OutcomeUnknown)
    assert classify(exc, resend=False) is Disposition.OUTCOME_UNKNOWN
    assert value in str(exc)


def test_an_answer_that_echoes_is_read(settings: Settings) -> None:
    client = Client(settings, transport=_answering("ok_3002.xml", lambda b: b), journal=None)
    assert client.call("3002", PAYLOAD).id_operazione_anpr == "4411002"


def test_a_testata_without_the_id_is_refused(settings: Settings) -> None:
    client = Client(
        settings,
        transport=_answering("ok_3002.xml", _replace("idOperazioneComune", "")),
        journal=None,
    )
    with pytest.raises(EchoMismatch, match="names no idOperazioneComune"):
        client.call("3002", PAYLOAD)


def test_the_check_knows_both_names_of_the_id_and_skips_what_has_no_testata() -> None:
    request = {"idOperazioneClient": "E1", "codMittente": "ENTE01", "operazioneRichiesta": "E001"}
    check_echo(request, dict(request), operation="E001")
    with pytest.raises(EchoMismatch) as info:
        check_echo(request, {**request, "idOperazioneClient": "E2"}, operation="E001")
    assert info.value.field == "idOperazioneClient"
    check_echo(request, {}, operation="E001")  # an answer without a testata
    check_echo({}, {"idOperazioneComune": "X"}, operation="N000")  # a request without one


def test_reading_without_the_request_does_not_check(settings: Settings) -> None:
    """``read`` of an answer alone (no request given) cannot compare anything."""
    client = Client(settings, journal=None)
    response = HttpResponse(200, {"content-type": "text/xml"}, recorded("ok_3002.xml"))
    assert client.read("3002", response).id_operazione_comune == "REC3002A"


# ----------------------------------------------------------------------------- the journal


def _misdirected(fake: FakeAnpr, times: int) -> MockTransport:
    """The fake ANPR, its first ``times`` answers rewritten to name another operation's id
    (a proxy mixing up answers)."""
    left = [times]

    def send(request: HttpRequest) -> HttpResponse:
        response = fake(request)
        if left[0] and b"testataRisposta" in response.body:
            left[0] -= 1
            body = _replace("idOperazioneComune", "NOTYOURS00000001")(response.body)
            return HttpResponse(response.status, response.headers, body)
        return response

    return MockTransport(send)


def test_the_journal_resends_rather_than_settle_with_a_misdirected_answer(tmp_path: Path) -> None:
    fake = FakeAnpr()
    journal = Journal(tmp_path / "j.sqlite", durable=False)
    client = Client(journal_settings(), transport=_misdirected(fake, 1), journal=journal)
    result = client.call("5005", payload_5005())
    ident = result.id_operazione_comune
    assert ident is not None
    record = journal.get(ident)
    assert (record.state, record.outcome) == (State.ANSWERED, "ok")
    assert [a.state for a in record.attempts] == ["outcome_unknown", "answered"]
    assert record.attempts[0].error_type == "EchoMismatch"
    assert b"NOTYOURS" not in (record.response or b"")
    assert fake.applied == {(COMUNE, ident): 1}


def test_only_misdirected_answers_leave_the_operation_unknown(tmp_path: Path) -> None:
    fake = FakeAnpr()
    journal = Journal(tmp_path / "j.sqlite", durable=False)
    client = Client(
        journal_settings(max_attempts=2), transport=_misdirected(fake, 9), journal=journal
    )
    with pytest.raises(EchoMismatch):
        client.call("5005", payload_5005())
    (record,) = journal.pending()
    assert record.state is State.OUTCOME_UNKNOWN
    assert record.response is None


def test_a_lookup_returning_another_operations_answer_settles_nothing(tmp_path: Path) -> None:
    """3003 hands back a stored answer; if it names another id it is not ours: resend."""
    fake = FakeAnpr(script=["lose"])
    journal = Journal(tmp_path / "j.sqlite", durable=False)
    transport = _misdirected_lookup(fake)
    client = Client(journal_settings(reconcile=True), transport=transport, journal=journal)
    result = journaled_call(
        client.binding,
        journal,
        "5005",
        payload_5005(),
        policy=RetryPolicy(3, 0, 0, True),
        sleep=no_sleep,
    )
    record = journal.get(result.id_operazione_comune or "")
    assert [a.kind for a in record.attempts] == ["send", "lookup", "send"]
    assert record.attempts[1].state == "outcome_unknown"
    assert record.resolution == "replay"
    assert fake.applied == {(COMUNE, record.id_operazione_comune): 1}


def _misdirected_lookup(fake: FakeAnpr) -> MockTransport:
    """The fake ANPR, the answer stored in 3003's ``xmlRisposta`` rewritten to name another id."""
    import base64

    pattern = re.compile(rb"<xmlRisposta>([^<]*)</xmlRisposta>")

    def send(request: HttpRequest) -> HttpResponse:
        response = fake(request)
        found = pattern.search(response.body)
        if found is None:
            return response
        stored = base64.b64decode(found.group(1))
        other = _replace("idOperazioneComune", "NOTYOURS00000002")(stored)
        body = response.body.replace(found.group(1), base64.b64encode(other))
        return HttpResponse(response.status, response.headers, body)

    return MockTransport(send)
