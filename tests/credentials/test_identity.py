"""The operator's codice fiscale: validated from settings, or read from a CNS certificate."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from anpr_client.credentials.identity import (
    codice_fiscale_from_certificate,
    validate_codice_fiscale,
)
from anpr_client.errors.exceptions import ConfigurationError, CredentialError
from anpr_client.simulator.pki import Pki, issue_certificate


@pytest.mark.parametrize(
    "value",
    ["RSSMRA80A01H501U", "rssmra80a01h501u", " RSSMRA80A01H501U ", "RSSMRA80A01H5L1F"],
)
def test_valid_codici_fiscali(value: str) -> None:
    # The last one is omocodic (a digit replaced by its letter) with its own check letter.
    assert validate_codice_fiscale(value) == value.strip().upper()


@pytest.mark.parametrize("value", ["RSSMRA80A01H501X", "RSSMRA80A01H501", "RSSMRA8EA01H501U", ""])
def test_invalid_codici_fiscali(value: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        validate_codice_fiscale(value)
    assert err.value.setting == "operator.codice_fiscale"
    assert err.value.rule
    assert "not a valid codice fiscale" in str(err.value)


def test_read_from_the_cns_common_name(pki: Pki) -> None:
    cn = pki.operator.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert str(cn).startswith("RSSMRA80A01H501U/")
    assert codice_fiscale_from_certificate(pki.operator.certificate) == "RSSMRA80A01H501U"


def test_read_from_serial_number(pki: Pki) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "TINIT-VRDGPP80A01H501U"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Giuseppe Verdi"),
        ]
    )
    card = issue_certificate(pki.cns_ca, subject)
    assert codice_fiscale_from_certificate(card.certificate) == "VRDGPP80A01H501U"


def test_a_certificate_without_a_codice_fiscale(pki: Pki) -> None:
    with pytest.raises(CredentialError, match="no codice fiscale"):
        codice_fiscale_from_certificate(pki.comune.certificate)
