"""What an unauthenticated message may cost the verifier, and hostile values it must type.

Issue 15, point 3: the verifier used to canonicalise and digest every ``ds:Reference`` before
checking ``SignatureValue``, so one request with 250 references to nested elements cost
seconds of CPU without any key. Now the signer's certificate and trust come first, then the
reference cap and the transform allow-list, then the signature value over ``SignedInfo``, and
only then the digests; the document's size, element count and depth are bounded before any
canonicalisation. Point 11: hostile times and certificates raise typed errors.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from lxml import etree

from anpr_client.errors.exceptions import (
    BadSignature,
    ForbiddenAlgorithm,
    MalformedFrame,
    TimestampRejected,
    UntrustedCertificate,
    VerificationError,
)
from anpr_client.safexml import parse_xml
from anpr_client.security.policy import DEFAULT_POLICY, NOTIFICATION_POLICY, SecurityPolicy
from anpr_client.security.trust import SignerPins, TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.gateway import gateway_fault
from anpr_client.simulator.pki import Pki, issue_certificate, name
from tests.security.support import (
    DS,
    SAML,
    SOAP,
    WSSE,
    WSU,
    C14nSpy,
    add_references,
    cpu_seconds,
    duplicated_extension_certificate,
    resign,
    security_of,
    signed_3002,
    with_nested_references,
)

#: What the reported attack used: 250 references to nested elements, 3.5 MB in all.
ATTACK_REFERENCES = 250
ATTACK_BYTES = 3_500_000

#: A policy that lets the attack's shape through the cheap bounds, so that what is measured
#: is the order of the checks themselves (signature value before any digest).
PERMISSIVE = dataclasses.replace(
    DEFAULT_POLICY, max_references=1000, max_depth=1000, max_elements=1_000_000
)


def _header(envelope: etree._Element) -> etree._Element:
    found = envelope.find(f"{{{SOAP}}}Header")
    assert found is not None
    return found


def _message_signature(envelope: etree._Element) -> etree._Element:
    found = security_of(envelope).find(f"{{{DS}}}Signature")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def attack(pki: Pki) -> bytes:
    """A genuine signed request plus 250 correctly digested references to nested header
    elements (3.5 MB in all); built once."""
    return with_nested_references(signed_3002(pki), ATTACK_REFERENCES, ATTACK_BYTES)


def test_the_signature_value_is_checked_before_any_reference_is_digested(
    pki: Pki, trust: TrustStore, monkeypatch: pytest.MonkeyPatch, attack: bytes
) -> None:
    assert len(attack) > ATTACK_BYTES
    spy = C14nSpy(monkeypatch)
    with pytest.raises(BadSignature):
        verify_envelope(attack, trust=trust, policy=PERMISSIVE)
    # Only SignedInfo was canonicalised (once), never the 250 referenced subtrees (which
    # would have been about 250 × 1.75 MB).
    assert spy.calls == 1
    assert spy.bytes < 200_000
    # A genuine request is still verified in full: SignedInfo, Timestamp, Body, assertion.
    spy.calls = spy.bytes = 0
    verify_envelope(signed_3002(pki), trust=trust, policy=PERMISSIVE)
    assert spy.calls >= 4


def test_the_attack_costs_about_what_parsing_it_costs(trust: TrustStore, attack: bytes) -> None:
    parse = cpu_seconds(lambda: parse_xml(attack))
    for policy in (DEFAULT_POLICY, PERMISSIVE):

        def refuse(policy: SecurityPolicy = policy) -> None:
            with pytest.raises(VerificationError):
                verify_envelope(attack, trust=trust, policy=policy)

        verify = cpu_seconds(refuse)
        # Before the fix: hundreds of times the parse (every subtree canonicalised).
        assert verify < 5 * parse + 0.005, (policy.max_references, verify, parse)


def test_the_reference_cap_and_transform_list_refuse_before_any_work(
    pki: Pki, trust: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    extra = etree.SubElement(_header(envelope), "{urn:example}x", {f"{{{WSU}}}Id": "x1"})
    add_references(_message_signature(envelope), [extra])
    spy = C14nSpy(monkeypatch)
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "too-many-references"
    assert DEFAULT_POLICY.max_references == NOTIFICATION_POLICY.max_references == 2
    assert gateway_fault(err.value) == "Internal Error (from client)"
    transform = _message_signature(envelope).find(f".//{{{DS}}}Transform")
    assert transform is not None
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
    with pytest.raises(ForbiddenAlgorithm) as forbidden:
        verify_envelope(etree.tostring(envelope), trust=trust, policy=PERMISSIVE)
    assert forbidden.value.check == "algorithm-transform"
    assert spy.calls == 0


@pytest.mark.parametrize(
    ("policy", "check"),
    [
        (dataclasses.replace(DEFAULT_POLICY, max_document_bytes=4096), "too-large"),
        (dataclasses.replace(DEFAULT_POLICY, max_elements=20), "too-many-elements"),
        (dataclasses.replace(DEFAULT_POLICY, max_depth=8), "too-deep"),
    ],
)
def test_size_elements_and_depth_are_bounded_before_canonicalisation(
    pki: Pki,
    trust: TrustStore,
    monkeypatch: pytest.MonkeyPatch,
    policy: SecurityPolicy,
    check: str,
) -> None:
    signed = signed_3002(pki)
    verify_envelope(signed, trust=trust)  # the defaults leave room for a real request
    spy = C14nSpy(monkeypatch)
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(signed, trust=trust, policy=policy)
    assert err.value.check == check
    assert spy.calls == 0


def test_the_default_depth_bound_stops_the_nested_attack(trust: TrustStore, attack: bytes) -> None:
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(attack, trust=trust)
    assert err.value.check == "too-deep"


def test_a_pinned_signer_is_checked_before_the_signature(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    anpr = TrustStore([pki.anpr_ca.certificate])
    other_holder = issue_certificate(pki.anpr_ca, name("Mario Rossi"), client_auth=False)
    policy = dataclasses.replace(NOTIFICATION_POLICY, require_assertion=False)
    envelope = etree.fromstring(signed_3002(pki, signer=other_holder.key_source()))
    security = security_of(envelope)
    assertion = security.find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    security.remove(assertion)
    data = resign(envelope, other_holder.key_source(), assertion=False)
    verify_envelope(data, trust=anpr, policy=policy)  # trusted by the CA alone
    spy = C14nSpy(monkeypatch)
    with pytest.raises(UntrustedCertificate) as err:
        verify_envelope(
            data, trust=anpr, policy=policy, signers=SignerPins.of(pki.notifications.certificate)
        )
    assert err.value.check == "trust-pin"
    assert "CN=Mario Rossi" in str(err.value)
    assert spy.calls == 0
    by_fingerprint = SignerPins.of(other_holder.certificate, by="fingerprint")
    assert verify_envelope(data, trust=anpr, policy=policy, signers=by_fingerprint).signer == (
        other_holder.certificate
    )


def _with_timestamp(pki: Pki, created: str, expires: str | None) -> bytes:
    envelope = etree.fromstring(signed_3002(pki))
    timestamp = security_of(envelope).find(f"{{{WSU}}}Timestamp")
    assert timestamp is not None
    for child in list(timestamp):
        timestamp.remove(child)
    etree.SubElement(timestamp, f"{{{WSU}}}Created").text = created
    if expires is not None:
        etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = expires
    return resign(envelope, pki.comune.key_source())


@pytest.mark.parametrize(
    "created",
    [
        "9999-12-31T23:59:59-01:00",  # past datetime.max once in UTC: OverflowError before
        "0001-01-01T00:00:00+01:00",  # before datetime.min in UTC
    ],
)
def test_out_of_range_timestamps_are_typed(pki: Pki, trust: TrustStore, created: str) -> None:
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(_with_timestamp(pki, created, created), trust=trust)
    assert err.value.check == "timestamp-format"
    assert gateway_fault(err.value) == "Internal Error (from client)"


def test_a_year_9999_timestamp_is_in_the_future(pki: Pki, trust: TrustStore) -> None:
    data = _with_timestamp(pki, "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z")
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(data, trust=trust)
    assert err.value.check == "timestamp-future"


def test_freshness_rule(pki: Pki, trust: TrustStore) -> None:
    now = dt.datetime.now(dt.UTC)

    def at(delta: dt.timedelta) -> str:
        return (now + delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    fresh = dataclasses.replace(
        DEFAULT_POLICY, require_expires=True, max_age=1500, max_ttl=None, clock_skew=60
    )
    # Created 26 minutes ago, still unexpired: older than 25 min + 60 s of skew.
    old = _with_timestamp(pki, at(-dt.timedelta(minutes=26)), at(dt.timedelta(hours=1)))
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(old, trust=trust, policy=fresh)
    assert err.value.check == "timestamp-stale"
    verify_envelope(old, trust=trust, policy=dataclasses.replace(fresh, max_age=1800))
    # Created alone never expires: refused when Expires is required.
    forever = _with_timestamp(pki, at(dt.timedelta(seconds=-5)), None)
    with pytest.raises(TimestampRejected) as err:
        verify_envelope(forever, trust=trust, policy=fresh)
    assert err.value.check == "timestamp-no-expires"
    verify_envelope(forever, trust=trust)  # the request policy does not require it
    # Within the window and unexpired: accepted.
    verify_envelope(
        _with_timestamp(pki, at(-dt.timedelta(minutes=24)), at(dt.timedelta(minutes=1))),
        trust=trust,
        policy=fresh,
    )


def test_a_certificate_with_a_duplicated_extension_is_a_typed_refusal(
    pki: Pki, trust: TrustStore
) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    bst = security_of(envelope).find(f"{{{WSSE}}}BinarySecurityToken")
    assert bst is not None
    bst.text = base64.b64encode(duplicated_extension_certificate(pki.comune, pki.ca)).decode()
    with pytest.raises(UntrustedCertificate) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert err.value.check == "trust-format"
    assert "DuplicateExtension" in str(err.value)
    assert gateway_fault(err.value) == "Rejected by policy. (from client)"
    # A certificate object that reached the trust store by another way is refused there.
    with pytest.raises(UntrustedCertificate) as untrusted:
        trust.validate(
            x509.load_der_x509_certificate(duplicated_extension_certificate(pki.comune, pki.ca)),
            at=dt.datetime.now(dt.UTC),
        )
    assert untrusted.value.check == "trust-format"


def test_non_ascii_base64_is_a_typed_refusal(pki: Pki, trust: TrustStore) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    digest = _message_signature(envelope).find(f".//{{{DS}}}DigestValue")
    assert digest is not None
    digest.text = "é" + (digest.text or "")
    with pytest.raises(MalformedFrame) as err:
        verify_envelope(etree.tostring(envelope), trust=trust)
    assert "not base64" in str(err.value)
