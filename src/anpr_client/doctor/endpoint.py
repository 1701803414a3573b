"""Where requests go and whom the client trusts there: ``base_url`` and ``ca_bundle``, offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cryptography import x509

from ..errors.exceptions import AnprError
from .model import Check, Verdict

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["endpoint_checks"]


def endpoint_checks(settings: Settings, now: dt.datetime | None = None) -> Iterator[Check]:
    """The checks of the endpoint's URL and of the trust configured for it."""
    yield _base_url(settings)
    yield _ca_bundle(settings, now or dt.datetime.now(dt.UTC))


def _base_url(settings: Settings) -> Check:
    url = settings.host
    where = f"{url} (environment {settings.environment.value})"
    if url.startswith("https://"):
        return Check("base_url", Verdict.OK, f"HTTPS: {where}", setting="base_url")
    # The settings only let a plain http:// loopback URL through with [tls] allow_plain_http.
    return Check(
        "base_url",
        Verdict.WARN,
        f"plain HTTP to a loopback host, allowed by [tls] allow_plain_http: {where}; nothing "
        "is encrypted, and ANPR itself is served over HTTPS only",
        fix="use https:// for anything but a local simulator or proxy",
        setting="base_url",
    )


def _ca_bundle(settings: Settings, now: dt.datetime) -> Check:
    from ..transport.tls import create_ssl_context

    path = settings.ca_bundle
    if path is None:
        return Check(
            "ca_bundle",
            Verdict.WARN,
            "no ca_bundle: the system's trust store decides whom the client trusts",
            fix="set ca_bundle to the PEM file of the CA that issues ANPR's server "
            "certificates, and trust that CA rather than a leaf: ANPR renews its leaf "
            "certificates (italia/anpr#1905)",
            setting="ca_bundle",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Check(
            "ca_bundle",
            Verdict.FAIL,
            f"cannot read {str(path)!r}: {exc.strerror or exc}",
            fix="set ca_bundle to an existing PEM file",
            setting="ca_bundle",
        )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        return Check(
            "ca_bundle",
            Verdict.FAIL,
            f"{str(path)!r} holds no PEM certificate (BEGIN CERTIFICATE)",
            fix="set ca_bundle to a PEM file of CA certificates",
            setting="ca_bundle",
        )
    try:
        create_ssl_context(path, trust_system=settings.tls.trust_system)
    except AnprError as exc:
        return Check("ca_bundle", Verdict.FAIL, str(exc), setting="ca_bundle")
    cas = [c for c in certificates if _is_ca(c)]
    current = [c for c in cas if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
    names = "; ".join(c.subject.rfc4514_string() for c in cas) or "none"
    evidence = f"{str(path)!r}: {len(certificates)} certificate(s), CAs: {names}"
    if not current:
        return Check(
            "ca_bundle",
            Verdict.FAIL,
            evidence + (" — none of them valid now" if cas else ""),
            fix="the bundle must hold the (current) CA certificate that issues ANPR's server "
            "certificate, not a leaf certificate",
            setting="ca_bundle",
        )
    return Check("ca_bundle", Verdict.OK, evidence, setting="ca_bundle")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)
