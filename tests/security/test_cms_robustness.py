"""Hostile CMS: whatever the bytes, verification and decryption answer with typed errors.

``asn1crypto`` parses lazily, so a malformed structure can surface at any field access; the
SignedData (``IdPostazioneFirmato``, verified by the gateway) and EnvelopedData (a push's
``contenuto``, decrypted by the receiver) readers must turn every such failure into
:class:`CmsRejected` / :class:`DecryptionError` (issue 15, point 11).
"""

from __future__ import annotations

import datetime as dt
import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anpr_client.errors.exceptions import DecryptionError, VerificationError
from anpr_client.security.cms import (
    decrypt_enveloped,
    encrypt_enveloped,
    sign_data,
    verify_signed_data,
)
from anpr_client.security.trust import TrustStore
from anpr_client.simulator.pki import Pki
from tests.security.support import shared_pki

_EDITS = st.lists(
    st.tuples(st.integers(0, 4000), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4
)


def _mutated(data: bytes, edits: list[tuple[int, bytes]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, replacement in edits:
        at = position % len(out)
        out[at : at + len(replacement)] = replacement
    return bytes(out if cut is None else out[:cut])


@functools.cache
def _signed(pki: Pki) -> bytes:
    return sign_data(b"058091-PC-0001", pki.workstation.key_source())


@functools.cache
def _enveloped(pki: Pki) -> bytes:
    return encrypt_enveloped(b"<x>payload</x>", pki.comune.certificate)


def test_the_genuine_structures_verify_and_decrypt() -> None:
    pki = shared_pki()
    verified = verify_signed_data(_signed(pki), trust=TrustStore([pki.ca.certificate]))
    assert verified.content == b"058091-PC-0001"
    assert verified.signer == pki.workstation.certificate
    assert decrypt_enveloped(_enveloped(pki), [pki.comune.key_source()]) == b"<x>payload</x>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_EDITS, cut=st.none() | st.integers(0, 3000))
def test_mutated_signed_data_is_refused_with_a_typed_error(
    edits: list[tuple[int, bytes]], cut: int | None
) -> None:
    pki = shared_pki()
    data = _mutated(_signed(pki), edits, cut)
    try:
        verified = verify_signed_data(
            data, trust=TrustStore([pki.ca.certificate]), at=dt.datetime.now(dt.UTC)
        )
    except VerificationError:
        return
    # Accepted only when what was signed is intact (a mutation of unsigned bytes).
    assert verified.content == b"058091-PC-0001"
    assert verified.signer == pki.workstation.certificate


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_EDITS, cut=st.none() | st.integers(0, 3000))
def test_mutated_enveloped_data_is_refused_with_a_typed_error(
    edits: list[tuple[int, bytes]], cut: int | None
) -> None:
    pki = shared_pki()
    data = _mutated(_enveloped(pki), edits, cut)
    try:
        decrypt_enveloped(data, [pki.comune.key_source()])
    except DecryptionError:
        return
