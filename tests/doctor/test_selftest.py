"""The SAML schema check: validates where the schema is installed, says why it cannot
otherwise, and fails an assertion that breaks the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.doctor import Verdict, selftest
from anpr_client.security.frame import WsSecurity
from anpr_client.simulator.pki import Pki
from tests.security.support import shared_pki

ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<x:Ping xmlns:x="urn:x"/></soap:Body></soap:Envelope>'
)


@pytest.fixture
def signed() -> etree._Element:
    pki: Pki = shared_pki()
    frame = WsSecurity(
        signer=pki.comune.key_source(),
        operator="RSSMRA80A01H501U",
        id_sede="058091",
        workstation_id="058091-PC-0001",
        workstation_key=pki.workstation.key_source(),
    )
    return etree.fromstring(frame.sign_bytes(ENVELOPE))


@pytest.fixture
def fresh_schema() -> Iterator[None]:
    selftest.saml_schema.cache_clear()
    yield
    selftest.saml_schema.cache_clear()


def test_without_the_schema_the_check_is_skipped_with_the_reason(
    signed: etree._Element, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_schema: None
) -> None:
    monkeypatch.setattr(selftest, "SAML_SCHEMA_DIRS", (tmp_path,))
    check = selftest._schema_check(signed)
    assert check.verdict is Verdict.SKIP
    assert "opensaml-schemas" in check.evidence


def test_an_assertion_breaking_the_schema_fails(signed: etree._Element, fresh_schema: None) -> None:
    if isinstance(selftest.saml_schema(), str):
        pytest.skip(str(selftest.saml_schema()))
    assert selftest._schema_check(signed).verdict is Verdict.OK
    assertion = next(signed.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"))
    del assertion.attrib["Version"]
    check = selftest._schema_check(signed)
    assert check.verdict is Verdict.FAIL
    assert "Version" in check.evidence
