"""Acceptance: ``anpr request build 3002 --input p.json --sign --config anpr.toml`` prints a
signed envelope that xmlsec1 (an independent engine) verifies, both signatures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from anpr_client.cli.main import cli
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.pki import PkiFiles
from tests.security.conftest import FILE_PASSWORD
from tests.security.support import (
    OPERATOR_CF,
    SAML,
    SOAP,
    WSU,
    require_program,
    shared_pki,
    trust_for,
)

CONFIG = """\
environment = "test"
codice_istat = "058091"
[application]
name = "GESTIONALE"
version = "1.0"
vendor = "ACME SRL"
[operator]
codice_fiscale = "{cf}"
[comune_key]
pkcs12 = "{co}"
password_env = "ANPR_CO_PASSWORD"
[workstation]
id = "058091-PC-0001"
pkcs12 = "{pc}"
password_env = "ANPR_PC_PASSWORD"
[security]
signature = "rsa-sha256"
application_id = "12345"
"""


def test_cli_prints_an_independently_verifiable_signed_request(
    pki_files: PkiFiles, tmp_path: Path
) -> None:
    xmlsec1 = require_program("xmlsec1")
    config = tmp_path / "anpr.toml"
    config.write_text(
        CONFIG.format(cf=OPERATOR_CF, co=pki_files.comune_p12, pc=pki_files.workstation_p12)
    )
    payload = tmp_path / "p.json"
    payload.write_text(
        json.dumps(
            {
                "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
                "datiRichiesta": {
                    "schedaAnagraficaRichiesta": "1",
                    "dataRiferimentoRichiesta": "2026-11-20",
                },
            }
        )
    )
    env = {"ANPR_CO_PASSWORD": FILE_PASSWORD, "ANPR_PC_PASSWORD": FILE_PASSWORD}
    result = CliRunner().invoke(
        cli,
        ["request", "build", "3002", "--input", str(payload), "--sign", "--config", str(config)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert FILE_PASSWORD not in result.output
    document = tmp_path / "signed.xml"
    document.write_bytes(result.stdout.encode())
    message = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--id-attr:Id",
            f"{WSU}:Timestamp",
            "--id-attr:Id",
            f"{SOAP}:Body",
            "--node-xpath",
            "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']/*[local-name()='Signature']",
            "--pubkey-cert-pem",
            str(pki_files.comune_cert_pem),
            str(document),
        ],
        capture_output=True,
        check=False,
    )
    assert message.returncode == 0, message.stderr
    assertion = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--id-attr:ID",
            f"{SAML}:Assertion",
            "--node-xpath",
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
            "--trusted-pem",
            str(pki_files.ca_pem),
            str(document),
        ],
        capture_output=True,
        check=False,
    )
    assert assertion.returncode == 0, assertion.stderr
    verified = verify_envelope(document.read_bytes(), trust=trust_for(shared_pki()))
    assert verified.operator == OPERATOR_CF
    assert verified.payload is not None
    assert verified.payload.findtext("testataRichiesta/operazioneRichiesta") == "3002"


def test_cli_wrong_password_is_a_clean_error_without_the_secret(
    pki_files: PkiFiles, tmp_path: Path
) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text(
        CONFIG.format(cf=OPERATOR_CF, co=pki_files.comune_p12, pc=pki_files.workstation_p12)
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"}}))
    env = {"ANPR_CO_PASSWORD": "Not-The-Pass-991", "ANPR_PC_PASSWORD": FILE_PASSWORD}
    result = CliRunner().invoke(
        cli,
        ["request", "build", "3002", "--input", str(payload), "--sign", "--config", str(config)],
        env=env,
    )
    assert result.exit_code != 0
    assert "Not-The-Pass-991" not in result.output
    assert "PKCS#12" in result.output or "password" in result.output
