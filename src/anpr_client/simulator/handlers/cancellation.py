"""2001 — cancellation from the registry: death, or a move to a Comune not on ANPR or abroad.

The person (``generalitaPerRicerca``: codice fiscale or idSchedaSoggettoANPR) must be resident
in the requesting Comune (EN117 otherwise). ``motivoCancellazione/tipoMotivoCancellazione``
follows ANPR's table of reasons for cancellation: ``1``/``2`` death
(``datiDecesso/dataEvento`` required), ``3`` a move to
a Comune not on ANPR, ``5``/``8`` abroad, and the other reasons of the table. A move to a Comune
*on* ANPR is not a cancellation: the destination records it with 5005. Members of the family
left behind get the ``codiceLegame`` given in ``elencoSoggettiFamiglia``; a family that lost its
head otherwise gets its eldest member as head.
"""

from __future__ import annotations

from typing import Any

from .base import Context, Outcome, Rejected, Request, entry, parse_date
from .common import decorrenza, locate, text, variato

__all__ = ["cancellazione"]

_DEATH = frozenset({"1", "2"})
_REASONS = frozenset({str(n) for n in range(1, 14)})


def cancellazione(ctx: Context, req: Request) -> Outcome:
    since = decorrenza(req, ctx)
    motivo = req.payload.get("motivoCancellazione") or {}
    reason = (text(motivo.get("tipoMotivoCancellazione")) or "").lstrip("0")
    if reason not in _REASONS:
        raise Rejected(
            entry(
                "EC006",
                f"tipoMotivoCancellazione {reason or '(missing)'} is not a reason for "
                "cancellation of ANPR's table",
                field="motivoCancellazione/tipoMotivoCancellazione",
                value=reason,
            )
        )
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
    previous = ctx.registry.family(person.family_id) if person.family_id else None
    if reason in _DEATH:
        decesso = req.payload.get("datiDecesso") or {}
        if not decesso.get("dataEvento"):
            raise Rejected(
                entry(
                    "EN132", "a death needs datiDecesso/dataEvento", field="datiDecesso/dataEvento"
                )
            )
        died = parse_date(decesso["dataEvento"])
        if died > since:
            raise Rejected(
                entry(
                    "ES007",
                    "the date of death is after dataDecorrenza",
                    field="datiDecesso/dataEvento",
                    value=died,
                )
            )
        changed = ctx.registry.record_death(person, date=died, operation=req.id_operazione_anpr)
    else:
        changed = ctx.registry.cancel(person, date=since, operation=req.id_operazione_anpr)
    variati: list[dict[str, Any]] = [
        variato(
            ctx,
            changed,
            previous_family=previous,
            cancellation={
                "motivoCancellazione": reason,
                "dataDecorrenzaCancellazione": since,
            },
        )
    ]
    if previous is not None:
        for i, item in enumerate(req.payload.get("elencoSoggettiFamiglia") or []):
            member = locate(ctx, item.get("generalita") or {}, where=f"elencoSoggettiFamiglia[{i}]")
            relation = text((item.get("legameSoggetto") or {}).get("codiceLegame"))
            if member.family_id != previous.id or relation is None:
                continue
            updated = ctx.registry.set_relation(
                member, relation, since=since, operation=req.id_operazione_anpr
            )
            variati.append(variato(ctx, updated))
        ctx.registry.promote_head(previous.id, since=since, operation=req.id_operazione_anpr)
    return Outcome("Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}})
