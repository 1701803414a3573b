"""Building requests: testataRichiesta, schema order, every violation listed before sending."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.endpoints import Environment
from anpr_client.errors.exceptions import LocalCheckError, PayloadError
from anpr_client.models.consultazione import Richiesta3002, TipoCriteriRicerca, TipoDatiRichiesta
from anpr_client.settings import Settings, ValidationSettings
from anpr_client.soap.bundle import UnknownOperationError
from anpr_client.soap.testata import new_operation_id
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.client.support import write_signing_config

NS3000 = "http://sogei.it/ANPR/3000consultazione"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
PAYLOAD = {
    "datiRichiesta": {"dataRiferimentoRichiesta": "2026-11-20", "schedaAnagraficaRichiesta": "1"},
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
}


def body_of(envelope: bytes) -> etree._Element:
    root = etree.fromstring(envelope)
    assert root.tag == f"{{{SOAP}}}Envelope"
    body = root.find(f"{{{SOAP}}}Body")
    assert body is not None
    return body[0]


def test_header_is_filled_from_settings(settings: Settings) -> None:
    prepared = Client(settings, journal=None).prepare("3002", PAYLOAD)
    request = body_of(prepared.envelope)
    assert request.tag == f"{{{NS3000}}}Richiesta3002"
    testata = {c.tag: c.text for c in request.find("testataRichiesta")}  # type: ignore[union-attr]
    assert list(testata) == [
        "idOperazioneComune",
        "codMittente",
        "codDestinatario",
        "operazioneRichiesta",
        "dataOraRichiesta",
        "tipoOperazione",
        "tipoInvio",
        "nomeApplicativo",
        "versioneApplicativo",
        "fornitoreApplicativo",
    ]
    assert re.fullmatch(r"[0-9A-Za-z]{1,30}", testata["idOperazioneComune"] or "")
    assert testata["codMittente"] == "058091"
    assert testata["codDestinatario"] == "ANPR05"
    assert testata["operazioneRichiesta"] == "3002"
    assert testata["tipoOperazione"] == "C"
    assert testata["tipoInvio"] == "TEST"
    stamp = dt.datetime.fromisoformat(testata["dataOraRichiesta"] or "")
    assert stamp.utcoffset() is not None
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60
    assert prepared.id_operazione_comune == testata["idOperazioneComune"]
    assert (
        prepared.url
        == "https://wstest.anpr.interno.it/ANPR3000ServiziConsultazione/AnprService3000"
    )


@pytest.mark.parametrize(
    ("environment", "tipo_invio", "host"),
    [
        (Environment.PRODUZIONE, "PROD", "https://ws.anpr.interno.it"),
        (Environment.TEST, "TEST", "https://wstest.anpr.interno.it"),
        (Environment.PRESUBENTRO, "PRE_SUB", "https://wspre.anpr.interno.it"),
    ],
)
def test_environment_sets_tipo_invio_and_host(
    settings: Settings, environment: Environment, tipo_invio: str, host: str
) -> None:
    prepared = Client(settings.replace(environment=environment), journal=None).prepare(
        "3002", PAYLOAD
    )
    assert prepared.header["tipoInvio"] == tipo_invio
    assert prepared.url.startswith(host + "/")


def test_partial_testata_overrides_generated_fields(settings: Settings) -> None:
    payload = {
        **PAYLOAD,
        "testataRichiesta": {"idOperazioneComune": "MYID42", "tipoOperazione": "V"},
    }
    prepared = Client(settings, journal=None).prepare("3002", payload)
    assert prepared.header["idOperazioneComune"] == "MYID42"
    assert prepared.header["tipoOperazione"] == "V"
    assert prepared.header["codMittente"] == "058091"  # still generated


def test_payload_key_order_does_not_matter(settings: Settings) -> None:
    request = body_of(Client(settings, journal=None).prepare("3002", PAYLOAD).envelope)
    assert [c.tag for c in request] == ["testataRichiesta", "criteriRicerca", "datiRichiesta"]
    dati = request.find("datiRichiesta")
    assert dati is not None
    assert [c.tag for c in dati] == ["schedaAnagraficaRichiesta", "dataRiferimentoRichiesta"]


def test_typed_model_builds_the_same_request(settings: Settings) -> None:
    model = Richiesta3002(
        criteriRicerca=TipoCriteriRicerca(codiceFiscale="RSSMRA80A01H501U"),
        datiRichiesta=TipoDatiRichiesta(
            schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date(2026, 11, 20)
        ),
    )
    client = Client(settings, journal=None)
    fixed = {"idOperazioneComune": "ID1", "dataOraRichiesta": "2026-11-20T10:00:00+01:00"}
    assert (
        client.prepare("3002", model, header=fixed).envelope
        == client.prepare("3002", PAYLOAD, header=fixed).envelope
    )


def test_every_violation_is_listed_and_nothing_is_sent(settings: Settings) -> None:
    sent: list[HttpRequest] = []

    def record(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return HttpResponse(500, {}, b"")

    client = Client(settings, transport=MockTransport(record), journal=None)
    bad = {
        "testataRichiesta": {"idOperazioneComune": "has_underscore"},
        "criteriRicerca": {"codiceFiscale": "SHORT", "colore": "rosso"},
        "datiRichiesta": {"schedaAnagraficaRichiesta": "1"},
    }
    with pytest.raises(PayloadError) as info:
        client.call("3002", bad)
    assert sent == []
    found = {(v.path, v.rule) for v in info.value.violations}
    assert ("Richiesta3002/criteriRicerca/colore", "unknown-element") in found
    assert ("Richiesta3002/testataRichiesta/idOperazioneComune", "pattern") in found
    assert ("Richiesta3002/criteriRicerca/codiceFiscale", "minLength") in found
    assert ("Richiesta3002/datiRichiesta", "required") in found
    text = str(info.value)
    assert "dataRiferimentoRichiesta" in text
    assert "nothing was sent" in text


@pytest.mark.parametrize(
    ("payload", "path", "rule"),
    [
        ({**PAYLOAD, "criteriRicerca": "RSSMRA80A01H501U"}, "Richiesta3002/criteriRicerca", "type"),
        (
            {**PAYLOAD, "criteriRicerca": [{"codiceFiscale": "RSSMRA80A01H501U"}]},
            "Richiesta3002/criteriRicerca",
            "max-occurs",
        ),
        (
            {**PAYLOAD, "criteriRicerca": {"codiceFiscale": {"x": 1}}},
            "Richiesta3002/criteriRicerca/codiceFiscale",
            "type",
        ),
        (
            {**PAYLOAD, "criteriRicerca": {"codiceFiscale": object()}},
            "Richiesta3002/criteriRicerca/codiceFiscale",
            "type",
        ),
    ],
)
def test_misshapen_payloads_are_named(
    settings: Settings, payload: dict[str, object], path: str, rule: str
) -> None:
    with pytest.raises(PayloadError) as info:
        Client(settings, journal=None).prepare("3002", payload)
    assert (path, rule) in {(v.path, v.rule) for v in info.value.violations}


def test_unknown_operation_is_a_lookup_error(settings: Settings) -> None:
    with pytest.raises(UnknownOperationError, match="9999"):
        Client(settings, journal=None).prepare("9999", {})


def test_operation_ids_are_unique_and_short() -> None:
    ids = {new_operation_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"[0-9A-Z]{1,30}", i) for i in ids)


def test_testconn_needs_only_the_header(settings: Settings) -> None:
    prepared = Client(settings, journal=None).prepare("TestConn", {})
    request = body_of(prepared.envelope)
    assert request.tag == "{http://sogei.it/ANPR/connessione}RichiestaConnessione"
    assert prepared.url.endswith("/ANPRTestConn/TestConn")
    assert prepared.header["operazioneRichiesta"] == "CONN"


def test_local_checks_stop_a_request_ANPR_would_refuse(settings: Settings) -> None:
    sent: list[HttpRequest] = []

    def record(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return HttpResponse(503, {}, b"")

    bad_check_char = {**PAYLOAD, "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501X"}}
    client = Client(settings, transport=MockTransport(record), journal=None)
    with pytest.raises(LocalCheckError) as info:
        client.call("3002", bad_check_char)
    assert sent == []
    assert info.value.codes
    assert any("codiceFiscale" in f.path for f in info.value.findings)
    # opt-out: per call, or in the settings
    assert client.prepare("3002", bad_check_char, check=False).payload
    relaxed = settings.replace(validation=ValidationSettings(before_send=False))
    assert Client(relaxed, journal=None).prepare("3002", bad_check_char).payload


def test_from_config_wires_the_frame_and_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anpr_client.simulator.pki import generate_test_pki

    files = generate_test_pki("058091").write(tmp_path / "pki", password="pw")
    config = write_signing_config(
        tmp_path / "anpr.toml", files.directory, tmp_path / "journal.sqlite"
    )
    monkeypatch.setenv("TEST_P12_PASSWORD", "pw")
    client = Client.from_config(config)
    assert client.wsse is not None
    assert client.journal is not None
    prepared = client.prepare("3002", PAYLOAD)
    assert prepared.signed
    assert b"BinarySecurityToken" in prepared.envelope
