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
- **pull**: 4005 (see :mod:`.handlers.extraction`) returns the notifications of a period in
  our documented result format, :func:`notifications_document`::

      <notifiche>
        <notifica>
          <tipoNotifica>N010</tipoNotifica>
          <idNotifica>700000042</idNotifica>            same value as the push's idOperazioneANPR
          <codDestinatario>058091</codDestinatario>
          <dataOraNotifica>2026-11-26T11:43:39.123+01:00</dataOraNotifica>
          <contenuto><ns:NotificaN010 xmlns:ns="http://sogei.it/ANPR/N000notificheComuni">…
          </ns:NotificaN010></contenuto>                 not encrypted
        </notifica>
      </notifiche>

  so a receiver deduplicates push and pull on one key, ``idNotifica``.

A notification is *consumed* once a push was acknowledged or a pull returned it (4005's
``statoLavorazione`` 7 = not consumed yet, 8 = consumed, 9 = all).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import requests
from cryptography import x509
from lxml import etree

from ..credentials.base import KeySource
from ..errors.exceptions import AnprError, ConfigurationError, ProtocolError
from ..notifications.events import PAYLOAD_NS
from ..notifications.message import N000_NS
from ..safexml import NS, parse_xml
from ..soap.bundle import Bundle, default_bundle_dir
from ..soap.codec import encode
from ..soap.xsdmodel import SchemaSet
from . import payloads
from .clock import Clock, format_datetime, utc_iso
from .config import SimulatorConfig
from .db import Database
from .household import Person
from .push import build_request
from .store import ComuneInfo

__all__ = [
    "Endpoint",
    "NotificationRecord",
    "Notifier",
    "notifications_document",
]

log = logging.getLogger("anpr_client.simulator.notifications")

ANPR_SENDER: Final = "ANPR"
_SOAP: Final = NS["soap"]
_TIMEOUT: Final = (5.0, 30.0)


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


def notifications_document(records: Iterable[NotificationRecord]) -> bytes:
    """The 4005 result document of notifications (see the module docstring)."""
    root = etree.Element("notifiche")
    for record in records:
        item = etree.SubElement(root, "notifica")
        etree.SubElement(item, "tipoNotifica").text = record.kind
        etree.SubElement(item, "idNotifica").text = record.id
        etree.SubElement(item, "codDestinatario").text = record.recipient
        etree.SubElement(item, "dataOraNotifica").text = format_datetime(
            dt.datetime.fromisoformat(record.created_at)
        )
        content = etree.SubElement(item, "contenuto")
        content.append(parse_xml(record.payload))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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
        self._session: requests.Session | None = None

    # ------------------------------------------------------------------ production

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
        payload = notification_payload(
            "N010",
            {
                "generalitaSoggetto": notification_personal_data(person),
                "comuneRichiesta": payloads.comune(requesting),
                "idOperazioneANPR": operation,
                "dataDecorrenza": effective_date,
            },
        )
        return self._store("N010", recipient, operation, person.codice_fiscale, payload)

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
        if self._session is not None:
            self._session.close()
            self._session = None

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
        except (AnprError, requests.RequestException, OSError) as exc:
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

    def _post(self, endpoint: Endpoint, body: bytes) -> requests.Response:
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False
        verify: bool | str = str(endpoint.ca_bundle) if endpoint.ca_bundle else True
        return self._session.post(
            endpoint.url,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            timeout=_TIMEOUT,
            verify=verify,
            allow_redirects=False,
        )

    @staticmethod
    def _acknowledged(reply: requests.Response) -> str | None:
        """``None`` when the reply acknowledges the notification, else why not."""
        if not reply.content.strip():
            return f"HTTP {reply.status_code} with an empty body"
        try:
            root = parse_xml(reply.content)
        except ProtocolError as exc:
            return f"HTTP {reply.status_code}, unreadable reply: {exc}"
        answer = root.find(f".//{{{N000_NS}}}RispostaN000")
        if answer is None:
            fault = root.find(f".//{{{_SOAP}}}Fault")
            text = fault.findtext("faultstring") if fault is not None else None
            return f"HTTP {reply.status_code}, no RispostaN000" + (
                f" (fault {text!r})" if text else ""
            )
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
