"""``Client.typed_call``: a request model in, the answer's OK branch out, typed — against the
simulator where it serves the operation, against recorded answers otherwise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client import Client, HttpRequest, HttpResponse, MockTransport, Settings
from anpr_client.errors import NotFoundError, PayloadError
from anpr_client.models import (
    aire,
    common,
    connessione,
    from_payload,
    ok_types,
    request_type,
    response_type,
    violations,
)
from anpr_client.models import consultazione as c3000
from anpr_client.settings import ValidationSettings
from anpr_client.simulator import Simulator
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import encode
from anpr_client.soap.envelope import build_envelope
from tests.echo import echo_request
from tests.samples import sample_payload

BUNDLE = get_bundle()
RECORDED = Path(__file__).parent / "recorded"
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


def _settings() -> Settings:
    return Settings(codice_istat="058091", validation=ValidationSettings(before_send=False))


def _answering(body: bytes, seen: list[HttpRequest] | None = None) -> MockTransport:
    def handler(request: HttpRequest) -> HttpResponse:
        if seen is not None:
            seen.append(request)
        answer = echo_request(request.body, body) if body else body
        return HttpResponse(200, {"content-type": "text/xml"}, answer)

    return MockTransport(handler)


def _sample_request(code: str) -> Any:
    """The minimal valid request of ``code`` as its model, testata left to the client."""
    op = BUNDLE.operation(code)
    payload = sample_payload(op.wsdl, op.request)
    payload.pop("testataRichiesta", None)
    return from_payload(request_type(code), payload, strict=True)


def _sample_answer(code: str, branch: str) -> bytes:
    """A sample answer that ``Client.read`` returns as ``branch``: that child message alone, or
    for the answer element itself, with what else it may hold (5014's tipoRispostaRettifica)."""
    op = BUNDLE.operation(code)
    include = {branch}
    if branch == op.response.localname:
        fields = {f.name for f in dataclasses.fields(response_type(code))}
        include = {n for n in fields - set(ok_types(code)) if not n.endswith("KO")}
    payload = sample_payload(op.wsdl, op.response, include=include)
    root, problems = encode(BUNDLE.response_model(op), payload)
    assert problems == []
    return etree.tostring(build_envelope(root))


# ----------------------------------------------------------------------------- the simulator


def test_3002_against_the_simulator(anpr_client: Client, anpr_simulator: Simulator) -> None:
    person = anpr_simulator.store.residents(anpr_simulator.comuni[0])[0]
    request = c3000.Richiesta3002(
        criteriRicerca=c3000.TipoCriteriRicerca(codiceFiscale=person.codice_fiscale),
        datiRichiesta=c3000.TipoDatiRichiesta(
            schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date.today()
        ),
    )
    result = anpr_client.typed_call("3002", request)
    assert isinstance(result.value, c3000.Risposta3002OK)
    assert result.outcome == "Risposta3002_OK"
    assert result.esito_operazione == "0000"
    assert violations(result.value) == ()
    assert result.value.listaSoggetti is not None
    (found,) = result.value.listaSoggetti.datiSoggetto
    assert found.generalita.cognome == person.surname
    assert found.generalita.nome == person.name
    assert found.generalita.dataNascita == person.birth_date
    assert isinstance(result.value.testataRisposta, common.TipoDatoTestataRisposta)
    assert result.value.testataRisposta.idOperazioneComune == result.id_operazione_comune
    # The 3000 face says the same through the same mechanism.
    again = anpr_client.consultazione.find_by_codice_fiscale(person.codice_fiscale)
    assert again.value.listaSoggetti == result.value.listaSoggetti


def test_3002_of_nobody_raises_the_typed_rejection(anpr_client: Client) -> None:
    request = c3000.Richiesta3002(
        criteriRicerca=c3000.TipoCriteriRicerca(codiceFiscale="RSSMRA80A01H501U"),
        datiRichiesta=c3000.TipoDatiRichiesta(
            schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date.today()
        ),
    )
    with pytest.raises(NotFoundError):
        anpr_client.typed_call("3002", request)


def test_testconn_against_the_simulator(anpr_client: Client) -> None:
    result = anpr_client.typed_call("TestConn", connessione.RichiestaConnessione())
    assert isinstance(result.value, connessione.RispostaConnessione)
    assert result.value.rispostaKO is None
    assert result.value.testataRisposta is not None
    assert result.value.testataRisposta.esitoOperazione == "0000"
    assert result.esito_operazione == "0000"


# ----------------------------------------------------------------------------- recorded answers


def _schema_valid(body: bytes, family: str) -> bool:
    root = etree.fromstring(body).find(SOAP_BODY)
    assert root is not None
    answer = root[0]
    for unknown in list(answer.iter("anncsu")):  # not in our bundle: see the recording
        parent = unknown.getparent()
        assert parent is not None
        parent.remove(unknown)
    return bool(BUNDLE.schema(family).validate(answer))


def test_a001_from_a_recorded_answer() -> None:
    """A000 (AIRE) is not simulated: its answer may be Risposta_Comune or RispostaMultipla."""
    body = (RECORDED / "ok_a001.xml").read_bytes()
    assert _schema_valid(body, "A000")
    sent: list[HttpRequest] = []
    client = Client(_settings(), transport=_answering(body, sent))
    request = _sample_request("A001")
    assert isinstance(request, aire.RichiestaA001)
    result = client.typed_call("A001", request)
    assert len(sent) == 1
    assert b"RichiestaA001" in sent[0].body
    value = result.value
    assert isinstance(value, common.RispostaComune)  # not the RispostaMultipla1001 branch
    assert result.outcome == "Risposta_Comune"
    assert value.listaSoggettiVariati is not None
    (changed,) = value.listaSoggettiVariati.datiSoggetto
    assert changed.generalitaAttuali is not None
    assert changed.generalitaAttuali.cognome == "BIANCHI"
    assert changed.generalitaAttuali.dataNascita == dt.date(1990, 2, 12)
    assert value.testataRisposta is not None
    assert value.testataRisposta.dataOraRichiesta == dt.datetime(
        2026, 11, 20, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    assert result.id_operazione_anpr == "4410001"
    assert violations(value) == ()


def test_an_anpr_9_2_answer_with_anncsu_reads_and_keeps_the_unknown_section() -> None:
    body = (RECORDED / "ok_5005_anncsu.xml").read_bytes()
    assert _schema_valid(body, "5000")
    client = Client(_settings(), transport=_answering(body))
    result = client.typed_call("5005", _sample_request("5005"))
    assert isinstance(result.value, common.RispostaComune)
    (unknown,) = result.unknown_elements
    assert unknown.path.endswith("listaSoggettiVariati/datiSoggetto[0]/anncsu")
    assert "<verificato>placeholder</verificato>" in unknown.xml
    assert result.value.listaSoggettiVariati is not None
    (changed,) = result.value.listaSoggettiVariati.datiSoggetto
    (residence,) = changed.residenza  # the element before the unknown one is read
    assert residence.indirizzo is not None
    assert residence.indirizzo.comune.codiceIstat == "058091"
    assert violations(result.value) == ()


def test_a_request_of_another_operation_is_refused_before_sending() -> None:
    sent: list[HttpRequest] = []
    client = Client(_settings(), transport=_answering(b"", sent))
    with pytest.raises(PayloadError, match="takes Richiesta3002, not RichiestaConnessione"):
        client.typed_call("3002", connessione.RichiestaConnessione())
    assert sent == []


@pytest.mark.parametrize("code", sorted(BUNDLE.operations))
def test_every_operation_returns_its_ok_branch_model(code: str) -> None:
    for outcome, model in ok_types(code).items():
        client = Client(_settings(), transport=_answering(_sample_answer(code, outcome)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sample answers may carry W entries
            result = client.typed_call(code, _sample_request(code))
        assert result.outcome == outcome
        assert type(result.value) is model
        assert violations(result.value) == ()
