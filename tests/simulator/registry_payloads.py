"""Request payloads for the registry's services (1000, 2000, A000): what a Comune's software
sends, built from the registry's persons, for the rule and scenario tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from anpr_client.results import Result
from anpr_client.simulator import Person

from .support import A, B

TODAY = dt.date.today()
DECORRENZA = {"dataDecorrenza": TODAY}
_NAMES = {A: ("ROMA", "RM"), B: ("MILANO", "MI")}
AIRE_DATA = {
    "motivoIscrizione": "C01",
    "iniziativaIscrizione": "1",
    "individuazioneComuneIscrizione": "1",
}


def comune(istat: str) -> dict[str, Any]:
    name, province = _NAMES.get(istat, ("TORINO", "TO"))
    return {"nomeComune": name, "codiceIstat": istat, "siglaProvinciaIstat": province}


def gen(person: Person) -> dict[str, Any]:
    """``tipoGeneralita`` naming a person of the registry (codice fiscale and names)."""
    return {
        "codiceFiscale": {"codFiscale": person.codice_fiscale},
        "cognome": person.surname,
        "nome": person.name,
    }


def full_gen(person: Person) -> dict[str, Any]:
    """``tipoGeneralita`` with the birth data (what a registration carries)."""
    place = person.birth_place
    if place.state:
        luogo: dict[str, Any] = {
            "localita": {"descrizioneStato": place.name, "codiceStato": place.state}
        }
    else:
        luogo = {
            "comune": {
                "nomeComune": place.name,
                "codiceIstat": place.comune,
                "siglaProvinciaIstat": place.province,
            }
        }
    return {
        **gen(person),
        "sesso": person.sex,
        "dataNascita": person.birth_date,
        "luogoNascita": luogo,
    }


def newcomer(surname: str, name: str, *, born: dt.date = dt.date(1985, 3, 4)) -> dict[str, Any]:
    """The generalita of a person not on ANPR, born in France (a codice fiscale is
    attributed: ``gestioneCF`` 1)."""
    return {
        "cognome": surname,
        "nome": name,
        "sesso": "F",
        "dataNascita": born,
        "luogoNascita": {"localita": {"descrizioneStato": "FRANCIA", "codiceStato": "215"}},
    }


def italian_residence(
    istat: str = A, street: str = "APPIA", since: dt.date = TODAY
) -> dict[str, Any]:
    return {
        "tipoIndirizzo": "1",
        "indirizzo": {
            "cap": "00184" if istat == A else "20121",
            "comune": comune(istat),
            "toponimo": {"specie": "VIA", "denominazioneToponimo": street},
            "numeroCivico": {"numero": "10"},
        },
        "dataDecorrenzaResidenza": since,
    }


def foreign_residence(
    *, state: str = "215", locality: str | None = "PARIGI", since: dt.date = TODAY
) -> dict[str, Any]:
    place: dict[str, Any] = {"codiceStato": state}
    if locality is not None:
        place["descrizioneLocalita"] = locality
    return {
        "tipoIndirizzo": "4",
        "localitaEstera": {
            "indirizzoEstero": {
                "cap": "75001",
                "localita": place,
                "toponimo": {"denominazione": "RUE DE RIVOLI", "numeroCivico": "3"},
            },
            "consolato": {"codiceConsolato": "2290103", "descrizioneConsolato": "PARIGI"},
        },
        "dataDecorrenzaResidenza": since,
    }


def legame(relation: str = "1") -> dict[str, Any]:
    return {"dataDecorrenza": TODAY, "codiceLegame": relation}


def scheda(household_id: str | None = None, kind: str = "5") -> dict[str, Any]:
    out: dict[str, Any] = {"tipoScheda": kind}
    if household_id is not None:
        out["idFamigliaConvivenzaANPR"] = household_id
    return out


def birth_1001(mother: Person, *, born: dt.date = TODAY, name: str = "LUCA") -> dict[str, Any]:
    return {
        "generalita1001": {
            "generalita": {
                "cognome": "VERDI",
                "nome": name,
                "sesso": "M",
                "dataNascita": born,
                "luogoNascita": {"comune": comune(A)},
            }
        },
        "cittadinanza": {"descrizioneStato": "ITALIA", "codiceStato": "100"},
        "maternita": {"generalita": gen(mother)},
        "datiControllo": {"attribuzioneFamiglia": "1", "gestioneCF": "1"},
    }


def registration_1002(
    generalita: dict[str, Any],
    *,
    reason: str = "9",
    residence: dict[str, Any] | None = None,
    joins: tuple[str, str, str] | None = None,
    relation: str = "99",
    provenienza: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A 1002; ``joins`` = (block, idFamigliaConvivenzaANPR, tipoScheda) of an existing
    family (``famiglia``) or convivenza (``convivenza``)."""
    payload: dict[str, Any] = {
        "motivoIscrizione": {"idMotivoIscrizione": reason, "note": "ALTRI MOTIVI"},
        "generalita1002": {"generalita": generalita, "statoCivile": {"statoCivile": "1"}},
        "cittadinanza": [{"descrizioneStato": "ITALIA", "codiceStato": "100"}],
        "residenza": [residence or italian_residence()],
        "datiControllo": {"attribuzioneFamiglia": "1" if joins is None else "4"},
    }
    if "codiceFiscale" not in generalita:
        payload["datiControllo"]["gestioneCF"] = "1"
    if provenienza is not None:
        payload["provenienza"] = provenienza
    if joins is not None:
        block, household_id, kind = joins
        payload[block] = {
            block: {"idFamigliaConvivenzaANPR": household_id, "tipoScheda": kind},
            "legameSoggetto": legame(relation),
        }
    return payload


def cohabitation_1010(
    *,
    name: str | None = "CONVENTO DI SAN PAOLO",
    species: str | None = "1",
    kind: str = "4",
    residence: dict[str, Any] | None = None,
    responsible_born: dt.date = dt.date(1960, 1, 1),
) -> dict[str, Any]:
    scheda_: dict[str, Any] = {"tipoScheda": kind}
    if name is not None:
        scheda_["denominazioneConvivenza"] = name
    if species is not None:
        scheda_["specieConvivenza"] = species
    return {
        "generalitaSchedaConvivenza": scheda_,
        "tutoreIntestatario": {
            "generalita": {
                "cognome": "ROSSI",
                "nome": "PAOLO",
                "sesso": "M",
                "dataNascita": responsible_born,
            },
            "dataIntestarioConvivenza": TODAY,
        },
        "residenzaConvivneza": residence or italian_residence(street="DEI CONVENTI"),
        "datiControllo": {},
    }


def archive_2009(household_id: str, *, day: dt.date = TODAY, kind: str = "4") -> dict[str, Any]:
    return {
        "estremiSchedaConvivenza": {"idFamigliaConvivenzaANPR": household_id, "tipoScheda": kind},
        "datiArchiviazione": {"dataDecorrenzaArchiviazione": day},
        "datiControllo": {},
    }


def death_2001(
    person: Person,
    *,
    died: dt.date | None = TODAY,
    key: str = "tipoMotivoCancellazione",
    generalita: dict[str, Any] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "motivoCancellazione": {key: "1"},
        "generalitaPerRicerca": generalita or gen(person),
        "datiControllo": {"ruoloSoggetto": "1"},
    }
    if died is not None:
        payload["datiDecesso"] = {"dataEvento": died}
    return payload


def cancellation_2003(
    person: Person, reason: str, destinazione: dict[str, Any] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "datiCancellazione": {"motivoCancellazione": reason, "dataDecorrenzaCancellazione": TODAY},
        "generalitaPerRicerca": gen(person),
        "datiControllo": {"ruoloSoggetto": "1"},
    }
    if destinazione is not None:
        payload["destinazione"] = destinazione
    return payload


TORINO = {"comune": comune("001272")}
"""A Comune that is not on the simulated ANPR."""
FRANCE = {"localita": {"descrizioneStato": "FRANCIA", "codiceStato": "215"}}


def annulment(
    service: str,
    result: Result[Any],
    person: Person,
    *,
    sent_as: str | None = None,
    id_comune: str | None = None,
) -> dict[str, Any]:
    """A 1013 (``service`` 1013) or 2011 naming the operation of ``result`` and ``person``."""
    operation = {
        "operazioneRichiesta": sent_as or result.header["operazioneRichiesta"],
        "idOperazioneComune": id_comune or result.id_operazione_comune,
        "idOperazioneANPR": result.id_operazione_anpr,
    }
    subject = {"soggetto": gen(person)}
    if service == "1013":
        return {
            "datiOperazione": operation,
            "datiSchedaSoggettoFamigliaConvivenza": subject,
            "datiControllo": {"tiposcheda": "1", "annullamentoAttribuzione": "N"},
        }
    return {
        "datiOperazioneDaAnnullare": operation,
        "datiSchedaSoggettoFamigliaConvivenza": subject,
        "datiControllo": {"tipoScheda": "1"},
    }


def aire_registration(
    generalita: dict[str, Any],
    *,
    service: str = "A002",
    attribution: str = "2",
    family: dict[str, Any] | None = None,
    relation: str = "1",
    iscrizione: dict[str, Any] | None = AIRE_DATA,
    residence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An A001 or A002 into a new famiglia AIRE (``attribution`` 2) or an existing one."""
    famiglia = family or scheda()
    payload: dict[str, Any] = {}
    if service == "A001":
        payload["generalitaA001"] = {"generalita": generalita}
        payload["famiglia"] = famiglia
        payload["legameSoggetto"] = legame(relation)
    else:
        payload["generalitaA002"] = {
            "generalita": generalita,
            "statoCivile": {"statoCivile": "1"},
        }
        payload["famiglia"] = {"famiglia": famiglia, "legameSoggetto": legame(relation)}
    if iscrizione is not None:
        payload["iscrizioneAire"] = iscrizione
    payload["residenzaEstera"] = residence if residence is not None else foreign_residence()
    if attribution == "1" and residence is None:
        del payload["residenzaEstera"]
    payload["datiControllo"] = {"attribuzioneFamigliaAIRE": attribution}
    if "codiceFiscale" not in generalita:
        payload["datiControllo"]["gestioneCF"] = "1"
    return payload


def aire_change(
    person: Person,
    tipo: str,
    *,
    attribution: str = "2",
    family: dict[str, Any] | None = None,
    relation: str = "1",
    iscrizione: dict[str, Any] | None = None,
    residence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An A006 of ``tipo`` (1 Italy → abroad, 2 another famiglia AIRE, 3 data, 4 Comune)."""
    payload: dict[str, Any] = {
        "generalita": gen(person),
        "famiglia": family or scheda(),
        "legameSoggetto": legame(relation),
    }
    if iscrizione is not None:
        payload["iscrizioneAire"] = iscrizione
    if residence is not None:
        payload["residenzaEstera"] = residence
    payload["datiControllo"] = {"tipoMutazione": tipo, "attribuzioneFamigliaAIRE": attribution}
    return payload


def procedure_1014(
    number: str | None,
    state: str,
    *,
    trigger: str | None = None,
    subjects: Sequence[Person] = (),
    day: dt.date = TODAY,
    anpr_number: str | None = None,
) -> dict[str, Any]:
    dati: dict[str, Any] = {}
    if anpr_number is not None:
        dati["numeroPraticaAnpr"] = anpr_number
    if number is not None:
        dati["numeroPraticaComune"] = number
    dati["tipoOperazione"] = "I" if state == "1" else "V"
    if trigger is not None:
        dati["motivoAvvio"] = trigger
    dati["dataStato"] = day
    dati["statoProcedimento"] = state
    payload: dict[str, Any] = {"procedimentoIstruttoria": dati}
    if subjects:
        payload["generalitaPerRicerca"] = [gen(p) for p in subjects]
    return payload


def section_2012(istat: str, number: str) -> dict[str, Any]:
    return {"datiSezione": {"comune": comune(istat), "sezioneelettoralenum": number}}


def subject_of(result: Result[Any]) -> str:
    """The codice fiscale of the first subject a Risposta_Comune reports."""
    (first, *_rest) = result.value["listaSoggettiVariati"]["datiSoggetto"]
    return str(first["generalitaAttuali"]["codiceFiscale"]["codFiscale"])
