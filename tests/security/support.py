"""Shared helpers for the security, credentials, TLS and PC/SC tests.

- :func:`shared_pki` issues the test PKI once per test process (eight RSA keys, ~0.5 s).
- :func:`require` skips when an external component is missing, or fails when
  ``ANPR_REQUIRE_COMPONENTS=1`` (CI), so a broken CI image cannot pass by skipping.
- :func:`make_frame` / :func:`signed_3002` build a real frame and signed request.
- :func:`resign` re-signs a mutated envelope honestly (assertion and message signatures), so
  that an attack test carries exactly one defect: the one under test.
- :func:`nested_chain`, :func:`add_references` and :class:`C14nSpy` build and measure the
  "many references to nested elements" attack; :func:`duplicated_extension_certificate` a
  certificate that ``cryptography`` refuses to read.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from lxml import etree

from anpr_client.credentials.base import KeySource
from anpr_client.safexml import NS
from anpr_client.security import xmldsig
from anpr_client.security.algorithms import CanonicalizationMethod, DigestMethod, SignatureMethod
from anpr_client.security.frame import WsSecurity
from anpr_client.security.saml import certificate_b64
from anpr_client.security.trust import TrustStore
from anpr_client.security.xmldsig import Reference, c14n, create_signature
from anpr_client.simulator.pki import Identity, Pki, generate_test_pki

SOAP = NS["soap"]
WSSE = NS["wsse"]
WSU = NS["wsu"]
DS = NS["ds"]
SAML = NS["saml2"]
OPERATOR_CF = "RSSMRA80A01H501U"
NS_3000 = "http://sogei.it/ANPR/3000consultazione"

ENVELOPE_3002 = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<ns2:Richiesta3002 xmlns:ns2="http://sogei.it/ANPR/3000consultazione">'
    b"<testataRichiesta><idOperazioneComune>1700000000123</idOperazioneComune>"
    b"<codMittente>058091</codMittente><codDestinatario>ANPR05</codDestinatario>"
    b"<operazioneRichiesta>3002</operazioneRichiesta>"
    b"<dataOraRichiesta>2025-01-15T10:00:00</dataOraRichiesta><tipoOperazione>C</tipoOperazione>"
    b"<tipoInvio>TEST</tipoInvio></testataRichiesta>"
    b"<criteriRicerca><codiceFiscale>RSSMRA80A01H501U</codiceFiscale></criteriRicerca>"
    b"<datiRichiesta><dataRiferimentoRichiesta>2025-01-15</dataRiferimentoRichiesta>"
    b"<motivoRichiesta>1</motivoRichiesta><casoUso>C000</casoUso></datiRichiesta>"
    b"</ns2:Richiesta3002></soap:Body></soap:Envelope>"
)


@functools.cache
def shared_pki() -> Pki:
    return generate_test_pki("058091", operator_cf=OPERATOR_CF)


def trust_for(pki: Pki) -> TrustStore:
    return TrustStore([pki.ca.certificate])


def require(available: bool, reason: str) -> None:
    """Skip (or, with ``ANPR_REQUIRE_COMPONENTS=1``, fail) when a component is missing."""
    if available:
        return
    if os.environ.get("ANPR_REQUIRE_COMPONENTS") == "1":
        pytest.fail(f"required component missing (ANPR_REQUIRE_COMPONENTS=1): {reason}")
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"the {name!r} program is not installed")
    assert path is not None
    return path


def make_frame(
    pki: Pki,
    *,
    signer: KeySource | None = None,
    workstation_key: KeySource | None = None,
    **kwargs: Any,
) -> WsSecurity:
    options: dict[str, Any] = {
        "operator": OPERATOR_CF,
        "id_sede": pki.istat,
        "workstation_id": pki.workstation_id,
        "application_id": "12345",
        "subject_locality": "192.0.2.10",
    }
    options.update(kwargs)
    if "id_postazione_firmato" not in options:
        options["workstation_key"] = workstation_key or pki.workstation.key_source()
    return WsSecurity(signer=signer or pki.comune.key_source(), **options)


def signed_3002(pki: Pki, **kwargs: Any) -> bytes:
    return make_frame(pki, **kwargs).sign_bytes(ENVELOPE_3002)


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def security_of(envelope: etree._Element) -> etree._Element:
    found = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    assert found is not None
    return found


def body_of(envelope: etree._Element) -> etree._Element:
    found = envelope.find(f"{{{SOAP}}}Body")
    assert found is not None
    return found


def resign(
    envelope: etree._Element,
    signer: KeySource,
    *,
    references: Sequence[etree._Element] | None = None,
    algorithm: str = "rsa-sha256",
    assertion: bool = True,
) -> bytes:
    """Recompute the assertion signature (if ``assertion``) and the message signature.

    ``references`` are the elements the message signature covers (default: the Timestamp
    and the envelope's Body); each must carry a ``wsu:Id``.
    """
    method = SignatureMethod.from_name(algorithm)
    security = security_of(envelope)
    found = security.find(f"{{{SAML}}}Assertion")
    if assertion and found is not None:
        old = found.find(f"{{{DS}}}Signature")
        if old is not None:
            found.remove(old)
        cert_b64 = certificate_b64(signer.certificate)

        def x509_data(key_info: etree._Element) -> None:
            data = etree.SubElement(key_info, f"{{{DS}}}X509Data")
            etree.SubElement(data, f"{{{DS}}}X509Certificate").text = cert_b64

        create_signature(
            [Reference(f"#{found.get('ID')}", found, ("xsd",), enveloped=True)],
            method,
            signer,
            key_info=x509_data,
            parent=found,
            index=1,
        )
    old_sig = security.find(f"{{{DS}}}Signature")
    if old_sig is not None:
        security.remove(old_sig)
    if references is None:
        timestamp = security.find(f"{{{WSU}}}Timestamp")
        references = [e for e in (timestamp, body_of(envelope)) if e is not None]
    bst = security.find(f"{{{WSSE}}}BinarySecurityToken")
    assert bst is not None
    bst.text = certificate_b64(signer.certificate)
    bst_id = bst.get(f"{{{WSU}}}Id")

    def token_reference(key_info: etree._Element) -> None:
        str_el = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
        etree.SubElement(str_el, f"{{{WSSE}}}Reference", {"URI": f"#{bst_id}"})

    create_signature(
        [Reference(f"#{e.get(f'{{{WSU}}}Id')}", e) for e in references],
        method,
        signer,
        key_info=token_reference,
        parent=security,
    )
    # Serialise and re-parse, as the wire would.
    return etree.tostring(envelope)


def attribute_values(envelope: etree._Element) -> dict[str, str]:
    assertion = security_of(envelope).find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    return {
        a.get("Name", ""): a.findtext(f"{{{SAML}}}AttributeValue") or ""
        for a in assertion.iter(f"{{{SAML}}}Attribute")
    }


def der_of(b64: str) -> bytes:
    return base64.b64decode(b64)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def nested_chain(parent: etree._Element, count: int, filler: str) -> list[etree._Element]:
    """``count`` elements nested one in the other under ``parent``, each with a ``wsu:Id`` and
    ``filler`` text: canonicalising the outer ones costs about the whole chain each."""
    chain: list[etree._Element] = []
    for i in range(count):
        parent = etree.SubElement(parent, "{urn:example:attack}n", {f"{{{WSU}}}Id": f"n{i}"})
        parent.text = filler
        chain.append(parent)
    return chain


def add_references(signature: etree._Element, targets: Sequence[etree._Element]) -> None:
    """Append to ``signature``'s SignedInfo one correctly digested exc-c14n/sha256 reference
    per target (no key needed for that); the SignatureValue no longer matches SignedInfo."""
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    assert signed_info is not None
    for target in targets:
        reference = etree.SubElement(
            signed_info, f"{{{DS}}}Reference", URI=f"#{target.get(f'{{{WSU}}}Id')}"
        )
        transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
        etree.SubElement(
            transforms,
            f"{{{DS}}}Transform",
            Algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value,
        )
        etree.SubElement(reference, f"{{{DS}}}DigestMethod", Algorithm=DigestMethod.SHA256.value)
        etree.SubElement(reference, f"{{{DS}}}DigestValue").text = base64.b64encode(
            hashlib.sha256(c14n(target)).digest()
        ).decode()


def with_nested_references(signed: bytes, count: int = 250, size: int = 3_500_000) -> bytes:
    """The reported attack on ``signed`` (a signed envelope): ``count`` correctly digested
    references to elements nested in its Header, ``size`` bytes of text in all. No key is
    needed to build it; the signature value no longer matches. (Building it costs what
    verifying it used to cost: a couple of CPU seconds.)"""
    envelope = etree.fromstring(signed)
    header = envelope.find(f"{{{SOAP}}}Header")
    signature = security_of(envelope).find(f"{{{DS}}}Signature")
    assert header is not None
    assert signature is not None
    add_references(signature, nested_chain(header, count, "A" * (size // count)))
    return etree.tostring(envelope)


def cpu_seconds(work: Callable[[], object]) -> float:
    """The least thread CPU time of three runs of ``work`` (CPU time: the machine is shared,
    and what the attack tests compare is work done, as ratios)."""
    best = float("inf")
    for _ in range(3):
        began = time.thread_time()
        work()
        best = min(best, time.thread_time() - began)
    return best


class C14nSpy:
    """Counts the canonicalisations the verifier performs (calls and bytes produced)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.bytes = 0
        real = xmldsig.c14n

        def spy(element: etree._Element, prefixes: Sequence[str] | None = None) -> bytes:
            out = real(element, prefixes)
            self.calls += 1
            self.bytes += len(out)
            return out

        monkeypatch.setattr(xmldsig, "c14n", spy)


def duplicated_extension_certificate(identity: Identity, issuer: Identity) -> bytes:
    """DER of ``identity``'s certificate with its first extension repeated, re-signed by
    ``issuer`` (a well-formed signature over a certificate no conforming parser accepts)."""
    cert = asn1_x509.Certificate.load(identity.certificate.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    extensions = list(tbs["extensions"])
    tbs["extensions"] = asn1_x509.Extensions([*extensions, extensions[0]])
    signature = issuer.key.sign(tbs.dump(force=True), asym_padding.PKCS1v15(), hashes.SHA256())
    cert["tbs_certificate"] = tbs
    cert["signature_value"] = signature
    return bytes(cert.dump(force=True))
