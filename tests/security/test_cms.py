"""CMS SignedData (IdPostazioneFirmato) and EnvelopedData (N000 contenuto), with OpenSSL as
the independent engine in both directions."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms as acms

from anpr_client.errors.exceptions import CmsRejected, DecryptionError, UntrustedCertificate
from anpr_client.security.cms import (
    decrypt_enveloped,
    encrypt_enveloped,
    id_postazione_firmato,
    sign_data,
    verify_signed_data,
)
from anpr_client.security.trust import TrustStore
from anpr_client.simulator.pki import Pki, PkiFiles, create_ca, issue_certificate, name
from tests.security.conftest import FILE_PASSWORD
from tests.security.support import require_program

NOTIFICATION = "<notifica>N010 àèìòù €</notifica>".encode()


def test_signed_data_round_trip(pki: Pki, trust: TrustStore) -> None:
    moment = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    der = sign_data(b"058091-PC-0001", pki.workstation.key_source(), signing_time=moment)
    verified = verify_signed_data(der, trust=trust)
    assert verified.content == b"058091-PC-0001"
    assert verified.signer == pki.workstation.certificate
    assert verified.digest_algorithm == "sha256"
    assert verified.signing_time == moment


def test_signed_attributes_are_der_sorted(pki: Pki) -> None:
    der = sign_data(b"x", pki.workstation.key_source())
    attrs = acms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"]
    encoded = [a.dump() for a in attrs]
    assert encoded == sorted(encoded)


def test_openssl_verifies_ours(pki: Pki, pki_files: PkiFiles, tmp_path: Path) -> None:
    openssl = require_program("openssl")
    (tmp_path / "s.der").write_bytes(
        base64.b64decode(id_postazione_firmato("058091-PC-0001", pki.workstation.key_source()))
    )
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "s.der"),
            "-CAfile",
            str(pki_files.ca_pem),
            "-purpose",
            "any",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"058091-PC-0001"


@pytest.mark.parametrize("digest", ["sha256", "sha1"])
def test_we_verify_openssls_streamed_ber(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path, trust: TrustStore, digest: str
) -> None:
    # "-stream" produces BER with indefinite lengths, like some Java stacks (italia/anpr#2504).
    openssl = require_program("openssl")
    (tmp_path / "id.txt").write_bytes(b"058091-PC-0001")
    subprocess.run(
        [
            openssl,
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-stream",
            "-md",
            digest,
            "-in",
            str(tmp_path / "id.txt"),
            "-signer",
            str(pki_files.workstation_cert_pem),
            "-inkey",
            str(pki_files.workstation_key_pem),
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "o.der"),
        ],
        check=True,
        capture_output=True,
    )
    der = (tmp_path / "o.der").read_bytes()
    assert der[1] == 0x80, "expected BER indefinite length"
    if digest == "sha1":
        with pytest.raises(CmsRejected) as err:
            verify_signed_data(der, trust=trust)
        assert err.value.check == "cms-algorithm"
        verified = verify_signed_data(der, trust=trust, digests=("sha256", "sha1"))
    else:
        verified = verify_signed_data(der, trust=trust)
    assert verified.content == b"058091-PC-0001"


def test_signed_data_failures(pki: Pki, trust: TrustStore) -> None:
    der = sign_data(b"058091-PC-0001", pki.workstation.key_source())
    tampered = der.replace(b"058091-PC-0001", b"058091-PC-0002")
    with pytest.raises(CmsRejected) as err:
        verify_signed_data(tampered, trust=trust)
    assert err.value.check == "cms-digest"
    with pytest.raises(CmsRejected) as err:
        verify_signed_data(b"\x30\x03\x02\x01\x00", trust=trust)
    assert err.value.check == "cms-format"
    enveloped = encrypt_enveloped(b"x", pki.comune.certificate)
    with pytest.raises(CmsRejected, match="not 'signed_data'"):
        verify_signed_data(enveloped, trust=trust)
    stranger = issue_certificate(create_ca(name("Other CA")), name("058091-PC-0001"))
    with pytest.raises(UntrustedCertificate):
        verify_signed_data(sign_data(b"058091-PC-0001", stranger.key_source()), trust=trust)
    assert verify_signed_data(sign_data(b"a", stranger.key_source()), trust=None).content == b"a"


def test_signature_over_other_attributes_is_refused(pki: Pki, trust: TrustStore) -> None:
    good = sign_data(b"058091-PC-0001", pki.workstation.key_source())
    other = sign_data(
        b"058091-PC-0001",
        pki.workstation.key_source(),
        signing_time=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    info = acms.ContentInfo.load(good)
    info["content"]["signer_infos"][0]["signature"] = acms.ContentInfo.load(other)["content"][
        "signer_infos"
    ][0]["signature"].native
    with pytest.raises(CmsRejected) as err:
        verify_signed_data(info.dump(force=True), trust=trust)
    assert err.value.check == "cms-signature"


def test_enveloped_round_trip(pki: Pki) -> None:
    data = encrypt_enveloped(NOTIFICATION, pki.comune.certificate)
    info = acms.ContentInfo.load(data)
    eci = info["content"]["encrypted_content_info"]
    assert eci["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    recipient = info["content"]["recipient_infos"][0].chosen
    assert recipient["key_encryption_algorithm"]["algorithm"].native == "rsaes_pkcs1v15"
    assert decrypt_enveloped(data, pki.comune.key_source()) == NOTIFICATION


def test_openssl_decrypts_ours_and_we_decrypt_openssls(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    openssl = require_program("openssl")
    (tmp_path / "ours.der").write_bytes(encrypt_enveloped(NOTIFICATION, pki.comune.certificate))
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "ours.der"),
            "-inkey",
            str(pki_files.comune_key_pem),
            "-recip",
            str(pki_files.comune_cert_pem),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == NOTIFICATION
    (tmp_path / "plain").write_bytes(NOTIFICATION)
    subprocess.run(
        [
            openssl,
            "cms",
            "-encrypt",
            "-binary",
            "-aes256",
            "-outform",
            "DER",
            "-in",
            str(tmp_path / "plain"),
            "-out",
            str(tmp_path / "theirs.der"),
            str(pki_files.comune_cert_pem),
        ],
        check=True,
        capture_output=True,
    )
    theirs = (tmp_path / "theirs.der").read_bytes()
    assert decrypt_enveloped(theirs, pki.comune.key_source()) == NOTIFICATION


def test_decrypt_tries_each_configured_key(pki: Pki) -> None:
    # CO-9998 / CO-9999 rotation: the receiver holds both keys.
    renewed = issue_certificate(pki.ca, name("058091-CO-9998"))
    data = encrypt_enveloped(NOTIFICATION, pki.comune.certificate)
    assert decrypt_enveloped(data, [renewed.key_source(), pki.comune.key_source()]) == NOTIFICATION
    with pytest.raises(DecryptionError, match="not encrypted for any configured key"):
        decrypt_enveloped(data, [renewed.key_source()])


def test_decrypt_failures_are_typed(pki: Pki) -> None:
    data = bytearray(encrypt_enveloped(NOTIFICATION, pki.comune.certificate))
    data[-17] ^= 0xFF  # flips the last padding byte: padding check fails deterministically
    with pytest.raises(DecryptionError):
        decrypt_enveloped(bytes(data), pki.comune.key_source())
    with pytest.raises(DecryptionError):
        decrypt_enveloped(b"garbage", pki.comune.key_source())
    signed = sign_data(b"x", pki.comune.key_source())
    with pytest.raises(DecryptionError):
        decrypt_enveloped(signed, pki.comune.key_source())


def test_pkcs12_written_by_pki_opens_with_openssl(pki_files: PkiFiles) -> None:
    openssl = require_program("openssl")
    result = subprocess.run(
        [
            openssl,
            "pkcs12",
            "-in",
            str(pki_files.comune_p12),
            "-nokeys",
            "-passin",
            f"pass:{FILE_PASSWORD}",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"058091-CO-9999" in result.stdout
