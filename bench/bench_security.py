"""How fast is the security frame? Prints medians; asserts nothing (see the issue's goals).

Measured, per request, on the same hand-built ``Richiesta3002`` envelope (parse the unsigned
bytes → sign → serialise):

- **ours, full frame**: Timestamp + signed SAML assertion (cached IdPostazioneFirmato) + BST +
  message signature: two RSA-2048 signatures;
- **floor**: two raw RSA-2048 PKCS#1 v1.5 SHA-256 signatures with ``cryptography`` over
  ~700-byte inputs (what the full frame cannot go below);
- **zeep BinarySignature** (rsa-sha256/sha256) on the same envelope: one signature over the
  Body (and a Timestamp only if one is present; zeep adds none), no SAML, and it re-reads its
  PEM key at every call, as shipped;
- **ours, message signature only**: our XML-DSig over Timestamp + Body with a BST, i.e. the
  part zeep's class does, for a like-for-like comparison.

Goals (issue 3): full frame ≤ 2.0 × floor; ≥ 3 × faster than zeep's BinarySignature.
Run: ``.venv/bin/python bench/bench_security.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from anpr_client.safexml import NS
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.frame import BASE64_BINARY, X509V3, WsSecurity
from anpr_client.security.saml import certificate_b64, format_instant
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.security.xmldsig import Reference, create_signature
from anpr_client.simulator.pki import generate_test_pki

SOAP, WSSE, WSU = NS["soap"], NS["wsse"], NS["wsu"]

# soap:Envelope/soap:Body/ns:Richiesta3002 with unqualified children, testataRichiesta first.
ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<ns2:Richiesta3002 xmlns:ns2="http://sogei.it/ANPR/3000consultazione">'
    b"<testataRichiesta><idOperazioneComune>1700000000123</idOperazioneComune>"
    b"<codMittente>058091</codMittente><codDestinatario>ANPR05</codDestinatario>"
    b"<operazioneRichiesta>3002</operazioneRichiesta>"
    b"<dataOraRichiesta>2025-01-15T10:00:00.000+01:00</dataOraRichiesta>"
    b"<tipoOperazione>C</tipoOperazione><tipoInvio>TEST</tipoInvio>"
    b"<nomeApplicativo>GESTIONALE</nomeApplicativo><versioneApplicativo>1.0</versioneApplicativo>"
    b"<fornitoreApplicativo>ACME SRL</fornitoreApplicativo></testataRichiesta>"
    b"<criteriRicerca><codiceFiscale>RSSMRA80A01H501U</codiceFiscale></criteriRicerca>"
    b"<datiRichiesta><dataRiferimentoRichiesta>2025-01-15</dataRiferimentoRichiesta>"
    b"<motivoRichiesta>1</motivoRichiesta><casoUso>C000</casoUso></datiRichiesta>"
    b"</ns2:Richiesta3002></soap:Body></soap:Envelope>"
)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    for _ in range(max(10, runs // 10)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    runs = parser.parse_args().runs

    pki = generate_test_pki()
    comune = pki.comune.key_source()
    frame = WsSecurity(
        signer=comune,
        operator="RSSMRA80A01H501U",
        id_sede=pki.istat,
        workstation_id=pki.workstation_id,
        workstation_key=pki.workstation.key_source(),
        application_id="12345",
        subject_locality="192.0.2.10",
    )
    signed = frame.sign_bytes(ENVELOPE)
    print(f"envelope: {len(ENVELOPE)} bytes unsigned, {len(signed)} bytes signed")

    def ours_full() -> bytes:
        return etree.tostring(frame.sign(etree.fromstring(ENVELOPE)))

    blob = os.urandom(700)
    key = pki.comune.key

    def floor() -> None:
        key.sign(blob, padding.PKCS1v15(), hashes.SHA256())
        key.sign(blob[::-1], padding.PKCS1v15(), hashes.SHA256())

    method = SignatureMethod.RSA_SHA256
    cert_b64 = certificate_b64(comune.certificate)

    def ours_message_only() -> bytes:
        envelope = etree.fromstring(ENVELOPE)
        header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
        envelope.insert(0, header)
        body = WsSecurity._body_with_id(envelope, envelope[1])
        security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
        timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "TS-1"})
        now = dt.datetime.now(dt.UTC)
        etree.SubElement(timestamp, f"{{{WSU}}}Created").text = format_instant(now)
        etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = format_instant(now)
        bst_id = f"X509-{uuid.uuid4().hex}"
        bst = etree.SubElement(
            security,
            f"{{{WSSE}}}BinarySecurityToken",
            {"EncodingType": BASE64_BINARY, "ValueType": X509V3, f"{{{WSU}}}Id": bst_id},
        )
        bst.text = cert_b64

        def str_ref(key_info: etree._Element) -> None:
            ref = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
            etree.SubElement(ref, f"{{{WSSE}}}Reference", {"URI": f"#{bst_id}"})

        create_signature(
            [Reference("#TS-1", timestamp), Reference(f"#{body.get(f'{{{WSU}}}Id')}", body)],
            method,
            comune,
            key_info=str_ref,
            parent=security,
        )
        return etree.tostring(envelope)

    rows = [
        ("floor: 2 x RSA-2048 sign (cryptography)", median_ms(floor, runs)),
        ("ours: full 3002 frame (parse+sign+serialise)", median_ms(ours_full, runs)),
        ("ours: message signature only (TS+Body+BST)", median_ms(ours_message_only, runs)),
    ]
    try:
        import xmlsec
        from zeep.wsse.signature import BinarySignature

        with tempfile.TemporaryDirectory() as tmp:
            key_path, cert_path = pki.comune.write_pem(Path(tmp), "co")
            zeep_signer = BinarySignature(  # type: ignore[no-untyped-call]
                str(key_path),
                str(cert_path),
                signature_method=xmlsec.constants.TransformRsaSha256,
                digest_method=xmlsec.constants.TransformSha256,
            )

            def zeep_binary_signature() -> bytes:
                signed_envelope, _ = zeep_signer.apply(  # type: ignore[no-untyped-call]
                    etree.fromstring(ENVELOPE), {}
                )
                return etree.tostring(signed_envelope)

            rows.append(
                (
                    "zeep: BinarySignature (Body, PEM re-read)",
                    median_ms(zeep_binary_signature, runs),
                )
            )
    except ImportError as exc:  # pragma: no cover - zeep/xmlsec are test extras
        print(f"(zeep comparison skipped: {exc})")

    trust = TrustStore([pki.ca.certificate])
    rows.append(
        (
            "verify_envelope (full checks, CMS included)",
            median_ms(lambda: verify_envelope(signed, trust=trust), runs),
        )
    )

    width = max(len(name) for name, _ in rows)
    print(f"median of {runs} runs, ms")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:7.3f}")
    values = dict(rows)
    floor_ms = values["floor: 2 x RSA-2048 sign (cryptography)"]
    full = values["ours: full 3002 frame (parse+sign+serialise)"]
    message = values["ours: message signature only (TS+Body+BST)"]
    print(f"full frame / floor             = {full / floor_ms:5.2f}x   (goal <= 2.0x)")
    zeep_ms = values.get("zeep: BinarySignature (Body, PEM re-read)")
    if zeep_ms:
        print(f"zeep BinarySignature / full    = {zeep_ms / full:5.2f}x   (goal >= 3x)")
        print(f"zeep BinarySignature / message = {zeep_ms / message:5.2f}x   (like-for-like scope)")


if __name__ == "__main__":
    main()
