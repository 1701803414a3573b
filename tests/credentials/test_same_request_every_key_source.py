"""Acceptance: the same signed request built with PKCS#12, PEM and SoftHSM2 keys all verify."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from anpr_client.credentials import KeySource, load_key_source
from anpr_client.security.verify import verify_envelope
from anpr_client.settings import KeySourceConfig
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.credentials.conftest import FILE_PASSWORD, TOKEN_PIN, SoftHsm
from tests.security.support import (
    ENVELOPE_3002,
    OPERATOR_CF,
    SOAP,
    WSU,
    make_frame,
    require_program,
    trust_for,
)


@pytest.fixture(params=["pkcs12", "pem", "softhsm"])
def comune_key(
    request: pytest.FixtureRequest, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KeySource]:
    monkeypatch.setenv("ANPR_TEST_SECRET", FILE_PASSWORD)
    if request.param == "pkcs12":
        config = KeySourceConfig(
            "pkcs12", path=pki_files.comune_p12, password_env="ANPR_TEST_SECRET"
        )
    elif request.param == "pem":
        config = KeySourceConfig(
            "pem", pem_key=pki_files.comune_key_pem, pem_cert=pki_files.comune_cert_pem
        )
    else:
        hsm: SoftHsm = request.getfixturevalue("softhsm")
        monkeypatch.setenv("ANPR_TEST_SECRET", TOKEN_PIN)
        config = hsm.key(pin_env="ANPR_TEST_SECRET")
    source = load_key_source(config, purpose="comune_key")
    yield source
    getattr(source, "close", lambda: None)()


def test_signed_request_verifies(
    comune_key: KeySource, pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    signed = make_frame(pki, signer=comune_key).sign_bytes(ENVELOPE_3002)
    verified = verify_envelope(signed, trust=trust_for(pki))
    assert verified.signer == pki.comune.certificate
    assert verified.operator == OPERATOR_CF
    (tmp_path / "s.xml").write_bytes(signed)
    result = subprocess.run(
        [
            require_program("xmlsec1"),
            "--verify",
            "--id-attr:Id",
            f"{WSU}:Timestamp",
            "--id-attr:Id",
            f"{SOAP}:Body",
            "--node-xpath",
            "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']/*[local-name()='Signature']",
            "--pubkey-cert-pem",
            str(pki_files.comune_cert_pem),
            str(tmp_path / "s.xml"),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
