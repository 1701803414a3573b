"""How fast is the security frame? Prints each row and its ratio; asserts nothing.

Measured, per request, on the same hand-built ``Richiesta3002`` envelope, signed as the client
signs it: ``Binding.prepare`` holds the envelope as a tree (``build_envelope`` around the
payload) and calls ``sign_to_bytes(envelope, xml_declaration=True)``, so each call signs a tree
of its own, built (untimed) right before the timed block it is used in, and returns the bytes
to send; thread CPU time, the variants interleaved in rounds in one process and each ratio
taken per round against the floor measured in that round (median of rounds):

- **ours, full frame**: Timestamp + signed SAML assertion (cached IdPostazioneFirmato) + BST +
  message signature: two RSA-2048 signatures; the floor is two raw RSA-2048 PKCS#1 v1.5
  SHA-256 signatures with ``cryptography`` over ~700-byte inputs (issue 18: ≤ 1.15×);
- **ours, message signature only**: Timestamp + BST + the signature over Timestamp and Body,
  i.e. the part zeep's class does; floor: one RSA signature (issue 18: ≤ 1.10×);
- **zeep BinarySignature** (rsa-sha256/sha256) on the same envelope: one signature over the
  Body, no SAML, and it re-reads its PEM key at every call, as shipped;
- **the frame with RSA replaced by a constant**, and that followed by the two RSA signatures of
  the floor: the second row shows what the floor costs once other work has run in between (the
  caches it warmed in its own loop are cold again); the full frame is compared with both;
- **the floor's two signatures timed alone, each call right after the frame's own work**
  (that work run untimed): what the two RSA signatures of a frame cost where the frame runs
  them, against the same two in their tight loop;
- **verify_envelope**, the full receiver checks, CMS included (the verification rows of
  issue 18 are ``bench/bench_notifications.py --verify-only``).

Run: ``.venv/bin/python bench/bench_security.py [--rounds N] [--repeat M]``.

``--variant NAME --calls N`` runs only one row's function N times (``full``, ``message``,
``floor1``, ``floor2``, ``no-rsa``, and ``no-rsa-message``: the message signature's own work)
inside ``functools.reduce``, for instruction counts that the machine's load does not move
(setup, warm-up and the envelopes' making stay outside the count)::

    valgrind --tool=callgrind --toggle-collect=functools_reduce \
        .venv/bin/python bench/bench_security.py --variant full --calls 100
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from anpr_client.security.cms import verify_signed_data
from anpr_client.security.frame import WsSecurity
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.pki import generate_test_pki
from anpr_client.soap.envelope import build_envelope

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


_PAYLOAD: bytes = etree.tostring(etree.fromstring(ENVELOPE)[0][0])


class UnsignedEnvelopes:
    """Unsigned envelopes shaped as the client's (``build_envelope`` around the payload), made
    in batches before each timed block: what a call signs is a tree of its own, fresh. Making
    the tree and freeing it are not the frame's cost, and stay outside the timed blocks: the
    client's ``Binding.build`` makes it before the frame, and ``prepare`` drops it after,
    signed or not."""

    def __init__(self) -> None:
        self._ready: list[etree._Element] = []
        self._taken: list[etree._Element] = []  # freed at the next refill, untimed

    def refill(self, count: int) -> None:
        self._taken.clear()
        self._ready = [build_envelope(etree.fromstring(_PAYLOAD)) for _ in range(count)]

    def take(self) -> etree._Element:
        envelope = self._ready.pop()  # empty: a block took more than was made for it
        self._taken.append(envelope)
        return envelope


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Thread CPU time of one call of ``fn`` (ms), over ``repeat`` calls."""
    began = time.thread_time()
    for _ in range(repeat):
        fn()
    return (time.thread_time() - began) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument(
        "--variant",
        help="run only one row's function: full, message, floor1, floor2, no-rsa, no-rsa-message",
    )
    parser.add_argument("--calls", type=int, default=100, help="with --variant: how many calls")
    args = parser.parse_args()
    rounds, repeat = args.rounds, args.repeat

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
    envelopes = UnsignedEnvelopes()

    def ours_full() -> bytes:
        return frame.sign_to_bytes(envelopes.take(), xml_declaration=True)

    def ours_message_only() -> bytes:
        return frame._to_bytes(envelopes.take(), xml_declaration=True, assertion=False)

    def ours_tree() -> bytes:
        return etree.tostring(frame.sign(envelopes.take()))

    blob = os.urandom(700)
    key = pki.comune.key

    def floor1() -> None:
        key.sign(blob, padding.PKCS1v15(), hashes.SHA256())

    def floor2() -> None:
        key.sign(blob, padding.PKCS1v15(), hashes.SHA256())
        key.sign(blob[::-1], padding.PKCS1v15(), hashes.SHA256())

    class _NoRsa:
        """A key source that returns a fixed value: the frame's own work, without RSA."""

        certificate = comune.certificate

        def sign(self, data: bytes, hash: str = "sha256") -> bytes:
            return bytes(256)

    unsigned = copy.copy(frame)
    unsigned._signer = _NoRsa()  # type: ignore[assignment]

    def no_rsa() -> bytes:
        return unsigned.sign_to_bytes(envelopes.take(), xml_declaration=True)

    def no_rsa_message() -> bytes:
        return unsigned._to_bytes(envelopes.take(), xml_declaration=True, assertion=False)

    def no_rsa_then_floor() -> None:
        no_rsa()
        floor2()

    def timed_after(
        timed: Callable[[], object], before: Callable[[], object], repeat: int
    ) -> float:
        """Thread CPU ms of ``timed`` alone, each call right after an untimed ``before``."""
        spent = 0.0
        for _ in range(repeat):
            before()
            began = time.thread_time()
            timed()
            spent += time.thread_time() - began
        return spent / repeat * 1000

    trust = TrustStore([pki.ca.certificate])
    cms_der = base64.b64decode(frame.id_postazione_firmato)
    cms_signature = pki.workstation.key.sign(blob, padding.PKCS1v15(), hashes.SHA256())
    workstation_public = pki.workstation.key.public_key()

    def two_verifies() -> None:  # the CMS signature and its certificate's
        for _ in range(2):
            workstation_public.verify(cms_signature, blob, padding.PKCS1v15(), hashes.SHA256())

    variants: dict[str, tuple[Callable[[], object], Callable[[], object] | None]] = {
        "floor: 1 x RSA-2048 sign": (floor1, None),
        "floor: 2 x RSA-2048 sign": (floor2, None),
        "ours: full 3002 frame (tree -> signed bytes)": (ours_full, floor2),
        "ours: message signature only (TS+Body+BST)": (ours_message_only, floor1),
        "ours: full frame into the lxml tree (sign())": (ours_tree, floor2),
        "ours: full frame, RSA replaced by a constant": (no_rsa, floor2),
        "that, then 2 x RSA sign (the floor in context)": (no_rsa_then_floor, floor2),
        "verify_envelope (full checks, CMS included)": (
            lambda: verify_envelope(signed, trust=trust),
            None,
        ),
        "floor: 2 x RSA-2048 verify": (two_verifies, None),
        "IdPostazioneFirmato CMS verification (trust path)": (
            lambda: verify_signed_data(cms_der, trust=trust),
            two_verifies,
        ),
    }
    try:
        import xmlsec
        from zeep.wsse.signature import BinarySignature

        tmp = tempfile.TemporaryDirectory()
        key_path, cert_path = pki.comune.write_pem(Path(tmp.name), "co")
        zeep_signer = BinarySignature(  # type: ignore[no-untyped-call]
            str(key_path),
            str(cert_path),
            signature_method=xmlsec.constants.TransformRsaSha256,
            digest_method=xmlsec.constants.TransformSha256,
        )

        def zeep_binary_signature() -> bytes:
            signed_envelope, _ = zeep_signer.apply(  # type: ignore[no-untyped-call]
                envelopes.take(), {}
            )
            return etree.tostring(signed_envelope)

        variants["zeep: BinarySignature (Body, PEM re-read)"] = (zeep_binary_signature, floor1)
    except ImportError as exc:  # pragma: no cover - zeep/xmlsec are test extras
        print(f"(zeep comparison skipped: {exc})")

    if args.variant:
        chosen: dict[str, Callable[[], object]] = {
            "full": ours_full,
            "message": ours_message_only,
            "floor1": floor1,
            "floor2": floor2,
            "no-rsa": no_rsa,
            "no-rsa-message": no_rsa_message,
        }
        if args.variant not in chosen:
            print(f"--variant: one of {', '.join(chosen)}")
            return
        only = chosen[args.variant]
        envelopes.refill(5)
        for _ in range(5):
            only()  # warm-up, outside the counted calls
        envelopes.refill(args.calls)
        functools.reduce(lambda _, __: only(), range(args.calls), None)
        return
    for fn, _ in variants.values():
        envelopes.refill(5)
        for _ in range(5):
            fn()  # warm-up
    # (row, timed, run untimed before each call): the two halves of "that, then 2 x RSA sign"
    halves = (
        ("the floor's 2 RSA signs alone, right after the frame's own work", floor2, no_rsa),
        ("the frame's own work alone, right after the floor's 2 RSA signs", no_rsa, floor2),
    )
    absolute: dict[str, list[float]] = {name: [] for name in variants}
    context_ratios: dict[str, list[float]] = {}
    for name, _, _ in halves:
        absolute[name], context_ratios[name] = [], []
    ratios: dict[str, list[float]] = {name: [] for name, (_, f) in variants.items() if f}
    floors: dict[Callable[[], object], str] = {
        floor1: "floor: 1 x RSA-2048 sign",
        floor2: "floor: 2 x RSA-2048 sign",
        two_verifies: "floor: 2 x RSA-2048 verify",
    }
    for _ in range(rounds):
        measured: dict[str, float] = {}
        for name, (fn, _) in variants.items():
            envelopes.refill(repeat)  # before every block, the floors' too
            measured[name] = cpu_ms(fn, repeat)
            absolute[name].append(measured[name])
        for name, (_, base) in variants.items():
            if base is not None:
                ratios[name].append(measured[name] / measured[floors[base]])
        for name, timed, before in halves:
            envelopes.refill(repeat)
            alone = timed_after(timed, before, repeat)
            absolute[name].append(alone)
            context_ratios[name].append(alone / measured[floors[floor2]])
    print(f"thread CPU ms per call, median of {rounds} rounds of {repeat}:")
    width = max(len(name) for name in absolute)
    for name, (_, base) in variants.items():
        line = f"  {name:<{width}}  {statistics.median(absolute[name]):7.3f}"
        if base is not None:
            line += f"  = {statistics.median(ratios[name]):5.2f}x {floors[base][7:]}"
        print(line)
    for name, _, _ in halves:
        print(
            f"  {name:<{width}}  {statistics.median(absolute[name]):7.3f}"
            f"  = {statistics.median(context_ratios[name]):5.2f}x 2 x RSA-2048 sign"
        )
    full = statistics.median(ratios["ours: full 3002 frame (tree -> signed bytes)"])
    message = statistics.median(ratios["ours: message signature only (TS+Body+BST)"])
    print(f"full frame / floor              = {full:5.2f}x   (goal <= 1.15x)")
    print(f"message signature / one RSA sign = {message:5.2f}x   (goal <= 1.10x)")
    own = statistics.median(ratios["ours: full frame, RSA replaced by a constant"])
    context = statistics.median(ratios["that, then 2 x RSA sign (the floor in context)"])
    rsa_half, own_half = (statistics.median(context_ratios[name]) for name, _, _ in halves)
    print(
        f"the frame's own work           = {own:5.2f}x the floor; the same work followed by "
        f"the floor's two signatures = {context:5.2f}x: the signatures {rsa_half:5.2f}x and "
        f"the work {own_half:5.2f}x, each timed alone there"
    )
    cms_ms = statistics.median(absolute["IdPostazioneFirmato CMS verification (trust path)"])
    print(f"IdPostazioneFirmato CMS check   = {cms_ms:5.3f} ms (goal <= 0.45 ms)")
    zeep = "zeep: BinarySignature (Body, PEM re-read)"
    if zeep in absolute:
        ours = statistics.median(absolute["ours: full 3002 frame (tree -> signed bytes)"])
        print(f"zeep BinarySignature / full     = {statistics.median(absolute[zeep]) / ours:5.2f}x")


if __name__ == "__main__":
    main()
