"""3004 (procedures), 3006 (a citizen, for enti), 3008 (electoral sections), answered from the
registry; 3005 (an elaboration's file) in shape only.

- **3004** finds the requesting Comune's administrative procedures (1014), open or closed, by
  ``numeroPraticaComune``, by ``numeroProcedimentoAmm`` (ANPR's ``numeroPraticaAnpr``) or by a
  subject (``generalitaSoggettoCollegato``: a person on ANPR, ES003 otherwise). The registry
  does not link procedures to operations: ``idOpANPRCollegata``/``idOpComunaleCollegata`` are
  answered EN379. Nothing found: EN122. ``tipoOperazione`` is the one the procedure's last 1014
  was sent with (its codes are not public); a procedure recorded by an earlier version of the
  simulator, which did not keep it, is answered ``V``, the code the 1014 tests send for a step.
- **3006** finds one person as 3002 does (codice fiscale, ANPR ids, or the five personal data,
  EN448; several EN095, none EN122), in every Comune (its request names none), and answers the
  person's record in the shape of ``tipoDatiRispostaInterrCittadinoEnte`` (no ANPR ids block;
  one residence); ``datiAnagraficiRichiesti`` restricts the parts as in 3002.
- **3008** answers the sections of a Comune (``comune/codiceIstat``; all, or the one
  ``sezioneelettoralenum``) as 5011 described them; a section written without its data (by a
  test's ``sim.store.add_electoral_section``) is not answered. Nothing: EN122.
- **3005** (*visualizzazione elaborati*, moved to the 7000 family by ANPR, italia/anpr#1161)
  is answered in shape only: for an ``idOperazioneANPR`` of the requesting Comune, its
  ``datiRichiesta`` and an empty ``file`` (the simulator produces no elaborations to show);
  another id is EN122.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..household import Person
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import locate, text, text_at
from .consultation import find_subjects
from .procedures import procedure_details

__all__ = [
    "find_citizen_for_enti",
    "find_procedures",
    "look_up_sections",
    "show_elaboration",
]

_UNKNOWN_KIND: Final = "V"
_ENTE_PARTS: Final = frozenset(
    {
        "statoCivile",
        "cittadinanza",
        "residenza",
        "famigliaConvivenza",
        "legameSoggetto",
        "datiIscrizione",
        "datiDecesso",
    }
)
"""The parts of a record 3002 answers that ``tipoDatiRispostaInterrCittadinoEnte`` has too."""


def find_procedures(ctx: Context, req: Request) -> OkAnswer:
    """3004: the Comune's procedures by number or by subject."""
    search: Mapping[str, Any] = req.payload.get("parametriRicerca3004") or {}
    number = text(search.get("numeroPraticaComune"))
    anpr_number = text(search.get("numeroProcedimentoAmm"))
    subject = search.get("generalitaSoggettoCollegato")
    if number is not None:
        found = ctx.registry.procedure(req.comune, number)
        procedures = [found] if found is not None else []
    elif anpr_number is not None:
        procedures = ctx.registry.procedures(req.comune, anpr_id=anpr_number)
    elif isinstance(subject, Mapping):
        where = "parametriRicerca3004/generalitaSoggettoCollegato"
        person = locate(ctx, subject, where=where)
        procedures = ctx.registry.procedures(req.comune, person=person)
    else:
        raise Rejected(
            entry(
                "EN379",
                "procedures are not linked to operations here: search by number or subject",
                field="parametriRicerca3004",
            )
        )
    if not procedures:
        raise Rejected(entry("EN122", "no procedure of this Comune matches the search"))
    items = []
    for procedure in procedures:
        kind = ctx.registry.procedure_kind(procedure.id) or _UNKNOWN_KIND
        item: dict[str, Any] = {"procedimentoIstruttoria": [procedure_details(procedure, kind)]}
        subjects = [ctx.registry.person_by_id(i) for i in procedure.subjects]
        linked = [payloads.personal_data(p) for p in subjects if p is not None]
        if linked:
            item["generalitaSoggettoCollegato"] = linked
        items.append(item)
    return OkAnswer(
        "Risposta3004_OK",
        {"parametriRicerca3004": dict(search), "listaProcAmm": {"elemProcAmm": items}},
    )


def _ente_record(ctx: Context, person: Person, parts: frozenset[str]) -> dict[str, Any]:
    record = payloads.person_record(ctx.registry, person, parts & _ENTE_PARTS)
    record.pop("identificativi", None)
    residences = record.get("residenza")
    if residences:
        record["residenza"] = residences[0]
    legame = record.get("legameSoggetto")
    if isinstance(legame, dict):
        record["legameSoggetto"] = {k: legame[k] for k in ("dataDecorrenza", "codiceLegame")}
    return record


def find_citizen_for_enti(ctx: Context, req: Request) -> OkAnswer:
    """3006: one person's record, searched in every Comune."""
    criteri = dict(req.payload.get("criteriRicerca") or {})
    if "identificativoANPR" in criteri:
        criteri.setdefault("idANPR", criteri["identificativoANPR"])
    nascita = req.payload.get("datiNascita") or {}
    persons = find_subjects(
        ctx,
        criteri,
        birth_date=nascita.get("dataEvento"),
        birth_place=nascita.get("luogoNascita"),
        scope=None,
    )
    flag = (text(criteri.get("soggettoAIRE")) or "").upper()
    if flag == "S":
        persons = [p for p in persons if p.aire]
    elif flag == "N":
        persons = [p for p in persons if not p.aire]
    if not persons:
        raise Rejected(entry("EN122", "no citizen on ANPR matches the search criteria"))
    if len(persons) > 1:
        raise Rejected(
            entry(
                "EN095",
                f"{len(persons)} citizens match the search criteria: add the birth date or "
                "search by codice fiscale",
            )
        )
    dati = req.payload.get("datiRichiesta") or {}
    parts = payloads.parts_requested(dati.get("datiAnagraficiRichiesti"))
    record = _ente_record(ctx, persons[0], parts)
    return OkAnswer("Risposta3006_OK", {"listaSoggetti": {"datiSoggetto": [record]}})


def look_up_sections(ctx: Context, req: Request) -> OkAnswer:
    """3008: a Comune's electoral sections, as 5011 described them."""
    search = req.payload.get("parametriRicerca3008") or {}
    istat = text_at(search, "comune", "codiceIstat") or req.comune
    number = text(search.get("sezioneelettoralenum"))
    sections = ctx.registry.electoral_section_data(istat, number)
    if not sections:
        where = f"section {number}" if number else "sections"
        raise Rejected(entry("EN122", f"Comune {istat} has no {where} described by 5011"))
    return OkAnswer("Risposta3008_OK", {"sezione": {"sezioni": sections}})


def show_elaboration(ctx: Context, req: Request) -> OkAnswer:
    """3005 (shape only): an empty file for an operation of the requesting Comune."""
    dati = req.payload.get("datiRichiesta") or {}
    given = text(dati.get("idOperazioneANPR")) or ""
    record = ctx.ledger.find(req.comune, id_operazione_anpr=given)
    if record is None:
        raise Rejected(
            entry(
                "EN122",
                f"no operation {given} of this Comune",
                field="datiRichiesta/idOperazioneANPR",
                value=given,
            )
        )
    return OkAnswer("Risposta3005_OK", {"datiRichiesta": dict(dati), "file": {}})
