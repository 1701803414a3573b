"""SOAP fault texts → typed exceptions with ranked, actionable causes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anpr_client.errors.exceptions import (
    AnprError,
    CertificateRevoked,
    InternalErrorFromClient,
    OutcomeUnknown,
    RejectedByPolicy,
    ServerFault,
    SoapFault,
)
from anpr_client.errors.faults import (
    FAULTS,
    INTERNAL_ERROR,
    SHA256_UNPROVEN,
    RequestFrame,
    classify_fault,
    fault_exception,
)

# (faultstring, faultcode, http_status) → class, and a word of the advice we must give first
CASES = [
    ("Internal Error (from client)", "env:Client", 500, InternalErrorFromClient, "XSD"),
    ("Internal Error", "env:Client", 500, InternalErrorFromClient, "XSD"),
    ("internal error (FROM CLIENT).", "soap:Client", None, InternalErrorFromClient, "XSD"),
    ("Rejected by policy. (from client)", "env:Client", 500, RejectedByPolicy, "allow-list"),
    ("  Rejected  by policy.(from client) ", "", None, RejectedByPolicy, "allow-list"),
    ("certificate revoked (from client)", "env:Client", 500, CertificateRevoked, "console"),
    ("Internal Error (from server)", "env:Client", 500, ServerFault, "3003"),
    ("Malformed content (from server)", "env:Client", 500, ServerFault, "3003"),
    ("Gateway Timeout (from server)", "", 504, ServerFault, "SAME idOperazioneComune"),
    (
        "Aborting...Invalid request received ErrorNL (from client)",
        "env:Client",
        500,
        SoapFault,
        "same idOperazioneComune",
    ),
    ("Error while creating SAML assertion wrapper", "soap:Server", 500, SoapFault, "keystore"),
    ("Some new gateway text (from client)", "env:Client", 500, SoapFault, "XSD"),
    # The faultcode CXF's MustUnderstandInterceptor answers with (the simulator's gateway too).
    (
        "MustUnderstand headers: [{urn:x}Extra] are not understood.",
        "soap:MustUnderstand",
        500,
        SoapFault,
        "mustUnderstand",
    ),
    ("Something nobody has seen", "", 500, SoapFault, "SAME idOperazioneComune"),
    ("Something nobody has seen", "soapenv:Server", 500, ServerFault, "3003"),
    (
        "Something nobody has seen",
        "{http://www.w3.org/2003/05/soap-envelope}Receiver",
        None,
        ServerFault,
        "3003",
    ),
    ("Something nobody has seen", "", 502, ServerFault, "HTTP 502"),
    ("Something nobody has seen", "", 503, ServerFault, "3003"),
    ("", "", None, SoapFault, "SAME idOperazioneComune"),
]


@pytest.mark.parametrize(("text", "code", "status", "cls", "hint"), CASES)
def test_each_fault_text_maps_to_its_exception_with_a_hint(
    text: str, code: str, status: int | None, cls: type[SoapFault], hint: str
) -> None:
    exc = fault_exception(text, faultcode=code, http_status=status, operation="3002")
    assert type(exc) is cls
    assert exc.faultstring == text
    assert exc.faultcode == code
    assert exc.causes, "at least one ranked cause"
    message = str(exc)
    assert "likely causes, most likely first" in message
    assert hint in message
    assert message.startswith("operation 3002: SOAP fault")
    assert "1. " + exc.causes[0] in message


def test_policy_causes_are_ranked_as_documented() -> None:
    causes = fault_exception("Rejected by policy. (from client)").causes
    assert "allow-list" in causes[0]
    assert "NameID" in causes[1]
    assert "clock" in causes[2]
    assert "test" in causes[3]
    assert "production" in causes[3]


def test_internal_error_causes_are_ranked_as_documented() -> None:
    causes = fault_exception("Internal Error (from client)").causes
    assert "XSD" in causes[0]
    assert "Timestamp" in causes[1]
    assert "Body" in causes[1]
    assert "SAML" in causes[2]
    assert "clock" in causes[3]


@pytest.mark.parametrize(
    "text",
    ["Internal Error (from server)", "Malformed content (from server)", "Anything (from server)"],
)
def test_server_faults_are_outcome_unknown(text: str) -> None:
    exc = fault_exception(text, faultcode="env:Client", http_status=500)
    assert isinstance(exc, ServerFault)
    assert isinstance(exc, OutcomeUnknown)
    assert exc.outcome_unknown is True
    assert "MAY have been applied" in str(exc)
    assert "never resend it under a new id" in str(exc)


@pytest.mark.parametrize(
    "text",
    [
        "Internal Error (from client)",
        "Rejected by policy. (from client)",
        "certificate revoked (from client)",
        "Aborting...Invalid request received ErrorNL (from client)",
    ],
)
def test_client_side_faults_are_not_outcome_unknown(text: str) -> None:
    exc = fault_exception(text, faultcode="env:Client", http_status=500)
    assert not isinstance(exc, OutcomeUnknown)
    assert not getattr(exc, "outcome_unknown", False)


def test_a_client_text_wins_over_a_gateway_status() -> None:
    exc = fault_exception("Rejected by policy. (from client)", http_status=503)
    assert type(exc) is RejectedByPolicy


def test_detail_and_operation_are_kept() -> None:
    exc = fault_exception("Internal Error", faultcode="env:Client", detail="d", operation="5001")
    assert exc.detail == "d"
    assert exc.operation == "5001"
    assert fault_exception("Internal Error").operation is None


def test_every_fault_kind_is_reachable_and_explained() -> None:
    assert {k.key for k in FAULTS} == {
        classify_fault(t, faultcode=c, http_status=s).key for t, c, s, _, _ in CASES
    }
    for kind in FAULTS:
        assert kind.causes
        assert issubclass(kind.exception, SoapFault)
        assert kind.outcome_unknown == issubclass(kind.exception, OutcomeUnknown)


@given(
    faultstring=st.text(max_size=200),
    faultcode=st.text(max_size=40),
    detail=st.none() | st.text(max_size=50),
    http_status=st.none() | st.integers(min_value=-1000, max_value=100_000),
    operation=st.none() | st.text(max_size=8),
)
def test_fault_exception_is_total(
    faultstring: str,
    faultcode: str,
    detail: str | None,
    http_status: int | None,
    operation: str | None,
) -> None:
    exc = fault_exception(
        faultstring,
        faultcode=faultcode,
        detail=detail,
        http_status=http_status,
        operation=operation,
    )
    assert isinstance(exc, SoapFault)
    assert isinstance(exc, AnprError)
    assert exc.faultstring == faultstring
    assert exc.causes
    assert str(exc)


@given(value=st.one_of(st.none(), st.integers(), st.binary(max_size=20), st.floats()))
def test_fault_exception_survives_values_of_the_wrong_type(value: object) -> None:
    exc = fault_exception(value, faultcode=value, detail=value, http_status=value)  # type: ignore[arg-type]
    assert isinstance(exc, SoapFault)
    assert isinstance(exc.faultstring, str)
    assert str(exc)


# ----------------------------------------------------------------------------- the algorithm


def _internal(frame: RequestFrame | None) -> tuple[str, ...]:
    exc = fault_exception(
        "Internal Error (from client)", faultcode="env:Client", request_frame=frame
    )
    assert type(exc) is InternalErrorFromClient
    return exc.causes


def test_rsa_sha256_comes_first_when_our_own_frame_verifies() -> None:
    """Only rsa-sha1 frames are on the public record as accepted (italia/anpr#1903, #2504)."""
    causes = _internal(RequestFrame("rsa-sha256", checked=True))
    assert 'set signature = "rsa-sha1"' in causes[0]
    assert "verifies with our own verifier" in causes[0]
    assert "#1903" in causes[0]
    assert causes[1:] == INTERNAL_ERROR.causes  # the usual causes follow, in their order


def test_rsa_sha256_comes_second_when_the_frame_was_not_checked() -> None:
    causes = _internal(RequestFrame("rsa-sha256"))
    assert causes[0] == INTERNAL_ERROR.causes[0]  # XSD: the commonest cause on the record
    assert causes[1] == SHA256_UNPROVEN
    assert causes[2:] == INTERNAL_ERROR.causes[1:]


def test_a_frame_our_verifier_refuses_comes_first() -> None:
    causes = _internal(RequestFrame("rsa-sha256", checked=True, problem="digest mismatch"))
    assert "our own verifier refuses" in causes[0]
    assert "digest mismatch" in causes[0]
    assert causes[-1] == SHA256_UNPROVEN
    sha1 = _internal(RequestFrame("rsa-sha1", checked=True, problem="digest mismatch"))
    assert "digest mismatch" in sha1[0]
    assert SHA256_UNPROVEN not in sha1


def test_no_algorithm_advice_for_an_rsa_sha1_request() -> None:
    assert _internal(RequestFrame("rsa-sha1", checked=True)) == INTERNAL_ERROR.causes
    assert _internal(RequestFrame("rsa-sha1")) == INTERNAL_ERROR.causes


def test_an_unsigned_request_is_named_first() -> None:
    causes = _internal(RequestFrame(None))
    assert "no WS-Security frame" in causes[0]
    assert causes[1:] == INTERNAL_ERROR.causes


def test_without_knowledge_of_the_request_the_algorithm_is_listed_last() -> None:
    causes = _internal(None)
    assert causes[: len(INTERNAL_ERROR.causes)] == INTERNAL_ERROR.causes
    assert causes[-1] == "if the request was signed rsa-sha256: " + SHA256_UNPROVEN


def test_the_frame_only_reranks_internal_error() -> None:
    frame = RequestFrame("rsa-sha256", checked=True)
    policy = fault_exception("Rejected by policy. (from client)", request_frame=frame)
    assert policy.causes == fault_exception("Rejected by policy. (from client)").causes
    assert SHA256_UNPROVEN not in " ".join(policy.causes)


def test_a_6001_server_fault_says_a_certificate_may_have_been_issued() -> None:
    """italia/anpr#2653 (SOAP 1.2 Receiver on 6001) and #1058 (the certificate was issued)."""
    exc = fault_exception(
        "Internal Error (from server)", faultcode="env:Receiver", operation="6001"
    )
    assert isinstance(exc, ServerFault)
    assert "MAY have been applied" in exc.causes[0]
    assert "a certificate may have been issued" in exc.causes[1]
    assert "3003" in exc.causes[1]
    other = fault_exception("Internal Error (from server)", operation="3002")
    assert not any("certificate may have been issued" in c for c in other.causes)
