"""PC/SC through pcscd + vpcd with an emulated CNS-like card: readers, insertion/removal,
signing, PIN handling, and refusing to sign once the card was removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from anpr_client.credentials import codice_fiscale_from_certificate, load_key_source
from anpr_client.credentials.pcsc import CardWatcher, PcscKeySource, list_readers
from anpr_client.errors.exceptions import (
    CardRemovedError,
    CredentialError,
    PinError,
    PinLockedError,
)
from anpr_client.security.frame import WsSecurity
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.settings import KeySourceConfig, OperatorSettings, Settings, WorkstationSettings
from anpr_client.simulator.pki import Pki
from tests.pcsc.conftest import CARD_PIN, READER, make_card, wait_for_card
from tests.pcsc.vpcd_card import ATR, VirtualCard
from tests.security.support import ENVELOPE_3002, OPERATOR_CF, make_frame

pytestmark = pytest.mark.pcsc


def _public(source: PcscKeySource) -> rsa.RSAPublicKey:
    key = source.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_lists_the_emulated_reader_and_card(card: VirtualCard) -> None:
    readers = {r.name: r for r in list_readers()}
    assert READER in readers
    assert readers[READER].card_present
    assert readers[READER].atr == ATR


def test_watcher_reacts_to_insertion_and_removal(pcscd: None, pki: Pki) -> None:
    events: list[str] = []
    wait_for_card(False)
    with CardWatcher(
        READER,
        on_insert=lambda atr: events.append(f"in:{atr == ATR}"),
        on_remove=lambda: events.append("out"),
    ) as watcher:
        assert not watcher.is_present()
        virtual = make_card(pki.operator)
        virtual.insert()
        assert watcher.wait(True, 5)
        virtual.remove()
        assert watcher.wait(False, 5)
        assert watcher.removals == 1
    assert events == ["in:True", "out"]


def test_card_signs_and_refuses_after_removal(card: VirtualCard, pki: Pki) -> None:
    with (
        CardWatcher(READER) as watcher,
        PcscKeySource(READER, pin=lambda: CARD_PIN, watcher=watcher) as source,
    ):
        assert source.certificate == pki.operator.certificate
        assert codice_fiscale_from_certificate(source.certificate) == OPERATOR_CF
        signature = source.sign(b"payload")
        _public(source).verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
        assert signature == pki.operator.key_source().sign(b"payload")
        card.remove()
        assert watcher.wait(False, 5)
        with pytest.raises(CardRemovedError):
            source.sign(b"after removal")
        card.insert()
        assert watcher.wait(True, 5)
        with pytest.raises(CardRemovedError, match="until reopen"):
            source.sign(b"reinserted, not trusted silently")
        source.reopen()
        assert source.sign(b"again") == pki.operator.key_source().sign(b"again")


def test_removal_is_detected_without_a_watcher(card: VirtualCard) -> None:
    with PcscKeySource(READER, pin=lambda: CARD_PIN) as source:
        card.remove()
        wait_for_card(False)
        with pytest.raises(CardRemovedError):
            source.sign(b"x")
        card.insert()
        wait_for_card(True)
        with pytest.raises(CardRemovedError):
            source.sign(b"y")  # the old card handle is dead: SCARD_W_REMOVED_CARD


def test_a_different_card_is_refused_on_reopen(card: VirtualCard, pki: Pki) -> None:
    with PcscKeySource(READER, pin=lambda: CARD_PIN) as source:
        card.remove()
        wait_for_card(False)
        other = make_card(pki.workstation)
        other.insert()
        wait_for_card(True)
        try:
            with pytest.raises(CredentialError, match="different card"):
                source.reopen()
            with pytest.raises(CardRemovedError):
                source.sign(b"x")
        finally:
            other.remove()
            wait_for_card(False)
            card.insert()


def test_wrong_pin_then_blocked(pcscd: None, pki: Pki) -> None:
    wait_for_card(False)
    virtual = make_card(pki.operator, tries=2)
    virtual.insert()
    wait_for_card(True)
    try:
        with pytest.raises(PinError, match="1 attempts left") as err:
            PcscKeySource(READER, pin=lambda: "00000")
        assert "00000" not in str(err.value)
        with pytest.raises(PinLockedError):
            PcscKeySource(READER, pin=lambda: "11111")
        with pytest.raises(PinLockedError):
            PcscKeySource(READER, pin=lambda: CARD_PIN)
    finally:
        virtual.remove()
        wait_for_card(False)


def test_decrypt_with_command_chaining(card: VirtualCard) -> None:
    with PcscKeySource(READER, pin=lambda: CARD_PIN) as source:
        wrapped = _public(source).encrypt(b"\x07" * 32, padding.PKCS1v15())
        assert source.decrypt(wrapped) == b"\x07" * 32


def test_a_frame_signed_by_the_card_verifies(card: VirtualCard, pki: Pki) -> None:
    with PcscKeySource(READER, pin=lambda: CARD_PIN) as source:
        signed = make_frame(pki, signer=source).sign_bytes(ENVELOPE_3002)
    trust = TrustStore([pki.ca.certificate, pki.cns_ca.certificate])
    assert verify_envelope(signed, trust=trust).signer == pki.operator.certificate


def test_operator_from_the_card_through_settings(
    card: VirtualCard, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANPR_TEST_CARD_PIN", CARD_PIN)
    config = KeySourceConfig("pcsc", pcsc_reader=READER, pin_env="ANPR_TEST_CARD_PIN")
    source = load_key_source(config, purpose="operator")
    assert isinstance(source, PcscKeySource)
    source.close()
    key_path, cert_path = pki.comune.write_pem(tmp_path, "co")
    ws_key, ws_cert = pki.workstation.write_pem(tmp_path, "pc")
    settings = Settings(
        codice_istat="058091",
        comune_key=KeySourceConfig("pem", pem_key=key_path, pem_cert=cert_path),
        workstation=WorkstationSettings(
            id="058091-PC-0001", key=KeySourceConfig("pem", pem_key=ws_key, pem_cert=ws_cert)
        ),
        operator=OperatorSettings(from_card=True, card=config),
    )
    assert WsSecurity.from_settings(settings).operator == OPERATOR_CF
