"""1014 — a Comune's administrative procedures (*procedimenti amministrativi*).

ANPR's table of web services: 1014 inserts, changes and archives a procedure linked to a
registration. A Comune opens one when a practice starts (an immigration, a change of
residence…), moves it through its steps and closes it when the practice is defined; while it
is open, **other** Comuni cannot register or move its subjects (EN531, italia/anpr#2024,
#1967, #4757), the Comune's own operations can (italia/anpr#3229). Closing it rolls nothing
back (italia/anpr#336) and a closed procedure cannot be reopened (italia/anpr#1987).

``procedimentoIstruttoria``: ``numeroPraticaComune`` always (EN247, italia/anpr#2135);
``statoProcedimento`` of ANPR's table of procedure states drives it:

- ``1`` opens the procedure: a number the Comune has not used (EN151), ``motivoAvvio``, the
  operation that starts it (ANPR's table of triggers, 1-12; EN191 when missing), and the
  subjects in ``generalitaPerRicerca`` (each on ANPR and registered; none for a procedure that
  will register a new person, triggers 1, 2, 8, 9, 11: EN128). ANPR numbers it
  (``numeroPraticaAnpr``, in the answer's ``dettagliProcedimento``).
- ``2`` closes it (``dataChiusura``, default ``dataStato``; ``esitoChiusura``), any other state
  records a step; both name an open procedure of the Comune (unknown number: EHRA1,
  italia/anpr#3601; a ``numeroPraticaAnpr`` that is not its own: EHRA0; closed: EN442), with a
  ``dataStato`` not before its last one (EN443, italia/anpr#1841); subjects listed join it.

``tipoOperazione`` is echoed, not interpreted: its codes are not public (the state says what
happens). A subject listed twice is EN186.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..household import Person, Procedure
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import effective_date, locate_registered, not_in_future, text

__all__ = ["manage_procedure", "procedure_details"]

_OPEN: Final = "1"
_CLOSE: Final = "2"
_TRIGGERS: Final = frozenset({str(n) for n in range(1, 13)})
_REGISTRATIONS: Final = frozenset({"1", "2", "8", "9", "11"})
"""Triggers that register a person not on ANPR yet: 1001, 1002, A001, A002, 1010."""
_WHERE: Final = "procedimentoIstruttoria"


def _subjects(ctx: Context, req: Request) -> list[Person]:
    found: list[Person] = []
    for i, generalita in enumerate(req.payload.get("generalitaPerRicerca") or []):
        person = locate_registered(ctx, generalita, where=f"generalitaPerRicerca[{i}]")
        if any(p.id == person.id for p in found):
            raise Rejected(
                entry(
                    "EN186",
                    f"{person.codice_fiscale} is listed twice",
                    field=f"generalitaPerRicerca[{i}]",
                    value=person.codice_fiscale,
                )
            )
        found.append(person)
    return found


def _open(
    ctx: Context, req: Request, dati: Mapping[str, Any], number: str, day: dt.date
) -> Procedure:
    if ctx.registry.procedure(req.comune, number) is not None:
        raise Rejected(
            entry(
                "EN151",
                f"Comune {req.comune} has a procedure numbered {number} already",
                field=f"{_WHERE}/numeroPraticaComune",
                value=number,
            )
        )
    trigger = (text(dati.get("motivoAvvio")) or "").lstrip("0")
    if trigger not in _TRIGGERS:
        raise Rejected(
            entry(
                "EN191",
                f"opening a procedure needs motivoAvvio, the operation that starts it (1-12; "
                f"got {trigger or 'none'})",
                field=f"{_WHERE}/motivoAvvio",
                value=trigger or None,
            )
        )
    subjects = _subjects(ctx, req)
    if trigger in _REGISTRATIONS and subjects:
        raise Rejected(
            entry(
                "EN128",
                f"a procedure of trigger {trigger} registers a person not on ANPR yet: "
                "list no subject",
                field="generalitaPerRicerca",
            )
        )
    return ctx.registry.open_procedure(
        req.comune, number, trigger=trigger, state=_OPEN, date=day, subjects=subjects
    )


def _update(
    ctx: Context, req: Request, dati: Mapping[str, Any], number: str, day: dt.date, state: str
) -> Procedure:
    procedure = ctx.registry.procedure(req.comune, number)
    if procedure is None:
        raise Rejected(
            entry(
                "EHRA1",
                f"Comune {req.comune} has no procedure numbered {number}",
                field=f"{_WHERE}/numeroPraticaComune",
                value=number,
            )
        )
    anpr_number = text(dati.get("numeroPraticaAnpr"))
    if anpr_number is not None and anpr_number != procedure.id:
        raise Rejected(
            entry(
                "EHRA0",
                f"procedure {number} of Comune {req.comune} is numbered {procedure.id} by ANPR, "
                f"not {anpr_number}",
                field=f"{_WHERE}/numeroPraticaAnpr",
                value=anpr_number,
            )
        )
    if not procedure.open:
        raise Rejected(
            entry(
                "EN442",
                f"procedure {number} was closed on {procedure.closed}: it cannot change",
                field=f"{_WHERE}/numeroPraticaComune",
                value=number,
            )
        )
    if day < procedure.state_date:
        raise Rejected(
            entry(
                "EN443",
                f"dataStato {day.isoformat()} is before the procedure's last change "
                f"({procedure.state_date.isoformat()})",
                field=f"{_WHERE}/dataStato",
                value=day,
            )
        )
    closed = outcome = None
    if state == _CLOSE:
        closing = dati.get("dataChiusura")
        closed = parse_date(closing) if closing else day
        outcome = text(dati.get("esitoChiusura"))
    return ctx.registry.update_procedure(
        procedure,
        state=state,
        date=day,
        subjects=_subjects(ctx, req),
        closed=closed,
        outcome=outcome,
    )


def procedure_details(procedure: Procedure, operation_kind: str) -> dict[str, Any]:
    """``tipoDatiProcedimentoIstruttoria`` of a procedure (``tipoOperazione``
    ``operation_kind``: echoed from a request, its codes are not public)."""
    details: dict[str, Any] = {
        "numeroPraticaAnpr": procedure.id,
        "numeroPraticaComune": procedure.number,
        "tipoOperazione": operation_kind,
    }
    if procedure.closed is not None:
        details["dataChiusura"] = procedure.closed
    if procedure.trigger:
        details["motivoAvvio"] = procedure.trigger
    details["dataStato"] = procedure.state_date
    details["statoProcedimento"] = procedure.state
    if procedure.outcome:
        details["esitoChiusura"] = procedure.outcome
    return details


def manage_procedure(ctx: Context, req: Request) -> OkAnswer:
    """1014: open a procedure, record a step of it, close it."""
    effective_date(req, ctx)
    dati = req.payload.get(_WHERE) or {}
    number = text(dati.get("numeroPraticaComune"))
    if number is None:
        raise Rejected(
            entry(
                "EN247",
                "name the procedure by the Comune's number (numeroPraticaComune)",
                field=f"{_WHERE}/numeroPraticaComune",
            )
        )
    state = (text(dati.get("statoProcedimento")) or "").lstrip("0")
    day = not_in_future(ctx, parse_date(dati.get("dataStato")), field=f"{_WHERE}/dataStato")
    if state == _OPEN:
        procedure = _open(ctx, req, dati, number, day)
    else:
        procedure = _update(ctx, req, dati, number, day, state)
    kind = text(dati.get("tipoOperazione")) or ""
    if kind:
        ctx.registry.set_procedure_kind(procedure.id, kind)
    details = procedure_details(procedure, kind)
    subjects = [ctx.registry.person_by_id(i) for i in procedure.subjects]
    variati = [
        {
            "identificativi": {"idANPR": p.id_anpr},
            "generalitaAttuali": payloads.personal_data(p),
            "dettagliProcedimento": details,
        }
        for p in subjects
        if p is not None
    ] or [{"dettagliProcedimento": details}]
    return OkAnswer("Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}})
