"""The 4005 poller: pull notifications for a period into the same inbox as the push.

4005 is asynchronous (italia/anpr#1273, #1906):

1. ``elaborazione`` with ``ricercaElenchiRichieste`` (``statoLavorazione`` 9 = every
   notification, taken in charge or not; ``periodoRiferimentoRichieste``) returns an
   ``idOperazioneANPR`` and a ``dataDisponibilita``;
2. ``verificaStato`` (that id, ``progressivo`` = the result page) is asked **no sooner than
   dataDisponibilita**; ``statoRichiesta`` 1 means not ready yet (the poller waits again, no
   sooner than the new ``dataDisponibilita`` and at least ``poll_interval``), 2 ready;
3. each ``elencoRisposte`` carries ``contenutoRisposta`` (MTOM or base64, ``formatoRisposta``
   ``xml`` or ``gz``), a document of notifications: :func:`read_notifications`.

ANPR refuses periods longer than 31 days and searches only the last 180 days, so
:meth:`Poller.pull` splits ``since`` … ``now − skew`` into windows of at most ``max_window``
(31 days), never reaching past the server's present (our clock minus ``skew``).

**Checkpoint.** The poller's position (per Comune) lives in the inbox file: the end of the last
window fully pulled (``covered_until``) and the extraction in flight (its id, window,
``dataDisponibilita`` and next page). Each result page's events and the advanced checkpoint are
committed in one transaction, so a restart resumes exactly where the last commit left it: an
extraction in flight is finished (not requested again) and the next window starts where the
last ended. An extraction ANPR refuses to report on (a KO to ``verificaStato``, e.g. an
expired id) is forgotten after raising, so the next pull requests its window again. Events are
keyed like pushed ones (``tipoNotifica``, ``idNotifica``), so a
notification both pushed and pulled is one event.

The result format is not public; the one read here (and produced by the simulator) is::

    <notifiche>
      <notifica>
        <tipoNotifica>N010</tipoNotifica>
        <idNotifica>…</idNotifica>             the push's testataNotifica/idOperazioneANPR
        <codDestinatario>058091</codDestinatario>
        <dataOraNotifica>…</dataOraNotifica>
        <contenuto><NotificaN010 xmlns="http://sogei.it/ANPR/N000notificheComuni">…</contenuto>
      </notifica>
    </notifiche>

read tolerantly: ``notifica`` elements anywhere, children by local name, ``contenuto`` as an
element or as base64 text. A notification that cannot be decoded is stored ``invalid`` with its
XML and the reason (never dropped).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from lxml import etree

from ..errors.exceptions import AnprRejected, NotificationError, ProtocolError
from ..safexml import DEFAULT_MAX_BYTES, parse_xml
from .events import Notification, decode_notification, parse_datetime
from .inbox import Inbox, InvalidNotification, PullCheckpoint

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "MAX_LOOKBACK",
    "MAX_WINDOW",
    "Poller",
    "PullReport",
    "read_notifications",
]

logger = logging.getLogger("anpr_client.notifications")

#: Longest period ANPR accepts in one 4005 request.
MAX_WINDOW: Final = dt.timedelta(days=31)
#: How far back ANPR searches (since ANPR05).
MAX_LOOKBACK: Final = dt.timedelta(days=180)
_NOTIFICATIONS_STATE: Final = "9"  # statoLavorazione: every notification


@dataclass
class PullReport:
    """What one :meth:`Poller.pull` did."""

    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    """Periods fully pulled, in order."""
    requests: list[str] = field(default_factory=list)
    """``idOperazioneANPR`` of every ``elaborazione`` submitted."""
    received: int = 0
    """Notifications read from the results (new or already stored)."""
    added: int = 0
    """Notifications that were new to the inbox."""
    invalid: int = 0
    waiting_until: dt.datetime | None = None
    """Set when the pull stopped because results are not ready before the wait limit; the
    next pull resumes that extraction."""

    @property
    def complete(self) -> bool:
        return self.waiting_until is None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Poller:
    """Pulls a Comune's notifications with 4005 into ``inbox``.

    **Parameters:**

    - ``client``: a signed client for the Comune (e.g. ``anpr_client.Client(settings)``).
    - ``inbox``: the same inbox the receiver uses.
    - ``name``: the checkpoint's name (default: the client's ISTAT code).
    - ``skew``: seconds kept between the end of a window and our clock, so no window ends in
      ANPR's future.
    - ``max_window``: the longest period per request (31 days).
    - ``poll_interval``: least seconds between two ``verificaStato`` of a job not ready.
    - ``stato_lavorazione``: ``9`` every notification (default), ``7`` only those not taken in
      charge yet.
    - ``clock``/``sleep``: time sources (tests).
    """

    def __init__(
        self,
        client: Client,
        inbox: Inbox,
        *,
        name: str | None = None,
        skew: float = 120.0,
        max_window: dt.timedelta = MAX_WINDOW,
        poll_interval: float = 5.0,
        stato_lavorazione: str = _NOTIFICATIONS_STATE,
        max_result_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], dt.datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not dt.timedelta(seconds=1) <= max_window <= MAX_WINDOW:
            raise NotificationError(
                "the 4005 window must be between 1 second and 31 days",
                field="max_window",
                rule="<= 31 days",
            )
        self.client = client
        self.inbox = inbox
        self.name = name or client.settings.codice_istat
        self.skew = dt.timedelta(seconds=skew)
        self.max_window = max_window
        self.poll_interval = poll_interval
        self.stato_lavorazione = stato_lavorazione
        self.max_result_bytes = max_result_bytes
        self._clock = clock
        self._sleep = sleep

    @property
    def checkpoint(self) -> PullCheckpoint:
        return self.inbox.checkpoint(self.name)

    def pull(
        self,
        since: dt.datetime | dt.date | None = None,
        *,
        until: dt.datetime | dt.date | None = None,
        wait: bool = True,
        max_wait: float = 600.0,
    ) -> PullReport:
        """Pull the notifications sent from ``since`` (default: the checkpoint) to ``until``
        (default and at most: now − skew).

        An extraction left in flight by an earlier run is finished first. With ``wait``, the
        poller sleeps until results are ready (at most ``max_wait`` seconds in all); otherwise,
        or past that limit, it stops with :attr:`PullReport.waiting_until` set and the next
        call resumes. Raises :class:`~anpr_client.errors.NotificationError` for a period
        ANPR would refuse, and the client's exceptions for transport errors and KO answers.
        """
        report = PullReport()
        deadline = time.monotonic() + (max_wait if wait else 0.0)
        cp = self.checkpoint
        if cp.pending_id is not None:
            logger.info("4005: resuming extraction %s (page %d)", cp.pending_id, cp.pending_page)
            cp = self._finish(cp, report, deadline)
            if cp.pending_id is not None:
                return report
        now = self._clock()
        limit = now - self.skew
        start = _aware(since) if since is not None else cp.covered_until
        if start is None:
            raise NotificationError(
                "nothing pulled yet: give the date to pull from (--since)",
                field="since",
                rule="a date for the first pull",
            )
        end = min(_aware(until), limit) if until is not None else limit
        if start < now - MAX_LOOKBACK:
            raise NotificationError(
                f"ANPR searches only the last 180 days: {start.date().isoformat()} is older "
                f"than {(now - MAX_LOOKBACK).date().isoformat()}",
                field="since",
                rule="within the last 180 days",
            )
        while start < end:
            stop = min(start + self.max_window, end)
            id_anpr, ready_at = self._submit(start, stop)
            report.requests.append(id_anpr)
            cp = PullCheckpoint(
                self.name,
                covered_until=cp.covered_until,
                pending_id=id_anpr,
                pending_from=start,
                pending_until=stop,
                pending_ready_at=ready_at,
                pending_page=1,
            )
            self.inbox.save_checkpoint(cp)
            cp = self._finish(cp, report, deadline)
            if cp.pending_id is not None:
                return report
            start = stop
        return report

    # ------------------------------------------------------------------ steps

    def _submit(self, start: dt.datetime, stop: dt.datetime) -> tuple[str, dt.datetime]:
        result = self.client.call(
            "4005",
            {
                "elaborazione": {
                    "ricercaElenchiRichieste": {
                        "statoLavorazione": self.stato_lavorazione,
                        "periodoRiferimentoRichieste": {
                            "dataOraIniziale": start,
                            "dataOraFinale": stop,
                        },
                    }
                }
            },
        )
        value = result.value
        id_anpr = str(value.get("idOperazioneANPR") or result.id_operazione_anpr or "")
        if not id_anpr:
            raise ProtocolError("the 4005 elaborazione answer has no idOperazioneANPR")
        ready_at = parse_datetime(str(value.get("dataDisponibilita") or "")) or self._clock()
        logger.info(
            "4005: elaborazione %s for %s … %s, ready at %s",
            id_anpr,
            start.isoformat(),
            stop.isoformat(),
            ready_at.isoformat(),
        )
        return id_anpr, ready_at

    def _finish(self, cp: PullCheckpoint, report: PullReport, deadline: float) -> PullCheckpoint:
        """Fetch every page of the extraction in flight; the checkpoint after the last commit
        (``pending_id`` ``None`` when the window is complete)."""
        assert cp.pending_id is not None
        while True:
            ready_at = cp.pending_ready_at
            now = self._clock()
            if ready_at is not None and now < ready_at:
                delay = (ready_at - now).total_seconds()
                if time.monotonic() + delay > deadline:
                    report.waiting_until = ready_at
                    return cp
                self._sleep(delay)
            try:
                result = self.client.call(
                    "4005",
                    {
                        "verificaStato": {
                            "idOperazioneANPR": cp.pending_id,
                            "progressivo": cp.pending_page,
                        }
                    },
                )
            except AnprRejected:
                # ANPR refuses the extraction (expired, unknown): forget it, so the next pull
                # asks for the same window again instead of retrying it for ever. Events
                # already stored stay; the window is not marked covered.
                logger.warning(
                    "4005: extraction %s refused; its window will be asked again", cp.pending_id
                )
                self.inbox.save_checkpoint(
                    PullCheckpoint(self.name, covered_until=cp.covered_until)
                )
                raise
            value = result.value
            if str(value.get("statoRichiesta", "")).strip() != "2":
                now = self._clock()
                announced = parse_datetime(str(value.get("dataDisponibilita") or ""))
                next_try = now + dt.timedelta(seconds=self.poll_interval)
                if announced is not None and announced > next_try:
                    next_try = announced
                logger.info("4005: %s not ready; next check at %s", cp.pending_id, next_try)
                cp = dataclasses.replace(cp, pending_ready_at=next_try)
                self.inbox.save_checkpoint(cp)
                continue
            events, invalid = self._read_page(value.get("elencoRisposte") or [])
            fornitura = value.get("datiFornitura") or {}
            current = _int(fornitura.get("progressivoCorrente"), cp.pending_page)
            total = _int(fornitura.get("progressivoTotale"), current)
            if current < total:
                following = dataclasses.replace(
                    cp, pending_page=cp.pending_page + 1, pending_ready_at=None
                )
            else:
                assert cp.pending_until is not None
                covered = cp.covered_until
                following = PullCheckpoint(
                    self.name,
                    covered_until=max(covered, cp.pending_until) if covered else cp.pending_until,
                )
            added = self.inbox.add_many(events, invalid=invalid, checkpoint=following)
            report.received += len(events) + len(invalid)
            report.added += added
            report.invalid += len(invalid)
            if following.pending_id is None:
                assert cp.pending_from is not None
                assert cp.pending_until is not None
                report.windows.append((cp.pending_from, cp.pending_until))
                return following
            cp = following

    def _read_page(
        self, items: Sequence[Mapping[str, Any]] | Mapping[str, Any]
    ) -> tuple[list[Notification], list[InvalidNotification]]:
        if isinstance(items, Mapping):
            items = [items]
        events: list[Notification] = []
        invalid: list[InvalidNotification] = []
        for item in items:
            content = item.get("contenutoRisposta")
            if not content:
                continue
            data = _b64(str(content), "contenutoRisposta")
            fmt = str(item.get("formatoRisposta") or "").strip().lower()
            got_events, got_invalid = read_notifications(
                data, compressed=fmt == "gz" or None, max_bytes=self.max_result_bytes
            )
            events += got_events
            invalid += got_invalid
        return events, invalid


def _int(value: object, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not base64") from None


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, refusing more than ``max_bytes`` of output (no zip bomb)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ProtocolError(f"the gz result cannot be decompressed: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ProtocolError(f"the gz result expands beyond {max_bytes} bytes")
    return out


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(el: etree._Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            value = "".join(str(t) for t in child.itertext()).strip()
            return value or None
    return None


def read_notifications(
    data: bytes, *, compressed: bool | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Notification], list[InvalidNotification]]:
    """Decode a 4005 result document (see the module docstring) into events.

    ``compressed``: ``True`` for gz, ``False`` for xml, ``None`` to sniff the gzip magic.
    Notifications that cannot be decoded come back as :class:`InvalidNotification`.
    Raises :class:`~anpr_client.errors.ProtocolError` if the document itself is unusable.
    """
    if compressed or (compressed is None and data[:2] == b"\x1f\x8b"):
        data = _gunzip(data, max_bytes)
    root = parse_xml(data, max_bytes=max_bytes)
    events: list[Notification] = []
    invalid: list[InvalidNotification] = []
    for item in root.iter():
        if _local(item.tag) != "notifica":
            continue
        kind = _child_text(item, "tipoNotifica") or ""
        id_notifica = _child_text(item, "idNotifica") or _child_text(item, "idOperazioneANPR")
        recipient = _child_text(item, "codDestinatario")
        sent_text = _child_text(item, "dataOraNotifica")
        sent_at = parse_datetime(sent_text) if sent_text else None
        raw_item = etree.tostring(item)
        try:
            payload, raw = _contenuto(item, max_bytes)
            if id_notifica is None:
                raise NotificationError(
                    "the notification has no idNotifica", outcome="5", field="idNotifica"
                )
            events.append(
                decode_notification(
                    kind,
                    payload,
                    id_notifica=id_notifica,
                    recipient=recipient,
                    sender="ANPR",
                    sent_at=sent_at,
                    raw=raw,
                )
            )
        except (NotificationError, ProtocolError) as exc:
            logger.warning("4005: notification %s %s kept as invalid: %s", kind, id_notifica, exc)
            invalid.append(
                InvalidNotification(
                    kind=kind or "?",
                    id_notifica=id_notifica or "sha256:" + hashlib.sha256(raw_item).hexdigest(),
                    recipient=recipient,
                    sender="ANPR",
                    sent_at=sent_at,
                    raw=raw_item,
                    reason=str(exc),
                )
            )
    return events, invalid


def _contenuto(item: etree._Element, max_bytes: int) -> tuple[etree._Element, bytes]:
    content = next((c for c in item if _local(c.tag) == "contenuto"), None)
    if content is None:
        raise NotificationError("the notification has no contenuto", outcome="6", field="contenuto")
    element = next((c for c in content if isinstance(c.tag, str)), None)
    if element is not None:
        copy = parse_xml(etree.tostring(element), max_bytes=max_bytes)
        etree.cleanup_namespaces(copy)
        return copy, etree.tostring(copy)
    text = "".join(str(t) for t in content.itertext()).strip()
    if not text:
        raise NotificationError(
            "the notification's contenuto is empty", outcome="6", field="contenuto"
        )
    data = _b64(text, "contenuto")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, max_bytes)
    return parse_xml(data, max_bytes=max_bytes), data
