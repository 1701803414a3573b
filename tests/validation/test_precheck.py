"""The client's hook: requirements per operation and the person checks on payloads."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anpr_client.errors.exceptions import LocalCheckError, PayloadError
from anpr_client.validation import codicefiscale as cf
from anpr_client.validation import enforce, precheck, shared_checker
from anpr_client.validation.rules import PersonChecker

from .conftest import TODAY

CF = cf.calc("Rossi", "Mario", "M", date(1985, 12, 10), "H501")
HEADER = {"tipoInvio": "TEST", "dataDecorrenza": "2026-01-10"}


def _generalita(**changes: Any) -> dict[str, Any]:
    g: dict[str, Any] = {
        "codiceFiscale": {"codFiscale": CF},
        "cognome": "ROSSI",
        "nome": "MARIO",
        "sesso": "M",
        "dataNascita": date(1985, 12, 10),
        "luogoNascita": {
            "comune": {"nomeComune": "ROMA", "codiceIstat": "058091", "siglaProvinciaIstat": "RM"}
        },
    }
    g.update(changes)
    return {k: v for k, v in g.items() if v is not None}


def _1002(**generalita: Any) -> dict[str, Any]:
    return {
        "testataRichiesta": dict(HEADER),
        "motivoIscrizione": {"idMotivoIscrizione": "1"},
        "generalita1002": {
            "generalita": _generalita(**generalita),
            "statoCivile": {"statoCivile": "1"},
        },
        "cittadinanza": [{"descrizioneStato": "ITALIA", "codiceStato": "100"}],
        "residenza": [
            {
                "tipoIndirizzo": "1",
                "indirizzo": {
                    "cap": "00184",
                    "comune": {
                        "nomeComune": "ROMA",
                        "codiceIstat": "058091",
                        "siglaProvinciaIstat": "RM",
                    },
                    "toponimo": {
                        "codSpecie": "213",
                        "specie": "VIA",
                        "denominazioneToponimo": "ROMA",
                    },
                    "numeroCivico": {"numero": "12"},
                },
            }
        ],
        "datiControllo": {"attribuzioneFamiglia": "2"},
    }


def _codes(
    operation: str, payload: dict[str, Any], checker: PersonChecker
) -> list[tuple[str, str]]:
    return [(f.path, f.code) for f in precheck(operation, payload, checker=checker)]


def test_a_clean_registration_passes(official_checker: PersonChecker) -> None:
    assert precheck("1002", _1002(), checker=official_checker) == []
    assert enforce("1002", _1002(), checker=official_checker) == []


def test_person_defects_carry_payload_paths(official_checker: PersonChecker) -> None:
    payload = _1002(sesso="F", cognome="BIANCHI")
    assert _codes("1002", payload, official_checker) == [
        ("generalita1002.generalita.codiceFiscale.codFiscale", "EAV21"),
        ("generalita1002.generalita.codiceFiscale.codFiscale", "EA042"),
    ]
    assert enforce("1002", payload, checker=official_checker)  # warnings only: returned


def test_a_blocking_finding_stops_the_request(official_checker: PersonChecker) -> None:
    payload = _1002(luogoNascita={"comune": {"nomeComune": "MILANO", "codiceIstat": "015146",
                                              "siglaProvinciaIstat": "MI"}})  # fmt: skip
    with pytest.raises(LocalCheckError) as info:
        enforce("1002", payload, checker=official_checker)
    assert info.value.codes == ("EN339",)
    assert isinstance(info.value, PayloadError)
    assert info.value.violations[0].path == "generalita1002.generalita.codiceFiscale.codFiscale"


def test_the_name_must_match_the_istat_code(official_checker: PersonChecker) -> None:
    payload = _1002(luogoNascita={"comune": {"nomeComune": "NAPOLI", "codiceIstat": "058091",
                                              "siglaProvinciaIstat": "RM"}})  # fmt: skip
    assert _codes("1002", payload, official_checker) == [
        ("generalita1002.generalita.luogoNascita.comune.codiceIstat", "EC009")
    ]


def test_a_comune_by_name_only_is_looked_up_at_the_birth_date(
    official_checker: PersonChecker,
) -> None:
    born = date(1990, 1, 1)
    code = cf.calc("Rossi", "Mario", "M", born, "H579")
    rossano = {"comune": {"nomeComune": "ROSSANO", "siglaProvinciaIstat": "CS"}}
    ok = _1002(codiceFiscale={"codFiscale": code}, dataNascita=born, luogoNascita=rossano)
    assert _codes("1002", ok, official_checker) == []
    late = date(2020, 1, 1)
    code = cf.calc("Rossi", "Mario", "M", late, "H579")
    gone = _1002(codiceFiscale={"codFiscale": code}, dataNascita=late, luogoNascita=rossano)
    assert _codes("1002", gone, official_checker) == [
        ("generalita1002.generalita.luogoNascita.comune.nomeComune", "EN332")
    ]


def test_foreign_birth_and_citizenship(official_checker: PersonChecker) -> None:
    code = cf.calc("Dupont", "Jean", "M", date(1970, 3, 3), "Z110")
    france = {"localita": {"descrizioneStato": "FRANCIA", "codiceStato": "215"}}
    payload = _1002(codiceFiscale={"codFiscale": code}, cognome="DUPONT", nome="JEAN",
                    dataNascita=date(1970, 3, 3), luogoNascita=france)  # fmt: skip
    payload["cittadinanza"] = [{"descrizioneStato": "X", "codiceStato": "000"}]
    assert _codes("1002", payload, official_checker) == [("cittadinanza[0].codiceStato", "EC036")]
    germany = {"localita": {"descrizioneStato": "FRANCIA", "codiceStato": "216"}}
    payload["generalita1002"]["generalita"]["luogoNascita"] = germany
    payload["cittadinanza"] = [{"descrizioneStato": "FRANCIA", "codiceStato": "215"}]
    assert [c for _, c in _codes("1002", payload, official_checker)] == ["EC031", "EN340"]


def test_requirements_of_1002(official_checker: PersonChecker) -> None:
    payload = _1002()
    payload["motivoIscrizione"] = {"idMotivoIscrizione": "9"}
    del payload["residenza"]
    del payload["generalita1002"]["statoCivile"]
    del payload["testataRichiesta"]["dataDecorrenza"]
    payload["datiControllo"] = {"attribuzioneFamiglia": "4"}
    assert sorted(_codes("1002", payload, official_checker)) == sorted(
        [
            ("testataRichiesta.dataDecorrenza", "EHR97"),
            ("motivoIscrizione.note", "EC014"),
            ("generalita1002.statoCivile.statoCivile", "EN127"),
            ("residenza", "EN081"),
            ("famiglia", "EF030"),
        ]
    )


def test_cf_management_in_1001(official_checker: PersonChecker) -> None:
    base: dict[str, Any] = {
        "testataRichiesta": dict(HEADER),
        "generalita1001": {"generalita": _generalita(codiceFiscale=None)},
        "datiControllo": {"attribuzioneFamiglia": "1"},
    }
    assert _codes("1001", base, official_checker) == [
        ("generalita1001.generalita.codiceFiscale", "ES070")
    ]
    base["datiControllo"]["gestioneCF"] = "7"
    assert _codes("1001", base, official_checker) == [("datiControllo.gestioneCF", "ES090")]
    base["datiControllo"]["gestioneCF"] = "1"
    assert _codes("1001", base, official_checker) == []
    base["generalita1001"]["generalita"]["codiceFiscale"] = {"codFiscale": CF}
    assert _codes("1001", base, official_checker) == [
        ("generalita1001.generalita.codiceFiscale", "EN125")
    ]
    del base["generalita1001"]["generalita"]["sesso"]
    assert ("generalita1001.generalita.sesso", "EN081") in _codes("1001", base, official_checker)


def test_a_future_birth_is_judged_against_the_operation_date(
    official_checker: PersonChecker,
) -> None:
    born = date(2026, 1, 12)
    code = cf.calc("Rossi", "Mario", "M", born, "H501")
    payload = _1002(codiceFiscale={"codFiscale": code}, dataNascita=born)
    assert _codes("1002", payload, official_checker) == [
        ("generalita1002.generalita.dataNascita", "ES008")
    ]
    payload["testataRichiesta"]["dataDecorrenza"] = "2026-01-13"
    assert _codes("1002", payload, official_checker) == []


def test_residence_and_species(official_checker: PersonChecker) -> None:
    payload = _1002()
    address = payload["residenza"][0]["indirizzo"]
    address["comune"]["codiceIstat"] = "078108"  # ceased in 2018
    address["toponimo"]["codSpecie"] = "9999"
    assert _codes("1002", payload, official_checker) == [
        ("residenza[0].indirizzo.comune.codiceIstat", "EC056"),
        ("residenza[0].indirizzo.toponimo.codSpecie", "EC073"),
    ]


def test_3002_searches(official_checker: PersonChecker) -> None:
    by_cf = {"criteriRicerca": {"codiceFiscale": CF},
             "datiRichiesta": {"dataRiferimentoRichiesta": "2026-01-10"}}  # fmt: skip
    assert _codes("3002", by_cf, official_checker) == []
    wrong = {**by_cf, "criteriRicerca": {"codiceFiscale": CF[:15] + "X"}}
    assert _codes("3002", wrong, official_checker) == [("criteriRicerca.codiceFiscale", "EN122")]
    partial = {"criteriRicerca": {"cognome": "ROSSI", "nome": "MARIO"},
               "datiNascita": {"dataEvento": "1985-12-10"}}  # fmt: skip
    assert _codes("3002", partial, official_checker) == [
        ("criteriRicerca.sesso", "EN448"),
        ("datiNascita.luogoNascita", "EN448"),
    ]
    full = {"criteriRicerca": {"cognome": "ROSSI", "nome": "MARIO", "sesso": "M"},
            "datiNascita": {"dataEvento": "1985-12-10", "luogoNascita": {
                "comune": {"nomeComune": "ROMA", "codiceIstat": "058091",
                           "siglaProvinciaIstat": "RM"}}}}  # fmt: skip
    assert _codes("3002", full, official_checker) == []
    assert _codes("3002", {"criteriRicerca": {"cognome": "ROSSI"}}, official_checker) == [
        ("criteriRicerca.codiceFiscale", "EN448")
    ]


def test_2001_and_5005_need_identifiers(official_checker: PersonChecker) -> None:
    death = {"testataRichiesta": dict(HEADER),
             "generalitaPerRicerca": {"cognome": "ROSSI", "nome": "MARIO"},
             "datiDecesso": {"dataEvento": "2026-01-02"}}  # fmt: skip
    assert _codes("2001", death, official_checker) == [("generalitaPerRicerca", "ES004")]
    move = {"testataRichiesta": dict(HEADER),
            "elencoSoggettiFamiglia": [{"generalita": {"cognome": "ROSSI", "nome": "MARIO"}},
                                       {"generalita": _generalita()}]}  # fmt: skip
    assert _codes("5005", move, official_checker) == [
        ("residenzaFamiglia", "EN081"),
        ("elencoSoggettiFamiglia[0].generalita", "ES004"),
    ]


def test_the_samples_never_call_a_code_nonexistent() -> None:
    payload = _1002()
    payload["residenza"][0]["indirizzo"]["comune"]["codiceIstat"] = "050026"  # Pisa: not sampled
    assert precheck("1002", payload, today=TODAY) == []


def test_one_checker_per_archive_for_the_process(archive_path: Path) -> None:
    first = shared_checker(archive_path)
    assert first is shared_checker(str(archive_path))
    assert first.comuni.complete
    assert shared_checker(None).comuni is not first.comuni
