"""The verifier: what it returns, and each attack rejected with a specific error."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from anpr_client.errors.exceptions import (
    AssertionRejected,
    CmsRejected,
    DigestMismatch,
    ForbiddenAlgorithm,
    MalformedFrame,
    RevokedCertificate,
    SignatureWrapping,
    TimestampRejected,
    UnsignedPart,
    UntrustedCertificate,
    VerificationError,
)
from anpr_client.security.cms import id_postazione_firmato
from anpr_client.security.policy import DEFAULT_POLICY, NOTIFICATION_POLICY
from anpr_client.security.trust import TrustStore, fingerprint
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.gateway import gateway_fault
from anpr_client.simulator.pki import Pki, create_ca, issue_certificate, name
from tests.security.support import (
    DS,
    ENVELOPE_3002,
    NS_3000,
    OPERATOR_CF,
    SAML,
    SOAP,
    WSSE,
    WSU,
    body_of,
    make_frame,
    resign,
    security_of,
    signed_3002,
)

LATER = dt.timedelta(minutes=10)


def test_returns_what_was_verified(pki: Pki, trust: TrustStore) -> None:
    verified = verify_envelope(signed_3002(pki), trust=trust)
    assert verified.signer == pki.comune.certificate
    assert verified.signer_path == (pki.comune.certificate, pki.ca.certificate)
    assert verified.operator == OPERATOR_CF
    assert (verified.id_sede, verified.id_postazione, verified.id_applicazione) == (
        "058091",
        "058091-PC-0001",
        "12345",
    )
    assert verified.id_postazione_firmato is not None
    assert verified.id_postazione_firmato.signer == pki.workstation.certificate
    assert verified.timestamp is not None
    assert verified.timestamp.expires is not None
    assert (verified.timestamp.expires - verified.timestamp.created).total_seconds() == 300
    assert verified.payload is not None
    assert verified.payload.tag == f"{{{NS_3000}}}Richiesta3002"
    assert verified.payload.findtext("criteriRicerca/codiceFiscale") == "RSSMRA80A01H501U"
    assert verified.body_c14n.startswith(b"<soap:Body")


def test_element_input_is_not_modified(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    before = etree.tostring(envelope)
    verify_envelope(envelope, trust=trust)
    assert etree.tostring(envelope) == before


def test_comments_cannot_truncate_signed_text(pki: Pki, trust: TrustStore) -> None:
    # c14n drops comments, so the digest still matches; the returned body must hold the
    # whole signed text, not the part before the comment.
    signed = signed_3002(pki).replace(
        b"RSSMRA80A01H501U</codiceFiscale>", b"RSSMRA80<!-- x -->A01H501U</codiceFiscale>"
    )
    verified = verify_envelope(signed, trust=trust)
    assert verified.payload is not None
    assert verified.payload.findtext("criteriRicerca/codiceFiscale") == "RSSMRA80A01H501U"


def test_comments_cannot_truncate_the_signed_assertion_or_timestamp(
    pki: Pki, trust: TrustStore
) -> None:
    # The assertion and the Timestamp are read where they stand unless a comment (dropped by
    # c14n, so the signatures hold) splits a text node: then their canonical bytes are read.
    signed = signed_3002(pki).replace(
        b"RSSMRA80A01H501U</saml2:NameID>", b"RSSMRA80<!-- x -->A01H501U</saml2:NameID>"
    )
    head, _, tail = signed.partition(b"<wsu:Created>")
    signed = head + b"<wsu:Created>" + tail[:4] + b"<!-- y -->" + tail[4:]
    verified = verify_envelope(signed, trust=trust)
    assert verified.operator == "RSSMRA80A01H501U"
    assert verified.timestamp is not None
    assert verified.timestamp.expires is not None
    assert (verified.timestamp.expires - verified.timestamp.created).total_seconds() == 300


def test_tampered_body(pki: Pki, trust: TrustStore) -> None:
    signed = signed_3002(pki).replace(b"<motivoRichiesta>1<", b"<motivoRichiesta>2<")
    with pytest.raises(DigestMismatch) as err:
        verify_envelope(signed, trust=trust)
    assert err.value.check == "digest"
    assert gateway_fault(err.value) == "Internal Error (from client)"


def test_xsw_signed_body_moved_into_a_wrapper(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    body = body_of(envelope)
    wrapper = etree.SubElement(envelope[0], "{urn:evil}Wrapper")
    envelope.remove(body)
    wrapper.append(body)
    forged = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    forged.append(copy.deepcopy(body[0]))
    forged[0][1][0].text = "VRDGPP80A01H501K"
    with pytest.raises(SignatureWrapping) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "wrapping"


def test_xsw_duplicated_body(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    extra = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    extra.append(copy.deepcopy(body_of(envelope)[0]))
    with pytest.raises(SignatureWrapping) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "duplicate-body"


def test_xsw_reference_to_a_wrapper(pki: Pki, trust: TrustStore) -> None:
    # Honestly signed, but over a copy of the payload in a header wrapper, not the Body.
    envelope = etree.fromstring(signed_3002(pki))
    wrapper = etree.SubElement(envelope[0], "{urn:evil}Wrapper", {f"{{{WSU}}}Id": "w1"})
    wrapper.append(copy.deepcopy(body_of(envelope)[0]))
    timestamp = security_of(envelope)[0]
    data = resign(envelope, pki.comune.key_source(), references=[timestamp, wrapper])
    with pytest.raises(SignatureWrapping) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "unexpected-reference"


def test_duplicate_ids(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    body_id = body_of(envelope).get(f"{{{WSU}}}Id")
    etree.SubElement(envelope[0], "{urn:evil}Decoy", {"Id": body_id or ""})
    with pytest.raises(SignatureWrapping) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "duplicate-id"


def test_body_not_signed(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    data = resign(envelope, pki.comune.key_source(), references=[security_of(envelope)[0]])
    with pytest.raises(UnsignedPart) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "body-not-signed"


def test_unsigned_timestamp(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    data = resign(envelope, pki.comune.key_source(), references=[body_of(envelope)])
    with pytest.raises(UnsignedPart) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "timestamp-not-signed"


def test_missing_timestamp(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    security_of(envelope).remove(security_of(envelope)[0])
    data = resign(envelope, pki.comune.key_source())
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "timestamp-missing"


def test_expired_and_future_timestamp(pki: Pki, trust: TrustStore) -> None:
    now = dt.datetime.now(dt.UTC)
    signed = signed_3002(pki, clock=lambda: now)
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(signed, trust=trust, now=now + LATER)
    assert err.value.check == "timestamp-expired"
    assert gateway_fault(err.value) == "Rejected by policy. (from client)"
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(signed, trust=trust, now=now - LATER)
    assert err.value.check == "timestamp-future"
    # within the skew both ways: accepted
    verify_envelope(signed, trust=trust, now=now - dt.timedelta(seconds=30))
    verify_envelope(signed, trust=trust, now=now + dt.timedelta(seconds=320))
    lenient = dataclasses.replace(DEFAULT_POLICY, clock_skew=900)
    verify_envelope(signed, trust=trust, now=now + LATER, policy=lenient)


def test_overlong_timestamp(pki: Pki, trust: TrustStore) -> None:
    signed = signed_3002(pki, ttl=3600)
    verify_envelope(signed, trust=trust)
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(
            signed, trust=trust, policy=dataclasses.replace(DEFAULT_POLICY, max_ttl=600)
        )
    assert err.value.check == "timestamp-ttl"


def test_untrusted_certificate(pki: Pki) -> None:
    other = TrustStore([create_ca(name("Some Other CA")).certificate])
    with pytest.raises(UntrustedCertificate) as err:
        verify_envelope(signed_3002(pki), trust=other)
    assert err.value.check == "trust"
    assert gateway_fault(err.value) == "Rejected by policy. (from client)"


def test_self_signed_impostor_with_the_same_name(pki: Pki, trust: TrustStore) -> None:
    impostor_ca = create_ca(pki.ca.certificate.subject)  # same DN, different key
    impostor = issue_certificate(impostor_ca, pki.comune.certificate.subject)
    signed = signed_3002(pki, signer=impostor.key_source())
    with pytest.raises(UntrustedCertificate):
        verify_envelope(signed, trust=trust)


def test_revoked_certificate_by_serial_and_fingerprint(pki: Pki, trust: TrustStore) -> None:
    signed = signed_3002(pki)
    by_serial = trust.revoking(serials=[pki.comune.certificate.serial_number])
    with pytest.raises(RevokedCertificate) as err:
        verify_envelope(signed, trust=by_serial)
    assert err.value.check == "revoked"
    assert gateway_fault(err.value) == "certificate revoked (from client)"
    by_fingerprint = trust.revoking(fingerprints=[fingerprint(pki.comune.certificate).upper()])
    with pytest.raises(RevokedCertificate):
        verify_envelope(signed, trust=by_fingerprint)


def test_expired_signer_certificate(pki: Pki, trust: TrustStore) -> None:
    now = dt.datetime.now(dt.UTC)
    old = issue_certificate(
        pki.ca,
        name("058091-CO-9998"),
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=1),
    )
    with pytest.raises(UntrustedCertificate) as err:
        verify_envelope(signed_3002(pki, signer=old.key_source()), trust=trust)
    assert err.value.check == "trust-expired"


def test_sha1_refused_unless_the_policy_allows_it(pki: Pki, trust: TrustStore) -> None:
    signed = signed_3002(pki, algorithm="rsa-sha1")
    with pytest.raises(ForbiddenAlgorithm) as err:
        verify_envelope(signed, trust=trust)
    assert err.value.check == "algorithm-signature"
    verified = verify_envelope(signed, trust=trust, policy=DEFAULT_POLICY.allowing_sha1())
    assert verified.signature_method.endswith("rsa-sha1")


def test_sha1_digest_under_sha256_signature_refused(pki: Pki, trust: TrustStore) -> None:
    original = signed_3002(pki)
    signed = original.replace(
        b'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"',
        b'<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"',
    )
    assert signed != original
    with pytest.raises(ForbiddenAlgorithm) as err:
        verify_envelope(signed, trust=trust)
    assert err.value.check == "algorithm-digest"


def test_inclusive_c14n_refused(pki: Pki, trust: TrustStore) -> None:
    original = signed_3002(pki)
    signed = original.replace(
        b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
        b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"',
    )
    assert signed != original
    with pytest.raises(ForbiddenAlgorithm) as err:
        verify_envelope(signed, trust=trust)
    assert err.value.check == "algorithm-c14n"


def test_forged_signature_value(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    value = security_of(envelope)[3].find(f"{{{DS}}}SignatureValue")
    assert value is not None
    other = make_frame(pki).sign(etree.fromstring(ENVELOPE_3002))
    value.text = security_of(other)[3].findtext(f"{{{DS}}}SignatureValue")
    with pytest.raises(VerificationError) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "signature"


def test_missing_saml_attribute(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    assertion = security_of(envelope)[1]
    for attribute in assertion.iter(f"{{{SAML}}}Attribute"):
        if attribute.get("Name") == "IdApplicazione":
            attribute.getparent().remove(attribute)  # type: ignore[union-attr]
    data = resign(envelope, pki.comune.key_source())
    with pytest.raises(AssertionRejected) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "saml-attribute"
    assert "IdApplicazione" in str(err.value)


def test_tampered_assertion(pki: Pki, trust: TrustStore) -> None:
    signed = signed_3002(pki).replace(
        OPERATOR_CF.encode() + b"</saml2:NameID>", b"VRDGPP80A01H501K</saml2:NameID>"
    )
    with pytest.raises(DigestMismatch) as err:
        verify_envelope(signed, trust=trust)
    assert "assertion" in str(err.value)


def test_missing_assertion(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    security_of(envelope).remove(security_of(envelope)[1])
    data = resign(envelope, pki.comune.key_source())
    with pytest.raises(AssertionRejected) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "saml-missing"


def test_assertion_signed_by_another_certificate(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    resign(envelope, pki.workstation.key_source())  # assertion and message by the PC key
    data = resign(envelope, pki.comune.key_source(), assertion=False)  # message by CO
    with pytest.raises(AssertionRejected) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "saml-signer"


def test_expired_assertion(pki: Pki, trust: TrustStore) -> None:
    # No Timestamp (allowed by this policy), so the assertion's own window is what expires.
    now = dt.datetime.now(dt.UTC)
    envelope = etree.fromstring(signed_3002(pki, clock=lambda: now))
    security_of(envelope).remove(security_of(envelope)[0])
    data = resign(envelope, pki.comune.key_source(), assertion=False)
    policy = dataclasses.replace(DEFAULT_POLICY, require_timestamp=False)
    verify_envelope(data, trust=trust, now=now, policy=policy)
    with pytest.raises(AssertionRejected) as err:
        verify_envelope(data, trust=trust, now=now + LATER, policy=policy)
    assert err.value.check == "saml-expired"
    assert gateway_fault(err.value) == "Rejected by policy. (from client)"


def test_id_postazione_firmato_for_another_workstation(pki: Pki, trust: TrustStore) -> None:
    other = id_postazione_firmato("058091-PC-0002", pki.workstation.key_source())
    frame = make_frame(pki, id_postazione_firmato=other)
    with pytest.raises(CmsRejected) as err:
        verify_envelope(frame.sign_bytes(ENVELOPE_3002), trust=trust)
    assert err.value.check == "cms-content"


def test_id_postazione_firmato_signed_by_a_certificate_of_another_name(
    pki: Pki, trust: TrustStore
) -> None:
    frame = make_frame(pki, workstation_key=pki.comune.key_source())
    with pytest.raises(CmsRejected) as err:
        verify_envelope(frame.sign_bytes(ENVELOPE_3002), trust=trust)
    assert err.value.check == "cms-signer"
    relaxed = dataclasses.replace(DEFAULT_POLICY, workstation_cn_must_match=False)
    verify_envelope(frame.sign_bytes(ENVELOPE_3002), trust=trust, policy=relaxed)


def test_notification_policy_needs_a_timestamp_and_nothing_but_the_body_otherwise(
    pki: Pki,
) -> None:
    # ANPR's N000 notifications: Body signed by ANPR's key, no SAML. Without a Timestamp a
    # notification could be replayed for ever: NOTIFICATION_POLICY requires one (issue 15,
    # point 13); a policy that explicitly drops that requirement accepts the Body alone.
    envelope = etree.fromstring(signed_3002(pki, signer=pki.notifications.key_source()))
    security = security_of(envelope)
    security.remove(security[1])
    security.remove(security[0])
    data = resign(envelope, pki.notifications.key_source())
    anpr_trust = TrustStore([pki.anpr_ca.certificate])
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(data, trust=anpr_trust, policy=NOTIFICATION_POLICY)
    assert err.value.check == "timestamp-missing"
    body_only = dataclasses.replace(NOTIFICATION_POLICY, require_timestamp=False)
    verified = verify_envelope(data, trust=anpr_trust, policy=body_only)
    assert verified.signer == pki.notifications.certificate
    assert verified.assertion is None
    assert verified.timestamp is None
    with pytest.raises(AssertionRejected):
        verify_envelope(
            data,
            trust=anpr_trust,
            policy=dataclasses.replace(DEFAULT_POLICY, require_timestamp=False),
        )
    with pytest.raises(UntrustedCertificate):
        verify_envelope(data, trust=TrustStore([pki.ca.certificate]), policy=body_only)


def test_x509data_key_info_accepted_only_when_allowed(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    key_info = security_of(envelope)[3].find(f"{{{DS}}}KeyInfo")
    assert key_info is not None
    for child in list(key_info):
        key_info.remove(child)
    data_el = etree.SubElement(key_info, f"{{{DS}}}X509Data")
    etree.SubElement(data_el, f"{{{DS}}}X509Certificate").text = security_of(envelope)[2].text
    data = etree.tostring(envelope)  # KeyInfo is outside SignedInfo: the signature still holds
    verify_envelope(data, trust=trust)
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(
            data, trust=trust, policy=dataclasses.replace(DEFAULT_POLICY, allow_x509_keyinfo=False)
        )
    assert err.value.check == "keyinfo"


def test_token_reference_must_point_at_this_headers_bst(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    reference = security_of(envelope).find(
        f".//{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference"
    )
    assert reference is not None
    reference.set("URI", "#" + (body_of(envelope).get(f"{{{WSU}}}Id") or ""))
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "keyinfo"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"not xml", "xml"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "xml"),
        (b"<Envelope/>", "structure"),
        (
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>',
            "body-not-signed",
        ),
    ],
)
def test_malformed_input_gets_a_typed_error(data: bytes, check: str, trust: TrustStore) -> None:
    with pytest.raises(VerificationError) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == check
    assert gateway_fault(err.value) == "Internal Error (from client)"


# XML 1.0 text: no C0 controls but TAB/LF (CR is normalised by parsers), no surrogates,
# no U+FFFE/U+FFFF.
_XML_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\ufffe\uffff")
    | st.sampled_from("\t\n"),
    max_size=60,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_XML_TEXT)
def test_round_trip_keeps_arbitrary_text(pki: Pki, trust: TrustStore, value: str) -> None:
    envelope = etree.fromstring(ENVELOPE_3002)
    body_of(envelope)[0][1][0].text = value
    signed = make_frame(pki).sign_bytes(etree.tostring(envelope))
    verified = verify_envelope(signed, trust=trust)
    assert verified.payload is not None
    assert (verified.payload.findtext("criteriRicerca/codiceFiscale") or "") == value


class _CountingStore(TrustStore):
    """A trust store that counts the paths it validates (and whose signer)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.validated: list[str] = []

    def validate(
        self, certificate: x509.Certificate, **kwargs: object
    ) -> tuple[x509.Certificate, ...]:
        self.validated.append(certificate.subject.rfc4514_string())
        return super().validate(certificate, **kwargs)  # type: ignore[arg-type]


def test_the_assertion_signed_by_the_message_signer_reuses_its_validated_path(pki: Pki) -> None:
    store = _CountingStore([pki.ca.certificate])
    verified = verify_envelope(signed_3002(pki), trust=store)
    assert verified.assertion is not None
    assert verified.assertion.signer == verified.signer
    # the message signer once (not again for the assertion), the workstation once (CMS)
    assert len(store.validated) == 2
    assert sum("058091-CO-9999" in s for s in store.validated) == 1
    assert sum("058091-PC-0001" in s for s in store.validated) == 1
