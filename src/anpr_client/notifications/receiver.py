"""The N000 receiver: a WSGI application that takes ANPR's pushed notifications in charge.

For each ``POST`` (ANPR's N000 push: italia/anpr#322, #689, #958), in this order:

1. the body is read up to ``max_body_bytes`` (larger: HTTP 413 and outcome 5, nothing parsed),
   MTOM is unpacked if ANPR used it, and the XML goes through the hardened parser (no DTD, no
   entities, no network), within the policy's bounds on elements and depth;
2. ANPR's WS-Security signature is verified with the library's strict verifier, cheapest and
   most telling checks first: the signer certificate must chain to ``trust`` (the "CA Utenti"
   anchors of ``[notifications] anpr_ca``) **and be one of** ``signers`` (the pinned subject
   names or fingerprints of ANPR's notification certificate: the CA issues certificates to
   others too), at most two references (Timestamp and Body), then the signature value over
   ``SignedInfo``, and only then the digests of what it signs. A Timestamp is required, with
   ``Created`` no older than ``policy.max_age`` and ``Expires`` in the future (both with the
   clock skew). What follows reads only the Body that was verified;
3. ``RichiestaN000`` is read; ``codDestinatario`` must be one of ``recipients``;
4. an empty ``contenuto`` is answered 6; a notification already in the inbox is answered 1 at
   once (a redelivery: no second event);
5. ``contenuto`` (CMS EnvelopedData) is decrypted with the configured keys, tried in order
   (``CO-9999``, then its successor ``CO-9998``; files or tokens);
6. the plaintext is parsed and decoded into a typed event (:mod:`.events`);
7. the event is **committed to the inbox before the answer is written**; a storage failure is
   answered 7 (communication error) so that ANPR sends it again;
8. ``RispostaN000`` goes back with the outcome: 1 acquired, 5 not conforming (bad, untrusted
   or unpinned signature, a stale or missing Timestamp, tampered content, invalid XML or
   MTOM, unknown payload, a key that cannot decrypt it), 6 no data, 7 communication error (the
   inbox could not store it, or a defect of this library: ANPR sends it again).

A stale message is answered 5, not 7: 7 asks ANPR to send the *same* notification again
(italia/anpr#322), and a replayed or delayed message does not become fresh by being resent;
a genuine notification refused because this server's clock is wrong is fetched with the 4005
pull once the clock is fixed.

Every request is logged (logger ``anpr_client.notifications``) with its outcome, type, id and
reason; never with personal data or key material. :meth:`NotificationReceiver.receive` is the
same pipeline without WSGI, for other servers and tests.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from lxml import etree

from ..credentials.base import KeySource, SecretCallback
from ..errors.exceptions import (
    AnprError,
    ConfigurationError,
    DecryptionError,
    NotificationError,
    ProtocolError,
    VerificationError,
)
from ..logs import NOTIFICATIONS_LOGGER
from ..safexml import parse_xml
from ..security.cms import decrypt_enveloped
from ..security.policy import NOTIFICATION_POLICY, SecurityPolicy
from ..security.trust import MemoTrustStore, SignerPins, TrustStore
from ..security.verify import presented_signer, verify_envelope
from ..soap.mtom import inline_attachments, is_related, parse_related
from .events import Notification, decode_notification
from .inbox import Inbox
from .message import ReplyCode, build_response, read_request

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "RECEIVER_POLICY",
    "NotificationReceiver",
    "Receipt",
    "SignerSeen",
]

logger = logging.getLogger(NOTIFICATIONS_LOGGER)

#: Largest request accepted (an N010 is a few kilobytes; NRIS answers can be larger).
DEFAULT_MAX_BODY_BYTES: Final = 4 * 1024 * 1024

RECEIVER_POLICY: Final = NOTIFICATION_POLICY.allowing_sha1()
"""The receiver's default: Body and a fresh Timestamp signed, no SAML, rsa-sha256 *or
rsa-sha1*. ANPR has not published the algorithm of its notification signatures and its
WS-Security stack defaults to rsa-sha1 (italia/anpr#1903, #2504); refusing it would answer 5 to
every genuine notification. Pass ``policy=NOTIFICATION_POLICY`` to demand SHA-256."""

_NO_PINS: Final = (
    "the receiver needs the identity of ANPR's notification signer: list its subject in "
    "[notifications] signer_subjects (or its SHA-256 in signer_fingerprints). A certificate "
    "from anpr_ca alone is not enough: that CA issues certificates to others too. To read it, "
    "run `anpr notifications signer FILE` on ANPR's certificate, or `anpr notifications "
    "serve --print-signer` and send ANPR's test notification"
)

_CONTENT_TYPE: Final = "text/xml; charset=utf-8"
_STATUS: Final = {200: "200 OK", 405: "405 Method Not Allowed", 413: "413 Payload Too Large"}


@dataclass(frozen=True)
class Receipt:
    """What the receiver did with one request."""

    outcome: ReplyCode
    event: Notification | None = None
    """The event stored (or found stored, for a redelivery)."""
    duplicate: bool = False
    """The notification was already in the inbox (a redelivery)."""
    reason: str | None = None
    """Why the outcome is not 1 (no personal data)."""
    http_status: int = 200

    @property
    def response(self) -> bytes:
        """The ``RispostaN000`` envelope to send back."""
        return build_response(self.outcome)


@dataclass(frozen=True)
class SignerSeen:
    """What a receiver in signer-discovery mode saw of one request (``on_signer``)."""

    certificate: x509.Certificate | None
    """The certificate the request presents as its signer, if it has one."""
    verdict: str | None
    """Why the request does not verify against the trust anchors (no pin applied), or
    ``None`` when it does."""


class NotificationReceiver:
    """The WSGI application of a Comune's N000 endpoint (see the module docstring).

    :param inbox: where events are committed before acknowledging.
    :param keys: the Comune's decryption keys, tried in order (``CO-9999``, then ``CO-9998``).
    :param trust: anchors for ANPR's notification signing certificate.
    :param signers: which certificates of ``trust`` may sign (ANPR's notification certificate,
        by subject or fingerprint); required: a CA vouches for every holder it issued to.
    :param recipients: ISTAT codes this endpoint serves (``codDestinatario``); ``None``: any.
    :param policy: what the signature must satisfy (default :data:`RECEIVER_POLICY`), including
        the Timestamp's freshness and the work bounds.
    :param max_body_bytes: the request size cap.
    :param on_persisted: called with ``(event, new)`` right after the commit and before the
        answer (for waking a dispatcher or metrics; an exception here answers 7, the event stays
        stored and a redelivery is answered 1).
    :param on_signer: signer-discovery mode, for the first set-up when the pin is not known
        yet: each request's presented signer and verdict are reported to this callback, and the
        request is answered 7 without being stored (ANPR sends it again); ``signers`` may then
        be omitted.

    Thread-safe: serve it from a multi-threaded WSGI server.
    """

    def __init__(
        self,
        inbox: Inbox,
        *,
        keys: Sequence[KeySource],
        trust: TrustStore,
        signers: SignerPins | None = None,
        recipients: Collection[str] | None = None,
        policy: SecurityPolicy = RECEIVER_POLICY,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_persisted: Callable[[Notification, bool], None] | None = None,
        on_signer: Callable[[SignerSeen], None] | None = None,
    ):
        if not keys:
            raise ConfigurationError(
                "the receiver needs at least one decryption key (the CO-9999 key)",
                setting="notifications.decrypt_keys",
                rule="at least one key source",
            )
        if not signers and on_signer is None:
            raise ConfigurationError(
                _NO_PINS, setting="notifications.signer_subjects", rule="at least one pin"
            )
        self.inbox = inbox
        self._keys = tuple(keys)
        # The signer's path is validated once per validity window, not once per notification:
        # a memo gives the plain store's own verdict (a subclass keeps its own rules).
        self._trust = MemoTrustStore.of(trust) if type(trust) is TrustStore else trust
        self._signers = signers or None
        self._on_signer = on_signer
        self._recipients = frozenset(recipients) if recipients is not None else None
        self._policy = policy
        self._max = max_body_bytes
        self._on_persisted = on_persisted
        self._stats_lock = threading.Lock()
        self.stats: dict[str, int] = {o.value: 0 for o in ReplyCode}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        inbox: Inbox | None = None,
        secret: SecretCallback | None = None,
        **options: Any,
    ) -> NotificationReceiver:
        """A receiver for ``settings.codice_istat`` from the ``[notifications]`` table.

        Loads ``decrypt_keys`` (PINs/passwords from the environment variables they name, or
        ``secret``), ``anpr_ca``, the signer pins (``signer_subjects``, ``signer_fingerprints``),
        the freshness rule (``timestamp_max_age``, ``clock_skew``, ``require_timestamp``) and
        the inbox (``store``, else the journal's file). ``options`` go to the constructor.
        """
        cfg = settings.notifications
        if not cfg.decrypt_keys:
            raise ConfigurationError(
                "[notifications] decrypt_keys is empty: list the CO-9999 key (and CO-9998)",
                setting="notifications.decrypt_keys",
                rule="at least one key source",
            )
        if cfg.anpr_ca is None:
            raise ConfigurationError(
                "[notifications] anpr_ca is missing: the CA that issues ANPR's notification "
                "signing certificate ('CA Utenti')",
                setting="notifications.anpr_ca",
                rule="a PEM file",
            )
        from ..credentials import load_key_source

        keys = [
            load_key_source(k, secret=secret, purpose=f"notifications.decrypt_keys[{i}]")
            for i, k in enumerate(cfg.decrypt_keys)
        ]
        signers = SignerPins(
            cfg.signer_subjects, cfg.signer_fingerprints, setting="notifications.signer"
        )
        if not signers and options.get("on_signer") is None:
            raise ConfigurationError(
                _NO_PINS, setting="notifications.signer_subjects", rule="at least one pin"
            )
        trust = TrustStore.from_pem(cfg.anpr_ca)
        options.setdefault("recipients", (settings.codice_istat,))
        options.setdefault("signers", signers)
        options.setdefault(
            "policy",
            dataclasses.replace(
                RECEIVER_POLICY,
                max_age=cfg.timestamp_max_age,
                clock_skew=cfg.clock_skew,
                require_timestamp=cfg.require_timestamp,
                require_expires=cfg.require_timestamp,
            ),
        )
        return cls(inbox or Inbox.from_settings(settings), keys=keys, trust=trust, **options)

    def __repr__(self) -> str:
        return f"<NotificationReceiver inbox={self.inbox!r} keys={len(self._keys)}>"

    def close(self) -> None:
        """Close the inbox and release the decryption keys (token sessions, for PKCS#11)."""
        for key in self._keys:
            close = getattr(key, "close", None)
            if callable(close):
                close()
        self.inbox.close()

    # ------------------------------------------------------------------ the pipeline

    def receive(self, body: bytes, content_type: str | None = None) -> Receipt:
        """Take one ``RichiestaN000`` in charge and say what to answer. Never raises."""
        started = time.perf_counter()
        try:
            receipt = self._receive(body, content_type)
        except NotificationError as exc:
            outcome = ReplyCode(exc.outcome or ReplyCode.NOT_CONFORMING)
            receipt = Receipt(outcome, reason=str(exc))
        except (VerificationError, DecryptionError, ProtocolError) as exc:
            receipt = Receipt(ReplyCode.NOT_CONFORMING, reason=f"{type(exc).__name__}: {exc}")
        except AnprError as exc:
            receipt = Receipt(ReplyCode.COMMUNICATION_ERROR, reason=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not lose the notification: ANPR will resend
            logger.exception("notification: unexpected failure")
            receipt = Receipt(ReplyCode.COMMUNICATION_ERROR, reason=f"internal error: {exc!r}")
        with self._stats_lock:
            self.stats[receipt.outcome.value] += 1
        event = receipt.event
        elapsed = round((time.perf_counter() - started) * 1000)
        logger.log(
            logging.INFO if receipt.outcome is ReplyCode.ACQUIRED else logging.WARNING,
            "notification %s %s: outcome %s%s elapsed=%d ms%s",
            event.kind if event else "?",
            event.id_notifica if event else "?",
            receipt.outcome.value,
            " (redelivery)" if receipt.duplicate else "",
            elapsed,
            f": {receipt.reason}" if receipt.reason else "",
            extra={
                "operation": "N000",
                "id_notifica": event.id_notifica if event else None,
                "outcome": receipt.outcome.value,
                "elapsed_ms": elapsed,
            },
        )
        return receipt

    def _receive(self, body: bytes, content_type: str | None) -> Receipt:
        if len(body) > self._max:
            return Receipt(
                ReplyCode.NOT_CONFORMING,
                reason=f"the request exceeds {self._max} bytes",
                http_status=413,
            )
        envelope: bytes | etree._Element = body
        if is_related(content_type):
            envelope = self._unpack_mtom(body, content_type or "")
        if self._on_signer is not None:
            return self._discover(envelope, self._on_signer)
        verified = verify_envelope(
            envelope, trust=self._trust, policy=self._policy, signers=self._signers
        )
        request = read_request(verified.payload)
        if self._recipients is not None and request.cod_destinatario not in self._recipients:
            raise NotificationError(
                f"codDestinatario {request.cod_destinatario[:10]!r} is not served here "
                f"({', '.join(sorted(self._recipients))})",
                outcome=ReplyCode.NOT_CONFORMING,
                field="testataNotifica/codDestinatario",
                rule="the ISTAT code of a Comune served by this endpoint",
            )
        if not request.contenuto:
            return Receipt(ReplyCode.NO_DATA, reason="contenuto is empty")
        stored = self.inbox.get(request.tipo_notifica, request.id_notifica)
        if stored is not None and stored.event is not None:
            # Already taken in charge. A row without an event (a pulled copy that was
            # quarantined or released) is replaced by this push's content below.
            return Receipt(ReplyCode.ACQUIRED, event=stored.event, duplicate=True)
        plaintext = decrypt_enveloped(request.contenuto, self._keys)
        if not plaintext.strip():
            return Receipt(ReplyCode.NO_DATA, reason="the decrypted contenuto is empty")
        try:
            payload = parse_xml(plaintext, max_bytes=self._max)
        except ProtocolError as exc:
            raise NotificationError(
                f"the decrypted contenuto is not acceptable XML: {exc}",
                outcome=ReplyCode.NOT_CONFORMING,
                field="contenuto",
                rule="well-formed XML without DTD",
            ) from None
        event = decode_notification(
            request.tipo_notifica,
            payload,
            id_notifica=request.id_notifica,
            recipient=request.cod_destinatario,
            sender=request.cod_mittente or None,
            sent_at=request.data_ora_richiesta,
            raw=plaintext,
        )
        new = self.inbox.add(event, channel="push")  # committed (and flushed) here
        if self._on_persisted is not None:
            self._on_persisted(event, new)
        return Receipt(ReplyCode.ACQUIRED, event=event, duplicate=not new)

    def _unpack_mtom(self, body: bytes, content_type: str) -> etree._Element:
        """The envelope with its MTOM attachments inlined (as ANPR signed it)."""
        try:
            related = parse_related(body, content_type)
            root = parse_xml(related.root, max_bytes=self._max)
            inline_attachments(root, related.attachments)
        except (ProtocolError, ValueError) as exc:  # ValueError: binascii.Error, a bad part
            raise NotificationError(
                f"the MTOM request or one of its parts cannot be read: {type(exc).__name__}: {exc}",
                outcome=ReplyCode.NOT_CONFORMING,
                field="multipart/related",
                rule="MTOM/XOP (W3C), each part in its Content-Transfer-Encoding",
            ) from None
        return root

    def _discover(
        self, envelope: bytes | etree._Element, report: Callable[[SignerSeen], None]
    ) -> Receipt:
        """Signer-discovery mode: report who signed, store nothing, answer 7."""
        certificate: x509.Certificate | None = None
        verdict: str | None = None
        try:
            certificate = presented_signer(envelope, self._policy)
            verify_envelope(envelope, trust=self._trust, policy=self._policy)
        except VerificationError as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        report(SignerSeen(certificate, verdict))
        return Receipt(
            ReplyCode.COMMUNICATION_ERROR,
            reason="signer discovery mode: not stored (ANPR sends it again)",
        )

    # ------------------------------------------------------------------ WSGI

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        refused = _refuse_other_methods(environ, start_response)
        if refused is not None:
            return refused
        body = _read_body(environ, self._max)
        if body is None:
            receipt = Receipt(
                ReplyCode.NOT_CONFORMING,
                reason=f"the request exceeds {self._max} bytes",
                http_status=413,
            )
            with self._stats_lock:
                self.stats[receipt.outcome.value] += 1
            logger.warning("notification ? ?: outcome 5: %s", receipt.reason)
        else:
            receipt = self.receive(body, environ.get("CONTENT_TYPE"))
        return _reply(start_response, receipt.http_status, receipt.response, _CONTENT_TYPE)


def _refuse_other_methods(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes] | None:
    """HTTP 405 for anything but a ``POST`` (ANPR pushes with ``POST``); ``None`` for a POST."""
    if environ.get("REQUEST_METHOD", "GET").upper() == "POST":
        return None
    return _reply(
        start_response,
        405,
        b"POST a SOAP RichiestaN000 here\n",
        "text/plain",
        ("Allow", "POST"),
    )


def _read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or ``None`` if it is larger than ``limit`` (never reads past it)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text.strip():
        try:
            length = int(length_text)
        except ValueError:
            return b""
        if length > limit:
            return None
        return bytes(stream.read(length)) if length > 0 else b""
    # No length (chunked): read at most limit + 1 bytes.
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def _reply(
    start_response: Callable[..., Any],
    status: int,
    body: bytes,
    content_type: str,
    *extra: tuple[str, str],
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(_STATUS[status], headers)
    return [body]
