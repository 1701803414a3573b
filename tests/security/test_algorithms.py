"""One vocabulary for algorithms: enum members whose values are the W3C URIs, short names in
settings, the same members in the policy, the signer and the verifier."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

import anpr_client.security.algorithms
from anpr_client.errors.exceptions import (
    AssertionRejected,
    ConfigurationError,
    ForbiddenAlgorithm,
    MalformedFrame,
    UntrustedCertificate,
    VerificationError,
)
from anpr_client.security.algorithms import (
    CanonicalizationMethod,
    DigestMethod,
    SignatureMethod,
    Transform,
)
from anpr_client.security.policy import DEFAULT_POLICY, NOTIFICATION_POLICY, SecurityPolicy
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.security.xmldsig import verify_trusted_signature
from anpr_client.simulator.pki import Pki
from tests.security.support import ENVELOPE_3002, make_frame

# The identifiers of XML-DSig 1.0 (RFC 3275), RFC 4051 (xmldsig-more) and XML Encryption
# (xmlenc#sha256), written out here so the enum is checked against the specifications.
W3C = {
    SignatureMethod.RSA_SHA256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    SignatureMethod.RSA_SHA1: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    DigestMethod.SHA256: "http://www.w3.org/2001/04/xmlenc#sha256",
    DigestMethod.SHA1: "http://www.w3.org/2000/09/xmldsig#sha1",
    CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0: (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    ),
    Transform.ENVELOPED_SIGNATURE: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
}


def test_every_member_is_its_w3c_uri() -> None:
    members = {*SignatureMethod, *DigestMethod, *CanonicalizationMethod, *Transform}
    assert members == set(W3C)
    for member, uri in W3C.items():
        assert member.value == uri
        assert member == uri  # a URI read from a message compares equal to its member


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("rsa-sha256", SignatureMethod.RSA_SHA256),
        ("rsa-sha1", SignatureMethod.RSA_SHA1),
        ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", SignatureMethod.RSA_SHA1),
        (SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA256),
    ],
)
def test_short_names_and_uris_map_to_members(name: str, member: SignatureMethod) -> None:
    assert SignatureMethod.from_name(name) is member
    assert SignatureMethod.from_name(member.short_name) is member


def test_short_names_are_the_uri_fragments() -> None:
    assert [m.short_name for m in SignatureMethod] == ["rsa-sha256", "rsa-sha1"]
    assert [m.short_name for m in DigestMethod] == ["sha256", "sha1"]
    assert DigestMethod.from_name("sha1") is DigestMethod.SHA1


@pytest.mark.parametrize("bad", ["rsa-sha512", "RSA-SHA256", "", None, 256, DigestMethod.SHA256])
def test_an_unknown_name_lists_the_allowed_ones(bad: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        SignatureMethod.from_name(bad, setting="security.signature")
    assert "use rsa-sha256 | rsa-sha1" in str(info.value)
    assert info.value.setting == "security.signature"
    assert info.value.rule == "rsa-sha256 | rsa-sha1"
    with pytest.raises(ConfigurationError, match=r"digest method.*use sha256 \| sha1"):
        DigestMethod.from_name("md5")


def test_a_signature_method_knows_its_digest_and_hash() -> None:
    assert SignatureMethod.RSA_SHA256.digest_method is DigestMethod.SHA256
    assert SignatureMethod.RSA_SHA1.digest_method is DigestMethod.SHA1
    assert (SignatureMethod.RSA_SHA256.hash, SignatureMethod.RSA_SHA1.hash) == ("sha256", "sha1")


def test_the_policy_holds_members() -> None:
    assert DEFAULT_POLICY.signature_methods == {SignatureMethod.RSA_SHA256}
    assert DEFAULT_POLICY.digest_methods == {DigestMethod.SHA256}
    sha1 = NOTIFICATION_POLICY.allowing_sha1()
    assert sha1.signature_methods == {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA1}
    assert sha1.digest_methods == {DigestMethod.SHA256, DigestMethod.SHA1}
    # URIs or short names given as plain strings become members; unknown ones are refused
    given = SecurityPolicy(
        signature_methods=frozenset({"rsa-sha1", W3C[SignatureMethod.RSA_SHA256]}),  # type: ignore[arg-type]
        digest_methods=frozenset({"sha1"}),  # type: ignore[arg-type]
    )
    assert all(type(m) is SignatureMethod for m in given.signature_methods)
    assert given.digest_methods == {DigestMethod.SHA1}
    with pytest.raises(ConfigurationError, match="rsa-sha512"):
        SecurityPolicy(signature_methods=frozenset({"rsa-sha512"}))  # type: ignore[arg-type]


def test_signer_and_verifier_speak_the_same_members(pki: Pki, trust: TrustStore) -> None:
    frame = make_frame(pki, algorithm="rsa-sha1")
    assert frame.signature_method is SignatureMethod.RSA_SHA1
    assert frame.algorithm == "rsa-sha1"
    signed = frame.sign_bytes(ENVELOPE_3002)
    verified = verify_envelope(signed, trust=trust, policy=DEFAULT_POLICY.allowing_sha1())
    assert verified.signature_method is SignatureMethod.RSA_SHA1
    assert verified.assertion is not None
    assert verified.assertion.signature_method is SignatureMethod.RSA_SHA1
    with pytest.raises(ForbiddenAlgorithm):
        verify_envelope(signed, trust=trust)  # the default policy: SHA-256 only
    with pytest.raises(ConfigurationError, match=r"use rsa-sha256 \| rsa-sha1"):
        make_frame(pki, algorithm="rsa-md5")


def test_the_old_constants_still_work_and_warn() -> None:
    from anpr_client.security import xmldsig

    for old, new in (
        ("RSA_SHA256", SignatureMethod.RSA_SHA256),
        ("SHA1", DigestMethod.SHA1),
        ("EXC_C14N", CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0),
        ("ENVELOPED", Transform.ENVELOPED_SIGNATURE),
        ("SignatureSuite", SignatureMethod),
    ):
        with pytest.warns(DeprecationWarning, match=f"xmldsig.{old} is deprecated"):
            assert getattr(xmldsig, old) is new
    with pytest.warns(DeprecationWarning, match="SignatureMethod.from_name"):
        assert xmldsig.SUITES["rsa-sha1"] is SignatureMethod.RSA_SHA1


def test_module_doctests() -> None:
    result = doctest.testmod(anpr_client.security.algorithms)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- one sequence


def _ec_certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC signer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("role", "error", "check"),
    [("message", MalformedFrame, "keyinfo"), ("assertion", AssertionRejected, "saml-keyinfo")],
)
def test_the_signer_trust_verify_sequence_refuses_a_key_that_is_not_rsa(
    role: str, error: type[VerificationError], check: str
) -> None:
    signer = _ec_certificate()
    signature = etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature")
    with pytest.raises(error) as info:
        verify_trusted_signature(
            signature,
            signer,
            trust=TrustStore([signer]),
            policy=DEFAULT_POLICY,
            ids={},
            now=dt.datetime.now(dt.UTC),
            role=role,
            key_error=lambda message: error(message, check=check),
        )
    assert info.value.check == check
    assert f"the {role} signer key is not RSA" in str(info.value)


def test_the_sequence_checks_trust_before_the_signature(pki: Pki) -> None:
    """An untrusted signer is refused before its signature is even read."""
    signature = etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature")  # empty
    with pytest.raises(UntrustedCertificate):
        verify_trusted_signature(
            signature,
            pki.comune.certificate,
            trust=TrustStore([_ec_certificate()]),
            policy=DEFAULT_POLICY,
            ids={},
            now=dt.datetime.now(dt.UTC),
            role="message",
            key_error=lambda message: MalformedFrame(message),
        )
