"""The 2000 family: 2001 (death), 2003 (other reasons), 2009 (a convivenza), 2012 (a section).

2001 and 2003 cancel a person of the requesting Comune (``generalitaPerRicerca``: codice
fiscale or idSchedaSoggettoANPR): a resident (APR) or a citizen abroad (AIRE). A person of
another Comune is refused (EN117), a record already closed (deceased, cancelled) too (ES102 by
codice fiscale, ES101 by id: the *scheda archiviata* of ANPR's error table).

- **2001** records a death: ``datiDecesso/dataEvento`` is required (EN081) and not after
  ``dataDecorrenza`` (ES007). The reason is ``tipoMotivoCancellazione`` for a resident (ANPR's
  table 15) and ``tipoMotivoCancellazioneAIRE`` for a citizen abroad (table 28): ``1`` death,
  ``2`` presumed death; the other table for the subject's kind is EN370.
- **2003** cancels for the other reasons (``datiCancellazione/motivoCancellazione``, from
  ``dataDecorrenzaCancellazione``). A resident (table 15): ``3`` a move to a Comune **not** on
  ANPR (``destinazione/comune``; a Comune on ANPR is refused with EN436 — its arrival is a 5005
  of the destination; a foreign state is EN376), ``5`` a foreigner leaving for abroad
  (``destinazione/localita``), ``8`` an Italian moving abroad is not a cancellation but an
  AIRE registration (A006 ``tipoMutazione`` 1, EN346, italia/anpr#2129), ``12`` *ripristino
  della posizione precedente* (the previous Comune of residence, when it is on ANPR, gets an
  N014 to restore its record, italia/anpr#823, #1942, #1465), and the others of the table. A
  citizen abroad (table 28): ``3``/``4`` registered by a Comune not on ANPR (no foreign state,
  EN374), ``7`` moved to the AIRE of a Comune not on ANPR (no Comune, EN375), ``5``, ``6``,
  ``8``, ``10``. Death (1, 2) is 2001's.
- **2009** archives an empty convivenza of the Comune (``estremiSchedaConvivenza``,
  ``tipoScheda`` 4, EN342) from ``datiArchiviazione/dataDecorrenzaArchiviazione``: one with
  members is refused (EN126), an unknown one or another Comune's too (EN135).
- **2012** deletes an electoral section (``datiSezione``: the Comune and
  ``sezioneelettoralenum``, italia/anpr#4294) of the requesting Comune (EN378 otherwise); one
  the Comune does not have is EN557 (italia/anpr#4037, #3695). The registry's sections are
  written by 5011 or by tests (``sim.store.add_electoral_section``).

Members of the family left behind get the ``codiceLegame`` given in the request's list of
family members; a family that lost its head otherwise gets its eldest member as head.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .. import payloads
from ..household import SCHEDA_CONVIVENZA, Household, Person
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import (
    changed_subject,
    check_scheda_type,
    effective_date,
    locate,
    locate_registered,
    not_in_future,
    notify,
    text,
    text_at,
)

__all__ = [
    "archive_cohabitation",
    "cancel_for_other_reasons",
    "delete_electoral_section",
    "register_death",
]

_DEATH: Final = frozenset({"1", "2"})
_OTHER: Final = frozenset({str(n) for n in range(3, 14)})
"""Table 15 (residents) without death."""
_AIRE_OTHER: Final = frozenset({"3", "4", "5", "6", "7", "8", "10"})
"""Table 28 (citizens abroad) without death."""
_TO_COMUNE: Final = "3"
_ABROAD: Final = "5"
_TO_AIRE: Final = "8"
_RESTORATION: Final = "12"
_AIRE_TO_APR: Final = frozenset({"3", "4"})
_AIRE_TO_AIRE: Final = "7"


def _of_this_comune(ctx: Context, req: Request) -> Person:
    person = locate_registered(
        ctx, req.payload.get("generalitaPerRicerca") or {}, where="generalitaPerRicerca"
    )
    if person.comune != req.comune:
        raise Rejected(
            entry(
                "EN117",
                f"{person.codice_fiscale} is a person of Comune {person.comune}, "
                f"not of Comune {req.comune}",
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
    person: Person,
    *,
    reason: str,
    since: dt.date,
    died: dt.date | None,
    members: str,
) -> OkAnswer:
    """Cancel ``person`` (a death on ``died``; otherwise from ``since``) and answer the changed
    subjects: the person, then the members of the household left behind that the request's
    list ``members`` gives a new ``codiceLegame``."""
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
    """2001: record the death of a resident or of a citizen abroad."""
    since = effective_date(req, ctx)
    person = _of_this_comune(ctx, req)
    motivo = req.payload.get("motivoCancellazione") or {}
    key = "tipoMotivoCancellazioneAIRE" if person.aire else "tipoMotivoCancellazione"
    other = "tipoMotivoCancellazione" if person.aire else "tipoMotivoCancellazioneAIRE"
    if text(motivo.get(other)) is not None:
        raise Rejected(
            entry(
                "EN370",
                f"{person.codice_fiscale} is {'in the AIRE' if person.aire else 'resident'}: "
                f"its reason goes in {key}",
                field=f"motivoCancellazione/{other}",
                value=text(motivo.get(other)),
            )
        )
    reason = (text(motivo.get(key)) or "1").lstrip("0")
    if reason not in _DEATH:
        raise Rejected(
            entry(
                "EC006",
                f"{key} {reason} is not a death: other cancellations are 2003",
                field=f"motivoCancellazione/{key}",
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
        ctx,
        req,
        person,
        reason=reason,
        since=since,
        died=died,
        members="elencoSoggettiFamiglia",
    )


def _check_destination(ctx: Context, person: Person, reason: str, destinazione: Any) -> None:
    comune = text_at(destinazione, "comune", "codiceIstat")
    state = text_at(destinazione, "localita", "codiceStato")
    if person.aire:
        if reason in _AIRE_TO_APR and state is not None:
            raise Rejected(
                entry(
                    "EN374",
                    f"reason {reason} of a citizen abroad is a registration in Italy: "
                    "no foreign destination",
                    field="destinazione/localita",
                    value=state,
                )
            )
        if reason == _AIRE_TO_AIRE and comune is not None:
            raise Rejected(
                entry(
                    "EN375",
                    "reason 7 of a citizen abroad names no destination Comune",
                    field="destinazione/comune",
                    value=comune,
                )
            )
        if reason in _AIRE_TO_APR and comune is not None:
            _not_on_anpr(ctx, comune)
        return
    if reason == _TO_COMUNE:
        if state is not None:
            raise Rejected(
                entry(
                    "EN376",
                    "a move to another Comune (reason 3) has no foreign destination",
                    field="destinazione/localita",
                    value=state,
                )
            )
        if comune is None:
            raise Rejected(
                entry(
                    "EN081",
                    "a move to another Comune needs destinazione/comune/codiceIstat",
                    field="destinazione/comune",
                )
            )
        _not_on_anpr(ctx, comune)
    elif reason == _ABROAD and state is None:
        raise Rejected(
            entry(
                "EN081",
                "a move abroad needs destinazione/localita/codiceStato",
                field="destinazione/localita",
            )
        )


def _not_on_anpr(ctx: Context, istat: str) -> None:
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


def cancel_for_other_reasons(ctx: Context, req: Request) -> OkAnswer:
    """2003: cancel a person of the Comune for a reason other than death."""
    effective_date(req, ctx)
    person = _of_this_comune(ctx, req)
    dati = req.payload.get("datiCancellazione") or {}
    reason = (text(dati.get("motivoCancellazione")) or "").lstrip("0")
    field = "datiCancellazione/motivoCancellazione"
    table = "28 (citizens abroad)" if person.aire else "15"
    if reason in _DEATH:
        raise Rejected(entry("EC006", "a death is recorded with 2001", field=field, value=reason))
    if reason not in (_AIRE_OTHER if person.aire else _OTHER):
        raise Rejected(
            entry(
                "EC006",
                f"motivoCancellazione {reason or '(missing)'} is not a reason of ANPR's table "
                f"{table}",
                field=field,
                value=reason,
            )
        )
    if reason == _TO_AIRE and not person.aire:
        raise Rejected(
            entry(
                "EN346",
                "a resident moving abroad is registered in the AIRE: use A006 with "
                "tipoMutazione 1, not a cancellation",
                field=field,
                value=reason,
            )
        )
    since = parse_date(dati.get("dataDecorrenzaCancellazione"))
    _check_destination(ctx, person, reason, req.payload.get("destinazione") or {})
    previous = ctx.registry.previous_comune(person) if reason == _RESTORATION else None
    answer = _cancel(
        ctx, req, person, reason=reason, since=since, died=None, members="elencoSoggetti"
    )
    if previous is None or previous == req.comune or not ctx.registry.is_subentrato(previous):
        return answer
    cancelled = ctx.registry.person_by_id(person.id)
    assert cancelled is not None
    notify(ctx, req, "N014", recipient=previous, person=cancelled, since=since)
    return OkAnswer(answer.branch, answer.content, after_commit=(ctx.notifier.kick,))


def _cohabitation(ctx: Context, req: Request, scheda: Mapping[str, Any]) -> Household:
    where = "estremiSchedaConvivenza"
    check_scheda_type(scheda, SCHEDA_CONVIVENZA, where=where)
    household_id = text(scheda.get("idFamigliaConvivenzaANPR"))
    if household_id is None:
        raise Rejected(
            entry(
                "EF011",
                "name the convivenza by its idFamigliaConvivenzaANPR",
                field=f"{where}/idFamigliaConvivenzaANPR",
            )
        )
    household = ctx.registry.household(household_id)
    if (
        household is None
        or not household.cohabitation
        or household.comune != req.comune
        or not household.active
    ):
        raise Rejected(
            entry(
                "EN135",
                f"{household_id} is not an active convivenza of Comune {req.comune}",
                field=f"{where}/idFamigliaConvivenzaANPR",
                value=household_id,
            )
        )
    return household


def archive_cohabitation(ctx: Context, req: Request) -> OkAnswer:
    """2009: archive (cancel) an empty convivenza."""
    effective_date(req, ctx)
    household = _cohabitation(ctx, req, req.payload.get("estremiSchedaConvivenza") or {})
    if household.members:
        raise Rejected(
            entry(
                "EN126",
                f"convivenza {household.id} still has {len(household.members)} member(s): "
                "cancel or move them first",
                field="estremiSchedaConvivenza/idFamigliaConvivenzaANPR",
                value=household.id,
            )
        )
    dati = req.payload.get("datiArchiviazione") or {}
    day = not_in_future(
        ctx,
        parse_date(dati.get("dataDecorrenzaArchiviazione")),
        field="datiArchiviazione/dataDecorrenzaArchiviazione",
    )
    if day < household.since:
        raise Rejected(
            entry(
                "EN240",
                f"convivenza {household.id} exists since {household.since.isoformat()}: it "
                f"cannot be archived from {day.isoformat()}",
                field="datiArchiviazione/dataDecorrenzaArchiviazione",
                value=day,
            )
        )
    ctx.registry.archive_household(household.id, date=day, operation=req.id_operazione_anpr)
    archived = ctx.registry.household(household.id)
    assert archived is not None
    return OkAnswer(
        "Risposta_Comune",
        {
            "listaSoggettiVariati": {
                "datiSoggetto": [{"famigliaConvivenza": payloads.household_record(archived)}]
            }
        },
    )


def delete_electoral_section(ctx: Context, req: Request) -> OkAnswer:
    """2012: delete an electoral section of the Comune."""
    dati = req.payload.get("datiSezione") or {}
    istat = text_at(dati, "comune", "codiceIstat")
    number = text(dati.get("sezioneelettoralenum"))
    if istat != req.comune:
        raise Rejected(
            entry(
                "EN378",
                f"Comune {req.comune} can delete only its own sections (not Comune {istat}'s)",
                field="datiSezione/comune/codiceIstat",
                value=istat,
            )
        )
    if number is None or not ctx.registry.remove_electoral_section(req.comune, number):
        raise Rejected(
            entry(
                "EN557",
                f"Comune {req.comune} has no electoral section {number}",
                field="datiSezione/sezioneelettoralenum",
                value=number,
            )
        )
    return OkAnswer("Risposta_Comune", {})
