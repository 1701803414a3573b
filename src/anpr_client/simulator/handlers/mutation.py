"""5005 — change of residence, including the transfer between two subentrati Comuni.

The requesting Comune (``codMittente``) is the **destination**: only it may set a residence in
its territory (EF042). ``datiControllo/tipoScheda`` ``2`` puts the persons in a new family at
``residenzaFamiglia``; ``1`` adds them to the existing family ``generalitaSchedaFamiglia/
idFamigliaConvivenzaANPR`` of the destination. Each person of ``elencoSoggettiFamiglia`` (by
codice fiscale or idSchedaSoggettoANPR) moves there with its ``codiceLegame``. A person coming
from another Comune leaves that Comune's competence, and the simulator produces for that Comune
one N010 notification per person (see :mod:`..notifications`). A family left without its head
gets its eldest member as head, with the warning EN226 (update the family of provenance).
Only ``tipoMutazione`` ``2`` (residence) is simulated.
"""

from __future__ import annotations

from typing import Any

from ..household import Household, Person
from .base import Context, Entry, OkAnswer, Rejected, Request, entry
from .common import (
    changed_subject,
    effective_date,
    existing_household,
    locate,
    new_household,
    text,
    text_at,
)

__all__ = ["change_residence"]


def _target_household(ctx: Context, req: Request, since: Any) -> tuple[Household, bool]:
    controllo = req.payload.get("datiControllo") or {}
    tipo_scheda = text(controllo.get("tipoScheda"))
    if tipo_scheda == "2":
        household = new_household(
            ctx,
            req,
            "residenzaFamiglia",
            since=since,
            missing="a new family needs its residence (residenzaFamiglia/indirizzo)",
            verb="set",
        )
        return household, True
    if tipo_scheda == "1":
        household_id = text_at(req.payload, "generalitaSchedaFamiglia", "idFamigliaConvivenzaANPR")
        where = "generalitaSchedaFamiglia/idFamigliaConvivenzaANPR"
        return existing_household(ctx, req, household_id, where=where, code="EN119"), False
    raise Rejected(
        entry(
            "EF016",
            f"tipoScheda {tipo_scheda} is not valid: 1 existing family, 2 new family",
            field="datiControllo/tipoScheda",
            value=tipo_scheda,
        )
    )


def change_residence(ctx: Context, req: Request) -> OkAnswer:
    controllo = req.payload.get("datiControllo") or {}
    tipo = text(controllo.get("tipoMutazione"))
    if tipo not in ("2", "02"):
        raise Rejected(
            entry(
                "EN379",
                f"tipoMutazione {tipo} is not simulated (only 2, residence)",
                field="datiControllo/tipoMutazione",
                value=tipo,
            )
        )
    since = effective_date(req, ctx)
    soggetti = req.payload.get("elencoSoggettiFamiglia") or []
    if not soggetti:
        raise Rejected(
            entry(
                "EF041",
                "list the persons who change residence (elencoSoggettiFamiglia)",
                field="elencoSoggettiFamiglia",
            )
        )
    moving: list[tuple[Person, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(soggetti):
        where = f"elencoSoggettiFamiglia[{i}]"
        person = locate(ctx, item.get("generalita") or {}, where=where)
        if not person.resident:
            raise Rejected(
                entry(
                    "EN187",
                    f"{person.codice_fiscale} is not resident on ANPR ({person.status})",
                    field=f"{where}/generalita",
                    value=person.codice_fiscale,
                )
            )
        if person.id in seen:
            raise Rejected(
                entry(
                    "ES004",
                    f"{person.codice_fiscale} is listed twice",
                    field=where,
                    value=person.codice_fiscale,
                )
            )
        seen.add(person.id)
        if person.birth_date > since:
            raise Rejected(
                entry(
                    "ES008",
                    f"{person.codice_fiscale} was born after the dataDecorrenza",
                    field=where,
                    value=person.codice_fiscale,
                )
            )
        legame = item.get("legameSoggetto") or {}
        moving.append((person, text(legame.get("codiceLegame")) or "99"))
    household, new = _target_household(ctx, req, since)
    heads = [p for p, relation in moving if relation == "1"]
    if new and len(heads) != 1:
        raise Rejected(
            entry(
                "EF006",
                "a new family needs exactly one head (codiceLegame 1)",
                field="elencoSoggettiFamiglia/legameSoggetto/codiceLegame",
            )
        )
    if (
        not new
        and heads
        and any(m.relation == "1" for m in ctx.registry.members(household.id) if m.id not in seen)
    ):
        raise Rejected(
            entry(
                "EF007",
                f"family {household.id} already has a head",
                field="elencoSoggettiFamiglia/legameSoggetto/codiceLegame",
            )
        )

    requesting = ctx.registry.comune(req.comune)
    assert requesting is not None  # the gateway admits subentrati Comuni only
    warnings: list[Entry] = []
    variati: list[dict[str, Any]] = []
    left_households: set[str] = set()
    produced = False
    for person, relation in moving:
        origin = person.comune
        previous = ctx.registry.household_of(person)
        moved = ctx.registry.move(
            person,
            comune=req.comune,
            household_id=household.id,
            relation=relation,
            since=since,
            reason="change" if origin == req.comune else "transfer",
            operation=req.id_operazione_anpr,
        )
        if previous is not None and previous.id != household.id:
            left_households.add(previous.id)
        if origin is not None and origin != req.comune:
            ctx.notifier.residence_left(
                recipient=origin,
                person=moved,
                requesting=requesting,
                operation=req.id_operazione_anpr,
                effective_date=since,
            )
            produced = True
        variati.append(
            changed_subject(
                ctx,
                moved,
                previous_household=previous,
                provenance=origin if origin != req.comune else None,
            )
        )
    for household_id in sorted(left_households):
        remaining = ctx.registry.members(household_id)
        if remaining:
            ctx.registry.promote_head(household_id, since=since, operation=req.id_operazione_anpr)
            warnings.append(
                entry(
                    "EN226",
                    f"family {household_id} keeps {len(remaining)} member(s): update "
                    "its relationships if needed",
                    severity="W",
                )
            )
    content: dict[str, Any] = {"listaSoggettiVariati": {"datiSoggetto": variati}}
    if warnings:
        content["listaAnomalie"] = {"anomalie": [w.payload() for w in warnings]}
    after = (ctx.notifier.kick,) if produced else ()
    return OkAnswer("Risposta_Comune", content, after_commit=after)
