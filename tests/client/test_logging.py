"""The request path logs through :mod:`logging`: one INFO line per call, the XML at DEBUG only
when asked and masked by default, the journal's decisions; never a secret, and no codice
fiscale at INFO."""

from __future__ import annotations

import logging
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected, ConnectionLost
from anpr_client.logs import CALL_LOGGER, JOURNAL_LOGGER, MASK, WIRE_LOGGER, mask_personal_data
from anpr_client.settings import (
    LoggingSettings,
    RetrySettings,
    Settings,
    ValidationSettings,
    load_settings,
)
from anpr_client.simulator.pki import generate_test_pki
from tests.client.support import LoopbackServer, recorded, write_signing_config
from tests.journal.support import payload_5005

CF = "RSSMRA80A01H501U"
PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": CF},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}
PASSWORD = "Pa55-never-in-a-log"


def _on(settings: Settings, loopback: LoopbackServer, **changes: object) -> Settings:
    return settings.replace(base_url=loopback.url, ca_bundle=loopback.ca_pem, **changes)


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def test_one_info_line_per_call(
    settings: Settings, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    caplog.set_level(logging.INFO, logger="anpr_client")
    with Client(_on(settings, loopback), journal=None) as client:
        result = client.call("3002", PAYLOAD)
    (line,) = _records(caplog, CALL_LOGGER)
    assert line.levelno == logging.INFO
    assert line.__dict__["operation"] == "3002"
    assert line.__dict__["id_operazione_comune"] == result.id_operazione_comune
    assert line.__dict__["id_operazione_anpr"] == "4411002"
    assert line.__dict__["outcome"] == "Risposta3002_OK"
    assert isinstance(line.__dict__["elapsed_ms"], int)
    message = line.getMessage()
    assert message.startswith(f"3002 idOperazioneComune={result.id_operazione_comune} ")
    assert "idOperazioneANPR=4411002 outcome=Risposta3002_OK elapsed=" in message
    assert _records(caplog, WIRE_LOGGER) == []  # not asked for
    assert CF not in caplog.text
    assert "ROSSI" not in caplog.text


def test_a_ko_is_logged_with_its_codes(
    settings: Settings, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.canned.body = recorded("ko_3002_several.xml")
    caplog.set_level(logging.INFO, logger="anpr_client")
    with Client(_on(settings, loopback), journal=None) as client, pytest.raises(AnprRejected):
        client.call("3002", PAYLOAD)
    (line,) = _records(caplog, CALL_LOGGER)
    assert line.__dict__["outcome"].endswith(" EN527,EN122,EW001")


def test_the_wire_is_logged_only_when_asked_and_masked(
    settings: Settings, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    caplog.set_level(logging.DEBUG, logger="anpr_client")
    with Client(_on(settings, loopback), journal=None) as client:
        client.call("3002", PAYLOAD)  # DEBUG on, but the setting is off
    assert _records(caplog, WIRE_LOGGER) == []
    asked = _on(settings, loopback, logging=LoggingSettings(wire=True))
    with Client(asked, journal=None) as client:
        client.call("3002", PAYLOAD)
    request, answer = _records(caplog, WIRE_LOGGER)
    assert request.levelno == answer.levelno == logging.DEBUG
    assert "<criteriRicerca><codiceFiscale>***</codiceFiscale>" in request.getMessage()
    assert f"<cognome>{MASK}</cognome>" in answer.getMessage()
    assert "<operazioneRichiesta>3002</operazioneRichiesta>" in request.getMessage()
    assert CF not in caplog.text
    assert "ROSSI" not in caplog.text
    caplog.clear()
    unmasked = _on(settings, loopback, logging=LoggingSettings(wire=True, mask_personal_data=False))
    with Client(unmasked, journal=None) as client:
        client.call("3002", PAYLOAD)
    assert CF in "".join(r.getMessage() for r in _records(caplog, WIRE_LOGGER))


def test_the_wire_log_level_alone_is_not_enough(
    settings: Settings, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    caplog.set_level(logging.INFO, logger="anpr_client")  # the setting on, DEBUG off
    with Client(_on(settings, loopback, logging=LoggingSettings(wire=True)), journal=None) as c:
        c.call("3002", PAYLOAD)
    assert _records(caplog, WIRE_LOGGER) == []
    assert len(_records(caplog, CALL_LOGGER)) == 1


def test_masking_covers_names_dates_and_any_codice_fiscale() -> None:
    xml = (
        b"<a xmlns:s='urn:x'><generalita><cognome>ROSSI</cognome><nome>MARIO</nome>"
        b"<dataNascita>1980-01-01</dataNascita></generalita>"
        b"<s:NameID>RSSMRA80A01H501U</s:NameID><note>cf MRNLDA45P11H501H here</note>"
        b"<codMittente>058091</codMittente></a>"
    )
    text = mask_personal_data(xml)
    for personal in ("ROSSI", "MARIO", "1980-01-01", "RSSMRA80A01H501U", "MRNLDA45P11H501H"):
        assert personal not in text
    assert "<codMittente>058091</codMittente>" in text
    assert "cf *** here" in text
    assert mask_personal_data(b"--boundary\r\n\r\n%PDF") == "<18 bytes, not XML: not logged>"


def test_a_signed_journaled_call_logs_no_secret_and_the_journals_decisions(
    tmp_path: Path,
    loopback: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generate_test_pki("058091").write(tmp_path / "pki", password=PASSWORD)
    monkeypatch.setenv("TEST_P12_PASSWORD", PASSWORD)
    config = write_signing_config(tmp_path / "anpr.toml", tmp_path / "pki", tmp_path / "j.sqlite")
    settings = _on(
        load_settings(config),
        loopback,
        retry=RetrySettings(max_attempts=2, backoff=0.0),
        logging=LoggingSettings(wire=True),
        validation=ValidationSettings(before_send=False),
    )

    def drop(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.close_connection = True  # no answer: the outcome is unknown

    loopback.canned.handler = drop
    caplog.set_level(logging.DEBUG, logger="anpr_client")
    with Client(settings) as client, pytest.raises(ConnectionLost) as lost:
        client.call("5005", payload_5005())  # a change of address: it needs resolving
    ident = lost.value.id_operazione_comune
    assert ident is not None
    calls = _records(caplog, CALL_LOGGER)
    assert [r.__dict__["outcome"] for r in calls] == ["ConnectionLost", "ConnectionLost"]
    journal = _records(caplog, JOURNAL_LOGGER)
    assert any("attempt 1 of 2" in r.getMessage() for r in journal)
    (unknown,) = [r for r in journal if r.levelno == logging.WARNING]
    assert f"anpr journal resolve {ident}" in unknown.getMessage()
    assert PASSWORD not in caplog.text
    wire = "".join(r.getMessage() for r in _records(caplog, WIRE_LOGGER))
    assert re.search(r"<(\w+:)?NameID[^>]*>\*\*\*</", wire)  # the frame is in the log…
    assert CF not in caplog.text  # …but not the operator's codice fiscale, its NameID
