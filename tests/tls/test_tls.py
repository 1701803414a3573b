"""Mutual TLS on loopback: with the workstation certificate, without it, against a wrong CA."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from anpr_client.credentials.software import SoftwareKey
from anpr_client.errors.exceptions import ConfigurationError, CredentialError, PinError
from anpr_client.settings import KeySourceConfig, Settings
from anpr_client.simulator.pki import Pki, PkiFiles, issue_certificate, name
from anpr_client.transport import tls
from anpr_client.transport.tls import (
    create_ssl_context,
    load_client_certificate,
    ssl_context_from_settings,
)
from tests.tls.conftest import FILE_PASSWORD


def _get(url: str, context: ssl.SSLContext) -> str:
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return str(response.read().decode())


def test_defaults_verify_the_server() -> None:
    ctx = create_ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        create_ssl_context(tmp_path / "missing.pem")
    assert err.value.setting == "ca_bundle"


def test_mutual_tls_with_the_workstation_pkcs12(pki_files: PkiFiles, mtls_server: str) -> None:
    key = SoftwareKey.from_pkcs12(pki_files.workstation_p12, FILE_PASSWORD)
    ctx = create_ssl_context(pki_files.ca_pem, client_key=key)
    assert _get(mtls_server, ctx) == "hello 058091-PC-0001"


def test_mutual_tls_with_an_encrypted_pem_key(
    pki: Pki, tmp_path: Path, pki_files: PkiFiles, mtls_server: str
) -> None:
    key_path, cert_path = pki.workstation.write_pem(tmp_path, "pc", password="pem-pass")
    key = SoftwareKey.from_pem(key_path, cert_path, "pem-pass")
    assert (
        _get(mtls_server, create_ssl_context(pki_files.ca_pem, client_key=key))
        == "hello 058091-PC-0001"
    )


def test_without_a_client_certificate_the_server_refuses(
    pki_files: PkiFiles, mtls_server: str
) -> None:
    # The server aborts the handshake: depending on timing Python reports the TLS alert
    # (CERTIFICATE_REQUIRED) or the connection closing under it. No answer ever comes.
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)) as err:
        _get(mtls_server, create_ssl_context(pki_files.ca_pem))
    reason = err.value.reason if isinstance(err.value, urllib.error.URLError) else err.value
    assert isinstance(reason, ssl.SSLError | ConnectionError)
    assert not isinstance(reason, ssl.SSLCertVerificationError)


def test_a_wrong_ca_fails_closed(pki: Pki, pki_files: PkiFiles, mtls_server: str) -> None:
    key = pki.workstation.key_source()
    ctx = create_ssl_context(pki_files.anpr_ca_pem, client_key=key)  # not the server's CA
    with pytest.raises(urllib.error.URLError) as err:
        _get(mtls_server, ctx)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


def test_a_client_certificate_from_another_ca_is_refused(
    pki: Pki, pki_files: PkiFiles, mtls_server: str
) -> None:
    stranger = issue_certificate(pki.anpr_ca, name("058091-PC-0001"))
    ctx = create_ssl_context(pki_files.ca_pem, client_key=stranger.key_source())
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _get(mtls_server, ctx)


def test_expired_client_certificate_is_refused_before_connecting(pki: Pki) -> None:
    now = dt.datetime.now(dt.UTC)
    old = issue_certificate(
        pki.ca,
        name("058091-PC-0002"),
        not_before=now - dt.timedelta(days=10),
        not_after=now - dt.timedelta(days=1),
    )
    with pytest.raises(CredentialError, match="expired"):
        create_ssl_context(client_key=old.key_source())


class _SpyContext(ssl.SSLContext):
    seen: list[tuple[str, int, bytes]]

    def load_cert_chain(self, certfile, keyfile=None, password=None):  # type: ignore[no-untyped-def]
        path = str(certfile)
        self.seen.append((path, stat.S_IMODE(os.stat(path).st_mode), Path(path).read_bytes()))
        super().load_cert_chain(certfile, keyfile, password)


def test_the_key_file_is_private_encrypted_and_removed(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls, "_private_directory", lambda: str(tmp_path))
    ctx = _SpyContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.seen = []
    info = load_client_certificate(ctx, pki.workstation.key_source())
    assert info.subject.startswith("CN=058091-PC-0001")
    assert len(info.fingerprint_sha256) == 64
    ((path, mode, content),) = ctx.seen
    assert Path(path).parent == tmp_path
    assert mode == 0o600
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
    assert b"-----BEGIN PRIVATE KEY-----" not in content
    assert b"BEGIN CERTIFICATE" in content
    assert list(tmp_path.iterdir()) == [], "the temporary key file must be gone"


def test_the_temp_file_is_removed_even_when_loading_fails(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls, "_private_directory", lambda: str(tmp_path))

    class Failing(ssl.SSLContext):
        def load_cert_chain(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise ssl.SSLError(1, "boom")

    with pytest.raises(CredentialError):
        load_client_certificate(Failing(ssl.PROTOCOL_TLS_CLIENT), pki.workstation.key_source())
    assert list(tmp_path.iterdir()) == []


def test_context_from_settings(
    pki_files: PkiFiles, mtls_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANPR_TEST_PC_PASSWORD", FILE_PASSWORD)
    settings = Settings(
        codice_istat="058091",
        ca_bundle=pki_files.ca_pem,
        tls_client=KeySourceConfig(
            "pkcs12", path=pki_files.workstation_p12, password_env="ANPR_TEST_PC_PASSWORD"
        ),
    )
    assert _get(mtls_server, ssl_context_from_settings(settings)) == "hello 058091-PC-0001"
    asked: list[str] = []

    def secret(prompt: str) -> str:
        asked.append(prompt)
        return FILE_PASSWORD

    assert (
        _get(mtls_server, ssl_context_from_settings(settings, secret=secret))
        == "hello 058091-PC-0001"
    )
    assert asked == ["password of workstation.p12 (tls_client)"]
    no_mtls = Settings(codice_istat="058091", ca_bundle=pki_files.ca_pem)
    assert ssl_context_from_settings(no_mtls).verify_mode == ssl.CERT_REQUIRED


def test_settings_errors_are_clear_and_hold_no_secret(
    pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = Settings(
        codice_istat="058091",
        tls_client=KeySourceConfig(
            "pkcs11", pkcs11_module=Path("/x.so"), token_label="t", key_label="k"
        ),
    )
    with pytest.raises(ConfigurationError, match="token or smart card"):
        ssl_context_from_settings(token)
    monkeypatch.setenv("ANPR_TEST_PC_PASSWORD", "Wr0ng-S3cret!")
    wrong = Settings(
        codice_istat="058091",
        tls_client=KeySourceConfig(
            "pkcs12", path=pki_files.workstation_p12, password_env="ANPR_TEST_PC_PASSWORD"
        ),
    )
    with pytest.raises(PinError) as err:
        ssl_context_from_settings(wrong)
    assert "Wr0ng-S3cret!" not in str(err.value)
    assert "Wr0ng-S3cret!" not in repr(err.value)
    monkeypatch.delenv("ANPR_TEST_PC_PASSWORD")
    with pytest.raises(ConfigurationError, match="ANPR_TEST_PC_PASSWORD"):
        ssl_context_from_settings(wrong)


def test_our_transport_presents_the_workstation_certificate(
    pki_files: PkiFiles, mtls_server: str
) -> None:
    from anpr_client.transport import HttpRequest, HttpTransport

    key = SoftwareKey.from_pkcs12(pki_files.workstation_p12, FILE_PASSWORD)
    transport = HttpTransport(create_ssl_context(pki_files.ca_pem, client_key=key))
    try:
        answer = transport.send(HttpRequest(mtls_server, b"", method="GET"))
    finally:
        transport.close()
    assert (answer.status, answer.body) == (200, b"hello 058091-PC-0001")


def test_a_refused_client_certificate_is_not_delivered(
    pki_files: PkiFiles, mtls_server: str
) -> None:
    """With TLS 1.3 the refusal arrives after the client has finished its handshake and starts
    writing: it is still the handshake's failure, so nothing was delivered."""
    from anpr_client.errors.exceptions import TLSError
    from anpr_client.transport import HttpRequest, HttpTransport, Stage

    transport = HttpTransport(create_ssl_context(pki_files.ca_pem))
    try:
        with pytest.raises(TLSError) as err:
            transport.send(HttpRequest(mtls_server, b"<request/>"))
    finally:
        transport.close()
    assert (err.value.delivered, err.value.stage) == (False, Stage.TLS_HANDSHAKE)
    assert "CERTIFICATE_REQUIRED" in str(err.value)
