"""One ``ssl.SSLContext`` for every HTTPS connection the client opens.

The server is always verified, and the context is the only source of trust: with a
``ca_bundle``, exactly its CAs; the system's store (OpenSSL's default paths, ``SSL_CERT_FILE``)
only when no ``ca_bundle`` is given or ``[tls] trust_system = true`` says so. No other bundle
(certifi's, ``REQUESTS_CA_BUNDLE``) is ever added. There is no way to switch verification off,
and the trust anchors should be a CA (ANPR's "CA Postazioni…"), never a pinned leaf: ANPR renews
its leaf certificates (italia/anpr#1826, #4339, #5149).

Mutual TLS with the workstation certificate (``[tls_client]``, PKCS#12 or PEM) is optional:
ANPR's SOAP services do not ask for it today, but some deployments put a TLS-terminating proxy
in front. CPython loads a client key only from a file, so :func:`load_client_certificate`
writes the certificate chain and the key, **encrypted under a random one-time password**, to a
private temporary file (mode 0600, in ``/dev/shm`` when available), loads it and deletes it at
once. A key on a smart card cannot be used for TLS by Python's ``ssl``: use the workstation
PKCS#12 for TLS and the card for the WS-Security signature.

Integrators::

    ctx = ssl_context_from_settings(settings)          # server trust + optional mTLS
    ctx = create_ssl_context(ca_bundle, client_key=SoftwareKey.from_pkcs12(path, password))

The context can be shared by our transport, ``httpx`` clients and requests adapters (see
:attr:`HttpTransport.session <anpr_client.transport.HttpTransport.session>`), from several threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization

from ..errors.exceptions import ConfigurationError, CredentialError

if TYPE_CHECKING:
    from ..credentials.base import SecretCallback
    from ..credentials.software import SoftwareKey
    from ..settings import Settings

__all__ = [
    "ClientCertificateInfo",
    "create_ssl_context",
    "load_client_certificate",
    "ssl_context_from_settings",
]


@dataclass(frozen=True)
class ClientCertificateInfo:
    """What was loaded for mutual TLS (for diagnostics; nothing secret)."""

    subject: str
    issuer: str
    not_after: dt.datetime
    fingerprint_sha256: str


def create_ssl_context(
    ca_bundle: Path | None = None,
    *,
    client_key: SoftwareKey | None = None,
    trust_system: bool | None = None,
) -> ssl.SSLContext:
    """A client context: TLS ≥ 1.2, hostname checking on, trusting exactly ``ca_bundle``.

    ``trust_system`` adds the system's trust store: ``None`` only when there is no
    ``ca_bundle``, ``True`` in addition to it, ``False`` never (then ``ca_bundle`` is
    required). With ``client_key`` the context also presents that certificate (mutual TLS).
    """
    system = ca_bundle is None if trust_system is None else trust_system
    if ca_bundle is None and not system:
        raise ConfigurationError(
            "[tls] trust_system = false and no ca_bundle: no certificate could be trusted",
            setting="tls.trust_system",
            rule="ca_bundle is required when trust_system is false",
        )
    if ca_bundle is not None:
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the CA bundle {str(ca_bundle)!r}: {exc}",
                setting="ca_bundle",
                rule="readable PEM file",
            ) from None
        if system:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_key is not None:
        load_client_certificate(ctx, client_key)
    return ctx


def _private_directory() -> str | None:
    shm = "/dev/shm"  # noqa: S108 - a RAM-backed directory; the file is 0600 and encrypted
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def load_client_certificate(
    ctx: ssl.SSLContext, key: SoftwareKey, *, now: dt.datetime | None = None
) -> ClientCertificateInfo:
    """Make ``ctx`` present ``key``'s certificate (and chain). Refuses an expired certificate.

    The key is written encrypted under a one-time random password to a 0600 temporary file
    that is removed before this function returns, whatever happens.
    """
    certificate = key.certificate
    now = now or dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc < now:
        raise CredentialError(
            f"the TLS client certificate {certificate.subject.rfc4514_string()} expired on "
            f"{certificate.not_valid_after_utc.isoformat()}"
        )
    if certificate.not_valid_before_utc > now:
        raise CredentialError(
            f"the TLS client certificate {certificate.subject.rfc4514_string()} is not valid "
            f"before {certificate.not_valid_before_utc.isoformat()}"
        )
    one_time = secrets.token_urlsafe(32)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode()),
    )
    pem += b"".join(
        c.public_bytes(serialization.Encoding.PEM)
        for c in (certificate, *key.chain)
        if c.subject != c.issuer  # leaf and intermediates; never a root
    )
    fd, path = tempfile.mkstemp(prefix="anpr-tls-", suffix=".pem", dir=_private_directory())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        ctx.load_cert_chain(path, password=one_time)
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CredentialError(f"cannot load the TLS client certificate: {reason}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        del one_time, pem
    return ClientCertificateInfo(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
    )


def ssl_context_from_settings(
    settings: Settings,
    *,
    secret: SecretCallback | None = None,
    client_key: SoftwareKey | None = None,
) -> ssl.SSLContext:
    """The client's context: ``settings.ca_bundle`` trust (and the system's as ``[tls]
    trust_system`` says), plus ``[tls_client]`` when set.

    ``secret`` supplies the PKCS#12/PEM password (otherwise ``password_env`` is read);
    ``client_key`` passes an already loaded key instead (e.g. shared with the frame).
    """
    if client_key is None and settings.tls_client is not None:
        from ..credentials import load_key_source
        from ..credentials.software import SoftwareKey

        if settings.tls_client.kind not in ("pkcs12", "pem"):
            raise ConfigurationError(
                "[tls_client] must be a PKCS#12 or PEM file: Python's ssl cannot use a key "
                "held on a token or smart card",
                setting="tls_client",
                rule="pkcs12 | pem_key + pem_cert",
            )
        loaded = load_key_source(settings.tls_client, secret=secret, purpose="tls_client")
        assert isinstance(loaded, SoftwareKey)
        client_key = loaded
    return create_ssl_context(
        settings.ca_bundle, client_key=client_key, trust_system=settings.tls.trust_system
    )
