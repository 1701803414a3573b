"""The 3000 family: 3002 (citizen and family), 3001 (parents), 3003 and 3007 (past operations).

3002 finds one person by codice fiscale, ANPR ids, or personal data (surname, name, sex, birth
date). ``ricercaNazionale`` ``1`` searches every Comune; otherwise only the Comune of residence
given in ``comuneResidenza``, by default the requesting Comune (the ANPR05 default): a person
who moved away is no longer found among a Comune's residents. ``schedaAnagraficaRichiesta``
``1`` answers the person's record, ``2``/``3`` the whole family with its address;
``datiAnagraficiRichiesti`` (table 16 codes) restrict the parts returned.

A Comune's persons are its residents (APR) and its citizens abroad (AIRE).
``criteriRicerca/soggettoAIRE`` ``S`` finds only citizens abroad, ``N`` only residents;
``residenzaIscrizioneAIRE`` narrows a search to a Comune of AIRE registration (``comune``,
instead of ``comuneResidenza``), a state of residence abroad (``localita/codiceStato``) or a
consulate (``codiceConsolato``): our reading of the names of these elements of the XSD, which
no public thread describes. A citizen abroad is answered with ``soggettoAIRE`` ``S``, the
residence abroad (``tipoIndirizzo`` 4, ``localitaEstera``), the famiglia AIRE (``tipoScheda``
5, ``famigliaAire`` ``S``) and ``datiIscrizione/tipoIscrizioneAIRE`` (italia/anpr#216).

3003 and 3007 look up one past operation of the requesting Comune by ``idOperazioneANPR``,
``protocolloComune`` or ``idOperazioneComune``: 3003 returns its stored answer (``xmlRisposta``),
3007 its id and state. As on ANPR, consultations (300x) and extractions (400x) are not
returned (they change nothing), and range searches belong to 4005.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .. import payloads
from ..household import ForeignAddress, Person
from ..ledger import LedgerEntry
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import text, text_at

__all__ = ["find_parents", "look_up_citizen", "operation_answer", "operation_state"]


def _birth_place(luogo: Any) -> tuple[str | None, str | None]:
    """(ISTAT code, state code) of a decoded birth place, as far as given."""
    return text_at(luogo, "comune", "codiceIstat"), text_at(luogo, "localita", "codiceStato")


def find_subjects(
    ctx: Context,
    criteri: Mapping[str, Any],
    *,
    birth_date: Any = None,
    birth_place: Any = None,
    scope: str | None,
    five_data: bool = True,
) -> list[Person]:
    """Persons matching 3002-style criteria, restricted to residents of ``scope`` if given.

    A search by personal data needs the five of them (surname, name, sex, birth date and place;
    EN448), unless ``five_data`` is false (3001 looks parents up more loosely)."""
    registry = ctx.registry
    cf = criteri.get("codiceFiscale")
    if isinstance(cf, Mapping):
        cf = cf.get("codFiscale")
    found: list[Person] = []
    by_id = text(criteri.get("idSchedaSoggettoANPR")) or text(criteri.get("idANPR"))
    if text(cf):
        person = registry.person(str(cf))
        found = [person] if person is not None else []
    elif by_id:
        person = registry.person_by_id(by_id)
        found = [person] if person is not None else []
    elif text(criteri.get("cognome")) or text(criteri.get("nome")):
        istat, state = _birth_place(birth_place)
        given = (
            text(criteri.get("cognome")) or criteri.get("senzaCognome"),
            text(criteri.get("nome")) or criteri.get("senzaNome"),
            text(criteri.get("sesso")),
            birth_date,
            istat or state,
        )
        if five_data and not all(given):
            raise Rejected(
                entry(
                    "EN448",
                    "a search by personal data needs surname, name, sex, birth date and "
                    "birth place (or search by codice fiscale)",
                    field="criteriRicerca",
                )
            )
        found = registry.find(
            surname=text(criteri.get("cognome")),
            name=text(criteri.get("nome")),
            sex=text(criteri.get("sesso")),
            birth_date=parse_date(birth_date) if birth_date else None,
            birth_comune=istat,
            birth_state=state,
        )
    else:
        raise Rejected(
            entry(
                "EN448",
                "give a codice fiscale, an ANPR id, or the five personal data to search",
                field="criteriRicerca",
            )
        )
    if scope is not None:
        found = [p for p in found if p.comune == scope and p.registered]
    return found


def _aire_filter(ctx: Context, req: Request, persons: list[Person]) -> list[Person]:
    """``criteriRicerca/soggettoAIRE`` and ``residenzaIscrizioneAIRE`` (state, consulate)."""
    flag = (text((req.payload.get("criteriRicerca") or {}).get("soggettoAIRE")) or "").upper()
    if flag == "S":
        persons = [p for p in persons if p.aire]
    elif flag == "N":
        persons = [p for p in persons if not p.aire]
    where = req.payload.get("residenzaIscrizioneAIRE") or {}
    state = text_at(where, "localita", "codiceStato")
    consulate = text(where.get("codiceConsolato"))
    if state is None and consulate is None:
        return persons
    kept = []
    for person in persons:
        household = ctx.registry.household_of(person)
        address = household.address if household is not None else None
        if not isinstance(address, ForeignAddress):
            continue
        if state is not None and address.state != state:
            continue
        if consulate is not None and address.consulate != consulate:
            continue
        kept.append(person)
    return kept


def look_up_citizen(ctx: Context, req: Request) -> OkAnswer:
    """3002: a citizen's record, or their family's."""
    criteri = req.payload.get("criteriRicerca") or {}
    dati = req.payload.get("datiRichiesta") or {}
    nascita = req.payload.get("datiNascita") or {}
    national = str(dati.get("ricercaNazionale", "0")).strip() == "1"
    scope: str | None = None
    if not national:
        residence = dati.get("comuneResidenza") or {}
        aire_comune = text_at(req.payload.get("residenzaIscrizioneAIRE"), "comune", "codiceIstat")
        scope = aire_comune or text(residence.get("codiceIstat")) or req.comune
    persons = find_subjects(
        ctx,
        criteri,
        birth_date=nascita.get("dataEvento"),
        birth_place=nascita.get("luogoNascita"),
        scope=scope,
    )
    persons = _aire_filter(ctx, req, persons)
    if not persons:
        where = "in any Comune" if scope is None else f"among the residents of Comune {scope}"
        raise Rejected(entry("EN122", f"no citizen matches the search criteria {where}"))
    if len(persons) > 1:
        raise Rejected(
            entry(
                "EN095",
                f"{len(persons)} citizens match the search criteria: add the birth date or "
                "search by codice fiscale",
            )
        )
    person = persons[0]
    parts = payloads.parts_requested(dati.get("datiAnagraficiRichiesti"))
    scheda = str(dati.get("schedaAnagraficaRichiesta", "1")).strip()
    content: dict[str, Any] = {}
    household = (
        ctx.registry.household_of(person) if scheda in ("2", "3") and person.registered else None
    )
    if household is not None:
        content["listaSoggetti"] = {
            "datiSoggetto": [
                payloads.person_record(ctx.registry, m, parts, household=household)
                for m in household.members
            ]
        }
        content["datiFamigliaConvivenza"] = {
            "residenza": payloads.residence(
                household, payloads.comune_info(ctx.registry, household.comune)
            ),
            "famigliaConvivenza": payloads.household_record(household),
        }
    else:
        content["listaSoggetti"] = {
            "datiSoggetto": [payloads.person_record(ctx.registry, person, parts)]
        }
    return OkAnswer("Risposta3002_OK", content)


def find_parents(ctx: Context, req: Request) -> OkAnswer:
    """3001: find the father and the mother (for a birth registration) among ANPR's persons."""
    found: dict[str, list[Person]] = {}
    for key, role in (("paternita", "Padre"), ("maternita", "Madre")):
        parent = req.payload.get(key) or {}
        gen = parent.get("generalita") or {}
        if not gen:
            continue
        cf = gen.get("codiceFiscale")
        criteri = {
            "codiceFiscale": cf.get("codFiscale") if isinstance(cf, Mapping) else cf,
            "cognome": gen.get("cognome"),
            "nome": gen.get("nome"),
            "sesso": gen.get("sesso"),
            "idSchedaSoggettoANPR": gen.get("idSchedaSoggettoANPR"),
        }
        try:
            matches = find_subjects(
                ctx,
                criteri,
                birth_date=gen.get("dataNascita"),
                birth_place=gen.get("luogoNascita"),
                scope=None,
                five_data=False,
            )
        except Rejected:
            matches = []
        found[role] = [m for m in matches if m.resident]
    if not any(found.values()):
        raise Rejected(entry("EN122", "neither parent was found on ANPR"))
    content: dict[str, Any] = {}
    for role, persons in found.items():
        items = []
        for person in persons:
            item: dict[str, Any] = {"genitore": {"generalita": payloads.personal_data(person)}}
            household = ctx.registry.household_of(person)
            if household is not None and person.comune:
                item["residenza"] = payloads.residence(
                    household, payloads.comune_info(ctx.registry, person.comune)
                )
                item["famiglia"] = payloads.household_record(household)
            items.append(item)
        if items:
            content[f"elencoSoggetti{role}"] = items
    return OkAnswer("Risposta3001_OK", content)


def _single(ctx: Context, req: Request) -> tuple[dict[str, Any], LedgerEntry]:
    if req.payload.get("ricercaElenchiRichieste"):
        raise Rejected(
            entry(
                "EN379",
                "lists of operations are not searched by 3003/3007: use the asynchronous 4005",
                field="ricercaElenchiRichieste",
            )
        )
    single = req.payload.get("ricercaSingolaRichiesta")
    if not isinstance(single, Mapping):
        raise Rejected(
            entry("EN132", "give ricercaSingolaRichiesta with one identifier", field="ricerca")
        )
    id_anpr = text(single.get("idOperazioneANPR"))
    protocollo = text(single.get("protocolloComune"))
    id_comune = text(single.get("idOperazioneComune"))
    if not (id_anpr or protocollo or id_comune):
        raise Rejected(
            entry(
                "EN132",
                "give idOperazioneANPR, protocolloComune or idOperazioneComune",
                field="ricercaSingolaRichiesta",
            )
        )
    record = None
    if id_anpr:
        record = ctx.ledger.find(req.comune, id_operazione_anpr=id_anpr)
    elif id_comune:
        record = ctx.ledger.find(req.comune, id_operazione_comune=id_comune)
    else:
        record = ctx.ledger.find(req.comune, protocollo_comune=protocollo)
    if record is None or record.service.startswith(("30", "40")) or record.service == "TestConn":
        raise Rejected(
            entry("EN122", "no registration or notification of this Comune has that identifier")
        )
    return dict(single), record


def _about(ctx: Context, req: Request, single: Mapping[str, Any]) -> dict[str, Any]:
    """The part 3003 and 3007 answers share: the requesting Comune and the search."""
    return {
        "comuneRichiesta": payloads.comune_of(ctx.registry, req.comune),
        "ricercaSingolaRichiesta": single,
    }


def _item(record: LedgerEntry) -> dict[str, Any]:
    """An operation's state (2 done, 3 refused) and service, as 3003 and 3007 list it."""
    return {
        "statoLavorazione": "2" if record.ok else "3",
        "tipoOperazione": "CONN" if record.service == "TestConn" else record.service,
    }


def operation_answer(ctx: Context, req: Request) -> OkAnswer:
    """3003: the stored answer of one past operation."""
    single, record = _single(ctx, req)
    answer = base64.b64encode(record.response_xml).decode("ascii")
    return OkAnswer(
        "Risposta3003_OK",
        _about(ctx, req, single) | {"elencoRisposte": [_item(record) | {"xmlRisposta": answer}]},
    )


def operation_state(ctx: Context, req: Request) -> OkAnswer:
    """3007: the id and state of one past operation."""
    single, record = _single(ctx, req)
    item = _item(record) | {"idOperazioneANPR": record.id_operazione_anpr}
    return OkAnswer(
        "Risposta3007_OK",
        _about(ctx, req, single) | {"listaOperazioniAnpr": {"operazioneANPR": [item]}},
    )
