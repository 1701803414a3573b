"""Notifications ANPR sends to Comuni: produced with the operation, pushed (N000) and pulled (4005).

When Comune B records (5005) the move of residents coming from Comune A, those records leave
A's competence and ANPR tells A with one **N010** per person (ANPR's table of the services that
update local databases, italia/anpr ``src/tab``; ``docs/notifications.md``). The simulator
stores each notification in the same transaction as the operation, then delivers it both ways
ANPR does:

- **push**: a ``RichiestaN000`` to A's registered endpoint (:meth:`Notifier.register_endpoint`):
  ``testataNotifica`` (``tipoNotifica``, ``codMittente`` ``ANPR``, ``codDestinatario`` = A,
  ``dataOraRichiesta``, ``idOperazioneANPR`` = the notification's own id) and ``contenuto`` =
  the ``NotificaN010`` element encrypted for A's ``CO-9999`` certificate (CMS EnvelopedData,
  :func:`anpr_client.security.cms.encrypt_enveloped`). The message is signed with WS-Security
  (Timestamp and Body, exclusive c14n, rsa-sha256, the certificate in a BinarySecurityToken) by
  the simulator's notification certificate, issued by its "CA Utenti". A reply whose
  ``codiceEsito`` or ``esito`` is ``1`` acknowledges it; anything else (another code, an HTTP
  error, no reply) is retried every ``notification_retry_interval`` seconds, at most
  ``notification_attempts`` times, after which the notification is ``failed`` (ANPR suspends
  it). Without an endpoint a notification waits, ``pending``, for a pull (or an endpoint).
- **pull**: 4005 (see :mod:`.handlers.extraction`) lists the notifications of a period as ANPR
  does (italia/anpr#4792 and the official 4005 sample ex_004): one ``elencoRisposte`` per
  notification, :func:`notification_item`::

      <elencoRisposte>
        <idOperazioneANPR>700000042</idOperazioneANPR>   the notification's own id, as pushed
        <statoLavorazione>7</statoLavorazione>           7 not taken in charge yet, 8 taken
        <tipoOperazione>N010</tipoOperazione>
        <contenutoRisposta>H4sIAAAAAAAAA…</contenutoRisposta>
        <formatoRisposta>gz</formatoRisposta>
      </elencoRisposte>

  ``contenutoRisposta`` is base64 (or an MTOM part) of a gzip written the way Java's
  ``GZIPOutputStream`` writes it (:func:`java_gzip`: no name, mtime 0, OS byte 0) of one bare
  document, :func:`notification_document` (``<?xml … standalone="yes" ?>``, CRLF line ends,
  the ``p:`` prefix and the unused ``p1:``/``p2:`` declarations of the published instances).

  The pushed and the pulled notification are the same record: the same id, the same payload
  element, so a receiver stores it once.

A notification is *consumed* once a push was acknowledged or a pull returned it (4005's
``statoLavorazione`` 7 = not consumed yet, 8 = consumed, 9 = all).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from lxml import etree

from ..credentials.base import KeySource
from ..errors.exceptions import AnprError, ConfigurationError, ProtocolError
from ..notifications.events import PAYLOAD_NS
from ..notifications.message import N000_NS
from ..safexml import NS, parse_xml
from ..settings import Limits, Timeouts
from ..soap.bundle import Bundle, default_bundle_dir
from ..soap.codec import encode
from ..soap.xsdmodel import SchemaSet
from ..transport import HttpRequest, HttpResponse, HttpTransport
from ..transport.tls import create_ssl_context
from . import payloads
from .clock import Clock, utc_iso
from .config import SimulatorConfig
from .db import Database
from .household import Person
from .push import build_request
from .store import ComuneInfo

__all__ = [
    "Endpoint",
    "NotificationRecord",
    "Notifier",
    "java_gzip",
    "notification_document",
    "notification_item",
    "notification_payload",
]

log = logging.getLogger("anpr_client.simulator.notifications")

ANPR_SENDER: Final = "ANPR"
_SOAP: Final = NS["soap"]
_VOCABULARY_NS: Final = "http://sogei.it/ANPR/vocabolarioN000Comuni"
_TIPO_DATO_NS: Final = "http://sogei.it/ANPR/tipoDato"
_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
_JAVA_GZIP_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00"
"""deflate, no flags, mtime 0, no extra flags, OS 0: what ``java.util.zip.GZIPOutputStream``
writes (the header of the contents published in italia/anpr#4792)."""
_TIMEOUTS: Final = Timeouts(connect=5.0, read=30.0)
# A receiver's reply is a short RispostaN000; more than this is not read.
_LIMITS: Final = Limits(max_answer_bytes=1 << 20)


@dataclass(frozen=True)
class NotificationRecord:
    """A notification produced for a Comune, with its delivery state."""

    id: str
    """``idNotifica``: the notification's own ``idOperazioneANPR`` (the push's testata)."""
    kind: str
    """``N010``…"""
    recipient: str
    """ISTAT code of the Comune notified (``codDestinatario``)."""
    operation: str
    """The ``idOperazioneANPR`` of the operation that caused it (in the payload)."""
    codice_fiscale: str | None
    created_at: str
    """ISO timestamp (UTC)."""
    state: str
    """``pending`` (not delivered yet), ``delivered`` (push acknowledged), ``failed`` (attempts
    exhausted)."""
    attempts: int
    last_error: str | None
    delivered_at: str | None
    consumed: bool
    payload: bytes = field(repr=False)
    """The ``NotificaN010`` element (XML, not encrypted)."""


@dataclass(frozen=True)
class Endpoint:
    istat: str
    url: str
    ca_bundle: Path | None


def _record(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=row["id"],
        kind=row["kind"],
        recipient=row["recipient"],
        operation=row["operation"],
        codice_fiscale=row["person_id"],
        created_at=row["created_at"],
        state=row["state"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        consumed=bool(row["consumed"]),
        payload=bytes(row["payload"]),
    )


class _PayloadSchema:
    """Our schema of notification contents (``wsdl/N000-notifiche/payload.xsd``)."""

    _lock = threading.Lock()
    _instance: _PayloadSchema | None = None

    def __init__(self) -> None:
        path = (default_bundle_dir() / "N000-notifiche" / "payload.xsd").resolve()
        self.models = SchemaSet()
        self.models.load(path)
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        self.schema = etree.XMLSchema(etree.parse(str(path), parser))

    @classmethod
    def get(cls) -> _PayloadSchema:
        with cls._lock:
            if cls._instance is None:
                cls._instance = _PayloadSchema()
            return cls._instance


def notification_payload(kind: str, content: dict[str, Any]) -> bytes:
    """The ``Notifica<kind>`` element (e.g. ``NotificaN010``) built and validated, as XML."""
    schema = _PayloadSchema.get()
    element, violations = encode(schema.models.element(PAYLOAD_NS, f"Notifica{kind}"), content)
    if violations or not schema.schema.validate(element):
        problems = [f"{v.path}: {v.message}" for v in violations] or [
            str(e.message)
            for e in schema.schema.error_log  # type: ignore[attr-defined]
        ]
        raise ProtocolError(f"notification {kind} is not valid: {'; '.join(problems)}")
    return etree.tostring(element, encoding="UTF-8")


def notification_personal_data(person: Person) -> dict[str, Any]:
    """``generalitaSoggetto`` as the N000 publication writes it: a birth Comune carries
    ``siglaProvincia`` (not ``siglaProvinciaIstat``, as the current tipoDato does)."""
    out = payloads.personal_data(person)
    place = out.get("luogoNascita", {}).get("comune")
    if isinstance(place, dict) and "siglaProvinciaIstat" in place:
        renamed = {
            ("siglaProvincia" if k == "siglaProvinciaIstat" else k): v for k, v in place.items()
        }
        out["luogoNascita"] = {"comune": renamed}
    return out


def java_gzip(data: bytes) -> bytes:
    """``data`` gzipped as ANPR's Java stack does it (see :data:`_JAVA_GZIP_HEADER`)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return _JAVA_GZIP_HEADER + body + trailer


def notification_document(record: NotificationRecord) -> bytes:
    """The notification's payload as the bare document a 4005 result carries (the shape of
    the N031 documents published in italia/anpr#4792): an XML declaration with
    ``standalone="yes"`` and a space before ``?>``, the root ``p:Notifica…`` declaring the
    unused ``p1``/``p2`` prefixes and a ``xsi:schemaLocation`` ending in a space, unqualified
    children, CRLF line ends and no final newline."""
    payload = parse_xml(record.payload)
    root = etree.Element(
        f"{{{PAYLOAD_NS}}}{etree.QName(payload).localname}",
        nsmap={"p": PAYLOAD_NS, "p1": _VOCABULARY_NS, "p2": _TIPO_DATO_NS, "xsi": NS["xsi"]},
    )
    root.set(f"{{{NS['xsi']}}}schemaLocation", f"{PAYLOAD_NS} N000notificheComuni.xsd ")
    for child in payload:
        root.append(child)
    etree.indent(root, space=" ")
    text = _DECLARATION + "\n" + etree.tostring(root, encoding="unicode")
    return text.replace("\n", "\r\n").encode("utf-8")


def notification_item(record: NotificationRecord, *, content: bool = True) -> dict[str, Any]:
    """The ``elencoRisposte`` item of a notification in a 4005 result (the module docstring);
    without ``content`` (``dettaglioDati`` ``ID``) only its identifiers."""
    item: dict[str, Any] = {
        "idOperazioneANPR": record.id,
        "statoLavorazione": "8" if record.consumed else "7",
        "tipoOperazione": record.kind,
    }
    if content:
        gz = java_gzip(notification_document(record))
        item["contenutoRisposta"] = base64.b64encode(gz).decode("ascii")
        item["formatoRisposta"] = "gz"  # notifications come only as gz (italia/anpr#2495)
    return item


class Notifier:
    """Produces, stores, pushes and lists notifications. Thread-safe."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: SimulatorConfig,
        bundle: Bundle,
        *,
        new_id: Callable[[], str],
        signer: Callable[[], KeySource | None],
        recipient_certificate: Callable[[str], x509.Certificate | None],
    ):
        self._db = db
        self._clock = clock
        self._config = config
        self._bundle = bundle
        self._new_id = new_id
        self._signer = signer
        self._recipient_certificate = recipient_certificate
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deliver_lock = threading.Lock()
        self._next_attempt: dict[str, float] = {}
        self._transports: dict[Path | None, HttpTransport] = {}
        self._transports_lock = threading.Lock()

    # ------------------------------------------------------------------ production

    def produce(
        self,
        kind: str,
        content: Mapping[str, Any],
        *,
        recipient: str,
        operation: str,
        codice_fiscale: str | None = None,
    ) -> NotificationRecord:
        """Store a notification of type ``kind`` (``N010``…) for ``recipient``: its payload
        ``Notifica<kind>`` is built from ``content`` and validated (:func:`notification_payload`),
        and it is then pushed and listed by 4005 like every other. ``operation`` is the
        ``idOperazioneANPR`` of the operation that caused it."""
        payload = notification_payload(kind, dict(content))
        return self._store(kind, recipient, operation, codice_fiscale, payload)

    def residence_left(
        self,
        *,
        recipient: str,
        person: Person,
        requesting: ComuneInfo,
        operation: str,
        effective_date: dt.date,
    ) -> NotificationRecord:
        """Store an N010 for ``recipient``: ``person`` moved to ``requesting`` (in the
        caller's transaction)."""
        return self.produce(
            "N010",
            {
                "generalitaSoggetto": notification_personal_data(person),
                "comuneRichiesta": payloads.comune(requesting),
                "idOperazioneANPR": operation,
                "dataDecorrenza": effective_date,
            },
            recipient=recipient,
            operation=operation,
            codice_fiscale=person.codice_fiscale,
        )

    # Added by the registry's services (N014 of 2003, N010 of A006) while the one producer of
    # every kind (``produce``) is being written: fold this into it when it lands.
    def residence_notice(
        self,
        kind: str,
        *,
        recipient: str,
        person: Person,
        requesting: ComuneInfo,
        operation: str,
        effective_date: dt.date,
    ) -> NotificationRecord:
        """Store a notification of ``kind`` (``N010``, ``N014``, ``N015``: ANPR's
        ``tipoNotificaCambioResidenza``) for ``recipient`` about ``person``, caused by
        ``operation`` of ``requesting`` (in the caller's transaction)."""
        if kind == "N010":
            return self.residence_left(
                recipient=recipient,
                person=person,
                requesting=requesting,
                operation=operation,
                effective_date=effective_date,
            )
        payload = notification_payload(
            kind,
            {
                "generalitaSoggetto": notification_personal_data(person),
                "comuneRichiesta": payloads.comune(requesting),
                "idOperazioneANPR": operation,
                "dataDecorrenza": effective_date,
            },
        )
        return self._store(kind, recipient, operation, person.codice_fiscale, payload)

    def _store(
        self, kind: str, recipient: str, operation: str, cf: str | None, payload: bytes
    ) -> NotificationRecord:
        notification_id = self._new_id()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO notifications (id, kind, recipient, operation, person_id, "
                "created_at, payload, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    notification_id,
                    kind,
                    recipient,
                    operation,
                    cf,
                    utc_iso(self._clock.now()),
                    payload,
                ),
            )
        record = self.get(notification_id)
        assert record is not None
        return record

    # ------------------------------------------------------------------ reads

    def get(self, notification_id: str) -> NotificationRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM notifications WHERE id = ?", (notification_id,)
            ).fetchone()
        return None if row is None else _record(row)

    def pending(self, istat: str) -> list[NotificationRecord]:
        """Every notification produced for the Comune, oldest first, with its delivery state
        (``state``, ``attempts``, ``consumed``). See :meth:`undelivered` for those still to
        deliver."""
        return self._select("recipient = ?", (istat,))

    def undelivered(self, istat: str) -> list[NotificationRecord]:
        """Notifications for the Comune that no push has delivered yet."""
        return self._select("recipient = ? AND state != 'delivered'", (istat,))

    def all(self) -> list[NotificationRecord]:
        return self._select("1 = 1", ())

    def in_period(
        self,
        istat: str,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        consumed: bool | None = None,
    ) -> list[NotificationRecord]:
        """The Comune's notifications created in [start, end]."""
        clause = "recipient = ? AND created_at >= ? AND created_at <= ?"
        args: list[Any] = [
            istat,
            utc_iso(start),
            utc_iso(end),
        ]
        if kind is not None:
            clause += " AND kind = ?"
            args.append(kind)
        if consumed is not None:
            clause += " AND consumed = ?"
            args.append(int(consumed))
        return self._select(clause, tuple(args))

    def _select(self, where: str, args: Sequence[Any]) -> list[NotificationRecord]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM notifications WHERE {where} "  # noqa: S608 - fixed clauses
                "ORDER BY created_at, CAST(id AS INTEGER)",
                tuple(args),
            ).fetchall()
        return [_record(r) for r in rows]

    def mark_consumed(self, ids: Iterable[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE notifications SET consumed = 1 WHERE id = ?", [(i,) for i in ids]
            )

    # ------------------------------------------------------------------ endpoints

    def register_endpoint(self, istat: str, url: str, ca_bundle: Path | None = None) -> None:
        """Set the Comune's N000 endpoint (``http(s)://…``); pending notifications follow."""
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"notification endpoint {url!r} must be an http(s) URL",
                setting="notifications.endpoint",
                rule="http(s) URL",
            )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO endpoints (istat, url, ca_bundle) VALUES (?, ?, ?) "
                "ON CONFLICT (istat) DO UPDATE SET url = excluded.url, "
                "ca_bundle = excluded.ca_bundle",
                (istat, url, None if ca_bundle is None else str(ca_bundle)),
            )
        self.kick()

    def endpoint(self, istat: str) -> Endpoint | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM endpoints WHERE istat = ?", (istat,)).fetchone()
        if row is None:
            return None
        return Endpoint(
            row["istat"], row["url"], Path(row["ca_bundle"]) if row["ca_bundle"] else None
        )

    # ------------------------------------------------------------------ push

    def start(self) -> None:
        """Start the background pusher (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="anpr-simulator-notifications", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._transports_lock:
            transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            transport.close()

    def kick(self) -> None:
        """Wake the pusher: there may be something new to deliver."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.deliver_due()
            except Exception:
                log.exception("notification delivery pass failed")
                wait = 1.0
            self._wake.wait(timeout=wait)

    def deliver_due(self) -> float:
        """Push every due notification once; return the seconds until the next one is due."""
        with self._deliver_lock:
            with self._db.read() as conn:
                rows = conn.execute(
                    "SELECT n.*, e.url, e.ca_bundle FROM notifications n "
                    "JOIN endpoints e ON e.istat = n.recipient WHERE n.state = 'pending' "
                    "ORDER BY n.created_at, CAST(n.id AS INTEGER)"
                ).fetchall()
            now = time.monotonic()
            next_due = 60.0
            for row in rows:
                if self._stop.is_set():
                    break
                due = self._next_attempt.get(row["id"], 0.0)
                if due > now:
                    next_due = min(next_due, due - now)
                    continue
                endpoint = Endpoint(
                    row["recipient"],
                    row["url"],
                    Path(row["ca_bundle"]) if row["ca_bundle"] else None,
                )
                if self._attempt(_record(row), endpoint):
                    self._next_attempt.pop(row["id"], None)
                else:
                    interval = self._config.notification_retry_interval
                    self._next_attempt[row["id"]] = time.monotonic() + interval
                    next_due = min(next_due, interval)
            return max(next_due, 0.01)

    def _attempt(self, record: NotificationRecord, endpoint: Endpoint) -> bool:
        error: str | None = None
        try:
            body = self.build_push(record)
            reply = self._post(endpoint, body)
            error = self._acknowledged(reply)
        except (AnprError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = record.attempts + 1
        now = utc_iso(self._clock.now())
        if error is None:
            with self._db.transaction() as conn:
                conn.execute(
                    "UPDATE notifications SET state = 'delivered', attempts = ?, "
                    "delivered_at = ?, consumed = 1, last_error = NULL WHERE id = ?",
                    (attempts, now, record.id),
                )
            log.info("notification %s delivered to %s", record.id, endpoint.url)
            return True
        state = "failed" if attempts >= self._config.notification_attempts else "pending"
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
                (state, attempts, error[:500], record.id),
            )
        log.info(
            "notification %s to %s: attempt %d failed: %s", record.id, endpoint.url, attempts, error
        )
        return False

    def _transport(self, ca_bundle: Path | None) -> HttpTransport:
        """One transport per trust: the endpoint's ``ca_bundle`` only, or the system's CAs when
        the endpoint names none (a Comune's public N000 endpoint)."""
        with self._transports_lock:
            transport = self._transports.get(ca_bundle)
            if transport is None:
                transport = HttpTransport(create_ssl_context(ca_bundle))
                self._transports[ca_bundle] = transport
            return transport

    def _post(self, endpoint: Endpoint, body: bytes) -> HttpResponse:
        """The receiver's reply, bounded by the transport's ``[limits]`` (no redirect
        followed)."""
        return self._transport(endpoint.ca_bundle).send(
            HttpRequest(
                endpoint.url,
                body,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                timeouts=_TIMEOUTS,
                limits=_LIMITS,
            )
        )

    @staticmethod
    def _acknowledged(reply: HttpResponse) -> str | None:
        """``None`` when the reply acknowledges the notification, else why not."""
        if not reply.body.strip():
            return f"HTTP {reply.status} with an empty body"
        try:
            root = parse_xml(reply.body)
        except ProtocolError as exc:
            return f"HTTP {reply.status}, unreadable reply: {exc}"
        answer = root.find(f".//{{{N000_NS}}}RispostaN000")
        if answer is None:
            fault = root.find(f".//{{{_SOAP}}}Fault")
            text = fault.findtext("faultstring") if fault is not None else None
            return f"HTTP {reply.status}, no RispostaN000" + (f" (fault {text!r})" if text else "")
        codes = {
            (answer.findtext("codiceEsito") or "").strip(),
            (answer.findtext("esito") or "").strip(),
        }
        if "1" in codes:
            return None
        return f"outcome {' / '.join(sorted(c for c in codes if c)) or 'missing'}"

    def build_push(self, record: NotificationRecord) -> bytes:
        """The signed ``RichiestaN000`` carrying ``record`` encrypted for its recipient
        (:func:`.push.build_request`, checked against the N000 schema)."""
        certificate = self._recipient_certificate(record.recipient)
        if certificate is None:
            raise ConfigurationError(
                f"no CO certificate known for Comune {record.recipient}",
                setting="simulator.pki",
            )
        signer = self._signer()
        if signer is None:
            raise ConfigurationError("the simulator has no notification signing key")
        body = build_request(
            record.payload,
            tipo_notifica=record.kind,
            id_notifica=record.id,
            cod_destinatario=record.recipient,
            recipient=certificate,
            signer=signer,
            cod_mittente=ANPR_SENDER,
            sent_at=self._clock.now(),
        )
        request = parse_xml(body).find(f"{{{_SOAP}}}Body/{{{N000_NS}}}RichiestaN000")
        if request is None or not self._bundle.schema("N000").validate(request):
            raise ProtocolError(f"RichiestaN000 for notification {record.id} is not valid")
        return body
