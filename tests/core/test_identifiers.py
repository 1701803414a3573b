"""The identifier patterns are written once and every user refuses other scripts' digits."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from anpr_client._identifiers import (
    CADASTRAL_CODE,
    ISTAT_CODE,
    STATE_CADASTRAL_CODE,
    STATE_CODE,
    WORKSTATION_ID,
)
from anpr_client.errors.exceptions import ConfigurationError, InvalidFormat, NotificationError
from anpr_client.notifications import decode_notification
from anpr_client.settings import Settings, WorkstationSettings
from anpr_client.simulator.config import SimulatorConfig
from anpr_client.validation import comuni, precheck
from anpr_client.validation.rules import PersonChecker
from tests.notifications.support import n010_payload
from tests.security.support import make_frame, shared_pki

SRC = Path(__file__).resolve().parents[2] / "src" / "anpr_client"

ARABIC_INDIC = "٠٥٨٠٩١"  # 058091 in Arabic-Indic digits: str.isdigit() and \d accept it
DEVANAGARI = "०५८०९१"
FULLWIDTH = "０５８０９１"


@pytest.mark.parametrize("digits", [ARABIC_INDIC, DEVANAGARI, FULLWIDTH])
def test_the_patterns_refuse_non_ascii_digits(digits: str) -> None:
    assert digits.isdigit()  # the trap: Python calls them digits
    assert ISTAT_CODE.fullmatch("058091")
    assert not ISTAT_CODE.fullmatch(digits)
    assert not STATE_CODE.fullmatch(digits[:3])
    assert not CADASTRAL_CODE.fullmatch("H" + digits[:3])
    assert not STATE_CADASTRAL_CODE.fullmatch("Z" + digits[:3])
    assert WORKSTATION_ID.fullmatch("058091-PC-0001")
    assert not WORKSTATION_ID.fullmatch(f"{digits}-PC-0001")
    assert not WORKSTATION_ID.fullmatch(f"058091-CO-{digits[:4]}")


def test_settings_refuse_a_non_ascii_istat_code_and_workstation() -> None:
    with pytest.raises(ConfigurationError) as err:
        Settings(codice_istat=ARABIC_INDIC)
    assert err.value.setting == "codice_istat"
    with pytest.raises(ConfigurationError) as err:
        WorkstationSettings(id=f"{ARABIC_INDIC}-PC-0001")
    assert err.value.setting == "workstation.id"


def test_the_security_frame_refuses_them() -> None:
    pki = shared_pki()
    with pytest.raises(ConfigurationError) as err:
        make_frame(pki, id_sede=ARABIC_INDIC)
    assert err.value.setting == "codice_istat"
    with pytest.raises(ConfigurationError) as err:
        make_frame(pki, workstation_id=f"{ARABIC_INDIC}-PC-0001")
    assert err.value.setting == "workstation.id"


def test_a_notification_with_them_is_nonconforming() -> None:
    payload = n010_payload().replace(b"015146", ARABIC_INDIC.encode())
    with pytest.raises(NotificationError) as err:
        decode_notification("N010", etree.fromstring(payload), id_notifica="1")
    assert err.value.field == "NotificaN010/comuneRichiesta/codiceIstat"


def test_the_simulator_config_refuses_them() -> None:
    with pytest.raises(ConfigurationError):
        SimulatorConfig(comuni=(ARABIC_INDIC,))


def test_the_validators_refuse_them() -> None:
    with pytest.raises(InvalidFormat):
        comuni.validate(ARABIC_INDIC, day=date(2000, 1, 1))
    assert not comuni.is_valid(ARABIC_INDIC, day=date(2000, 1, 1))
    person = {"cognome": "ROSSI", "nome": "MARIO", "sesso": "M", "data_nascita": "1985-12-10"}
    checker = PersonChecker(today=date(2026, 1, 1))
    findings = checker.check({**person, "luogo_nascita": ARABIC_INDIC}, cf_required=False)
    assert [(f.path, f.rule) for f in findings] == [("luogo_nascita", "field.format")]
    dated = checker.check(
        {**person, "data_nascita": "١٩٨٥-١٢-١٠", "luogo_nascita": "058091"}, cf_required=False
    )
    assert [(f.path, f.rule) for f in dated] == [("data_nascita", "field.format")]
    # the XSD's (\d)+ lets them through to ANPR, which knows no such Comune or state
    elsewhere = checker.check(
        {"comune_residenza": ARABIC_INDIC, "cittadinanza": ARABIC_INDIC[:3]},
        required=frozenset(),
        cf_required=False,
    )
    assert [(f.path, f.rule) for f in elsewhere] == [
        ("cittadinanza", "citizenship.unknown"),
        ("comune_residenza", "residence.comune"),
    ]
    payload = {
        "residenza": {"indirizzo": {"comune": {"codiceIstat": ARABIC_INDIC}}},
        "datiRichiesta": {"dataRiferimentoRichiesta": "2026-01-01"},
    }
    residence = [(f.path, f.rule) for f in precheck("3002", payload) if f.path.startswith("resid")]
    assert residence == [("residenza.indirizzo.comune.codiceIstat", "residence.comune")]


_PATTERNS = {
    r"[0-9]{6}": "ISTAT_CODE",
    r"\d{6}": "ISTAT_CODE",
    r"[0-9]{6}-(PC|CO)-[0-9]{4}": "WORKSTATION_ID",
    r"[A-Z][0-9]{3}": "CADASTRAL_CODE",
    r"[A-Z]\d{3}": "CADASTRAL_CODE",
    r"Z[0-9]{3}": "STATE_CADASTRAL_CODE",
}


def test_no_module_writes_an_identifier_pattern_again() -> None:
    """Every ``re.compile`` of one of the shapes above lives in ``_identifiers.py`` only."""
    copies = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "_identifiers.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compile"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in _PATTERNS
            ):
                name = _PATTERNS[node.args[0].value]
                copies.append(f"{path.relative_to(SRC)}:{node.lineno} (use {name})")
    assert not copies, copies


def test_the_module_examples_run() -> None:
    import doctest

    from anpr_client import _identifiers

    result = doctest.testmod(_identifiers, report=False)
    assert result.attempted
    assert not result.failed
