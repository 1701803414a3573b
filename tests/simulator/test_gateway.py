"""The simulated gateway answers a broken frame with the fault class ANPR's gateway gives.

Every request here goes over real TLS on loopback to a running simulator, signed by the
library's frame and then broken the way the security tests break frames (tests/security):
tampered Body, signature wrapping, unsigned Timestamp, expired or future Timestamp, untrusted
or revoked certificate, missing SAML attribute, wrong IdSede, XSD-invalid body; and the way
WSS4J under ANPR's CXF is stricter than our verifier: a Timestamp without Expires or created
too long ago, a workstation of another Comune, an unknown header that must be understood, and
input that breaks a parser (a year-9999 instant, a certificate with a duplicated extension).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from tests.security.support import body_of, resign, security_of

from anpr_client.errors.exceptions import (
    CertificateRevoked,
    InternalErrorFromClient,
    RejectedByPolicy,
    SoapFault,
)
from anpr_client.simulator import Simulator
from anpr_client.simulator.pki import generate_test_pki

from .conftest import MakeSimulator
from .support import (
    A,
    B,
    frame_for,
    payload_3002,
    send_raw,
    send_signed,
    started_simulator,
    unsigned_envelope,
    with_duplicated_extension,
)

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

# ANPR's gateway fault as published, byte for byte (italia/anpr#192, #2594; HTTP 500 and
# text/xml without a charset in #988).
PUBLISHED_REJECTED_BY_POLICY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault>'
    b"<faultcode>env:Client</faultcode><faultstring>Rejected by policy. (from client)"
    b"</faultstring></env:Fault></env:Body></env:Envelope>"
)


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("gateway-state")
    with started_simulator(pki_template, state) as simulator:
        yield simulator


def _cf(sim: Simulator) -> str:
    return sim.store.residents(A)[0].codice_fiscale


def _request(sim: Simulator, **header: object) -> etree._Element:
    return unsigned_envelope(sim, "3002", payload_3002(_cf(sim)), A, **header)


def test_a_well_formed_signed_request_passes(sim: Simulator) -> None:
    result = send_signed(sim, "3002", _request(sim), frame_for(sim, A))
    assert result.outcome == "Risposta3002_OK"


def test_rsa_sha1_passes_like_on_anpr(sim: Simulator) -> None:
    result = send_signed(sim, "3002", _request(sim), frame_for(sim, A, algorithm="rsa-sha1"))
    assert result.outcome == "Risposta3002_OK"


def test_tampered_body_is_internal_error(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(_request(sim))
    cf = body_of(signed).find(".//criteriRicerca/codiceFiscale")
    assert cf is not None
    cf.text = sim.store.residents(A)[1].codice_fiscale
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", etree.tostring(signed), None)


def test_body_moved_into_a_wrapper_is_internal_error(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(_request(sim))
    body = body_of(signed)
    wrapper = etree.SubElement(security_of(signed), "Wrapper")
    wrapper.append(body)
    forged = etree.SubElement(signed, body.tag)
    forged.append(etree.fromstring(etree.tostring(body[0])))
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", etree.tostring(signed), None)


def test_unsigned_timestamp_is_internal_error(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(_request(sim))
    data = resign(signed, sim.pki.comune(A).comune.key_source(), references=[body_of(signed)])
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", data, None)


def test_missing_frame_is_internal_error(sim: Simulator) -> None:
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", _request(sim), None)


@pytest.mark.parametrize("shift", [-3600, 3600], ids=["expired", "future"])
def test_timestamp_outside_its_window_is_rejected_by_policy(sim: Simulator, shift: int) -> None:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=shift)
    frame = frame_for(sim, A, clock=lambda: moment)
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _request(sim), frame)


def test_untrusted_certificate_is_rejected_by_policy(sim: Simulator) -> None:
    other = generate_test_pki(A)  # same names, another CA
    frame = frame_for(
        sim,
        A,
        signer=other.comune.key_source(),
        workstation_key=other.workstation.key_source(),
    )
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _request(sim), frame)


def test_missing_saml_attribute_is_internal_error(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(_request(sim))
    assertion = security_of(signed).find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    for attribute in assertion.iter(f"{{{SAML}}}Attribute"):
        if attribute.get("Name") == "IdApplicazione":
            parent = attribute.getparent()
            assert parent is not None
            parent.remove(attribute)
    data = resign(signed, sim.pki.comune(A).comune.key_source())
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", data, None)


def test_idsede_other_than_codmittente_is_rejected_by_policy(sim: Simulator) -> None:
    # Signed correctly by Comune A, but the request claims to come from Comune B.
    request = unsigned_envelope(sim, "3002", payload_3002(_cf(sim)), A, codMittente=B)
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", request, frame_for(sim, A))


def test_certificate_of_another_comune_is_rejected_by_policy(sim: Simulator) -> None:
    other = sim.pki.comune(B)
    frame = frame_for(
        sim,
        A,
        signer=other.comune.key_source(),
        workstation_key=other.workstation.key_source(),
        workstation_id=other.workstation_id,
    )
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _request(sim), frame)


def test_operator_that_is_not_a_codice_fiscale_is_rejected_by_policy(sim: Simulator) -> None:
    frame = frame_for(sim, A, operator="COMUNETEST019025", validate_operator=False)
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _request(sim), frame)


def test_xsd_invalid_body_is_internal_error(sim: Simulator) -> None:
    request = _request(sim)
    criteria = request.find(".//criteriRicerca")
    assert criteria is not None
    etree.SubElement(criteria, "campoInventato").text = "x"
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", request, frame_for(sim, A))


def test_request_of_another_service_at_this_path_is_internal_error(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(unsigned_envelope(sim, "TestConn", {}, A))
    response = send_raw(sim, "3002", etree.tostring(signed))
    assert response.status == 500
    assert b"Internal Error (from client)" in response.body


@pytest.mark.parametrize(
    "body",
    [
        b"<not-closed>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<x>&b;</x>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    ],
    ids=["not-well-formed", "entity-expansion", "external-entity"],
)
def test_unacceptable_xml_is_internal_error(sim: Simulator, body: bytes) -> None:
    response = send_raw(sim, "3002", body)
    assert response.status == 500
    assert b"Internal Error (from client)" in response.body


def test_oversized_body_is_refused_before_parsing(make_simulator: MakeSimulator) -> None:
    small = make_simulator(max_body_bytes=4096)
    response = send_raw(small, "3002", b"<x>" + b"a" * 10_000 + b"</x>")
    assert response.status == 413


def test_clock_skew_of_the_server_is_rejected_by_policy(make_simulator: MakeSimulator) -> None:
    skewed = make_simulator(clock_offset=900.0)
    with pytest.raises(RejectedByPolicy):
        send_signed(skewed, "3002", _request(skewed), frame_for(skewed, A))
    skewed.clock.offset = 0.0
    assert send_signed(skewed, "3002", _request(skewed), frame_for(skewed, A)).outcome


def test_revoked_certificate_gets_certificate_revoked(make_simulator: MakeSimulator) -> None:
    fresh = make_simulator()
    client = fresh.client(A, journal=None)
    assert client.test_connection().esito_operazione == "0000"
    fresh.revoke(A)
    with pytest.raises(CertificateRevoked):
        client.test_connection()
    # Revocation is per Comune: B still works, and it survives a restart of the simulator.
    assert fresh.client(B, journal=None).test_connection().esito_operazione == "0000"
    fresh.stop()
    fresh.start()
    with pytest.raises(CertificateRevoked):
        fresh.client(A, journal=None).test_connection()


def test_sha1_refused_when_the_gateway_forbids_it(make_simulator: MakeSimulator) -> None:
    strict = make_simulator(allow_sha1=False)
    with pytest.raises(InternalErrorFromClient):
        send_signed(strict, "3002", _request(strict), frame_for(strict, A, algorithm="rsa-sha1"))


def test_unsigned_requests_pass_when_signatures_are_not_required(
    make_simulator: MakeSimulator,
) -> None:
    open_sim = make_simulator(require_signature=False)
    result = send_signed(open_sim, "3002", _request(open_sim), None)
    assert result.outcome == "Risposta3002_OK"
    # A frame that is present is still verified.
    signed = frame_for(open_sim, A).sign(_request(open_sim))
    body_of(signed)[0].set("tampered", "1")
    with pytest.raises(InternalErrorFromClient):
        send_signed(open_sim, "3002", etree.tostring(signed), None)


def test_id_postazione_firmato_of_another_workstation_is_internal_error(sim: Simulator) -> None:
    send_signed(sim, "3002", _request(sim), frame_for(sim, A))  # A's own proof, now known
    borrowed = frame_for(sim, B).id_postazione_firmato
    frame = frame_for(sim, A, id_postazione_firmato=borrowed, workstation_key=None)
    with pytest.raises(InternalErrorFromClient):
        send_signed(sim, "3002", _request(sim), frame)


def test_a_known_workstation_proof_is_still_checked_for_revocation(sim: Simulator) -> None:
    from anpr_client.errors.exceptions import RevokedCertificate
    from anpr_client.simulator.gateway import _WorkstationProofs

    frame = frame_for(sim, A)
    attributes = {
        "IdPostazione": frame.workstation_id,
        "IdPostazioneFirmato": frame.id_postazione_firmato,
    }
    proofs = _WorkstationProofs()
    now = dt.datetime.now(dt.UTC)
    trust = sim.trust()
    first = proofs.verify(attributes, trust=trust, policy=sim.gateway.policy, now=now)
    assert first.content == frame.workstation_id.encode()
    revoked = trust.revoking(serials=[sim.pki.comune(A).workstation.certificate.serial_number])
    with pytest.raises(RevokedCertificate):
        proofs.verify(attributes, trust=revoked, policy=sim.gateway.policy, now=now)


def test_client_certificate_required_when_configured(make_simulator: MakeSimulator) -> None:
    from anpr_client.client import Client
    from anpr_client.errors.exceptions import TLSError

    mutual = make_simulator(require_client_cert=True)
    settings = mutual.settings(A)
    assert settings.tls_client is not None  # the settings file carries the workstation key
    assert mutual.client(A, journal=None).test_connection().esito_operazione == "0000"
    anonymous = Client(settings.replace(tls_client=None), journal=None)
    with pytest.raises(TLSError):
        anonymous.test_connection()


def test_gateway_fault_lives_here_and_its_old_name_says_so() -> None:
    """The client side never imports the simulator, so the old name cannot forward: using it
    raises an ImportError that names the new home."""
    import anpr_client.security

    for old in ("anpr_client.security", "anpr_client.security.verify"):
        with pytest.raises(ImportError, match=r"anpr_client\.simulator\.gateway\.gateway_fault"):
            exec(f"from {old} import gateway_fault", {})  # noqa: S102
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(anpr_client.security, "no_such_name")  # noqa: B009
    assert "gateway_fault" not in anpr_client.security.__all__


# ----------------------------------------------------------------------------- as strict as WSS4J


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _with_timestamp(sim: Simulator, created: str, expires: str | None) -> bytes:
    """A request signed by Comune A whose Timestamp says ``created``/``expires`` (no Expires
    element for ``None``), honestly re-signed: the times are the only defect."""
    signed = frame_for(sim, A).sign(_request(sim))
    timestamp = security_of(signed).find(f"{{{WSU}}}Timestamp")
    assert timestamp is not None
    created_el = timestamp.find(f"{{{WSU}}}Created")
    expires_el = timestamp.find(f"{{{WSU}}}Expires")
    assert created_el is not None
    assert expires_el is not None
    created_el.text = created
    if expires is None:
        timestamp.remove(expires_el)
    else:
        expires_el.text = expires
    return resign(signed, sim.pki.comune(A).comune.key_source())


def test_gateway_fault_has_the_published_form(sim: Simulator) -> None:
    frame = frame_for(sim, A, operator="COMUNETEST019025", validate_operator=False)
    response = send_raw(sim, "3002", etree.tostring(frame.sign(_request(sim))))
    assert response.status == 500
    assert response.content_type == "text/xml"
    assert response.body == PUBLISHED_REJECTED_BY_POLICY


def test_timestamp_without_expires_is_rejected_by_policy(sim: Simulator) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _with_timestamp(sim, _instant(now), None), None)


@pytest.mark.parametrize(("age", "accepted"), [(240, True), (360, False)])
def test_timestamp_created_more_than_300_s_ago_is_rejected_by_policy(
    sim: Simulator, age: int, accepted: bool
) -> None:
    # The window of the Timestamp itself is still open (Expires 100 s ahead): only the age of
    # Created decides, as WSS4J's timeStampTTL does.
    now = dt.datetime.now(dt.UTC)
    created = _instant(now - dt.timedelta(seconds=age))
    data = _with_timestamp(sim, created, _instant(now + dt.timedelta(seconds=100)))
    if accepted:
        assert send_signed(sim, "3002", data, None).outcome == "Risposta3002_OK"
    else:
        with pytest.raises(RejectedByPolicy):
            send_signed(sim, "3002", data, None)


def test_timestamp_ttl_is_a_setting(make_simulator: MakeSimulator) -> None:
    lenient = make_simulator(timestamp_ttl=900.0)
    now = dt.datetime.now(dt.UTC)
    created = _instant(now - dt.timedelta(seconds=600))
    data = _with_timestamp(lenient, created, _instant(now + dt.timedelta(seconds=100)))
    assert send_signed(lenient, "3002", data, None).outcome == "Risposta3002_OK"


def test_workstation_of_another_comune_is_rejected_by_policy(sim: Simulator) -> None:
    # Signed by Comune A, IdSede A, but IdPostazione and IdPostazioneFirmato are Comune B's
    # workstation (a valid proof of B's workstation, by B's workstation certificate).
    other = sim.pki.comune(B)
    frame = frame_for(
        sim,
        A,
        workstation_id=other.workstation_id,
        workstation_key=other.workstation.key_source(),
    )
    with pytest.raises(RejectedByPolicy):
        send_signed(sim, "3002", _request(sim), frame)


def test_workstation_proof_signed_by_another_comune_is_rejected_by_policy(
    make_simulator: MakeSimulator,
) -> None:
    # IdPostazione is A's, but B's workstation certificate signed the proof. The verifier's
    # name rule (the CMS signer named after IdPostazione) would say Internal Error first: with
    # that rule off, the gateway's own Comune rule still refuses it.
    loose = make_simulator()
    loose.gateway.policy = dataclasses.replace(
        loose.gateway.policy, workstation_cn_must_match=False
    )
    frame = frame_for(loose, A, workstation_key=loose.pki.comune(B).workstation.key_source())
    with pytest.raises(RejectedByPolicy):
        send_signed(loose, "3002", _request(loose), frame)


def _with_header(sim: Simulator, must_understand: str | None, actor: str | None = None) -> bytes:
    """A correctly signed request plus an unknown header block (headers are not signed)."""
    signed = frame_for(sim, A).sign(_request(sim))
    header = signed.find(f"{{{SOAP}}}Header")
    assert header is not None
    block = etree.SubElement(header, "{urn:example:trace}Trace")
    block.text = "x"
    if must_understand is not None:
        block.set(f"{{{SOAP}}}mustUnderstand", must_understand)
    if actor is not None:
        block.set(f"{{{SOAP}}}actor", actor)
    return etree.tostring(signed)


@pytest.mark.parametrize("value", ["1", "true"])
def test_unknown_header_that_must_be_understood_gets_must_understand(
    sim: Simulator, value: str
) -> None:
    response = send_raw(sim, "3002", _with_header(sim, value))
    assert response.status == 500
    assert response.content_type == "text/xml"
    fault = etree.fromstring(response.body).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == "env:MustUnderstand"
    assert fault.findtext("faultstring") == (
        "MustUnderstand headers: [{urn:example:trace}Trace] are not understood."
    )
    assert fault.find("detail") is None
    with pytest.raises(SoapFault) as caught:
        send_signed(sim, "3002", _with_header(sim, value), None)
    assert caught.value.faultcode == "env:MustUnderstand"


@pytest.mark.parametrize(
    ("value", "actor"),
    [(None, None), ("0", None), ("1", "http://example.org/another-node")],
    ids=["no-attribute", "zero", "for-another-node"],
)
def test_unknown_header_that_need_not_be_understood_is_ignored(
    sim: Simulator, value: str | None, actor: str | None
) -> None:
    result = send_signed(sim, "3002", _with_header(sim, value, actor), None)
    assert result.outcome == "Risposta3002_OK"


def _assert_gateway_fault(sim: Simulator, data: bytes) -> None:
    """The answer is one of the gateway's faults, on a connection that stayed up: not a
    dropped connection, not the simulator's own ``Internal Error (from server)``."""
    response = send_raw(sim, "3002", data)
    assert response.status == 500
    assert response.content_type == "text/xml"
    with pytest.raises((InternalErrorFromClient, RejectedByPolicy)):
        send_signed(sim, "3002", data, None)
    # and the next genuine request is served
    assert send_signed(sim, "3002", _request(sim), frame_for(sim, A)).outcome


@pytest.mark.parametrize(
    ("created", "expires"),
    [
        ("9999-12-31T23:59:59-14:00", None),
        ("now", "9999-12-31T23:59:59-14:00"),
        ("9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-14:00"),
    ],
    ids=["created", "expires", "both"],
)
def test_year_9999_timestamp_gets_the_gateways_fault(
    sim: Simulator, created: str, expires: str | None
) -> None:
    now = dt.datetime.now(dt.UTC)
    created = _instant(now) if created == "now" else created
    expires = expires or _instant(now + dt.timedelta(seconds=100))
    _assert_gateway_fault(sim, _with_timestamp(sim, created, expires))


def test_year_9999_assertion_gets_the_gateways_fault(sim: Simulator) -> None:
    signed = frame_for(sim, A).sign(_request(sim))
    assertion = security_of(signed).find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    for element in assertion.iter():
        if element.get("NotOnOrAfter"):
            element.set("NotOnOrAfter", "9999-12-31T23:59:59-14:00")
    _assert_gateway_fault(sim, resign(signed, sim.pki.comune(A).comune.key_source()))


@pytest.mark.parametrize("which", ["signer", "workstation"])
def test_certificate_with_a_duplicated_extension_gets_the_gateways_fault(
    sim: Simulator, which: str
) -> None:
    ident = sim.pki.comune(A)
    if which == "signer":
        forged = with_duplicated_extension(ident.comune, sim.pki.ca)
        frame = frame_for(sim, A, signer=forged.key_source())
    else:
        forged = with_duplicated_extension(ident.workstation, sim.pki.ca)
        frame = frame_for(sim, A, workstation_key=forged.key_source())
    _assert_gateway_fault(sim, etree.tostring(frame.sign(_request(sim))))
