"""The 4000 extraction family; 4005, asynchronous requests: ``elaborazione``, ``verificaStato``.

4005 answers as ANPR does (its official 4005 samples of 2019, italia/anpr ``src/note/ws/4000``,
and the answers integrators published, italia/anpr#4792, #4618, #1714):

- ``elaborazione`` takes the criteria (``ricercaElenchiRichieste``: ``statoLavorazione``, an
  optional ``operazioneRichiesta``, a period ``periodoRiferimentoRichieste`` or a range of
  ``identificativiANPR``), checks them — a period longer than 31 days, ending after the server's
  time, starting more than 180 days ago or reversed is refused with EN148 (#1906) — fixes the
  results, and answers ``statoRichiesta`` **0** with the extraction's ``idOperazioneANPR`` and
  its ``dataDisponibilita`` (now + ``extraction_delay``); when nothing matches, KO **EN122**
  "La richiesta effettuata non produce alcun risultato" (#1714).
- ``verificaStato`` (that id, page ``progressivo``) answers ``statoRichiesta`` 1 and the same
  ``dataDisponibilita`` until then; afterwards ``statoRichiesta`` 2, the ``comuneRichiesta``
  of the request (when it had one, #4618), its ``ricercaElenchiRichieste``, and **one**
  ``elencoRisposte`` **per result**. ``datiFornitura`` (``progressivoCorrente``,
  ``progressivoTotale``) is the XSD's paging, which no published answer shows: it is sent only
  when the results take more than one page (``extraction_page_size``). Contents travel as MTOM
  attachments (``xop:Include``, as in ex_004) or, with ``extraction_mtom`` off, as base64 text
  (as in #4792).

- **Notifications** (``operazioneRichiesta`` ``N0xx``, or ``statoLavorazione`` 7 not taken in
  charge, 8 taken, 9 all): each item is
  :func:`~anpr_client.simulator.notifications.notification_item`, the very notification the
  simulator pushes: its own id, ``gz`` content. ``dettaglioDati`` ``ID`` gives identifiers
  only; any other value gives the content, and a notification has no request to return (the
  comments of the official samples ex_003 and ex_004). Returned notifications become taken in
  charge.
- **Operations** of the Comune (any other ``operazioneRichiesta``; ``statoLavorazione`` 2
  succeeded, 3 failed, 9 all): one item per operation, with the stored request and/or answer
  as ``dettaglioDati`` asks (``ID``, ``RICHIESTA``, ``RISPOSTA``, ``TUTTO``; default ``ID``),
  ``formatoRichiesta``/``formatoRisposta`` per ``extraction_format``. Consultations (300x) and
  extractions (400x) are not listed.

The 4005 code is in the functions below; other 400x operations are to be added beside them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..clock import format_datetime, utc_iso
from ..notifications import java_gzip, notification_item
from .base import Context, OkAnswer, Rejected, Request, entry, parse_datetime
from .common import text

__all__ = ["asynchronous_request"]

_MAX_PERIOD: Final = dt.timedelta(days=31)
_MAX_AGE: Final = dt.timedelta(days=180)
_AUTO_GZIP: Final = 32 * 1024
_NOTIFICATION_STATES: Final = {"7": False, "8": True, "9": None}
_OPERATION_STATES: Final = {"2": "ok", "3": "ko", "6": "ok", "9": None}
_NO_RESULT: Final = "La richiesta effettuata non produce alcun risultato"  # EN122, #1714
_MTOM: Final = (
    ("contenutoRisposta", "application/octet-stream"),
    ("contenutoRichiesta", "application/octet-stream"),
)


# ----------------------------------------------------------------------------- 4005


def asynchronous_request(ctx: Context, req: Request) -> OkAnswer:
    if req.payload.get("elaborazione"):
        return _start_extraction(ctx, req, req.payload["elaborazione"])
    if req.payload.get("verificaStato"):
        return _extraction_status(ctx, req, req.payload["verificaStato"])
    raise Rejected(entry("EN132", "give elaborazione or verificaStato", field="Richiesta4005"))


def _start_extraction(ctx: Context, req: Request, elab: Mapping[str, Any]) -> OkAnswer:
    criteria = elab.get("ricercaElenchiRichieste")
    if not isinstance(criteria, Mapping):
        raise Rejected(
            entry(
                "EHR45",
                "give ricercaElenchiRichieste with a period or a range of ANPR ids",
                field="elaborazione/ricercaElenchiRichieste",
            )
        )
    requested = elab.get("comuneRichiesta")
    if isinstance(requested, Mapping) and text(requested.get("codiceIstat")) != req.comune:
        raise Rejected(
            entry(
                "EN167",
                "a Comune can only extract its own data",
                field="elaborazione/comuneRichiesta/codiceIstat",
                value=requested.get("codiceIstat"),
            )
        )
    period = criteria.get("periodoRiferimentoRichieste")
    ids = criteria.get("identificativiANPR")
    now = ctx.clock.now()
    start = end = None
    if isinstance(period, Mapping):
        start = parse_datetime(period.get("dataOraIniziale"))
        end = parse_datetime(period.get("dataOraFinale"))
        skew = dt.timedelta(seconds=ctx.config.clock_skew)
        where = "elaborazione/ricercaElenchiRichieste/periodoRiferimentoRichieste"
        problems = []
        if end < start:
            problems.append("the final date is before the initial date")
        if end > now + skew:
            problems.append(f"the final date is after the server time {format_datetime(now)}")
        if end - start > _MAX_PERIOD:
            problems.append("the period is longer than 31 days")
        if start < now - _MAX_AGE:
            problems.append("the period starts more than 180 days ago")
        if problems:
            raise Rejected(
                *(entry("EN148", f"period not allowed: {p}", field=where) for p in problems)
            )
    elif not isinstance(ids, Mapping):
        raise Rejected(
            entry(
                "EHR45",
                "give periodoRiferimentoRichieste or identificativiANPR",
                field="elaborazione/ricercaElenchiRichieste",
            )
        )
    stored = {
        "statoLavorazione": text(criteria.get("statoLavorazione")) or "9",
        "operazioneRichiesta": text(criteria.get("operazioneRichiesta")),
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "from": text(ids.get("protocolloANPRDa")) if isinstance(ids, Mapping) else None,
        "to": text(ids.get("protocolloANPRA")) if isinstance(ids, Mapping) else None,
        "dettaglioDati": text(elab.get("dettaglioDati")),
        "comuneRichiesta": isinstance(requested, Mapping),
        "criteria": _jsonable(criteria),
    }
    found = (
        _notification_ids(ctx, req, stored)
        if _is_notifications(stored)
        else _operation_ids(ctx, req, stored)
    )
    if not found:
        raise Rejected(entry("EN122", _NO_RESULT, field="elaborazione/ricercaElenchiRichieste"))
    ready = now + dt.timedelta(seconds=ctx.config.extraction_delay)
    with ctx.db.transaction() as conn:
        conn.execute(
            "INSERT INTO extractions (id_anpr, comune, ready_at, request, results) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                req.id_operazione_anpr,
                req.comune,
                utc_iso(ready),
                json.dumps(stored),
                json.dumps(found),
            ),
        )
    return OkAnswer(
        "RispostaMultipla4005",
        {
            "statoRichiesta": "0",  # accepted (the official sample ex_001)
            "idOperazioneANPR": req.id_operazione_anpr,
            "dataDisponibilita": format_datetime(ready),
        },
    )


def _is_notifications(stored: Mapping[str, Any]) -> bool:
    kind = (stored["operazioneRichiesta"] or "").upper()
    return kind.startswith("N") or (stored["statoLavorazione"] in _NOTIFICATION_STATES and not kind)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return None if value is None else str(value)


def _extraction_status(ctx: Context, req: Request, verifica: Mapping[str, Any]) -> OkAnswer:
    id_anpr = text(verifica.get("idOperazioneANPR")) or ""
    page = int(text(verifica.get("progressivo")) or "1")
    with ctx.db.read() as conn:
        row = conn.execute(
            "SELECT * FROM extractions WHERE id_anpr = ? AND comune = ?",
            (str(int(id_anpr)) if id_anpr.isdigit() else id_anpr, req.comune),
        ).fetchone()
    if row is None:
        raise Rejected(
            entry(
                "EN107",
                f"{id_anpr} is not an asynchronous request of Comune {req.comune}",
                field="verificaStato/idOperazioneANPR",
                value=id_anpr,
            )
        )
    stored = json.loads(row["request"])
    ready = dt.datetime.fromisoformat(row["ready_at"])
    base: dict[str, Any] = {
        "idOperazioneANPR": row["id_anpr"],
        "dataDisponibilita": format_datetime(ready),
    }
    if ctx.clock.now() < ready:
        return OkAnswer("RispostaMultipla4005", {"statoRichiesta": "1", **base})
    ids: list[str] = json.loads(row["results"] or "[]")
    size = ctx.config.extraction_page_size
    pages = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
    if not 1 <= page <= len(pages):
        raise Rejected(
            entry(
                "EN148",
                f"progressivo {page} is out of range (1-{len(pages)})",
                field="verificaStato/progressivo",
                value=page,
            )
        )
    content: dict[str, Any] = {"statoRichiesta": "2", **base}
    if stored.get("comuneRichiesta"):
        content["comuneRichiesta"] = payloads.comune_of(ctx.registry, req.comune)
    content["ricercaElenchiRichieste"] = stored["criteria"]
    if len(pages) > 1:
        content["datiFornitura"] = {
            "progressivoCorrente": str(page),
            "progressivoTotale": str(len(pages)),
        }
    chunk = pages[page - 1]
    if _is_notifications(stored):
        items = _notification_items(ctx, stored, chunk)
    else:
        items = [_operation_item(ctx, req, stored, i) for i in chunk]
    if items:
        content["elencoRisposte"] = items
    return OkAnswer(
        "RispostaMultipla4005", content, mtom=_MTOM if ctx.config.extraction_mtom else ()
    )


def _period(stored: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start = stored["start"]
    end = stored["end"]
    low = dt.datetime.fromisoformat(start) if start else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    high = dt.datetime.fromisoformat(end) if end else dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    return low, high


def _in_range(value: str, stored: Mapping[str, Any]) -> bool:
    low, high = stored["from"], stored["to"]
    number = int(value)
    return (low is None or number >= int(low)) and (high is None or number <= int(high))


def _notification_ids(ctx: Context, req: Request, stored: Mapping[str, Any]) -> list[str]:
    start, end = _period(stored)
    kind = stored["operazioneRichiesta"]
    records = ctx.notifier.in_period(
        req.comune,
        start,
        end,
        kind=kind.upper() if kind else None,
        consumed=_NOTIFICATION_STATES.get(stored["statoLavorazione"]),
    )
    return [r.id for r in records if _in_range(r.id, stored)]


def _notification_items(
    ctx: Context, stored: Mapping[str, Any], ids: list[str]
) -> list[dict[str, Any]]:
    records = [r for r in (ctx.notifier.get(i) for i in ids) if r is not None]
    content = stored["dettaglioDati"] != "ID"
    items = [notification_item(r, content=content) for r in records]
    if content:
        ctx.notifier.mark_consumed([r.id for r in records])
    return items


def _operation_ids(ctx: Context, req: Request, stored: Mapping[str, Any]) -> list[str]:
    start, end = _period(stored)
    state = stored["statoLavorazione"]
    if state not in _OPERATION_STATES:
        return []
    records = ctx.ledger.operations(
        req.comune,
        stored["operazioneRichiesta"],
        since=utc_iso(start),
        until=utc_iso(end),
        outcome=_OPERATION_STATES[state],
    )
    return [
        r.id_operazione_anpr
        for r in records
        if not r.service.startswith(("30", "40"))
        and r.service != "TestConn"
        and _in_range(r.id_operazione_anpr, stored)
    ]


def _operation_item(
    ctx: Context, req: Request, stored: Mapping[str, Any], id_anpr: str
) -> dict[str, Any]:
    record = ctx.ledger.find(req.comune, id_operazione_anpr=id_anpr)
    assert record is not None
    item: dict[str, Any] = {
        "idOperazioneANPR": record.id_operazione_anpr,
        "statoLavorazione": "2" if record.ok else "3",
        "tipoOperazione": record.service,
    }
    detail = stored["dettaglioDati"] or "ID"
    if detail in ("RICHIESTA", "TUTTO"):
        item["contenutoRichiesta"], item["formatoRichiesta"] = _encoded(ctx, record.request)
    if detail in ("RISPOSTA", "TUTTO"):
        item["contenutoRisposta"], item["formatoRisposta"] = _encoded(ctx, record.response_xml)
    return item


def _encoded(ctx: Context, document: bytes) -> tuple[str, str]:
    """A stored document as an item's content: base64 of the document (``xml``) or of its
    gzip (``gz``), as ``extraction_format`` says."""
    fmt = ctx.config.extraction_format
    if fmt == "auto":
        fmt = "gz" if len(document) > _AUTO_GZIP else "xml"
    data = java_gzip(document) if fmt == "gz" else document
    return base64.b64encode(data).decode("ascii"), fmt
