"""Registry records as ANPR payload fragments (``tipoGeneralita``, ``tipoResidenza``…).

Answers and notifications are built as payload dicts (see :mod:`anpr_client.soap.codec`); these
functions give the shared fragments, so every service describes a person the same way. Each
builder is named after what it describes, its docstring names ANPR's type; the keys are ANPR's
element names. :func:`address_of` and :func:`residence_comune` read a decoded request back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .household import Address, AireRegistration, ForeignAddress, Household, Person
from .store import ComuneInfo, Registry

__all__ = [
    "ALL_PARTS",
    "address",
    "address_of",
    "aire_registration",
    "birth_place",
    "certificate_languages",
    "change_of_residence",
    "citizenship",
    "comune",
    "comune_info",
    "comune_of",
    "foreign_address_of",
    "foreign_residence",
    "household_record",
    "parts_requested",
    "person_record",
    "personal_data",
    "residence",
    "residence_comune",
    "state_name",
]


def comune(info: ComuneInfo) -> dict[str, Any]:
    """``tipoComune``, and ``tipoComuneRichiesta`` (the same three elements)."""
    return {
        "nomeComune": info.name,
        "codiceIstat": info.istat,
        "siglaProvinciaIstat": info.province,
    }


def certificate_languages(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """``linguaCertificato`` of a 6001 answer: the languages the request asked for, echoed, as
    in ANPR's answer of italia/anpr#2437 (tests/wire/answers/ok-6001-mtom.mime); ``None`` when
    the request names none (what ANPR answers then is not on the record)."""
    asked = request.get("linguaCertificato")
    if not isinstance(asked, Mapping):
        return None
    raw = asked.get("tipoLinguaCertificato") or []
    languages = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if str(v).strip()]
    return {"tipoLinguaCertificato": languages} if languages else None


def birth_place(person: Person) -> dict[str, Any]:
    """``tipoLuogoEvento`` of the birth: a Comune, or a foreign state."""
    place = person.birth_place
    if place.state:
        return {"localita": {"descrizioneStato": place.name, "codiceStato": place.state}}
    out: dict[str, Any] = {"nomeComune": place.name}
    if place.comune:
        out["codiceIstat"] = place.comune
    out["siglaProvinciaIstat"] = place.province or "EE"
    return {"comune": out}


def personal_data(person: Person) -> dict[str, Any]:
    """``tipoGeneralita``: codice fiscale, names, sex, birth date and place, ANPR id, and
    ``soggettoAIRE`` ``S`` for a citizen registered in the AIRE."""
    out: dict[str, Any] = {
        "codiceFiscale": {"codFiscale": person.codice_fiscale},
        "cognome": person.surname,
        "nome": person.name,
        "sesso": person.sex,
        "dataNascita": person.birth_date,
        "luogoNascita": birth_place(person),
        "idSchedaSoggettoANPR": person.id,
    }
    if person.aire:
        out["soggettoAIRE"] = "S"
    return out


def address(address: Address, info: ComuneInfo) -> dict[str, Any]:
    """``tipoIndirizzo``."""
    out: dict[str, Any] = {
        "cap": address.cap,
        "comune": comune(info),
        "toponimo": {"specie": address.street_kind, "denominazioneToponimo": address.street_name},
    }
    if address.house_number:
        out["numeroCivico"] = {"numero": address.house_number}
    return out


def residence(household: Household, info: ComuneInfo) -> dict[str, Any]:
    """``tipoResidenza`` of a household's address: ``indirizzo`` in Italy, ``localitaEstera``
    for a famiglia AIRE (:func:`foreign_residence`)."""
    if isinstance(household.address, ForeignAddress):
        return {
            "tipoIndirizzo": household.address.kind,
            "localitaEstera": foreign_residence(household.address),
            "dataDecorrenzaResidenza": household.since,
        }
    return {
        "tipoIndirizzo": household.address.kind,
        "indirizzo": address(household.address, info),
        "dataDecorrenzaResidenza": household.since,
    }


def foreign_residence(address: ForeignAddress) -> dict[str, Any]:
    """``tipoLocalitaEstera``: the address abroad and the consulate competent for it."""
    place: dict[str, Any] = {
        "descrizioneLocalita": address.locality,
        "descrizioneStato": state_name(address.state),
        "codiceStato": address.state,
    }
    if address.province:
        place["provinciaContea"] = address.province
    abroad: dict[str, Any] = {"localita": place}
    if address.cap:
        abroad["cap"] = address.cap
    if address.street_name:
        toponimo: dict[str, Any] = {"denominazione": address.street_name}
        if address.house_number:
            toponimo["numeroCivico"] = address.house_number
        abroad["toponimo"] = toponimo
    return {
        "indirizzoEstero": abroad,
        "consolato": {
            "codiceConsolato": address.consulate,
            "descrizioneConsolato": address.consulate_name,
        },
    }


def household_record(household: Household) -> dict[str, Any]:
    """``tipoFamigliaConvivenza`` (identification part): ANPR's ``tipoScheda``
    (:attr:`~.household.Household.scheda`), ``famigliaAire`` ``S`` abroad, a convivenza's name
    and species."""
    out: dict[str, Any] = {"idFamigliaConvivenzaANPR": household.id}
    if household.abroad:
        out["famigliaAire"] = "S"
    if household.origin_date:
        out["dataOrigineFamigliaConvivenza"] = household.origin_date
    if household.name:
        out["denominazioneConvivenza"] = household.name
    if household.species:
        out["specieConvivenza"] = household.species
    out["tipoScheda"] = household.scheda
    return out


def change_of_residence(
    persons: Sequence[Person],
    destination: ComuneInfo,
    *,
    street: str = "VIA DANTE",
    number: str = "7",
    cap: str = "20121",
    since: dt.date | None = None,
) -> dict[str, Any]:
    """A 5005 payload: ``persons`` (head first) move into a new household in ``destination``.

    What a Comune sends when a person or family coming from another Comune on ANPR takes up
    residence: the records leave the Comune of origin, which gets an N010 for each person (see
    ``docs/notifications.md``). ``street`` is ``"<specie> <name>"``.
    """
    when = since or dt.date.today()
    specie, _, name = street.partition(" ")
    return {
        "generalitaSchedaFamiglia": {"tipoScheda": "1"},
        "residenzaFamiglia": [
            {
                "tipoIndirizzo": "1",
                "indirizzo": {
                    "cap": cap,
                    "comune": comune(destination),
                    "toponimo": {"specie": specie, "denominazioneToponimo": name},
                    "numeroCivico": {"numero": number},
                },
                "dataDecorrenzaResidenza": when,
            }
        ],
        "elencoSoggettiFamiglia": [
            {
                "generalita": {
                    "codiceFiscale": {"codFiscale": p.codice_fiscale},
                    "cognome": p.surname,
                    "nome": p.name,
                    "sesso": p.sex,
                    "dataNascita": p.birth_date,
                },
                "legameSoggetto": {"dataDecorrenza": when, "codiceLegame": p.relation or "1"},
            }
            for p in persons
        ],
        "datiControllo": {"tipoMutazione": "02", "tipoScheda": "2"},
    }


def address_of(payload: Any) -> Address | None:
    """An :class:`Address` from a decoded ``tipoResidenza`` (Italian address), if any."""
    if not isinstance(payload, dict):
        return None
    ind = payload.get("indirizzo")
    if not isinstance(ind, dict):
        return None
    toponimo = ind.get("toponimo") or {}
    civico = ind.get("numeroCivico") or {}
    return Address(
        street_kind=str(toponimo.get("specie") or toponimo.get("codSpecie") or "VIA"),
        street_name=str(toponimo.get("denominazioneToponimo") or "SENZA NOME"),
        house_number=str(civico.get("numero") or ""),
        cap=str(ind.get("cap") or ""),
        kind=str(payload.get("tipoIndirizzo") or "1"),
    )


def foreign_address_of(payload: Any) -> ForeignAddress | None:
    """A :class:`ForeignAddress` from a decoded ``tipoResidenza`` abroad (``localitaEstera``
    with its state and consulate), if any."""
    if not isinstance(payload, dict):
        return None
    abroad = payload.get("localitaEstera")
    if not isinstance(abroad, dict):
        return None
    estero = abroad.get("indirizzoEstero") or {}
    place = estero.get("localita") or {}
    toponimo = estero.get("toponimo") or {}
    consolato = abroad.get("consolato") or {}
    return ForeignAddress(
        street_kind="",
        street_name=str(toponimo.get("denominazione") or ""),
        house_number=str(toponimo.get("numeroCivico") or ""),
        cap=str(estero.get("cap") or ""),
        kind=str(payload.get("tipoIndirizzo") or "4"),
        state=str(place.get("codiceStato") or ""),
        locality=str(place.get("descrizioneLocalita") or ""),
        province=str(place["provinciaContea"]) if place.get("provinciaContea") else None,
        consulate=str(consolato.get("codiceConsolato") or ""),
        consulate_name=str(consolato.get("descrizioneConsolato") or ""),
    )


def residence_comune(payload: Any) -> str | None:
    """The ISTAT code of the Comune of a decoded ``tipoResidenza``'s address."""
    if isinstance(payload, dict):
        ind = payload.get("indirizzo")
        if isinstance(ind, dict) and isinstance(ind.get("comune"), dict):
            code = ind["comune"].get("codiceIstat")
            return str(code) if code else None
    return None


def comune_of(registry: Registry, istat: str) -> dict[str, Any]:
    """``tipoComune`` of the Comune with this ISTAT code (see :func:`comune_info`)."""
    return comune(comune_info(registry, istat))


def comune_info(registry: Registry, istat: str) -> ComuneInfo:
    """The Comune's info; a Comune unknown to the registry gets a placeholder name."""
    info = registry.comune(istat)
    if info is not None:
        return info
    from .seeding import comuni_table

    found = comuni_table().at(istat, dt.date.today())
    if found is not None:
        return ComuneInfo(istat, found.name, found.province, found.cadastral, False)
    return ComuneInfo(istat, f"COMUNE {istat}", "EE", "", False)


def state_name(code: str) -> str:
    """The name of an ANPR state code (``100`` → ``ITALIA``), from the sample states table."""
    found = _stati().get(code) if code else None
    return found.name if found is not None else f"STATO {code}"


def _stati() -> Any:
    global _STATI
    if _STATI is None:  # loaded on first use; the import statement runs only then too
        from ..validation.stati import StatiTable

        _STATI = StatiTable.sample()
    return _STATI


_STATI: Any = None


def citizenship(code: str) -> dict[str, Any]:
    """``tipoCittadinanza``."""
    return {"descrizioneStato": state_name(code), "codiceStato": code}


#: Codes of ANPR's "dati richiesti" table (16) → the parts of a person's record they ask for.
PARTS: dict[str, str] = {
    "2": "generalita",
    "3": "statoCivile",
    "6": "cittadinanza",
    "10": "residenza",
    "21": "legameSoggetto",
    "22": "famigliaConvivenza",
    "26": "datiIscrizione",
    "28": "datiDecesso",
}
ALL_PARTS: frozenset[str] = frozenset(PARTS.values()) | {"identificativi"}


def parts_requested(codes: Any) -> frozenset[str]:
    """The record parts a ``datiAnagraficiRichiesti`` list asks for (none or ``1``: all)."""
    if not codes:
        return ALL_PARTS
    wanted = {str(c).lstrip("0") or "0" for c in (codes if isinstance(codes, list) else [codes])}
    if "1" in wanted:
        return ALL_PARTS
    return frozenset({"identificativi", "generalita"} | {PARTS[c] for c in wanted if c in PARTS})


def person_record(
    registry: Registry,
    person: Person,
    parts: frozenset[str] = ALL_PARTS,
    *,
    household: Household | None = None,
) -> dict[str, Any]:
    """A person's record (``tipoDatiRispostaEstrazioneSoggetti`` subset, schema order is the
    codec's job). ``household``: the person's household when the caller has it already (else
    it is read, without its members: the record needs only the household's own data)."""
    out: dict[str, Any] = {}
    if "identificativi" in parts:
        out["identificativi"] = {"idANPR": person.id_anpr}
    out["generalita"] = personal_data(person)
    if "statoCivile" in parts and person.marital_status:
        out["statoCivile"] = {"statoCivile": person.marital_status}
    if "cittadinanza" in parts:
        out["cittadinanza"] = [citizenship(person.citizenship)]
    if household is None or household.id != person.household_id:
        household = registry.household_of(person, members=False)
    if "residenza" in parts and household is not None and person.comune:
        out["residenza"] = [residence(household, comune_info(registry, person.comune))]
    if "legameSoggetto" in parts and household is not None:
        out["legameSoggetto"] = {
            "tipoLegame": household.scheda,
            "dataDecorrenza": person.relation_since or household.since,
            "codiceLegame": person.relation or "99",
        }
    if "famigliaConvivenza" in parts and household is not None:
        out["famigliaConvivenza"] = household_record(household)
    if "datiIscrizione" in parts and person.aire:
        registration = registry.aire_registration(person)
        if registration is not None and registration.complete:
            out["datiIscrizione"] = {"tipoIscrizioneAIRE": aire_registration(registration)}
    if "datiDecesso" in parts and person.death_date is not None:
        out["datiDecesso"] = {"dataEvento": person.death_date}
    return out


_AIRE_NOTES = (
    "noteMotivoIscrizione",
    "noteIniziativaIscrizione",
    "noteIndividuazioneComuneIscrizione",
)


def aire_registration(registration: AireRegistration) -> dict[str, Any]:
    """``tipoIscrizioneAIRE``: the reason, initiative and criterion codes, their notes."""
    notes = dict(registration.notes)
    out: dict[str, Any] = {}
    for key, value in (
        ("motivoIscrizione", registration.reason),
        ("iniziativaIscrizione", registration.initiative),
        ("individuazioneComuneIscrizione", registration.criterion),
    ):
        if value:
            out[key] = value
    out.update({k: notes[k] for k in _AIRE_NOTES if notes.get(k)})
    return out
