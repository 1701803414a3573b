"""5001 — change of a household's record as a whole (*mutazione famiglia/convivenza*).

5001 changes a household as it is: it does not move persons between households, which is
5005's (italia/anpr#486: "5001 is used when the change, of residence or of composition,
concerns the whole family as it is"). A family split is a 5005 (some members take up a new
family) followed, when needed, by a 5001 naming the remaining family's head (#685, #2812).

The household is ``famigliaConvivenza/idFamigliaConvivenzaANPR``: without it EF028 (composition)
or EF029 (residence); one not on ANPR or archived is EF002, another Comune's EN119 (unless it
moves here with ``tipoMutazione`` 4). ``datiControllo/tipoMutazione`` (#476, #684, #2812):

- ``2`` the composition (*composizione scheda*): each person of ``elencoSoggettiFamiglia`` takes
  the ``legameSoggetto/codiceLegame`` given, from its ``dataDecorrenza``. The persons must be
  members of the household (EF044) and on record (ES003; closed records ES101/ES102); the list
  names the head, even when only another member changes (EF008, #707, #224, #260), one head only
  (EF009); naming a new head lists the previous one with their new relation (EN482, #727, #685).
- ``4`` the residence: the whole household moves to ``residenzaFamigliaConvivenza``, which must
  be in the requesting Comune (EF042; without an address EF041). A household of another Comune
  on ANPR moves here with its record (#2398, #2965): that Comune gets an N010 per member, as for
  a 5005.
- ``1`` (tutor / responsible of a convivenza) and ``3`` (the reason the family was formed) are
  answered EN379, not simulated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .. import payloads
from ..household import Household, Person
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import (
    born_by,
    changed_subject,
    effective_date,
    locate_registered,
    no_procedure_elsewhere,
    not_in_future,
    text,
    text_at,
)

__all__ = ["change_household"]

_COMPOSITION, _RESIDENCE = "2", "4"
_WHERE = "famigliaConvivenza/idFamigliaConvivenzaANPR"


def _household(ctx: Context, req: Request, *, missing: str, anywhere: bool) -> Household:
    household_id = text_at(req.payload, "famigliaConvivenza", "idFamigliaConvivenzaANPR")
    if household_id is None:
        raise Rejected(
            entry(
                missing,
                "name the household: famigliaConvivenza/idFamigliaConvivenzaANPR",
                field=_WHERE,
            )
        )
    household = ctx.registry.household(household_id)
    if household is None or not household.active or not household.members:
        raise Rejected(
            entry(
                "EF002",
                f"family {household_id} is not on ANPR or is archived",
                field=_WHERE,
                value=household_id,
            )
        )
    if household.comune != req.comune and not anywhere:
        raise Rejected(
            entry(
                "EN119",
                f"family {household_id} is of Comune {household.comune}, not of {req.comune}",
                field=_WHERE,
                value=household_id,
            )
        )
    return household


def change_household(ctx: Context, req: Request) -> OkAnswer:
    """5001: the composition (2) or the residence (4) of a household."""
    since = effective_date(req, ctx)
    tipo = text_at(req.payload, "datiControllo", "tipoMutazione")
    if tipo == _COMPOSITION:
        return _composition(ctx, req, since)
    if tipo == _RESIDENCE:
        return _residence(ctx, req, since)
    raise Rejected(
        entry(
            "EN379",
            f"tipoMutazione {tipo} of 5001 is not simulated (2 composition, 4 residence)",
            field="datiControllo/tipoMutazione",
            value=tipo,
        )
    )


def _relation(item: Mapping[str, Any], where: str) -> tuple[str, dt.date | None]:
    legame = item.get("legameSoggetto") or {}
    code = text(legame.get("codiceLegame"))
    if code is None:
        raise Rejected(
            entry(
                "EF006",
                "give the relation to the head (legameSoggetto/codiceLegame)",
                field=f"{where}/legameSoggetto",
            )
        )
    given = legame.get("dataDecorrenza")
    return code.lstrip("0") or "0", parse_date(given) if given else None


def _composition(ctx: Context, req: Request, since: dt.date) -> OkAnswer:
    household = _household(ctx, req, missing="EF028", anywhere=False)
    soggetti = req.payload.get("elencoSoggettiFamiglia") or []
    if not soggetti:
        raise Rejected(
            entry(
                "EF006",
                "list the members whose relation changes, and the head (elencoSoggettiFamiglia)",
                field="elencoSoggettiFamiglia",
            )
        )
    members = {m.id: m for m in household.members}
    listed: list[tuple[Person, str, dt.date]] = []
    for i, item in enumerate(soggetti):
        where = f"elencoSoggettiFamiglia[{i}]"
        person = locate_registered(ctx, item.get("generalita") or {}, where=where)
        if person.id not in members:
            raise Rejected(
                entry(
                    "EF044",
                    f"{person.codice_fiscale} is not a member of family {household.id}",
                    field=f"{where}/generalita",
                    value=person.codice_fiscale,
                )
            )
        if any(p.id == person.id for p, _, _ in listed):
            raise Rejected(
                entry(
                    "ES004",
                    f"{person.codice_fiscale} is listed twice",
                    field=where,
                    value=person.codice_fiscale,
                )
            )
        relation, day = _relation(item, where)
        day = not_in_future(ctx, day or since, field=f"{where}/legameSoggetto/dataDecorrenza")
        born_by(
            person.birth_date,
            day,
            field=f"{where}/legameSoggetto/dataDecorrenza",
            who=person.codice_fiscale,
        )
        listed.append((person, relation, day))
    heads = [p for p, relation, _ in listed if relation == "1"]
    if not heads:
        raise Rejected(
            entry(
                "EF008",
                "list the head of the family (codiceLegame 1) too, even when only another "
                "member's relation changes",
                field="elencoSoggettiFamiglia",
            )
        )
    if len(heads) > 1:
        raise Rejected(
            entry(
                "EF009",
                f"{len(heads)} persons are listed as head (codiceLegame 1): one only",
                field="elencoSoggettiFamiglia/legameSoggetto/codiceLegame",
            )
        )
    current = next((m for m in household.members if m.relation == "1"), None)
    if (
        current is not None
        and current.id != heads[0].id
        and not any(p.id == current.id for p, _, _ in listed)
    ):
        raise Rejected(
            entry(
                "EN482",
                f"{heads[0].codice_fiscale} becomes head: list the previous head "
                f"{current.codice_fiscale} with their new relation",
                field="elencoSoggettiFamiglia",
                value=current.codice_fiscale,
            )
        )
    variati = [
        changed_subject(
            ctx,
            ctx.registry.set_relation(
                person, relation, since=day, operation=req.id_operazione_anpr
            ),
        )
        for person, relation, day in listed
    ]
    return OkAnswer("Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}})


def _residence(ctx: Context, req: Request, since: dt.date) -> OkAnswer:
    household = _household(ctx, req, missing="EF029", anywhere=True)
    residences = req.payload.get("residenzaFamigliaConvivenza")
    address = payloads.address_of(residences)
    if address is None:
        raise Rejected(
            entry(
                "EF041",
                "a change of residence needs the new address (residenzaFamigliaConvivenza/"
                "indirizzo)",
                field="residenzaFamigliaConvivenza",
            )
        )
    where = payloads.residence_comune(residences)
    if where != req.comune:
        raise Rejected(
            entry(
                "EF042",
                f"the residence is in Comune {where}: only that Comune can set it",
                field="residenzaFamigliaConvivenza/indirizzo/comune",
                value=where,
            )
        )
    if household.abroad:
        raise Rejected(
            entry(
                "EN346",
                f"family {household.id} lives abroad: its residence changes with A006",
                field=_WHERE,
                value=household.id,
            )
        )
    for member in household.members:
        born_by(member.birth_date, since, field="dataDecorrenza", who=member.codice_fiscale)
        no_procedure_elsewhere(ctx, req, member, where=_WHERE)
    origin = household.comune
    previous = household
    moved = ctx.registry.relocate_household(
        household.id, address, comune=req.comune, since=since, operation=req.id_operazione_anpr
    )
    variati = []
    for member in moved.members:
        provenance = origin if origin != req.comune else None
        if provenance is not None:
            requesting = ctx.registry.comune(req.comune)
            assert requesting is not None  # the gateway admits subentrati Comuni only
            ctx.notifier.residence_left(
                recipient=origin,
                person=member,
                requesting=requesting,
                operation=req.id_operazione_anpr,
                effective_date=since,
            )
        variati.append(
            changed_subject(ctx, member, previous_household=previous, provenance=provenance)
        )
    after = (ctx.notifier.kick,) if origin != req.comune else ()
    return OkAnswer(
        "Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}}, after_commit=after
    )
