"""One N000 endpoint for many Comuni: each push goes to its recipient's receiver.

A service that serves many Comuni registers one endpoint with ANPR for all of them (or one URL
per Comune, ``…/n000/{codice_istat}``, on the same server). :class:`NotificationRouter` reads
the recipient of each push — the ISTAT code at the end of the URL path when there is one, else
the ``codDestinatario`` of the request's ``testataNotifica`` — and hands the request to that
Comune's :class:`~.receiver.NotificationReceiver`, with its own decryption keys and inbox.
That receiver then does everything it does for a single Comune: it verifies ANPR's signature
first and refuses a ``codDestinatario`` other than its Comune (a path naming one Comune and a
body naming another is refused there, after the signature is checked).

The recipient is read before the signature is verified only to choose the receiver: nothing
else is read from an unverified request. A push for a Comune this endpoint does not serve is
answered ``5`` (not conforming), the answer a single Comune's receiver gives to a
``codDestinatario`` that is not its own: ``7`` would ask ANPR to send it again (italia/anpr#322),
and it would be refused again.

Receivers are built when their Comune's first push arrives (its decryption keys loaded then,
once) and released, their keys and inbox closed, past ``max_open`` (the least recently used
first). Thread-safe.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any, Final

from .._leases import Leases
from ..errors.exceptions import AnprError
from ..safexml import parse_xml
from ..soap.mtom import is_related, parse_related
from .message import N000_NS, ReplyCode
from .receiver import (
    DEFAULT_MAX_BODY_BYTES,
    NotificationReceiver,
    Receipt,
    _read_body,
    _refuse_other_methods,
    _reply,
)

if TYPE_CHECKING:
    from ..credentials.base import SecretCallback
    from ..multi import ComuneRegistry

__all__ = ["NotificationRouter"]

logger = logging.getLogger("anpr_client.notifications")

_PATH_CODE: Final = re.compile(r"/(\d{6})/?$")
"""A URL path ending in an ISTAT code: ``/n000/058091``."""
_CONTENT_TYPE: Final = "text/xml; charset=utf-8"


class NotificationRouter:
    """The WSGI application of one N000 endpoint serving many Comuni (module docstring).

    :param receiver_for: builds the receiver of a Comune (called once per Comune until it is
        released); see :meth:`from_registry`.
    :param served: the ISTAT codes this endpoint serves; a push for any other is refused.
    :param max_open: how many Comuni's receivers may be open at once (keys and inboxes).
    :param max_body_bytes: the request size cap (as the receivers').
    """

    def __init__(
        self,
        receiver_for: Callable[[str], NotificationReceiver],
        *,
        served: Collection[str],
        max_open: int = 64,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ):
        self.served = frozenset(served)
        self.max_open = max_open
        self._max = max_body_bytes
        self._lock = threading.Lock()
        self._open: Leases[NotificationReceiver] = Leases(
            receiver_for, NotificationReceiver.close, max_open=max_open
        )
        self.stats: dict[str, int] = {"refused": 0}
        """Requests refused before reaching a Comune's receiver (each receiver counts its own)."""

    @classmethod
    def from_registry(
        cls, registry: ComuneRegistry, *, secret: SecretCallback | None = None, **options: Any
    ) -> NotificationRouter:
        """A router for every Comune of ``registry``, each receiver built from its settings'
        ``[notifications]`` table (:meth:`NotificationReceiver.from_settings
        <.receiver.NotificationReceiver.from_settings>`); ``options`` go to the constructor."""

        def build(code: str) -> NotificationReceiver:
            return NotificationReceiver.from_settings(registry.settings(code), secret=secret)

        options.setdefault("max_open", registry.max_open)
        return cls(build, served=registry.codes, **options)

    def __repr__(self) -> str:
        return f"<NotificationRouter served={len(self.served)} open={len(self._open)}>"

    @property
    def open_count(self) -> int:
        return len(self._open)

    # ------------------------------------------------------------------ routing

    def recipient(self, body: bytes, content_type: str | None = None) -> str | None:
        """The ``codDestinatario`` a request names (read to route it, *not verified*), or
        ``None`` when it names none or cannot be read."""
        try:
            document = body
            if is_related(content_type):
                document = parse_related(body, content_type or "").root
            root = parse_xml(document, max_bytes=self._max)
        except (AnprError, ValueError):
            return None
        found = root.find(f".//{{{N000_NS}}}RichiestaN000/testataNotifica/codDestinatario")
        value = (found.text or "").strip() if found is not None else ""
        return value or None

    def receive(
        self, body: bytes, content_type: str | None = None, *, recipient: str | None = None
    ) -> Receipt:
        """Route one ``RichiestaN000`` (to ``recipient``, else to its ``codDestinatario``) and
        say what to answer. Never raises."""
        if len(body) > self._max:
            return self._refuse(f"the request exceeds {self._max} bytes", http_status=413)
        code = recipient or self.recipient(body, content_type)
        if code is None:
            return self._refuse("the request names no recipient (codDestinatario)")
        if code not in self.served:
            return self._refuse(f"Comune {code[:10]!r} is not served by this endpoint")
        try:
            receiver = self._open.acquire(code)
        except Exception as exc:  # its keys or inbox cannot be opened: ANPR sends it again
            logger.exception("notification for %s: its receiver cannot be opened", code)
            return Receipt(
                ReplyCode.COMMUNICATION_ERROR,
                reason=f"the receiver of {code} cannot be opened: {type(exc).__name__}",
            )
        try:
            return receiver.receive(body, content_type)
        finally:
            self._open.release(code)

    def _refuse(self, reason: str, *, http_status: int = 200) -> Receipt:
        with self._lock:
            self.stats["refused"] += 1
        logger.warning("notification ? ?: outcome 5: %s", reason)
        return Receipt(ReplyCode.NOT_CONFORMING, reason=reason, http_status=http_status)

    # ------------------------------------------------------------------ receivers

    def close(self) -> None:
        """Close every open receiver (keys and inboxes)."""
        self._open.close()

    # ------------------------------------------------------------------ WSGI

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        refused = _refuse_other_methods(environ, start_response)
        if refused is not None:
            return refused
        body = _read_body(environ, self._max)
        if body is None:
            receipt = self._refuse(f"the request exceeds {self._max} bytes", http_status=413)
        else:
            match = _PATH_CODE.search(environ.get("PATH_INFO") or "")
            receipt = self.receive(
                body, environ.get("CONTENT_TYPE"), recipient=match.group(1) if match else None
            )
        return _reply(start_response, receipt.http_status, receipt.response, _CONTENT_TYPE)
