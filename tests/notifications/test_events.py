"""Decoding payloads into typed events, for every notification type."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.errors.exceptions import NotificationError
from anpr_client.notifications import (
    FilesAvailable,
    OperationResult,
    ResidenceChanged,
    ResidenceRestored,
    SubentroCompleted,
    SupplyNotice,
    decode_notification,
)
from anpr_client.notifications.events import PAYLOAD_NS
from tests.notifications.support import CF_1, ISTAT_B, n010_payload

COMUNE = (
    "<comuneRichiesta><nomeComune>MILANO</nomeComune><codiceIstat>015146</codiceIstat>"
    "<siglaProvinciaIstat>MI</siglaProvinciaIstat></comuneRichiesta>"
)
N030 = (
    f'<n:NotificaN030 xmlns:n="{PAYLOAD_NS}"><datiNotifica>{COMUNE}'
    "<dataPresentazione>2026-11-01T10:00:00</dataPresentazione><codiceServizio>A001</codiceServizio>"
    "<idOperazioneANPR>55</idOperazioneANPR><dataElaborazione>2026-11-02T08:30:00+01:00"
    "</dataElaborazione><esito>0000</esito></datiNotifica></n:NotificaN030>"
).encode()
N031 = (
    f'<n:NotificaN031 xmlns:n="{PAYLOAD_NS}">{COMUNE}'
    "<dataOperativitaAnpr>2026-10-01</dataOperativitaAnpr></n:NotificaN031>"
).encode()
N032 = (
    f'<n:NotificaN032 xmlns:n="{PAYLOAD_NS}">{COMUNE}'
    "<datiFile><identificativoFile>77</identificativoFile><tipoFile>3</tipoFile></datiFile>"
    "<datiFile><identificativoFile>78</identificativoFile></datiFile></n:NotificaN032>"
).encode()
NRIS = (
    b'<ns:Risposta5005 xmlns:ns="http://sogei.it/ANPR/5000mutazione"><testataRisposta>'
    b"<idOperazioneComune>C-1</idOperazioneComune><idOperazioneANPR>88</idOperazioneANPR>"
    b"<esitoOperazione>0000</esitoOperazione></testataRisposta></ns:Risposta5005>"
)


def decode(kind: str, payload: bytes) -> object:
    return decode_notification(
        kind, etree.fromstring(payload), id_notifica="42", recipient="058091"
    )


def test_n010_residence_changed() -> None:
    event = decode("N010", n010_payload())
    assert isinstance(event, ResidenceChanged)
    assert not isinstance(event, ResidenceRestored)
    assert event.key == ("N010", "42")
    assert event.codice_fiscale == CF_1
    assert event.subject.surname == "ROSSI"
    assert event.subject.birth_date == "1980-01-01"
    assert event.requesting_comune.codice_istat == ISTAT_B
    assert event.operation_id == "700000001"
    assert event.effective_date == dt.date(2026, 11, 20)
    assert event.raw == n010_payload()
    # No personal data in reprs (they reach logs).
    assert CF_1 not in repr(event)
    assert "ROSSI" not in repr(event)


@pytest.mark.parametrize("kind", ["N014", "N015"])
def test_restorations(kind: str) -> None:
    event = decode(kind, n010_payload(kind=kind))
    assert isinstance(event, ResidenceRestored)
    assert event.by_subentrato == (kind == "N015")


def test_n030_n031_n032_and_nris() -> None:
    supply = decode("N030", N030)
    assert isinstance(supply, SupplyNotice)
    assert supply.service_code == "A001"
    assert supply.processed_at == dt.datetime(2026, 11, 2, 7, 30, tzinfo=dt.UTC)
    assert supply.presented_at.tzinfo is not None
    subentro = decode("N031", N031)
    assert isinstance(subentro, SubentroCompleted)
    assert subentro.operational_date == dt.date(2026, 10, 1)
    files = decode("N032", N032)
    assert isinstance(files, FilesAvailable)
    assert [(f.identificativo_file, f.tipo_file) for f in files.files] == [
        ("77", "3"),
        ("78", None),
    ]
    result = decode("NRIS", NRIS)
    assert isinstance(result, OperationResult)
    assert (result.response_element, result.id_operazione_comune, result.operation_id) == (
        "Risposta5005",
        "C-1",
        "88",
    )
    assert result.esito == "0000"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            n010_payload().replace(b"<dataDecorrenza>2026-11-20</dataDecorrenza>", b""),
            "NotificaN010/dataDecorrenza",
        ),
        (n010_payload().replace(b"015146", b"15146"), "NotificaN010/comuneRichiesta/codiceIstat"),
        (
            n010_payload()
            .replace(b"<comuneRichiesta>", b"<altro>")
            .replace(b"</comuneRichiesta>", b"</altro>"),
            "NotificaN010/comuneRichiesta",
        ),
        (
            N032.replace(b"<identificativoFile>77", b"<identificativoFile>x"),
            "NotificaN032/datiFile/identificativoFile",
        ),
    ],
)
def test_missing_or_malformed_fields_are_named(payload: bytes, field: str) -> None:
    kind = etree.QName(etree.fromstring(payload)).localname.removeprefix("Notifica")
    with pytest.raises(NotificationError) as err:
        decode(kind, payload)
    assert err.value.field == field
    assert err.value.outcome == "5"


def test_codice_fiscale_as_a_bare_value_is_read_too() -> None:
    bare = n010_payload().replace(
        f"<codiceFiscale><codFiscale>{CF_1}</codFiscale><validitaCF>1</validitaCF></codiceFiscale>".encode(),
        f"<codiceFiscale>{CF_1.lower()}</codiceFiscale>".encode(),
    )
    assert bare != n010_payload()
    event = decode("N010", bare)
    assert isinstance(event, ResidenceChanged)
    assert event.codice_fiscale == CF_1


def test_unknown_type_and_bad_id_are_refused() -> None:
    with pytest.raises(NotificationError) as err:
        decode("N999", n010_payload())
    assert err.value.field == "tipoNotifica"
    with pytest.raises(NotificationError) as err:
        decode_notification("N010", etree.fromstring(n010_payload()), id_notifica="12a")
    assert err.value.field == "idOperazioneANPR"


def _reference_dir() -> Path:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "anpr"
    return Path(os.environ.get("ANPR_REFERENCE_DIR", default))


def test_fixture_payloads_conform_to_the_official_schema() -> None:
    xsd = (
        _reference_dir() / "wsdl-notifiche" / "mappaturaNotificheBase64" / "N000notificheComuni.xsd"
    )
    if not xsd.exists():
        pytest.skip(f"ANPR reference files not found at {xsd}")
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    for payload in (n010_payload(), n010_payload(kind="N014"), N030, N031, N032):
        assert schema.validate(etree.fromstring(payload)), schema.error_log
