"""The client trusts exactly the configured CAs: the context is the only source of trust.

The attack of the reliability issue: a server whose CA is only in certifi's public bundle. Here
that CA is a throwaway one added to a copy of certifi's bundle, and everything that could point
a client at such a bundle points at the copy — ``certifi.where()``, requests' default bundle,
``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` and OpenSSL's ``SSL_CERT_FILE``. With a ``ca_bundle``
set the server is refused (by our transport and by the requests session handed to zeep), and
the context still holds only the configured CA afterwards. Trusting the system's store as well
takes ``[tls] trust_system = true``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import requests
import requests.adapters
import requests.utils
import trustme

from anpr_client.client import Client
from anpr_client.errors.exceptions import ConfigurationError, TLSError
from anpr_client.settings import Settings, Timeouts, TlsSettings
from anpr_client.transport import HttpRequest, HttpResponse, HttpTransport, Stage
from anpr_client.transport.tls import create_ssl_context, ssl_context_from_settings
from tests.client import hostile as h


@pytest.fixture
def public_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[h.Hostile]:
    """A server whose CA is in (a copy of) certifi's bundle, which every default points at."""
    public = trustme.CA()
    bundle = tmp_path / "certifi-copy.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + public.cert_pem.bytes())
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, str(bundle))
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))
    monkeypatch.setattr(requests.utils, "DEFAULT_CA_BUNDLE_PATH", str(bundle))
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(bundle))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    public.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with h.serve(public, tmp_path, context=context) as server:
        server.default = h.reply(b"ok")
        yield server


@pytest.fixture
def anpr_ca(tmp_path: Path) -> Path:
    """The configured trust: a CA that did not issue the server's certificate."""
    path = tmp_path / "anpr-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def _settings(server: h.Hostile, ca_bundle: Path | None, trust_system: bool | None) -> Settings:
    return Settings(
        codice_istat="058091",
        base_url=server.url,
        ca_bundle=ca_bundle,
        tls=TlsSettings(trust_system=trust_system),
        timeouts=Timeouts(connect=2, read=2),
    )


def _get(transport: HttpTransport, server: h.Hostile) -> HttpResponse:
    return transport.send(HttpRequest(server.url + "/", b"", timeouts=Timeouts(2, 2)))


def test_a_server_known_only_to_certifi_is_refused(public_only: h.Hostile, anpr_ca: Path) -> None:
    client = Client(_settings(public_only, anpr_ca, None), journal=None)
    transport = client.transport
    assert isinstance(transport, HttpTransport)
    with pytest.raises(TLSError) as info:
        _get(transport, public_only)
    assert (info.value.delivered, info.value.stage) == (False, Stage.TLS_HANDSHAKE)
    assert "certificate verify failed" in str(info.value)
    # The session zeep uses is refused too, and never loads certifi into our context.
    with pytest.raises(requests.exceptions.SSLError):
        transport.session.post(public_only.url, data=b"", timeout=2)
    assert transport.ssl_context.cert_store_stats()["x509_ca"] == 1
    assert public_only.received == []
    client.close()


def test_trusting_the_system_store_is_an_explicit_setting(
    public_only: h.Hostile, anpr_ca: Path
) -> None:
    transport = HttpTransport(ssl_context_from_settings(_settings(public_only, anpr_ca, True)))
    try:
        assert _get(transport, public_only).body == b"ok"  # SSL_CERT_FILE is the system's
    finally:
        transport.close()


def test_without_a_ca_bundle_the_system_store_is_the_trust(public_only: h.Hostile) -> None:
    transport = HttpTransport(ssl_context_from_settings(_settings(public_only, None, None)))
    try:
        assert _get(transport, public_only).body == b"ok"
    finally:
        transport.close()
    with pytest.raises(ConfigurationError) as info:
        ssl_context_from_settings(_settings(public_only, None, False))
    assert info.value.setting == "tls.trust_system"


def test_the_configured_ca_is_trusted_and_only_it(tmp_path: Path, anpr_ca: Path) -> None:
    ca = trustme.CA()
    with h.serve(ca, tmp_path) as server:
        server.default = h.reply(b"ok")
        ctx = create_ssl_context(server.ca_pem)
        assert ctx.cert_store_stats()["x509_ca"] == 1
        right = HttpTransport(ctx)
        wrong = HttpTransport(create_ssl_context(anpr_ca))
        try:
            assert _get(right, server).status == 200
            with pytest.raises(TLSError):
                _get(wrong, server)
        finally:
            right.close()
            wrong.close()
