"""Build a ready client from settings: TLS context, security frame, journal, pre-send checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .client import Client
from .settings import Settings
from .transport import Transport

if TYPE_CHECKING:
    from .journal import Journal

__all__ = ["client_from_settings"]


def client_from_settings(
    settings: Settings,
    *,
    sign: bool = True,
    secret: Callable[[str], str] | None = None,
    transport: Transport | None = None,
    journal: Journal | bool | None = None,
) -> Client:
    """A :class:`Client` wired from ``settings``.

    - transport: HTTPS with :func:`anpr_client.transport.tls.ssl_context_from_settings` (server
      trust from ``ca_bundle``; mutual TLS when ``[tls_client]`` is set), made on first use;
    - security frame: built from ``[comune_key]``, ``[workstation]``, ``[operator]`` and
      ``[security]`` when ``sign`` is true and a Comune key is configured;
    - ``secret``: called with a label to obtain a PIN or password that is not in the
      environment variable named by the settings;
    - operation journal (:mod:`anpr_client.journal`), **on by default**: the file named by
      ``settings.journal``, else ``<user data dir>/anpr-client/journal.sqlite``; off with
      ``journal = false`` in the settings (``ANPR_JOURNAL=off``) or ``journal=False`` here; a
      :class:`~anpr_client.journal.Journal` given here is used as is.
    """
    wsse = None
    if sign and settings.comune_key is not None:
        from .security.frame import WsSecurity

        wsse = WsSecurity.from_settings(settings, secret=secret)
    if journal is None:
        journal = settings.journal_enabled
    if journal is True:
        from .journal import Journal as _Journal

        journal = _Journal.from_settings(settings, secret=secret)
    return Client(settings, transport=transport, wsse=wsse, secret=secret, journal=journal or None)
