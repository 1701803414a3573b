"""PKCS#11 key sources on SoftHSM2: signing, unwrapping, PINs, removal, the operator card."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from anpr_client.credentials import load_key_source
from anpr_client.credentials.pkcs11 import Pkcs11KeySource, map_pkcs11_error
from anpr_client.errors.exceptions import (
    CardRemovedError,
    ConfigurationError,
    CredentialError,
    PinError,
    PinLockedError,
    TokenNotPresentError,
)
from anpr_client.security.frame import WsSecurity
from anpr_client.security.verify import verify_envelope
from anpr_client.settings import KeySourceConfig, OperatorSettings, Settings, WorkstationSettings
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.credentials.conftest import FILE_PASSWORD, TOKEN_PIN, SoftHsm
from tests.security.support import (
    ENVELOPE_3002,
    OPERATOR_CF,
    make_frame,
    require_program,
    security_of,
    trust_for,
)


def _source(
    hsm: SoftHsm,
    token: str = "ANPR-CO",  # noqa: S107 - a token label, not a password
    key: str = "CO9999",
    pin: str = TOKEN_PIN,
    **kw: Any,
) -> Pkcs11KeySource:
    return Pkcs11KeySource(hsm.module, token_label=token, key_label=key, pin=lambda: pin, **kw)


def _public(source: Pkcs11KeySource) -> rsa.RSAPublicKey:
    key = source.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_signs_like_the_file_key(softhsm: SoftHsm, pki: Pki) -> None:
    with _source(softhsm) as source:
        assert source.certificate == pki.comune.certificate
        signature = source.sign(b"payload")
        # CKM_RSA_PKCS over a host DigestInfo == the software PKCS#1 v1.5 signature.
        assert signature == pki.comune.key_source().sign(b"payload")
        _public(source).verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
        assert source.sign(b"x", "sha1") == pki.comune.key_source().sign(b"x", "sha1")


def test_unwraps_a_content_key(softhsm: SoftHsm) -> None:
    with _source(softhsm) as source:
        wrapped = _public(source).encrypt(b"\x42" * 32, padding.PKCS1v15())
        assert source.decrypt(wrapped) == b"\x42" * 32


def test_wrong_pin_and_missing_token(softhsm: SoftHsm) -> None:
    with pytest.raises(PinError) as err:
        _source(softhsm, token="PIN-TEST", key="PC0001", pin="0000-wrong")
    assert "0000-wrong" not in str(err.value)
    with pytest.raises(TokenNotPresentError):
        _source(softhsm, token="NO-SUCH-TOKEN")
    with pytest.raises(CredentialError, match="no RSA private key"):
        _source(softhsm, token="PIN-TEST", key="NOPE")
    with _source(softhsm, token="PIN-TEST", key="PC0001") as source:
        assert source.sign(b"ok")


def test_sources_on_one_token_share_the_login(softhsm: SoftHsm) -> None:
    first = _source(softhsm)
    second = _source(softhsm)
    first.close()
    assert len(second.sign(b"still logged in")) == 256
    second.close()
    with pytest.raises(CredentialError, match="closed"):
        second.sign(b"x")


def test_removed_card_is_refused_until_reopened(softhsm: SoftHsm, pki: Pki) -> None:
    present = [True]
    with _source(softhsm, presence=lambda: present[0]) as source:
        assert source.sign(b"a")
        present[0] = False
        with pytest.raises(CardRemovedError):
            source.sign(b"b")
        present[0] = True
        with pytest.raises(CardRemovedError, match="until reopen"):
            source.sign(b"c")  # the card is back, but we do not trust it silently
        source.reopen()
        assert source.sign(b"d") == pki.comune.key_source().sign(b"d")


def test_device_removed_during_an_operation(softhsm: SoftHsm) -> None:
    from pkcs11.exceptions import DeviceRemoved

    class Unplugged:
        def sign(self, *args: object, **kwargs: object) -> bytes:
            raise DeviceRemoved()

    with _source(softhsm) as source:
        source._key = Unplugged()  # what the module reports when the card is pulled mid-call
        with pytest.raises(CardRemovedError):
            source.sign(b"x")
        with pytest.raises(CardRemovedError):
            source.sign(b"y")
        source.reopen()
        assert source.sign(b"z")


def test_error_mapping() -> None:
    from pkcs11 import exceptions as e

    assert type(map_pkcs11_error(e.PinLocked(), where="t")) is PinLockedError
    assert type(map_pkcs11_error(e.PinIncorrect(), where="t")) is PinError
    assert type(map_pkcs11_error(e.TokenNotPresent(), where="t")) is TokenNotPresentError
    assert type(map_pkcs11_error(e.DeviceRemoved(), where="t")) is CardRemovedError
    assert type(map_pkcs11_error(e.SessionHandleInvalid(), where="t")) is CardRemovedError
    assert type(map_pkcs11_error(e.GeneralError(), where="t")) is CredentialError


def test_secrets_stay_out_of_reprs_errors_and_logs(
    softhsm: SoftHsm, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _source(softhsm) as source:
        source.sign(b"x")
        texts = [repr(source), str(source), source.description, caplog.text]
        texts += [repr(v) for v in vars(source).values()] if hasattr(source, "__dict__") else []
    with pytest.raises(PinError) as err:
        _source(softhsm, token="PIN-TEST", key="PC0001", pin=TOKEN_PIN + "x")
    texts += [str(err.value), repr(err.value), caplog.text]
    for text in texts:
        assert TOKEN_PIN not in text


def test_loader_reads_the_pin_from_the_named_variable(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = softhsm.key()
    with pytest.raises(ConfigurationError, match="ANPR_TEST_PIN"):
        load_key_source(config)
    monkeypatch.setenv("ANPR_TEST_PIN", TOKEN_PIN)
    source = load_key_source(config)
    assert isinstance(source, Pkcs11KeySource)
    source.close()
    no_pin = softhsm.key(pin_env=None)
    with pytest.raises(ConfigurationError, match="pin_env"):
        load_key_source(no_pin, purpose="comune_key")
    prompts: list[str] = []

    def secret(prompt: str) -> str:
        prompts.append(prompt)
        return TOKEN_PIN

    source = load_key_source(no_pin, secret=secret, purpose="comune_key")
    assert isinstance(source, Pkcs11KeySource)
    assert source.sign(b"x")
    source.close()
    assert prompts == ["PIN of token 'ANPR-CO' (comune_key)"]


def test_frame_signed_on_the_token_verifies_independently(
    softhsm: SoftHsm, pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    with _source(softhsm) as token:
        signed = make_frame(pki, signer=token).sign_bytes(ENVELOPE_3002)
    assert verify_envelope(signed, trust=trust_for(pki)).signer == pki.comune.certificate
    xmlsec1 = require_program("xmlsec1")
    (tmp_path / "s.xml").write_bytes(signed)
    result = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--node-xpath",
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
            "--trusted-pem",
            str(pki_files.ca_pem),
            str(tmp_path / "s.xml"),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_operator_read_from_the_card_after_login(
    softhsm: SoftHsm, pki: Pki, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANPR_TEST_PIN", TOKEN_PIN)
    monkeypatch.setenv("ANPR_TEST_P12", FILE_PASSWORD)
    settings = Settings(
        codice_istat="058091",
        comune_key=softhsm.key(),
        workstation=WorkstationSettings(
            id="058091-PC-0001",
            key=KeySourceConfig(
                "pkcs12", path=pki_files.workstation_p12, password_env="ANPR_TEST_P12"
            ),
        ),
        operator=OperatorSettings(
            from_card=True,
            card=KeySourceConfig(
                "pkcs11",
                pkcs11_module=softhsm.module,
                token_label="CNS-TEST",
                key_label="CNS0",
                pin_env="ANPR_TEST_PIN",
            ),
        ),
    )
    frame = WsSecurity.from_settings(settings)
    assert frame.operator == OPERATOR_CF
    envelope = etree.fromstring(frame.sign_bytes(ENVELOPE_3002))
    assert (
        security_of(envelope)[1].findtext(
            "{urn:oasis:names:tc:SAML:2.0:assertion}Subject/{urn:oasis:names:tc:SAML:2.0:assertion}NameID"
        )
        == OPERATOR_CF
    )
    verify_envelope(etree.tostring(envelope), trust=trust_for(pki))
    without_card = settings.replace(operator=OperatorSettings(from_card=True))
    with pytest.raises(ConfigurationError, match="from_card"):
        WsSecurity.from_settings(without_card)
