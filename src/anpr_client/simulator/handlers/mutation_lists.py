"""5011 (a Comune's electoral sections) with state; 5010 (a person's electoral data), 5013
(revocation of a datum) and 5021 (polygamy) in shape only.

- **5011** acquires or updates one electoral section of the requesting Comune (italia/anpr#3422,
  #3802): ``sezione/sezioneelettoralenum`` is required (EN081), ``comune``, when given, is the
  requesting Comune (EN378, as 2012). 3008 answers it, 2012 deletes it; 5010 names it.
- **5010** checks its person (``idSoggetto``: ES003 when not on ANPR, ES101 closed, EN117 of
  another Comune) and, when ``liste/listaGenerale`` names a section, that the Comune has it
  (EN557, the "section does not exist" of italia/anpr#3695); the registry keeps no electoral
  data of persons, so nothing else changes and 3002 shows none ("shape only").
- **5013** checks the person of ``schedaSoggetto/generalitaPerRicerca`` (ES003, ES102/ES101,
  EN117) or the household of ``famigliaConvivenza`` (EF002, EN119) and answers them unchanged:
  the registry keeps none of the data 5013 revokes (marriage, civil union, permit…), "shape
  only".
- **5021** checks the first spouse of ``matrimonioPerRicerca/coniuge1`` (ES003, ES102/ES101,
  EN117) and answers them unchanged, with the first ``datiControllo/tipoMutazione`` as the
  answer's ``tipoMutazione`` (which a KO answer carries too); the registry keeps no marriages,
  "shape only".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import payloads
from ..household import Person
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import changed_subject, existing_household, locate_registered, text, text_at

__all__ = ["change_electoral_data", "change_sections", "manage_polygamy", "revoke_datum"]


def _own(ctx: Context, req: Request, person: Person, where: str) -> Person:
    if person.comune != req.comune:
        raise Rejected(
            entry(
                "EN117",
                f"{person.codice_fiscale} is of Comune {person.comune}: only that Comune can "
                "change the record",
                field=where,
                value=person.codice_fiscale,
            )
        )
    return person


def change_sections(ctx: Context, req: Request) -> OkAnswer:
    """5011: add or update an electoral section of the Comune."""
    sezione: Mapping[str, Any] = req.payload.get("sezione") or {}
    number = text(sezione.get("sezioneelettoralenum"))
    if number is None:
        raise Rejected(
            entry(
                "EN081",
                "sezioneelettoralenum is required to name the section",
                field="sezione/sezioneelettoralenum",
            )
        )
    istat = text_at(sezione, "comune", "codiceIstat") or req.comune
    if istat != req.comune:
        raise Rejected(
            entry(
                "EN378",
                f"Comune {req.comune} can describe only its own sections (not Comune {istat}'s)",
                field="sezione/comune/codiceIstat",
                value=istat,
            )
        )
    data = dict(sezione)
    data.setdefault("comune", payloads.comune_of(ctx.registry, req.comune))
    description = text(sezione.get("sezioneelettoraledenom")) or ""
    ctx.registry.add_electoral_section(req.comune, number, description, data)
    return OkAnswer("Risposta_Comune", {})


def change_electoral_data(ctx: Context, req: Request) -> OkAnswer:
    """5010 (shape only): the person and the section are checked, nothing is kept."""
    person_id = text(req.payload.get("idSoggetto"))
    where = "idSoggetto"
    person = _own(
        ctx, req, locate_registered(ctx, {"idSchedaSoggettoANPR": person_id}, where=where), where
    )
    section = text_at(req.payload, "liste", "listaGenerale", "sezioneelettoralenum")
    if section is not None and section not in ctx.registry.electoral_sections(req.comune):
        raise Rejected(
            entry(
                "EN557",
                f"Comune {req.comune} has no electoral section {section}",
                field="liste/listaGenerale/sezioneelettoralenum",
                value=section,
            )
        )
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
    )


def revoke_datum(ctx: Context, req: Request) -> OkAnswer:
    """5013 (shape only): the person or household is checked and answered unchanged."""
    scheda = req.payload.get("schedaSoggetto")
    if isinstance(scheda, Mapping):
        where = "schedaSoggetto/generalitaPerRicerca"
        person = _own(
            ctx,
            req,
            locate_registered(ctx, scheda.get("generalitaPerRicerca") or {}, where=where),
            where,
        )
        variati = [changed_subject(ctx, person)]
    else:
        household_id = text_at(req.payload, "famigliaConvivenza", "idFamigliaConvivenzaANPR")
        household = existing_household(
            ctx,
            req,
            household_id,
            where="famigliaConvivenza/idFamigliaConvivenzaANPR",
            code="EN119",
        )
        variati = [changed_subject(ctx, m) for m in household.members]
    return OkAnswer("Risposta_Comune", {"listaSoggettiVariati": {"datiSoggetto": variati}})


def manage_polygamy(ctx: Context, req: Request) -> OkAnswer:
    """5021 (shape only): the first spouse is checked and answered unchanged."""
    where = "matrimonioPerRicerca/coniuge1"
    coniuge = (req.payload.get("matrimonioPerRicerca") or {}).get("coniuge1") or {}
    person = _own(ctx, req, locate_registered(ctx, coniuge, where=where), where)
    codes = (req.payload.get("datiControllo") or {}).get("tipoMutazione") or []
    first = codes[0] if isinstance(codes, list) and codes else codes
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
        beside={"tipoMutazione": first},
    )
