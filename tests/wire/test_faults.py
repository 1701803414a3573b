"""ANPR's SOAP faults as published: each read into its typed exception, SOAP 1.1 and 1.2 alike,
and the causes of ``Internal Error (from client)`` ranked by what the client sent."""

from __future__ import annotations

import dataclasses

import pytest

from anpr_client.errors.exceptions import (
    CertificateRevoked,
    InternalErrorFromClient,
    OutcomeUnknown,
    RejectedByPolicy,
    ServerFault,
    SoapFault,
)
from anpr_client.errors.faults import INTERNAL_ERROR, SHA256_UNPROVEN
from anpr_client.settings import Settings
from anpr_client.simulator.pki import Pki
from anpr_client.soap.binding import Binding
from anpr_client.transport import HttpResponse, MockTransport
from tests.security.support import make_frame, shared_pki

from .corpus import fixture

POLICY = "Rejected by policy. (from client)"


def read_fault(binding: Binding, path: str) -> SoapFault:
    entry = fixture(path)
    with pytest.raises(SoapFault) as info:
        binding.read(entry.operation, entry.response())
    return info.value


@pytest.mark.parametrize(
    ("path", "cls", "faultstring", "operation"),
    [
        ("answers/fault-1.1-rejected-by-policy.xml", RejectedByPolicy, POLICY, "3002"),
        ("answers/fault-1.1-rejected-by-policy.http", RejectedByPolicy, POLICY, "TestConn"),
        ("answers/fault-1.1-rejected-by-policy-6001.xml", RejectedByPolicy, POLICY, "6001"),
        ("answers/fault-1.1-soap-env-header.xml", RejectedByPolicy, POLICY, "3002"),
        (
            "answers/fault-1.1-internal-error-from-client.xml",
            InternalErrorFromClient,
            "Internal Error (from client)",
            "E002",
        ),
        ("answers/fault-1.1-internal-error.xml", InternalErrorFromClient, "Internal Error", "P001"),
        (
            "answers/fault-1.1-certificate-revoked.xml",
            CertificateRevoked,
            "certificate revoked (from client)",
            "3002",
        ),
        (
            "answers/fault-1.1-error-nl.xml",
            SoapFault,
            "Aborting...Invalid request received ErrorNL (from client)",
            "3002",
        ),
    ],
)
def test_gateway_faults_are_typed_and_not_applied(
    binding: Binding, path: str, cls: type[SoapFault], faultstring: str, operation: str
) -> None:
    fault = read_fault(binding, path)
    assert type(fault) is cls
    assert fault.faultstring == faultstring  # trimmed of the spaces around it (#3574)
    assert fault.faultcode == "env:Client"
    assert fault.detail is None  # no ANPR fault ever carried one
    assert fault.operation == operation
    assert not isinstance(fault, OutcomeUnknown)
    assert fault.causes


def test_the_http_answer_of_a_fault_is_read_as_published(binding: Binding) -> None:
    response = fixture("answers/fault-1.1-rejected-by-policy.http").response()
    assert response.status == 500
    assert response.content_type == "text/xml"  # no charset (#988)
    assert response.headers["x-backside-transport"] == "FAIL FAIL"
    with pytest.raises(RejectedByPolicy) as info:
        binding.read("TestConn", response)
    assert "allow-list" in info.value.causes[0]


def test_the_soap12_fault_is_classified_like_its_soap11_twin(binding: Binding) -> None:
    """italia/anpr#2653: a 6001 got a SOAP 1.2 Receiver fault; the certificate may exist."""
    fault = read_fault(binding, "answers/fault-1.2-internal-error-from-server.xml")
    assert type(fault) is ServerFault
    assert isinstance(fault, OutcomeUnknown)
    assert fault.outcome_unknown is True
    assert fault.faultstring == "Internal Error (from server)"
    assert fault.faultcode == "env:Receiver"
    assert fault.operation == "6001"
    assert "MAY have been applied" in fault.causes[0]
    assert "a certificate may have been issued" in fault.causes[1]
    twin = binding.read  # the same text in a SOAP 1.1 envelope gets the same class and causes
    soap11 = (
        fixture("answers/fault-1.1-internal-error.xml")
        .data()
        .replace(
            b"<faultstring>Internal Error</faultstring>",
            b"<faultstring>Internal Error (from server)</faultstring>",
        )
    )
    with pytest.raises(ServerFault) as info:
        twin("6001", HttpResponse(500, {"content-type": "text/xml"}, soap11))
    assert info.value.causes == fault.causes


def test_a_soap12_answer_that_is_not_a_fault_is_a_protocol_error(binding: Binding) -> None:
    from anpr_client.errors.exceptions import ProtocolError

    body = (
        b"<env:Envelope xmlns:env='http://www.w3.org/2003/05/soap-envelope'><env:Body>"
        b"<x/></env:Body></env:Envelope>"
    )
    with pytest.raises(ProtocolError, match=r"SOAP 1\.2"):
        binding.read("3002", HttpResponse(200, {"content-type": "text/xml"}, body))


# ----------------------------------------------------------------------------- the algorithm


def _signing_binding(pki: Pki, answer: bytes, algorithm: str) -> Binding:
    settings = Settings(codice_istat=pki.istat)
    transport = MockTransport(
        lambda request: HttpResponse(500, {"content-type": "text/xml"}, answer)
    )
    return Binding(settings, transport=transport, wsse=make_frame(pki, algorithm=algorithm))


def _payload() -> dict[str, object]:
    return {
        "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": "2025-01-15",
        },
    }


def test_internal_error_to_an_rsa_sha256_request_whose_frame_verifies() -> None:
    """The fault diagnosis knows the request was signed rsa-sha256 and that its frame
    verifies: the unproven algorithm comes first (only rsa-sha1 frames are on the record as
    accepted, italia/anpr#1903, #2504)."""
    pki = shared_pki()
    answer = fixture("answers/fault-1.1-internal-error-from-client.xml").data()
    binding = _signing_binding(pki, answer, "rsa-sha256")
    prepared = binding.prepare("3002", _payload(), check=False)
    with pytest.raises(InternalErrorFromClient) as info:
        binding.send(prepared)
    causes = info.value.causes
    assert 'set signature = "rsa-sha1"' in causes[0]
    assert "verifies with our own verifier" in causes[0]
    assert causes[1:] == INTERNAL_ERROR.causes
    # the same answer read without the request (the journal's path): the frame's algorithm
    # is known, not whether it verifies; the XSD cause stays first
    with pytest.raises(InternalErrorFromClient) as info:
        binding.read("3002", binding.transmit(prepared))
    assert info.value.causes[:2] == (INTERNAL_ERROR.causes[0], SHA256_UNPROVEN)


def test_internal_error_to_an_rsa_sha1_request_gives_no_algorithm_advice() -> None:
    pki = shared_pki()
    answer = fixture("answers/fault-1.1-internal-error-from-client.xml").data()
    binding = _signing_binding(pki, answer, "rsa-sha1")
    with pytest.raises(InternalErrorFromClient) as info:
        binding.send(binding.prepare("3002", _payload(), check=False))
    assert info.value.causes == INTERNAL_ERROR.causes
    assert not any("rsa-sha256" in c for c in info.value.causes)


def test_internal_error_to_a_frame_our_verifier_refuses_names_that_first() -> None:
    pki = shared_pki()
    answer = fixture("answers/fault-1.1-internal-error-from-client.xml").data()
    binding = _signing_binding(pki, answer, "rsa-sha256")
    prepared = binding.prepare("3002", _payload(), check=False)
    broken = dataclasses.replace(
        prepared, envelope=prepared.envelope.replace(b"RSSMRA80A01H501U", b"BNCLRA85M41F205X")
    )
    with pytest.raises(InternalErrorFromClient) as info:
        binding.send(broken)
    assert "our own verifier refuses" in info.value.causes[0]
    assert "modified after signing" in info.value.causes[0]


def test_internal_error_to_an_unsigned_request() -> None:
    answer = fixture("answers/fault-1.1-internal-error-from-client.xml").data()
    transport = MockTransport(
        lambda request: HttpResponse(500, {"content-type": "text/xml"}, answer)
    )
    binding = Binding(Settings(codice_istat="058091"), transport=transport)
    with pytest.raises(InternalErrorFromClient) as info:
        binding.send(binding.prepare("3002", _payload(), check=False))
    assert "no WS-Security frame" in info.value.causes[0]
