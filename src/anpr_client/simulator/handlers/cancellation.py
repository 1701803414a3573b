"""2001 (death) and 2003 (cancellation for other reasons) from the registry.

The person (``generalitaPerRicerca``: codice fiscale or idSchedaSoggettoANPR) must be resident
in the requesting Comune (EN117 otherwise).

- **2001** records a death: ``datiDecesso/dataEvento`` is required (EN081);
  ``motivoCancellazione/tipoMotivoCancellazione``, when given, is ``1`` (death) or ``2``
  (presumed death).
- **2003** cancels for the other reasons of ANPR's table of reasons for cancellation
  (``datiCancellazione/motivoCancellazione``, from ``dataDecorrenzaCancellazione``): ``3`` a
  move to a Comune **not** on ANPR (``destinazione/comune``; a Comune on ANPR is refused with
  EN436 — its arrival is a 5005 of the destination), ``5``/``8`` abroad
  (``destinazione/localita``), and the others without a destination. Death (1, 2) is 2001's.

Members of the family left behind get the ``codiceLegame`` given in the request's list of
family members; a family that lost its head otherwise gets its eldest member as head.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..household import Household, Person
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import changed_subject, effective_date, locate, text, text_at

__all__ = ["cancel_for_other_reasons", "register_death"]

_DEATH: Final = frozenset({"1", "2"})
_OTHER: Final = frozenset({str(n) for n in range(3, 14)})
_TO_COMUNE: Final = "3"
_ABROAD: Final = frozenset({"5", "8"})


def _resident(ctx: Context, req: Request) -> Person:
    person = locate(
        ctx, req.payload.get("generalitaPerRicerca") or {}, where="generalitaPerRicerca"
    )
    if not person.resident or person.comune != req.comune:
        raise Rejected(
            entry(
                "EN117",
                f"{person.codice_fiscale} is not a resident of Comune {req.comune}",
                field="generalitaPerRicerca",
                value=person.codice_fiscale,
            )
        )
    return person


def _household_left(
    ctx: Context,
    req: Request,
    household: Household | None,
    members: Sequence[Mapping[str, Any]],
    since: dt.date,
    where: str,
) -> list[dict[str, Any]]:
    if household is None:
        return []
    out = []
    for i, item in enumerate(members):
        member = locate(ctx, item.get("generalita") or {}, where=f"{where}[{i}]")
        relation = text((item.get("legameSoggetto") or {}).get("codiceLegame"))
        if member.household_id != household.id or relation is None:
            continue
        updated = ctx.registry.set_relation(
            member, relation, since=since, operation=req.id_operazione_anpr
        )
        out.append(changed_subject(ctx, updated))
    ctx.registry.promote_head(household.id, since=since, operation=req.id_operazione_anpr)
    return out


def _cancel(
    ctx: Context,
    req: Request,
    *,
    reason: str,
    since: dt.date,
    died: dt.date | None,
    members: str,
) -> OkAnswer:
    """Cancel the resident the request names (a death on ``died``; otherwise from ``since``)
    and answer the changed subjects: the person, then the members of the household left behind
    that the request's list ``members`` gives a new ``codiceLegame``."""
    person = _resident(ctx, req)
    household = ctx.registry.household_of(person)
    if died is not None:
        cancelled = ctx.registry.record_death(person, date=died, operation=req.id_operazione_anpr)
    else:
        cancelled = ctx.registry.cancel(person, date=since, operation=req.id_operazione_anpr)
    variati = [
        changed_subject(
            ctx,
            cancelled,
            previous_household=household,
            cancellation={"motivoCancellazione": reason, "dataDecorrenzaCancellazione": since},
        )
    ]
    variati += _household_left(ctx, req, household, req.payload.get(members) or [], since, members)
    return OkAnswer("Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}})


def register_death(ctx: Context, req: Request) -> OkAnswer:
    """2001: record the death of a resident."""
    since = effective_date(req, ctx)
    motivo = req.payload.get("motivoCancellazione") or {}
    reason = (text(motivo.get("tipoMotivoCancellazione")) or "1").lstrip("0")
    if reason not in _DEATH:
        raise Rejected(
            entry(
                "EC006",
                f"tipoMotivoCancellazione {reason} is not a death: other cancellations are 2003",
                field="motivoCancellazione/tipoMotivoCancellazione",
                value=reason,
            )
        )
    decesso_data = req.payload.get("datiDecesso") or {}
    if not decesso_data.get("dataEvento"):
        raise Rejected(
            entry("EN081", "datiDecesso/dataEvento is required", field="datiDecesso/dataEvento")
        )
    died = parse_date(decesso_data["dataEvento"])
    if died > since:
        raise Rejected(
            entry(
                "ES007",
                "the date of death is after dataDecorrenza",
                field="datiDecesso/dataEvento",
                value=died,
            )
        )
    return _cancel(
        ctx, req, reason=reason, since=since, died=died, members="elencoSoggettiFamiglia"
    )


def cancel_for_other_reasons(ctx: Context, req: Request) -> OkAnswer:
    """2003: cancel a resident for a reason other than death."""
    effective_date(req, ctx)
    dati = req.payload.get("datiCancellazione") or {}
    reason = (text(dati.get("motivoCancellazione")) or "").lstrip("0")
    field = "datiCancellazione/motivoCancellazione"
    if reason in _DEATH:
        raise Rejected(entry("EC006", "a death is recorded with 2001", field=field, value=reason))
    if reason not in _OTHER:
        raise Rejected(
            entry(
                "EC006",
                f"motivoCancellazione {reason or '(missing)'} is not a reason of ANPR's table",
                field=field,
                value=reason,
            )
        )
    since = parse_date(dati.get("dataDecorrenzaCancellazione"))
    destinazione = req.payload.get("destinazione") or {}
    if reason == _TO_COMUNE:
        istat = text_at(destinazione, "comune", "codiceIstat")
        if istat is None:
            raise Rejected(
                entry(
                    "EN081",
                    "a move to another Comune needs destinazione/comune/codiceIstat",
                    field="destinazione/comune",
                )
            )
        if ctx.registry.is_subentrato(istat):
            raise Rejected(
                entry(
                    "EN436",
                    f"Comune {istat} is on ANPR: it records the arrival with 5005, "
                    "there is nothing to cancel",
                    field="destinazione/comune/codiceIstat",
                    value=istat,
                )
            )
    elif reason in _ABROAD and text_at(destinazione, "localita", "codiceStato") is None:
        raise Rejected(
            entry(
                "EN081",
                "a move abroad needs destinazione/localita/codiceStato",
                field="destinazione/localita",
            )
        )
    return _cancel(ctx, req, reason=reason, since=since, died=None, members="elencoSoggetti")
