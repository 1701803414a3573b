"""``anpr doctor`` on PKCS#11 tokens (SoftHSM2): the Comune key on a token is checked like a
file, the operator is read from the card, and the operator's CNS card configured as the Comune
key is explained. (Here, with the token fixtures; the doctor's own tests are tests/doctor.)

The frame self-test leaves the ANPR-CO token logged in for the rest of the process, as any
``Client`` built from these settings does (PKCS#11 login state is per process): this module's
name sorts it after the tests that need that token logged out (test_pkcs11)."""

from __future__ import annotations

import pytest

from anpr_client.doctor import Verdict, diagnose
from anpr_client.settings import KeySourceConfig, OperatorSettings, Settings, WorkstationSettings
from anpr_client.simulator.pki import PkiFiles
from tests.credentials.conftest import TOKEN_PIN, SoftHsm


def _token(hsm: SoftHsm, label: str, key: str) -> KeySourceConfig:
    return hsm.key(label, key, pin_env="DOCTOR_PIN")


def _settings(hsm: SoftHsm, files: PkiFiles, comune: KeySourceConfig) -> Settings:
    return Settings(
        codice_istat="058091",
        comune_key=comune,
        workstation=WorkstationSettings(
            id="058091-PC-0001",
            key=KeySourceConfig(
                "pem", pem_key=files.workstation_key_pem, pem_cert=files.workstation_cert_pem
            ),
        ),
        operator=OperatorSettings(from_card=True, card=_token(hsm, "CNS-TEST", "CNS0")),
        ca_bundle=files.ca_pem,
        journal_enabled=False,
    )


def test_keys_on_tokens_are_checked_like_files(
    softhsm: SoftHsm, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTOR_PIN", TOKEN_PIN)
    report = diagnose(_settings(softhsm, pki_files, _token(softhsm, "ANPR-CO", "CO9999")))
    assert report.by_name["comune_key.readable"].verdict is Verdict.OK
    assert "pkcs11" in report.by_name["comune_key.readable"].evidence
    assert report.by_name["comune_key.key"].verdict is Verdict.OK
    assert report.by_name["comune_key.comune"].verdict is Verdict.OK
    operator = report.by_name["operator"]
    assert operator.verdict is Verdict.OK
    assert "read from the card" in operator.evidence
    assert report.by_name["frame.verify"].verdict is Verdict.OK
    assert report.exit_code == 0, [c for c in report if c.verdict is Verdict.FAIL]


def test_the_operators_card_as_the_comune_key_is_explained(
    softhsm: SoftHsm, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTOR_PIN", TOKEN_PIN)
    report = diagnose(_settings(softhsm, pki_files, _token(softhsm, "CNS-TEST", "CNS0")))
    subject = report.by_name["comune_key.subject"]
    assert subject.verdict is Verdict.FAIL
    assert "CNS card" in subject.evidence
    assert "not the Comune's signing key" in subject.evidence
    assert report.exit_code == 1
