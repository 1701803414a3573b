"""A frame for another desk (issue 17 point 2): another operator, another workstation, the same
Comune key; and ``Client.for_desk``, which signs with it over the same transport and journal."""

from __future__ import annotations

import pytest
from lxml import etree

from anpr_client import Client, Environment, HttpRequest, HttpResponse, Settings
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.pki import Pki, issue_certificate, name
from tests.security.support import (
    ENVELOPE_3002,
    OPERATOR_CF,
    SAML,
    attribute_values,
    make_frame,
    trust_for,
)

OTHER_CF = "RSSLRA82B41H501Y"


def _name_id(signed: bytes) -> str:
    found = etree.fromstring(signed).find(f".//{{{SAML}}}NameID")
    assert found is not None
    return found.text or ""


def test_another_operator_shares_the_key_and_the_workstation(pki: Pki) -> None:
    frame = make_frame(pki)
    desk = frame.for_desk(operator=OTHER_CF)
    signed = desk.sign_bytes(ENVELOPE_3002)
    verify_envelope(signed, trust=trust_for(pki))
    assert _name_id(signed) == OTHER_CF
    assert _name_id(frame.sign_bytes(ENVELOPE_3002)) == OPERATOR_CF  # the original is unchanged
    assert desk.workstation_id == frame.workstation_id
    assert desk.id_postazione_firmato == frame.id_postazione_firmato
    assert desk.operator == OTHER_CF


def test_another_workstation_signs_its_id_once(pki: Pki) -> None:
    frame = make_frame(pki)
    workstation = issue_certificate(pki.ca, name(f"{pki.istat}-PC-0002"))
    desk = frame.for_desk(
        workstation_id=f"{pki.istat}-PC-0002", workstation_key=workstation.key_source()
    )
    signed = desk.sign_bytes(ENVELOPE_3002)
    verify_envelope(signed, trust=trust_for(pki))
    values = attribute_values(etree.fromstring(signed))
    assert values["IdPostazione"] == f"{pki.istat}-PC-0002"
    assert values["IdPostazioneFirmato"] == desk.id_postazione_firmato
    assert desk.id_postazione_firmato != frame.id_postazione_firmato
    assert _name_id(signed) == OPERATOR_CF


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"workstation_id": "058091-PC-0009"}, "workstation"),  # no key, not the CO certificate
        ({"workstation_id": "PC-0009"}, "workstation.id"),
        ({"workstation_id": "015146-PC-0001"}, "workstation.id"),  # another Comune's
        ({"operator": " "}, "operator"),
    ],
)
def test_a_desk_that_cannot_sign_is_refused(
    pki: Pki, options: dict[str, str], setting: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make_frame(pki).for_desk(validate_operator=False, **options)  # type: ignore[arg-type]
    assert refused.value.setting == setting


def test_an_expired_workstation_key_is_refused_before_signing(pki: Pki) -> None:
    import datetime as dt

    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    expired = issue_certificate(
        pki.ca,
        name(f"{pki.istat}-PC-0003"),
        not_before=past,
        not_after=past + dt.timedelta(days=30),
    )
    with pytest.raises(ConfigurationError) as refused:
        make_frame(pki).for_desk(
            workstation_id=f"{pki.istat}-PC-0003", workstation_key=expired.key_source()
        )
    assert refused.value.setting == "workstation"


def test_an_operator_that_is_no_codice_fiscale_is_refused(pki: Pki) -> None:
    with pytest.raises(ConfigurationError):
        make_frame(pki).for_desk(operator="NOTACODICEFISCALE")


class Counting:
    """A transport that answers nothing and counts its closes."""

    def __init__(self) -> None:
        self.closed = 0

    def send(self, request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
        raise AssertionError("nothing is sent")

    def close(self) -> None:
        self.closed += 1


def _client(pki: Pki, environment: Environment, transport: Counting) -> Client:
    settings = Settings(codice_istat=pki.istat, environment=environment)
    return Client(settings, transport=transport, wsse=make_frame(pki), journal=None)


def test_client_for_desk_signs_for_the_operator_and_closes_nothing(pki: Pki) -> None:
    transport = Counting()
    client = _client(pki, Environment.TEST, transport)
    desk = client.for_desk(operator="COMUNETEST019025")  # a generic test user: test only
    assert desk.transport is client.transport
    assert desk.journal is client.journal
    assert _name_id(desk.prepare("TestConn", {}).envelope) == "COMUNETEST019025"
    assert _name_id(client.prepare("TestConn", {}).envelope) == OPERATOR_CF
    desk.close()
    assert transport.closed == 0
    client.close()
    assert transport.closed == 1


def test_client_for_desk_checks_the_operator_for_the_environment(pki: Pki) -> None:
    client = _client(pki, Environment.PRODUZIONE, Counting())
    with pytest.raises(ConfigurationError) as refused:
        client.for_desk(operator="COMUNETEST019025")
    assert refused.value.setting == "operator.codice_fiscale"
    unsigned = Client(
        Settings(codice_istat=pki.istat), transport=Counting(), wsse=None, journal=None
    )
    with pytest.raises(ConfigurationError) as no_frame:
        unsigned.for_desk(operator=OTHER_CF)
    assert no_frame.value.setting == "comune_key"


def test_closing_a_frame_releases_its_key(pki: Pki) -> None:
    class Closable:
        def __init__(self) -> None:
            self.closed = False
            self.inner = pki.comune.key_source()
            self.certificate = self.inner.certificate

        def sign(self, data: bytes, method: object) -> bytes:
            return self.inner.sign(data, method)  # type: ignore[arg-type]

        def close(self) -> None:
            self.closed = True

    key = Closable()
    frame = make_frame(pki, signer=key)  # type: ignore[arg-type]
    frame.for_desk(operator=OTHER_CF)
    assert not key.closed
    frame.close()
    assert key.closed
