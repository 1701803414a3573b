"""The 4005 poller: pull a Comune's notifications, as ANPR sends them, into the push's inbox.

4005 is asynchronous (ANPR's official 4005 samples of 2019, italia/anpr ``src/note/ws/4000``;
italia/anpr#1273, #1396, #1714, #1906):

1. ``elaborazione`` (``dettaglioDati`` ``RISPOSTA``; ``ricercaElenchiRichieste`` with
   ``statoLavorazione`` 9 = every notification, and ``periodoRiferimentoRichieste``) answers
   ``statoRichiesta`` 0 with the extraction's ``idOperazioneANPR`` and its
   ``dataDisponibilita``. When nothing matches, ANPR answers KO ``EN122`` "La richiesta
   effettuata non produce alcun risultato" (#1714): the window is empty, and covered.
2. ``verificaStato`` (that id, ``progressivo`` = the page) is asked **no sooner than
   dataDisponibilita**; ``statoRichiesta`` 1 means not ready yet, with a new
   ``dataDisponibilita`` (#1396, #5279): the poller waits again, no sooner than that and at
   least ``poll_interval``; 2 means ready.
3. A ready answer lists **one** ``elencoRisposte`` **per result** (#4792; the official
   ``4005_ex_004``): ``idOperazioneANPR``, ``statoLavorazione``, ``tipoOperazione`` and, as
   ``dettaglioDati`` asked, ``contenutoRisposta``/``formatoRisposta`` and
   ``contenutoRichiesta``/``formatoRichiesta``. A content is base64 text, or an ``xop:Include``
   in an MTOM answer (the client puts the attachment back as base64); ``gz`` is a gzip of one
   bare XML document, e.g. ``<p:NotificaN031 …>`` with ``standalone="yes"`` and CRLF line
   ends (#4792, "only gz" for notifications #2495), ``xml`` the document itself. There is no
   wrapper around several notifications. Paging (``datiFornitura``: ``progressivoCorrente``,
   ``progressivoTotale``) is in the XSD but no published answer shows it: when present,
   ``progressivoCorrente`` must echo the page asked; absent, the answer is the only page.

:func:`read_items` turns each item into what the inbox keeps:

- ``N010``…``N032`` and ``NRIS`` (the answer of an operation done in ANPR's web app,
  #1400, #2313, whose ``idOperazioneANPR`` is the NRIS's own) become the typed event the push
  makes (:func:`~anpr_client.notifications.events.decode_notification`);
- every other kind — an operation code such as ``5008`` (#1400), an ANSC civil-status
  notification ``NA01``… (italia/ansc#1258), an item without content such as ``8046``
  (#1907), a newer ``N0xx`` — becomes a :class:`~anpr_client.notifications.events.ResultItem`
  of its own kind with its id and its raw content;
- an item that cannot be decoded (not base64, a broken or oversized gzip, not XML, a
  notification whose payload does not conform, a notification without content) is
  **quarantined**: an :class:`~anpr_client.notifications.inbox.InvalidNotification` holding
  the item as received and the reason, never skipped.

**One notification, one key.** A notification is stored once however it arrives: the inbox
key is ``(type, id)``, where the id is the ``idOperazioneANPR`` ANPR gave the notification —
the push's ``testataNotifica/idOperazioneANPR`` and the pulled item's
``elencoRisposte/idOperazioneANPR``. No published exchange shows the same notification by both
channels; the choice rests on both being the notification's own operation id (NRIS: #2313;
N0xx notifications are numbered one by one, #1407, #2223), not that of the operation that
caused it, which is in the payload.

**Checkpoint.** The poller's position (per Comune) lives in the inbox file: the end of the last
window fully pulled (``covered_until``) and the extraction in flight (its id, window,
``dataDisponibilita`` and next page). Each result page's items and the advanced checkpoint are
committed in one transaction, so a restart resumes exactly where the last commit left it: an
extraction in flight is finished (not requested again) and the next window starts where the
last ended. ``covered_until`` moves past a window only once **every** item of it is stored and
none is left in quarantine: a window with a quarantined item is *held* (``held_from``), and
every pull asks for it again until the item arrives decodable (ANPR regenerates results it got
wrong, #1313, #1386) or the operator releases it (:meth:`Inbox.release
<anpr_client.notifications.inbox.Inbox.release>`). An extraction ANPR refuses to report on (a
KO to ``verificaStato``, e.g. an expired id) is forgotten after raising, so the next pull
requests its window again.

**Bounds** (``[notifications.pull]``, :class:`~anpr_client.settings.PullSettings`): at most
``max_pages`` result pages and ``max_requests`` 4005 calls per pull, and at most
``max_page_bytes`` of decompressed content per page (one item beyond ``max_result_bytes`` is
quarantined). Reaching a bound raises :class:`~anpr_client.errors.PullLimitError`; what was
committed stays, and the checkpoint does not move past what was not.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import hashlib
import logging
import re
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from lxml import etree

from .._compat import old_call
from ..errors.exceptions import (
    AnprRejected,
    NotFoundError,
    NotificationError,
    ProtocolError,
    PullLimitError,
)
from ..safexml import DEFAULT_MAX_BYTES, parse_xml
from ..settings import PullSettings
from .events import NOTIFICATION_TYPES, Notification, decode_notification, parse_datetime
from .events import result_item as _result_item
from .inbox import Inbox, InvalidNotification, PullCheckpoint

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "DETAIL_LEVELS",
    "MAX_LOOKBACK",
    "MAX_WINDOW",
    "Poller",
    "PullReport",
    "ReadItems",
    "read_items",
    "read_notifications",
]

logger = logging.getLogger("anpr_client.notifications")

#: Longest period ANPR accepts in one 4005 request.
MAX_WINDOW: Final = dt.timedelta(days=31)
#: How far back ANPR searches (since ANPR05).
MAX_LOOKBACK: Final = dt.timedelta(days=180)
#: ``dettaglioDati`` of the poller's requests: for notifications ANPR returns the content with
#: RISPOSTA, treats any value other than ID as RISPOSTA, and never returns a request (the
#: comments of the official 4005 samples ex_003 and ex_004).
DETAIL_LEVELS: Final = ("RISPOSTA", "TUTTO")
_NOTIFICATION_STATES: Final = ("7", "8", "9")  # statoLavorazione for notifications (#1273)
_NOT_READY: Final = ("0", "1")
_READY: Final = "2"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_DIGITS: Final = re.compile(r"[0-9]{1,30}")


@dataclass
class PullReport:
    """What one :meth:`Poller.pull` did."""

    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    """Periods fully read, in order (a held window is listed too: see :attr:`held`)."""
    requests: list[str] = field(default_factory=list)
    """``idOperazioneANPR`` of every ``elaborazione`` submitted."""
    received: int = 0
    """Result items read (new, already stored, or quarantined)."""
    added: int = 0
    """Items that were new to the inbox."""
    invalid: int = 0
    """Items quarantined (they could not be decoded)."""
    held: list[tuple[str, str]] = field(default_factory=list)
    """Keys of the quarantined items that hold the checkpoint (not released)."""
    held_from: dt.datetime | None = None
    """When set, the checkpoint is held at this instant: ``covered_until`` will not move past
    it until the items in :attr:`held` are released or arrive decodable."""
    calls: int = 0
    """4005 calls made."""
    pages: int = 0
    """Result pages read."""
    waiting_until: dt.datetime | None = None
    """Set when the pull stopped because results are not ready before the wait limit; the
    next pull resumes that extraction."""

    @property
    def complete(self) -> bool:
        return self.waiting_until is None


@dataclass(frozen=True)
class ReadItems:
    """The items of one 4005 result page, decoded (:func:`read_items`)."""

    events: list[Notification]
    quarantined: list[InvalidNotification]
    decompressed: int
    """Bytes of content after base64 and gunzip, in all."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class _Budget:
    """The calls and pages one pull may still spend."""

    limits: PullSettings
    report: PullReport

    def call(self) -> None:
        if self.report.calls >= self.limits.max_requests:
            raise PullLimitError(
                f"the pull made {self.report.calls} 4005 calls, the most allowed: stopped "
                "(the next pull resumes); raise it if ANPR needs more",
                field="notifications.pull.max_requests",
                rule=f"<= {self.limits.max_requests} calls per pull",
            )
        self.report.calls += 1

    def page(self) -> None:
        if self.report.pages >= self.limits.max_pages:
            raise PullLimitError(
                f"the pull read {self.report.pages} result pages, the most allowed: stopped "
                "(the next pull resumes)",
                field="notifications.pull.max_pages",
                rule=f"<= {self.limits.max_pages} pages per pull",
            )


class Poller:
    """Pulls a Comune's notifications with 4005 into ``inbox``.

    :param client: a signed client for the Comune (e.g. ``anpr_client.Client(settings)``).
    :param inbox: the same inbox the receiver uses.
    :param name: the checkpoint's name (default: the client's ISTAT code).
    :param skew: seconds kept between the end of a window and our clock, so no window ends in
        ANPR's future.
    :param max_window: the longest period per request (31 days).
    :param poll_interval: least seconds between two ``verificaStato`` of a job not ready.
    :param stato_lavorazione: ``9`` every notification (default), ``7`` only those not taken in
        charge yet, ``8`` those taken (ANPR refuses other values for notifications, #1273).
    :param detail: ``dettaglioDati``, ``RISPOSTA`` (default) or ``TUTTO``; the content is
        needed to read a notification.
    :param max_result_bytes: the most one item's content may decompress to (beyond: quarantined).
    :param limits: the bounds of a pull; default: the client's ``[notifications.pull]``.
    :param clock: the time source (tests).
    :param sleep: how to wait (tests).
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
        stato_lavorazione: str = "9",
        detail: str = "RISPOSTA",
        max_result_bytes: int = DEFAULT_MAX_BYTES,
        limits: PullSettings | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not dt.timedelta(seconds=1) <= max_window <= MAX_WINDOW:
            raise NotificationError(
                "the 4005 window must be between 1 second and 31 days",
                field="max_window",
                rule="<= 31 days",
            )
        if stato_lavorazione not in _NOTIFICATION_STATES:
            raise NotificationError(
                f"statoLavorazione {stato_lavorazione!r}: ANPR accepts 7, 8 or 9 for "
                "notifications (italia/anpr#1273)",
                field="stato_lavorazione",
                rule="7 | 8 | 9",
            )
        if detail not in DETAIL_LEVELS:
            raise NotificationError(
                f"dettaglioDati {detail!r}: the poller needs the notifications' content",
                field="detail",
                rule=" | ".join(DETAIL_LEVELS),
            )
        self.client = client
        self.inbox = inbox
        self.name = name or client.settings.codice_istat
        self.recipient = client.settings.codice_istat
        self.skew = dt.timedelta(seconds=skew)
        self.max_window = max_window
        self.poll_interval = poll_interval
        self.stato_lavorazione = stato_lavorazione
        self.detail = detail
        self.max_result_bytes = max_result_bytes
        self.limits = limits if limits is not None else client.settings.notifications.pull
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
        ANPR would refuse, :class:`~anpr_client.errors.PullLimitError` at a bound, and the
        client's exceptions for transport errors and KO answers.
        """
        report = PullReport()
        budget = _Budget(self.limits, report)
        deadline = time.monotonic() + (max_wait if wait else 0.0)
        cp = self.checkpoint
        try:
            if cp.pending_id is not None:
                logger.info(
                    "4005: resuming extraction %s (page %d)", cp.pending_id, cp.pending_page
                )
                cp = self._finish(cp, report, deadline, budget)
                if cp.pending_id is not None:
                    return report
            now = self._clock()
            limit = now - self.skew
            start: dt.datetime | None
            if since is not None:
                start = _aware(since)
            else:
                start = cp.covered_until if cp.covered_until is not None else cp.held_from
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
            if cp.held_from is not None and start <= cp.held_from < end:
                # The held window is asked again: its items are judged anew.
                cp = dataclasses.replace(cp, held_from=None)
                self.inbox.save_checkpoint(cp)
            while start < end:
                stop = min(start + self.max_window, end)
                submitted = self._submit(start, stop, budget)
                window = PullCheckpoint(
                    self.name,
                    covered_until=cp.covered_until,
                    held_from=cp.held_from,
                    pending_from=start,
                    pending_until=stop,
                )
                if submitted is None:  # EN122: nothing in this window
                    cp = self._window_done(window)
                    self.inbox.save_checkpoint(cp)
                    report.windows.append((start, stop))
                    start = stop
                    continue
                id_anpr, ready_at = submitted
                report.requests.append(id_anpr)
                cp = dataclasses.replace(window, pending_id=id_anpr, pending_ready_at=ready_at)
                self.inbox.save_checkpoint(cp)
                cp = self._finish(cp, report, deadline, budget)
                if cp.pending_id is not None:
                    return report
                start = stop
            return report
        finally:
            report.held_from = self.checkpoint.held_from

    # ------------------------------------------------------------------ steps

    def _submit(
        self, start: dt.datetime, stop: dt.datetime, budget: _Budget
    ) -> tuple[str, dt.datetime] | None:
        """Submit the ``elaborazione`` of a window: its id and ``dataDisponibilita``, or
        ``None`` when ANPR says nothing matches (EN122)."""
        budget.call()
        try:
            result = self.client.call(
                "4005",
                {
                    "elaborazione": {
                        "dettaglioDati": self.detail,
                        "ricercaElenchiRichieste": {
                            "statoLavorazione": self.stato_lavorazione,
                            "periodoRiferimentoRichieste": {
                                "dataOraIniziale": start,
                                "dataOraFinale": stop,
                            },
                        },
                    }
                },
            )
        except NotFoundError as exc:
            if "EN122" not in exc.codes:
                raise
            logger.info("4005: nothing in %s … %s (EN122)", start.isoformat(), stop.isoformat())
            return None
        value = result.value
        id_anpr = str(value.get("idOperazioneANPR") or result.id_operazione_anpr or "").strip()
        if not _DIGITS.fullmatch(id_anpr):
            raise ProtocolError(
                f"the 4005 elaborazione answer has no usable idOperazioneANPR ({id_anpr[:40]!r})"
            )
        ready_at = parse_datetime(str(value.get("dataDisponibilita") or "")) or self._clock()
        logger.info(
            "4005: elaborazione %s for %s … %s, ready at %s",
            id_anpr,
            start.isoformat(),
            stop.isoformat(),
            ready_at.isoformat(),
        )
        return id_anpr, ready_at

    def _window_done(self, cp: PullCheckpoint) -> PullCheckpoint:
        """The checkpoint once every page of ``cp``'s window is stored: ``covered_until``
        moves past it unless it, or an earlier window, is held by quarantined items."""
        assert cp.pending_from is not None
        assert cp.pending_until is not None
        covered, held_from = cp.covered_until, cp.held_from
        if cp.pending_held:
            held_from = min(held_from, cp.pending_from) if held_from else cp.pending_from
        elif held_from is None:
            covered = max(covered, cp.pending_until) if covered else cp.pending_until
        return PullCheckpoint(self.name, covered_until=covered, held_from=held_from)

    def _after_page(self, cp: PullCheckpoint, more: bool, held: int) -> PullCheckpoint:
        """The checkpoint committed with a page of ``cp``'s extraction that left ``held``
        items in quarantine: the next page, or the window done."""
        cp = dataclasses.replace(cp, pending_held=cp.pending_held + held)
        if more:
            return dataclasses.replace(cp, pending_page=cp.pending_page + 1, pending_ready_at=None)
        return self._window_done(cp)

    def _finish(
        self, cp: PullCheckpoint, report: PullReport, deadline: float, budget: _Budget
    ) -> PullCheckpoint:
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
            budget.page()
            budget.call()
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
                # asks for the same window again instead of retrying it for ever. Items
                # already stored stay; the window is not marked covered.
                logger.warning(
                    "4005: extraction %s refused; its window will be asked again", cp.pending_id
                )
                self.inbox.save_checkpoint(
                    PullCheckpoint(
                        self.name, covered_until=cp.covered_until, held_from=cp.held_from
                    )
                )
                raise
            value = result.value
            _check_echo(value, cp.pending_id)
            state = str(value.get("statoRichiesta", "")).strip()
            if state in _NOT_READY:
                now = self._clock()
                announced = parse_datetime(str(value.get("dataDisponibilita") or ""))
                next_try = now + dt.timedelta(seconds=self.poll_interval)
                if announced is not None and announced > next_try:
                    next_try = announced
                logger.info("4005: %s not ready; next check at %s", cp.pending_id, next_try)
                cp = dataclasses.replace(cp, pending_ready_at=next_try)
                self.inbox.save_checkpoint(cp)
                continue
            if state != _READY:
                raise ProtocolError(
                    f"the 4005 verificaStato answer has statoRichiesta {state[:10]!r} "
                    "(0 or 1: not ready, 2: ready)"
                )
            more = _more_pages(value.get("datiFornitura"), cp.pending_page)
            page = read_items(
                value.get("elencoRisposte") or [],
                recipient=self.recipient,
                max_item_bytes=self.max_result_bytes,
                max_page_bytes=self.limits.max_page_bytes,
            )
            report.pages += 1
            after = functools.partial(self._after_page, cp, more)
            added, held = self.inbox.add_pulled(page.events, page.quarantined, after)
            report.received += len(page.events) + len(page.quarantined)
            report.added += added
            report.invalid += len(page.quarantined)
            report.held += held
            following = after(len(held))
            if following.pending_id is None:
                assert cp.pending_from is not None
                assert cp.pending_until is not None
                report.windows.append((cp.pending_from, cp.pending_until))
                if following.held_from is not None and held:
                    logger.warning(
                        "4005: %d item(s) quarantined; the checkpoint stays at %s until they "
                        "are released or arrive decodable",
                        len(held),
                        following.held_from.isoformat(),
                    )
                return following
            cp = following


def _check_echo(value: Mapping[str, Any], asked: str) -> None:
    echoed = str(value.get("idOperazioneANPR") or "").strip()
    if echoed and _DIGITS.fullmatch(echoed) and _DIGITS.fullmatch(asked):
        if int(echoed) == int(asked):
            return
    elif not echoed:
        return
    raise ProtocolError(
        f"the 4005 verificaStato answer is about extraction {echoed[:40]!r}, not {asked!r}"
    )


def _more_pages(fornitura: object, asked: int) -> bool:
    """Whether pages follow the one ``asked``, from ``datiFornitura`` (absent: it is the only
    one). ANPR's paging was never published: the answer must echo the page asked."""
    if fornitura is None:
        return False
    if not isinstance(fornitura, Mapping):
        raise ProtocolError("the 4005 answer's datiFornitura is not a structure")
    current = _number(fornitura.get("progressivoCorrente"))
    total = _number(fornitura.get("progressivoTotale"))
    if current is None or total is None:
        raise ProtocolError(
            "the 4005 answer's datiFornitura lacks progressivoCorrente or progressivoTotale"
        )
    if current != asked:
        raise ProtocolError(
            f"the 4005 answer is page {current} (progressivoCorrente), not the page {asked} "
            "asked: hostile or broken paging"
        )
    if total < current:
        raise ProtocolError(
            f"the 4005 answer's progressivoTotale {total} is below its progressivoCorrente "
            f"{current}"
        )
    return current < total


def _number(value: object) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


# ----------------------------------------------------------------------------- items


class _Unreadable(NotificationError):
    """An item cannot be decoded (internal: it becomes a quarantined item, with this reason)."""


class _Budgeted:
    """Decompressed bytes left for the rest of a page."""

    def __init__(self, item_limit: int, page_limit: int):
        self.item_limit = item_limit
        self.page_limit = page_limit
        self.used = 0

    def take(self, size: int) -> None:
        self.used += size
        if self.used > self.page_limit:
            raise self.page_full()

    def cap(self) -> int:
        """How much the next content may decompress to before something refuses it."""
        return min(self.item_limit, self.page_limit - self.used)

    def page_full(self) -> PullLimitError:
        return PullLimitError(
            f"a 4005 result page decompresses beyond {self.page_limit} bytes: refused "
            "(nothing of it stored; the checkpoint stays)",
            field="notifications.pull.max_page_bytes",
            rule=f"<= {self.page_limit} decompressed bytes per page",
        )


def read_items(
    items: Sequence[object] | Mapping[str, Any],
    *,
    recipient: str | None = None,
    max_item_bytes: int = DEFAULT_MAX_BYTES,
    max_page_bytes: int = PullSettings.max_page_bytes,
) -> ReadItems:
    """Decode the ``elencoRisposte`` items of a 4005 result page (see the module docstring).

    ``items`` are payload-shaped mappings, as :meth:`Client.call
    <anpr_client.client.Client.call>` returns them (an MTOM content already back as base64).
    ``recipient`` is the Comune the extraction is for (the events' ``recipient``). Raises
    :class:`~anpr_client.errors.PullLimitError` when the page's contents decompress beyond
    ``max_page_bytes`` in all; everything else that fails is a quarantined item.
    """
    if isinstance(items, Mapping):
        items = [items]
    budget = _Budgeted(max_item_bytes, max_page_bytes)
    events: list[Notification] = []
    quarantined: list[InvalidNotification] = []
    for item in items:
        if not isinstance(item, Mapping):
            raw = str(item).encode()
            quarantined.append(_quarantined(None, None, raw, "the item is not a structure"))
            continue
        id_anpr, kind = _text(item, "idOperazioneANPR"), _text(item, "tipoOperazione")
        try:
            events.append(_read_item(item, id_anpr, kind, recipient, budget))
        except PullLimitError:
            raise  # the whole page is refused
        except NotificationError as exc:  # _Unreadable, or the payload does not conform
            quarantined.append(_quarantined(id_anpr, kind, _item_xml(item), str(exc), recipient))
    return ReadItems(events, quarantined, budget.used)


def _quarantined(
    id_anpr: str | None,
    kind: str | None,
    raw: bytes,
    reason: str,
    recipient: str | None = None,
) -> InvalidNotification:
    key = id_anpr if id_anpr and _DIGITS.fullmatch(id_anpr) else None
    logger.warning("4005: item %s %s quarantined: %s", kind or "?", key or "?", reason)
    return InvalidNotification(
        kind=(kind or "?")[:20],
        id_notifica=key or "sha256:" + hashlib.sha256(raw).hexdigest(),
        recipient=recipient,
        sender=None,
        sent_at=None,
        raw=raw,
        reason=reason,
    )


def _read_item(
    item: Mapping[str, Any],
    id_anpr: str | None,
    kind: str | None,
    recipient: str | None,
    budget: _Budgeted,
) -> Notification:
    if id_anpr is None or not _DIGITS.fullmatch(id_anpr):
        shown = "is missing" if id_anpr is None else f"{id_anpr[:40]!r} is not 1-30 digits"
        raise _Unreadable(f"elencoRisposte/idOperazioneANPR {shown}")
    response = _content(item, "contenutoRisposta", "formatoRisposta", budget)
    request = _content(item, "contenutoRichiesta", "formatoRichiesta", budget)
    if kind is None and response is not None:
        kind = _notification_kind(response)
    if kind is None:
        raise _Unreadable("elencoRisposte/tipoOperazione is missing")
    if kind in NOTIFICATION_TYPES:
        if response is None:
            raise _Unreadable(
                f"the {kind} has no contenutoRisposta: it cannot be read (dettaglioDati ID?)"
            )
        try:
            payload = parse_xml(response, max_bytes=budget.item_limit)
        except ProtocolError as exc:
            raise _Unreadable(f"contenutoRisposta is not usable XML: {exc}") from None
        return decode_notification(
            kind, payload, id_notifica=id_anpr, recipient=recipient, raw=response
        )
    return _result_item(
        kind,
        id_notifica=id_anpr,
        state=_text(item, "statoLavorazione"),
        response=response,
        response_format=_format(item, "formatoRisposta", response),
        request=request,
        request_format=_format(item, "formatoRichiesta", request),
        recipient=recipient,
        max_bytes=budget.item_limit,
    )


def _notification_kind(content: bytes) -> str | None:
    """``N031`` for a content whose root is ``NotificaN031`` (an item without
    ``tipoOperazione``, which the XSD allows)."""
    head = content[:4096]
    found = re.search(rb"<(?:[A-Za-z_][\w.-]*:)?Notifica(N[0-9]{3}|NRIS)\b", head)
    return found.group(1).decode() if found else None


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _format(item: Mapping[str, Any], name: str, content: bytes | None) -> str | None:
    if content is None:
        return None
    return (_text(item, name) or "").lower() or None


def _content(
    item: Mapping[str, Any], name: str, format_name: str, budget: _Budgeted
) -> bytes | None:
    """A content decoded: base64, then gunzipped when ``gz``; ``None`` when absent."""
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Unreadable(f"{name} is not base64 text")
    text = "".join(value.split())
    if not text:
        # Present but empty: an xop:Include whose MTOM part is missing leaves just this.
        raise _Unreadable(f"{name} is present but empty (an xop:Include without its part?)")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Unreadable(f"{name} is not base64") from None
    fmt = (_text(item, format_name) or "").lower()
    if not fmt:
        fmt = "gz" if data[:2] == _GZIP_MAGIC else "xml"
    if fmt == "gz":
        data = _gunzip(data, name, budget)
    elif fmt == "xml":
        if len(data) > budget.cap():
            _over(name, len(data), budget)
    else:
        raise _Unreadable(f"{format_name} {fmt[:10]!r} is unknown (gz or xml)")
    budget.take(len(data))
    return data


def _over(name: str, size: int | None, budget: _Budgeted) -> None:
    """A content too large: the item is quarantined if it alone exceeds the item limit,
    otherwise the page is refused (its contents exceed the page limit in all)."""
    if budget.item_limit <= budget.page_limit - budget.used:
        shown = f"{size} bytes" if size is not None else f"more than {budget.item_limit} bytes"
        raise _Unreadable(f"{name} decompresses to {shown}, beyond {budget.item_limit}")
    raise budget.page_full()


def _gunzip(data: bytes, name: str, budget: _Budgeted) -> bytes:
    """Decompress one gzip member, never producing more than the budget allows."""
    cap = budget.cap()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise _Unreadable(f"{name} is not a gzip stream: {exc}") from None
    if len(out) > cap or inflater.unconsumed_tail:
        _over(name, None, budget)
    if not inflater.eof:
        raise _Unreadable(f"{name} is a truncated gzip stream")
    if inflater.unused_data:
        raise _Unreadable(f"{name} has data after its gzip stream")
    return out


def _item_xml(item: Mapping[str, Any]) -> bytes:
    """The item as received, as an ``elencoRisposte`` element (what the quarantine keeps)."""
    root = etree.Element("elencoRisposte")
    for name, value in item.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            continue
        child = etree.SubElement(root, name)
        try:
            child.text = value if isinstance(value, str) else repr(value)
        except ValueError:  # characters XML cannot carry
            child.text = repr(value)
    return etree.tostring(root)


# ----------------------------------------------------------------------------- documents


def _element_items(root: etree._Element) -> list[dict[str, str]]:
    items = []
    for element in root.iter("{*}elencoRisposte"):
        item: dict[str, str] = {}
        for child in element.iterchildren(tag=etree.Element):
            name = etree.QName(child).localname
            if next(child.iterchildren(tag=etree.Element), None) is not None:
                raise ProtocolError(
                    f"elencoRisposte/{name} holds elements (an xop:Include without its MTOM part?)"
                )
            item[name] = child.text or ""
        items.append(item)
    return items


def read_notifications(
    data: bytes,
    *,
    compressed: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    recipient: str | None = None,
) -> tuple[list[Notification], list[InvalidNotification]]:
    """Decode the result items of a 4005 answer given as XML (a SOAP envelope, or the
    ``RispostaMultipla4005`` element): events, and the items to quarantine.

    Before 0.2 this read a ``<notifiche><notifica>`` document that ANPR never sends; such a
    document (no ``elencoRisposte``) is now a :class:`~anpr_client.errors.ProtocolError`
    rather than an empty result. ``compressed`` is ignored: each item says its format.
    """
    if compressed is not None:
        old_call("read_notifications", "compressed= is ignored: each item says its format")
    root = parse_xml(data, max_bytes=max_bytes)
    items = _element_items(root)
    if not items and not _has_element(root, "RispostaMultipla4005"):
        raise ProtocolError("no 4005 answer here: neither RispostaMultipla4005 nor elencoRisposte")
    page = read_items(items, recipient=recipient, max_item_bytes=max_bytes)
    return page.events, page.quarantined


def _has_element(root: etree._Element, local: str) -> bool:
    return next(root.iter("{*}" + local), None) is not None
