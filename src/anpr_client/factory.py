"""Build a ready client from settings: TLS context, security frame, journal, pre-send checks."""

from __future__ import annotations

from collections.abc import Callable

from .client import Client
from .settings import Settings
from .transport import Transport

__all__ = ["client_from_settings"]


def client_from_settings(
    settings: Settings,
    *,
    sign: bool = True,
    secret: Callable[[str], str] | None = None,
    transport: Transport | None = None,
) -> Client:
    """A :class:`Client` wired from ``settings``.

    - transport: HTTPS with :func:`anpr_client.tls.ssl_context_from_settings` (server trust
      from ``ca_bundle``; mutual TLS when ``[tls_client]`` is set), made on first use;
    - security frame: built from ``[comune_key]``, ``[workstation]``, ``[operator]`` and
      ``[security]`` when ``sign`` is true and a Comune key is configured;
    - ``secret``: called with a label to obtain a PIN or password that is not in the
      environment variable named by the settings.
    """
    wsse = None
    if sign and settings.comune_key is not None:
        from .security.frame import WsSecurity

        wsse = WsSecurity.from_settings(settings, secret=secret)
    return Client(settings, transport=transport, wsse=wsse, secret=secret)
