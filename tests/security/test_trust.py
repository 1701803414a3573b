"""Trust store path validation, and the low-level XML-DSig refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree

from anpr_client.errors.exceptions import (
    ConfigurationError,
    ForbiddenAlgorithm,
    MalformedFrame,
    RevokedCertificate,
    SignatureWrapping,
    UntrustedCertificate,
)
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.frame import WsSecurity
from anpr_client.security.policy import NOTIFICATION_POLICY
from anpr_client.security.saml import certificate_b64, format_instant
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.security.xmldsig import (
    Reference,
    c14n,
    create_signature,
    index_ids,
    verify_signature,
)
from anpr_client.simulator.pki import Identity, Pki, issue_certificate, name
from tests.security.support import (
    DS,
    ENVELOPE_3002,
    SOAP,
    WSSE,
    WSU,
    make_frame,
    security_of,
    signed_3002,
)

NOW = dt.datetime.now(dt.UTC)


def _intermediate(root: Identity) -> Identity:
    key_holder = issue_certificate(root, name("Intermediate CA"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(key_holder.certificate.subject)
        .issuer_name(root.certificate.subject)
        .public_key(key_holder.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return Identity(key_holder.key, builder.sign(root.key, hashes.SHA256()), (root.certificate,))


def test_chain_through_an_intermediate(pki: Pki) -> None:
    middle = _intermediate(pki.ca)
    leaf = issue_certificate(middle, name("058091-PC-0003"))
    without = TrustStore([pki.ca.certificate])
    with pytest.raises(UntrustedCertificate):
        without.validate(leaf.certificate, at=NOW)
    path = without.validate(leaf.certificate, at=NOW, extra=[middle.certificate])
    assert path == (leaf.certificate, middle.certificate, pki.ca.certificate)
    with_intermediate = TrustStore([pki.ca.certificate], intermediates=[middle.certificate])
    assert len(with_intermediate.validate(leaf.certificate, at=NOW)) == 3
    revoked_middle = with_intermediate.revoking(serials=[middle.certificate.serial_number])
    with pytest.raises(RevokedCertificate):
        revoked_middle.validate(leaf.certificate, at=NOW)


def test_an_end_entity_cannot_issue(pki: Pki) -> None:
    fake = issue_certificate(pki.comune, name("058091-PC-0009"))  # "issued" by a leaf
    with pytest.raises(UntrustedCertificate):
        TrustStore([pki.ca.certificate]).validate(
            fake.certificate, at=NOW, extra=[pki.comune.certificate]
        )


def test_validity_windows_and_skew(pki: Pki) -> None:
    future = issue_certificate(
        pki.ca,
        name("x"),
        not_before=NOW + dt.timedelta(minutes=1),
        not_after=NOW + dt.timedelta(days=1),
    )
    store = TrustStore([pki.ca.certificate])
    with pytest.raises(UntrustedCertificate) as err:
        store.validate(future.certificate, at=NOW)
    assert err.value.check == "trust-not-yet-valid"
    store.validate(future.certificate, at=NOW, skew=120)


def test_a_leaf_that_may_not_sign(pki: Pki) -> None:
    ca_as_leaf = pki.anpr_ca.certificate  # keyUsage without digitalSignature
    with pytest.raises(UntrustedCertificate) as err:
        TrustStore([pki.anpr_ca.certificate]).validate(ca_as_leaf, at=NOW)
    assert err.value.check == "trust-usage"


def test_store_construction(pki: Pki, tmp_path: object) -> None:
    with pytest.raises(ConfigurationError):
        TrustStore([])
    with pytest.raises(ConfigurationError):
        TrustStore.from_pem("/nonexistent/ca.pem")
    store = TrustStore([pki.ca.certificate, pki.anpr_ca.certificate])
    assert "CA Postazioni Test" in repr(store)
    assert store.validate(pki.notifications.certificate, at=NOW)[-1] == pki.anpr_ca.certificate


# ------------------------------------------------------------------ xmldsig primitives


def test_index_ids_refuses_the_same_value_under_different_attributes() -> None:
    root = etree.fromstring(b'<r xmlns:wsu="' + WSU.encode() + b'"><a wsu:Id="x"/><b ID="x"/></r>')
    with pytest.raises(SignatureWrapping) as err:
        index_ids(root)
    assert err.value.check == "duplicate-id"
    same = etree.fromstring(b'<r><a Id="x" ID="x"/></r>')
    assert set(index_ids(same)) == {"x"}


def _message_signature(pki: Pki) -> tuple[etree._Element, etree._Element]:
    envelope = etree.fromstring(signed_3002(pki))
    return envelope, security_of(envelope)[3]


def _verify(pki: Pki, envelope: etree._Element, signature: etree._Element) -> object:
    key = pki.comune.certificate.public_key()
    return verify_signature(
        signature,
        public_key=key,  # type: ignore[arg-type]
        ids=index_ids(envelope),
        signature_methods={"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"},
        digest_methods={"http://www.w3.org/2001/04/xmlenc#sha256"},
    )


def test_references_must_be_bare_same_document_ids(pki: Pki) -> None:
    envelope, signature = _message_signature(pki)
    reference = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference is not None
    for uri, check in (
        ("", "reference-uri"),
        ("#xpointer(/)", "reference-uri"),
        ("http://example.org/x", "reference-uri"),
        ("#nothing-here", "dangling-reference"),
    ):
        reference.set("URI", uri)
        with pytest.raises(SignatureWrapping) as err:
            _verify(pki, envelope, signature)
        assert err.value.check == check


def test_unknown_transforms_are_refused(pki: Pki) -> None:
    envelope, signature = _message_signature(pki)
    transform = signature.find(f".//{{{DS}}}Transform")
    assert transform is not None
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
    with pytest.raises(ForbiddenAlgorithm) as err:
        _verify(pki, envelope, signature)
    assert err.value.check == "algorithm-transform"


def test_signature_structure_is_checked(pki: Pki) -> None:
    envelope, signature = _message_signature(pki)
    signature.remove(signature[1])  # SignatureValue
    with pytest.raises(MalformedFrame):
        _verify(pki, envelope, signature)


def test_c14n_is_exclusive(pki: Pki) -> None:
    root = etree.fromstring(b'<a xmlns:u="urn:unused" xmlns:v="urn:v"><v:b/></a>')
    assert c14n(root[0]) == b'<v:b xmlns:v="urn:v"></v:b>'
    assert make_frame(pki).algorithm == "rsa-sha256"


def test_inclusive_prefixes_on_a_built_tree_digest_as_on_the_wire(
    pki: Pki, trust: TrustStore
) -> None:
    # lxml's in-place c14n of a sub-element *built through its API* can miss ancestor
    # declarations listed in an InclusiveNamespaces PrefixList; create_signature must still
    # produce the digest a receiver computes on the serialised bytes (WSS4J-style
    # PrefixList "wsse soap" on the Timestamp, as a hand-built notification does).
    envelope = etree.fromstring(ENVELOPE_3002)
    header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
    envelope.insert(0, header)
    body = WsSecurity._body_with_id(envelope, envelope[1])
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "TS-1"})
    now = dt.datetime.now(dt.UTC)
    etree.SubElement(timestamp, f"{{{WSU}}}Created").text = format_instant(now)
    etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = format_instant(
        now + dt.timedelta(minutes=5)
    )
    bst = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken", {f"{{{WSU}}}Id": "X509-1"})
    bst.text = certificate_b64(pki.comune.certificate)

    def token_reference(key_info: etree._Element) -> None:
        ref = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
        etree.SubElement(ref, f"{{{WSSE}}}Reference", {"URI": "#X509-1"})

    create_signature(
        [
            Reference("#TS-1", timestamp, ("wsse", "soap")),
            Reference(f"#{body.get(f'{{{WSU}}}Id')}", body),
        ],
        SignatureMethod.RSA_SHA256,
        pki.comune.key_source(),
        key_info=token_reference,
        parent=security,
    )
    policy = dataclasses.replace(NOTIFICATION_POLICY, require_timestamp=True)
    verified = verify_envelope(etree.tostring(envelope), trust=trust, policy=policy)
    assert verified.timestamp is not None
