"""One ``ssl.SSLContext`` for every HTTPS connection the client opens.

The server is always verified (against ``ca_bundle`` when given, else the system trust store);
there is no way to switch verification off. Mutual TLS with the workstation certificate is added
by :func:`create_ssl_context` when ``tls_client`` is configured.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from .exceptions import ConfigurationError

__all__ = ["create_ssl_context"]


def create_ssl_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """A client context: TLS ≥ 1.2, hostname checking on, trust = ``ca_bundle`` or the system."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_bundle is not None:
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the CA bundle {str(ca_bundle)!r}: {exc}",
                setting="ca_bundle",
                rule="readable PEM file",
            ) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
