"""File keys (PKCS#12, PEM), the loader, and secret hygiene."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from anpr_client.credentials import KeySource, SoftwareKey, digest_info, load_key_source
from anpr_client.credentials.base import (
    DIGEST_INFO_PREFIX,
    HashName,
    SecretPrompt,
    hash_bytes,
    resolve_secret,
)
from anpr_client.errors.exceptions import ConfigurationError, CredentialError, PinError
from anpr_client.settings import KeySourceConfig
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.credentials.conftest import FILE_PASSWORD

SECRET = "Very-S3cret-Pass!"


def _public(source: KeySource) -> rsa.RSAPublicKey:
    key = source.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _check_signature(source: KeySource, hash_name: HashName = "sha256") -> None:
    algorithm = hashes.SHA256() if hash_name == "sha256" else hashes.SHA1()  # noqa: S303
    signature = source.sign(b"payload", hash_name)
    _public(source).verify(signature, b"payload", padding.PKCS1v15(), algorithm)


def test_pkcs12_signs_and_decrypts(pki: Pki, pki_files: PkiFiles) -> None:
    key = SoftwareKey.from_pkcs12(pki_files.comune_p12, FILE_PASSWORD)
    assert isinstance(key, KeySource)
    assert key.certificate == pki.comune.certificate
    assert key.chain == (pki.ca.certificate,)
    _check_signature(key)
    _check_signature(key, "sha1")
    wrapped = _public(key).encrypt(b"k" * 32, padding.PKCS1v15())
    assert key.decrypt(wrapped) == b"k" * 32


def test_pem_plain_and_encrypted(pki: Pki, pki_files: PkiFiles, tmp_path: Path) -> None:
    plain = SoftwareKey.from_pem(pki_files.workstation_key_pem, pki_files.workstation_cert_pem)
    _check_signature(plain)
    key_path, cert_path = pki.workstation.write_pem(tmp_path, "enc", password=SECRET)
    _check_signature(SoftwareKey.from_pem(key_path, cert_path, SECRET))
    with pytest.raises(PinError, match="is encrypted"):
        SoftwareKey.from_pem(key_path, cert_path)
    with pytest.raises(PinError) as err:
        SoftwareKey.from_pem(key_path, cert_path, "wrong")
    assert "wrong" not in str(err.value).replace("wrong password", "")


def test_mismatched_key_and_certificate(pki_files: PkiFiles) -> None:
    with pytest.raises(CredentialError, match="does not match"):
        SoftwareKey.from_pem(pki_files.workstation_key_pem, pki_files.comune_cert_pem)


def test_file_problems_are_credential_errors(pki_files: PkiFiles, tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="cannot read"):
        SoftwareKey.from_pkcs12(tmp_path / "missing.p12", "x")
    (tmp_path / "junk.p12").write_bytes(b"junk")
    with pytest.raises(PinError):
        SoftwareKey.from_pkcs12(tmp_path / "junk.p12", "x")
    (tmp_path / "empty.pem").write_text("nothing here")
    with pytest.raises(CredentialError, match="no PEM certificate"):
        SoftwareKey.from_pem(pki_files.workstation_key_pem, tmp_path / "empty.pem")


def test_wrong_password_never_appears(
    pki_files: PkiFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PinError) as err:
        SoftwareKey.from_pkcs12(pki_files.comune_p12, SECRET)
    for text in (
        str(err.value),
        repr(err.value),
        caplog.text,
        str(err.value.__cause__),
        str(err.value.__context__),
    ):
        assert SECRET not in text


def test_repr_shows_the_subject_only(pki_files: PkiFiles) -> None:
    key = SoftwareKey.from_pkcs12(pki_files.comune_p12, FILE_PASSWORD)
    text = repr(key) + str(key)
    assert "058091-CO-9999" in text
    assert FILE_PASSWORD not in text
    assert "PRIVATE" not in text
    assert "RSAPrivateKey" not in text


def test_loader_reads_the_named_environment_variable(
    pki: Pki, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = KeySourceConfig("pkcs12", path=pki_files.comune_p12, password_env="ANPR_TEST_P12")
    monkeypatch.setenv("ANPR_TEST_P12", FILE_PASSWORD)
    assert load_key_source(config).certificate == pki.comune.certificate
    monkeypatch.delenv("ANPR_TEST_P12")
    with pytest.raises(ConfigurationError) as err:
        load_key_source(config, purpose="comune_key")
    assert "ANPR_TEST_P12" in str(err.value)
    assert err.value.setting == "comune_key.password_env"


def test_loader_prefers_the_callback_and_names_what_it_asks(pki_files: PkiFiles) -> None:
    prompts: list[str] = []

    def secret(prompt: str) -> str:
        prompts.append(prompt)
        return FILE_PASSWORD

    config = KeySourceConfig("pkcs12", path=pki_files.comune_p12, password_env="UNSET_VARIABLE_X")
    load_key_source(config, secret=secret, purpose="comune_key")
    assert prompts == ["password of comune.p12 (comune_key)"]
    pem = KeySourceConfig(
        "pem", pem_key=pki_files.comune_key_pem, pem_cert=pki_files.comune_cert_pem
    )
    assert isinstance(load_key_source(pem), SoftwareKey)  # unencrypted: no secret needed


def test_loader_refuses_incomplete_configs() -> None:
    with pytest.raises(ConfigurationError) as err:
        load_key_source(KeySourceConfig("pkcs12"), purpose="workstation")
    assert err.value.setting == "workstation.pkcs12"
    with pytest.raises(ConfigurationError):
        load_key_source(
            KeySourceConfig("pkcs11", pkcs11_module=Path("/x.so"), token_label="t", key_label="k")
        )


def test_digest_info_and_hashes() -> None:
    info = digest_info(b"abc", "sha256")
    assert info.startswith(DIGEST_INFO_PREFIX["sha256"])
    assert len(info) == 19 + 32
    assert len(digest_info(b"abc", "sha1")) == 15 + 20
    with pytest.raises(CredentialError):
        hash_bytes(b"abc", "md5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        resolve_secret("PIN", env_var=None, callback=None, setting="x.pin_env")
    assert resolve_secret("PIN", env_var=None, callback=None, setting="x", required=False) is None


class _Asker(SecretPrompt):
    def __init__(self, available: bool) -> None:
        self.can = available
        self.asked: list[str] = []

    def available(self) -> bool:
        return self.can

    def __call__(self, prompt: str) -> str:
        self.asked.append(prompt)
        return "typed"


def test_a_prompt_is_asked_only_for_what_the_environment_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANPR_TEST_SET", "from-env")
    monkeypatch.delenv("ANPR_TEST_UNSET", raising=False)
    ask = _Asker(available=True)
    assert resolve_secret("PIN", env_var="ANPR_TEST_SET", callback=ask, setting="x") == "from-env"
    assert ask.asked == []
    assert resolve_secret("PIN", env_var="ANPR_TEST_UNSET", callback=ask, setting="x") == "typed"
    assert resolve_secret("PIN", env_var=None, callback=ask, setting="x") == "typed"
    # An unencrypted key file (no variable named, nothing required) asks nothing.
    assert resolve_secret("pw", env_var=None, callback=ask, setting="x", required=False) is None
    assert ask.asked == ["PIN", "PIN"]
    nobody = _Asker(available=False)
    with pytest.raises(ConfigurationError, match="ANPR_TEST_UNSET"):
        resolve_secret("PIN", env_var="ANPR_TEST_UNSET", callback=nobody, setting="x")
    assert nobody.asked == []


# ------------------------------------------------------------------ the RSA self-check at load


def _broken_crt_key(pki: Pki) -> rsa.RSAPrivateKey:
    """The Comune key with a wrong CRT exponent: OpenSSL's key check refuses it."""
    numbers = pki.comune.key.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d,
        dmp1=numbers.dmp1 + 2,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    )
    return broken.private_key(unsafe_skip_rsa_key_validation=True)


def _write_broken(pki: Pki, tmp_path: Path) -> tuple[Path, Path, Path]:
    key = _broken_crt_key(pki)
    key_pem = tmp_path / "broken.key.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem = tmp_path / "broken.cert.pem"
    cert_pem.write_bytes(pki.comune.cert_pem(with_chain=True))
    p12 = tmp_path / "broken.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"co",
            key,
            pki.comune.certificate,
            [pki.ca.certificate],
            serialization.BestAvailableEncryption(FILE_PASSWORD.encode()),
        )
    )
    return key_pem, cert_pem, p12


def test_the_key_self_check_is_kept_for_keys_of_unknown_origin(pki: Pki, tmp_path: Path) -> None:
    key_pem, cert_pem, p12 = _write_broken(pki, tmp_path)
    with pytest.raises(PinError):
        SoftwareKey.from_pem(key_pem, cert_pem)
    with pytest.raises(PinError):
        SoftwareKey.from_pkcs12(p12, FILE_PASSWORD)


def test_a_key_file_the_settings_name_is_loaded_without_the_self_check(
    pki: Pki, tmp_path: Path
) -> None:
    # Proof that the check is skipped: a key it would refuse loads (and still matches its
    # certificate); the loader of the settings is what passes ``trusted``.
    key_pem, cert_pem, p12 = _write_broken(pki, tmp_path)
    for source in (
        SoftwareKey.from_pem(key_pem, cert_pem, trusted=True),
        SoftwareKey.from_pkcs12(p12, FILE_PASSWORD, trusted=True),
        load_key_source(KeySourceConfig("pem", pem_key=key_pem, pem_cert=cert_pem)),
        load_key_source(
            KeySourceConfig("pkcs12", path=p12, password_env="ANPR_TEST_BROKEN"),
            secret=lambda _prompt: FILE_PASSWORD,
        ),
    ):
        assert isinstance(source, SoftwareKey)
        assert source.certificate == pki.comune.certificate
        assert source.chain == (pki.ca.certificate,)


def test_trusted_pkcs12_keeps_the_chain_the_signature_and_the_password_check(
    pki: Pki, pki_files: PkiFiles
) -> None:
    key = SoftwareKey.from_pkcs12(pki_files.comune_p12, FILE_PASSWORD, trusted=True)
    assert key.certificate == pki.comune.certificate
    assert key.chain == (pki.ca.certificate,)
    _check_signature(key)
    with pytest.raises(PinError):
        SoftwareKey.from_pkcs12(pki_files.comune_p12, SECRET, trusted=True)
    with pytest.raises(CredentialError, match="does not match"):
        SoftwareKey.from_pem(pki_files.workstation_key_pem, pki_files.comune_cert_pem, trusted=True)


# ------------------------------------------------------------------ the trusted path's MAC check


def _p12(
    key: rsa.RSAPrivateKey,
    pki: Pki,
    password: str,
    *,
    mac: hashes.HashAlgorithm | None = None,
    rounds: int = 2048,
) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(rounds)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(mac or hashes.SHA256())
        .build(password.encode("utf-8"))
    )
    return pkcs12.serialize_key_and_certificates(
        b"co", key, pki.comune.certificate, [pki.ca.certificate], encryption
    )


def _pfx_with(data: bytes, *, digest: bytes | None = None, extra_content: bool = False) -> bytes:
    """``data`` with its MAC value replaced, or a further (empty) content the MAC does not
    cover, or (``digest=b""``) without its MAC."""
    from asn1crypto import core as acore
    from asn1crypto import pkcs12 as apkcs12

    pfx = apkcs12.Pfx.load(data)
    auth_safe = pfx["auth_safe"]
    if extra_content:
        empty = apkcs12.ContentInfo({"content_type": "data", "content": acore.OctetString(b"0\0")})
        infos = [*pfx.authenticated_safe, empty]
        auth_safe = apkcs12.ContentInfo(
            {
                "content_type": "data",
                "content": acore.OctetString(apkcs12.AuthenticatedSafe(infos).dump()),
            }
        )
    fields: dict[str, object] = {"version": pfx["version"].native, "auth_safe": auth_safe}
    mac_data = pfx["mac_data"]
    if digest != b"":
        mac = mac_data["mac"]
        fields["mac_data"] = {
            "mac": {
                "digest_algorithm": mac["digest_algorithm"],
                "digest": mac["digest"].native if digest is None else digest,
            },
            "mac_salt": mac_data["mac_salt"].native,
            "iterations": mac_data["iterations"].native,
        }
    out = apkcs12.Pfx(fields).dump(force=True)
    assert isinstance(out, bytes)
    return out


def test_trusted_pkcs12_refuses_a_file_whose_mac_does_not_match(pki: Pki, tmp_path: Path) -> None:
    # The key the RSA self-check refuses tells the paths apart: only the trusted path, after
    # its own MAC check, loads it. A MAC that does not match sends the file to the checked
    # loader, which refuses it as it refuses every such file (wrong password or damaged).
    data = _p12(_broken_crt_key(pki), pki, FILE_PASSWORD)
    good = tmp_path / "good.p12"
    good.write_bytes(data)
    assert SoftwareKey.from_pkcs12(good, FILE_PASSWORD, trusted=True).chain == (pki.ca.certificate,)
    digest = bytearray(_pfx_mac(data))
    digest[0] ^= 1
    for damaged in (_pfx_with(data, digest=bytes(digest)), _pfx_with(data, extra_content=True)):
        path = tmp_path / "damaged.p12"
        path.write_bytes(damaged)
        with pytest.raises(PinError):
            SoftwareKey.from_pkcs12(path, FILE_PASSWORD, trusted=True)
        with pytest.raises(ValueError, match="PKCS12"):  # OpenSSL refuses it too
            pkcs12.load_key_and_certificates(damaged, FILE_PASSWORD.encode())


def _pfx_mac(data: bytes) -> bytes:
    from asn1crypto import pkcs12 as apkcs12

    value = apkcs12.Pfx.load(data)["mac_data"]["mac"]["digest"].native
    assert isinstance(value, bytes)
    return value


@pytest.mark.parametrize(
    ("mac", "password", "rounds"),
    [
        (hashes.SHA256(), FILE_PASSWORD, 2048),
        (hashes.SHA1(), FILE_PASSWORD, 2048),  # noqa: S303 - what older files carry
        (hashes.SHA512(), "pàssword-€-\U0001d11e", 1),
        (hashes.SHA384(), "Ünïcode", 3000),
    ],
)
def test_the_mac_check_agrees_with_openssl(
    pki: Pki, tmp_path: Path, mac: hashes.HashAlgorithm, password: str, rounds: int
) -> None:
    # The trusted path loads the key the self-check refuses only if its own MAC check passed;
    # OpenSSL's loader (the good key, the same MAC settings) accepts the same password and
    # refuses another.
    path = tmp_path / "broken.p12"
    path.write_bytes(_p12(_broken_crt_key(pki), pki, password, mac=mac, rounds=rounds))
    loaded = SoftwareKey.from_pkcs12(path, password, trusted=True)
    assert loaded.certificate == pki.comune.certificate
    good = _p12(pki.comune.key, pki, password, mac=mac, rounds=rounds)
    pkcs12.load_key_and_certificates(good, password.encode("utf-8"))
    with pytest.raises(ValueError, match="PKCS12"):
        pkcs12.load_key_and_certificates(good, (password + "x").encode("utf-8"))
    with pytest.raises(PinError):
        SoftwareKey.from_pkcs12(path, password + "x", trusted=True)


def test_a_file_without_a_mac_loads_on_both_paths(pki: Pki, tmp_path: Path) -> None:
    # Nothing to verify: OpenSSL's loader accepts such a file, and so does the trusted path
    # (without the self-check: the broken key loads).
    bare = _pfx_with(_p12(_broken_crt_key(pki), pki, FILE_PASSWORD), digest=b"")
    path = tmp_path / "bare.p12"
    path.write_bytes(bare)
    assert SoftwareKey.from_pkcs12(path, FILE_PASSWORD, trusted=True).chain == (pki.ca.certificate,)
    plain = _pfx_with(_p12(pki.comune.key, pki, FILE_PASSWORD), digest=b"")
    _, cert, _ = pkcs12.load_key_and_certificates(plain, FILE_PASSWORD.encode())
    assert cert == pki.comune.certificate


@pytest.mark.parametrize(
    "options",
    [["-iter", "5000", "-macalg", "sha1"], ["-nomaciter", "-macalg", "sha512"]],
)
def test_the_mac_check_agrees_with_openssl_on_other_mac_iterations(
    pki: Pki, tmp_path: Path, options: list[str]
) -> None:
    # cryptography writes every MAC with 2048 iterations; the openssl program writes others
    # (5000, and 1 with -nomaciter).
    import subprocess

    from tests.security.support import require_program

    openssl = require_program("openssl")
    key_pem, cert_pem, _ = _write_broken(pki, tmp_path)
    path = tmp_path / "openssl.p12"
    files = ["-inkey", str(key_pem), "-in", str(cert_pem), "-out", str(path)]
    subprocess.run(
        [openssl, "pkcs12", "-export", *files, "-passout", f"pass:{FILE_PASSWORD}", *options],
        check=True,
        capture_output=True,
    )
    loaded = SoftwareKey.from_pkcs12(path, FILE_PASSWORD, trusted=True)  # own MAC check passed
    assert loaded.certificate == pki.comune.certificate
    with pytest.raises(PinError):
        SoftwareKey.from_pkcs12(path, FILE_PASSWORD + "x", trusted=True)
