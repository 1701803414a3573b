"""The typed faces of the extraction, table, identity card, consulate, agency, citizen request
and take-over families, against the simulator (its registry is what the answers must show)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors import AnprRejected
from anpr_client.models import from_payload, request_type
from anpr_client.services import Address, Member
from anpr_client.simulator import Person, Simulator

from .conftest import MILANO, ROMA
from .support import sample_request

TODAY = dt.date.today()
CONSULTAZIONE = "{http://sogei.it/ANPR/3000consultazione}"


def _request(code: str, payload: dict[str, Any]) -> Any:
    return from_payload(request_type(code), payload, strict=True)


def _generalita(person: Person) -> dict[str, Any]:
    return {
        "codiceFiscale": {"codFiscale": person.codice_fiscale},
        "cognome": person.surname,
        "nome": person.name,
    }


def _file_subjects(content: bytes) -> list[str]:
    """The codici fiscali of a 4001/4002 file: 3002 answers one after the other."""
    documents = [d for d in re.split(rb"(?=<\?xml )", content) if d.strip()]
    found: list[str] = []
    for document in documents:
        root = etree.fromstring(document)
        assert root.tag == f"{CONSULTAZIONE}Risposta3002"
        found.extend(cf.text or "" for cf in root.iter("codFiscale"))
    return found


def _download(client: Client, id_anpr: str) -> bytes:
    request = _request("7002", {"datiRichiesta": {"idOperazioneANPR": id_anpr}})
    result = client.tables.download_file(request)
    assert result.value.formato == ".xml"
    content = result.value.file.contenutoFile
    assert isinstance(content, bytes)
    return content


# ----------------------------------------------------------------------------- 4000, 7000


def test_extract_citizens_then_download_their_file(sim: Simulator, roma: Client) -> None:
    women = [p for p in sim.store.residents(ROMA) if p.sex == "F"]
    surname = women[0].surname
    expected = [
        p.codice_fiscale
        for p in (*sim.store.residents(ROMA), *sim.store.aire_citizens(ROMA))
        if p.sex == "F" and p.surname == surname
    ]
    request = _request(
        "4001",
        {
            "criteriRicerca": {
                "datiAnagraficiRichiesti": ["1"],
                "ulterioriSelezioni": {
                    "ricercaChiaveParziale": {"cognome": surname},
                    "sesso": "F",
                },
            }
        },
    )
    started = roma.extractions.extract_citizens(request)
    assert started.value.criteriRicerca.ulterioriSelezioni is not None
    found = _file_subjects(_download(roma, started.value.idOperazioneANPR))
    assert sorted(found) == sorted(expected)


def test_an_extraction_is_downloaded_by_its_comune_only(
    sim: Simulator, roma: Client, milano: Client
) -> None:
    request = _request(
        "4001",
        {
            "criteriRicerca": {
                "datiAnagraficiRichiesti": ["1"],
                "ulterioriSelezioni": {"sesso": "M"},
            }
        },
    )
    started = roma.extractions.extract_citizens(request)
    with pytest.raises(AnprRejected) as refused:
        _download(milano, started.value.idOperazioneANPR)
    assert refused.value.codes == ("EN107",)


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({}, "EHR45"),
        ({"ulterioriSelezioni": {"statoIstruttoria": "1"}}, "EN177"),
        ({"ulterioriSelezioni": {"fasciaEtaDa": "10", "etaMinimaAllaDataRiferimento": "18"}},
         "EHR29"),
        ({"ulterioriSelezioni": {"etaMinimaAllaDataRiferimento": "18"}}, "EHR30"),
        ({"riferimentoRichiesta": {"dataIniziale": TODAY - dt.timedelta(days=9),
                                   "dataFinale": TODAY}}, "EN168"),
        ({"riferimentoRichiesta": {"dataIniziale": TODAY + dt.timedelta(days=9),
                                   "dataFinale": TODAY + dt.timedelta(days=10)},
          "registrazioni": {"codiceServizio": "5005"}}, "EHR15"),
        ({"riferimentoRichiesta": {"dataIniziale": TODAY,
                                   "dataFinale": TODAY - dt.timedelta(days=1)},
          "registrazioni": {"codiceServizio": "5005"}}, "EHR16"),
        ({"comuneRichiesta": {"nomeComune": "MILANO", "codiceIstat": "015146",
                              "siglaProvinciaIstat": "MI"}, "ulterioriSelezioni": {"sesso": "M"}},
         "EN167"),
        ({"ulterioriSelezioni": {"possessoPatente": "S"}}, "EN379"),
    ],
)  # fmt: skip
def test_extraction_criteria_rules(roma: Client, criteria: dict[str, Any], code: str) -> None:
    request = _request("4001", {"criteriRicerca": {"datiAnagraficiRichiesti": ["1"], **criteria}})
    with pytest.raises(AnprRejected) as refused:
        roma.extractions.extract_citizens(request)
    assert refused.value.codes == (code,)


def test_extract_by_age_band(sim: Simulator, roma: Client) -> None:
    def age(p: Person) -> int:
        born = p.birth_date
        return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))

    population = (*sim.store.residents(ROMA), *sim.store.aire_citizens(ROMA))
    expected = [p.codice_fiscale for p in population if 30 <= age(p) <= 40]
    request = _request(
        "4001",
        {
            "criteriRicerca": {
                "datiAnagraficiRichiesti": ["1"],
                "ulterioriSelezioni": {"fasciaEtaDa": "30", "fasciaEtaA": "40"},
            }
        },
    )
    started = roma.extractions.extract_citizens(request)
    assert sorted(_file_subjects(_download(roma, started.value.idOperazioneANPR))) == sorted(
        expected
    )


def test_enrich_codici_fiscali_leaves_out_who_is_not_on_anpr(sim: Simulator, roma: Client) -> None:
    known = sim.store.residents(ROMA)[:3]
    listed = "\n".join([*(p.codice_fiscale for p in known), "RSSMRA80A01H501U"]).encode()
    assert sim.store.person("RSSMRA80A01H501U") is None
    request = _request(
        "4002",
        {
            "criteriRicerca": {
                "dataRiferimento": TODAY,
                "datiRichiesti": ["1"],
                "xmlFileCodiciFiscali": listed,
            }
        },
    )
    started = roma.extractions.enrich_codici_fiscali(request)
    found = _file_subjects(_download(roma, started.value.idOperazioneANPR))
    assert found == [p.codice_fiscale for p in known]


def test_statistics_and_support_lists_are_accepted_without_a_file(roma: Client) -> None:
    comune = {"nomeComune": "ROMA", "codiceIstat": ROMA, "siglaProvinciaIstat": "RM"}
    statistics = roma.extractions.statistical_report(
        _request(
            "4003",
            {"datiRichiesta": {"comune": comune, "tipologiaProspetto": "1", "anno": "2025"}},
        )
    )
    lists = roma.extractions.support_lists(_request("4004", {"datiRichiesta": {"tipoElenco": "1"}}))
    for started in (statistics, lists):
        with pytest.raises(AnprRejected) as nothing:
            _download(roma, started.value.idOperazioneANPR)
        assert nothing.value.codes == ("EN122",)


def test_list_versions_names_the_interface_served(roma: Client) -> None:
    result = roma.tables.list_versions(_request("7003", {"datiRichiesta": {}}))
    (state,) = result.value.statoVersioni
    assert state.versioneCorrente.CodDestinatario == roma.settings.cod_destinatario
    assert state.versioneCorrente.VersioneCompleta == "9.0.3"


# ----------------------------------------------------------------------------- shape only


def test_identity_card_lookup_returns_the_registry_person(sim: Simulator, roma: Client) -> None:
    person = sim.store.residents(ROMA)[5]
    request = sample_request("CIE2")
    request = dataclasses.replace(
        request,
        generalita=from_payload(
            type(request.generalita),
            {
                "codiceFiscale": person.codice_fiscale,
                "cognome": person.surname,
                "nome": person.name,
            },
        ),
    )
    result = roma.identity_cards.find_person(request)
    assert result.value.listaSoggetti is not None
    (subject,) = result.value.listaSoggetti.datiSoggetto
    assert subject.generalita is not None
    assert subject.generalita.codiceFiscale is not None
    assert subject.generalita.codiceFiscale.codFiscale == person.codice_fiscale
    assert subject.generalita.dataNascita == person.birth_date


def test_identity_card_lookup_of_someone_not_on_anpr(roma: Client) -> None:
    request = sample_request("CIE2")
    request = dataclasses.replace(
        request,
        generalita=from_payload(
            type(request.generalita),
            {"codiceFiscale": "RSSMRA80A01H501U", "cognome": "ROSSI", "nome": "MARIO"},
        ),
    )
    with pytest.raises(AnprRejected) as refused:
        roma.identity_cards.find_person(request)
    assert refused.value.codes == ("EN122",)


def test_consulate_knows_who_is_abroad(sim: Simulator, roma: Client) -> None:
    resident = sim.store.residents(ROMA)[0]
    request = sample_request("C010")
    request = dataclasses.replace(
        request, generalita=from_payload(type(request.generalita), _generalita(resident))
    )
    assert roma.consulates.find_aire_registration(request).value.isAire is False


def test_agency_lookup_echoes_its_client_id(sim: Simulator, roma: Client) -> None:
    person = sim.store.residents(ROMA)[1]
    request = sample_request("E002")
    request = dataclasses.replace(
        request,
        criteriRicerca=from_payload(
            type(request.criteriRicerca), {"codiceFiscale": person.codice_fiscale}
        ),
    )
    first = roma.agencies.find_persons(request, header={"idOperazioneComune": "ENTE42"})
    assert first.header["idOperazioneClient"] == "ENTE42"
    assert first.value.listaSoggetti is not None
    (subject,) = first.value.listaSoggetti.datiSoggetto
    assert subject.generalita is not None
    assert subject.generalita.cognome == person.surname
    # the ledger keys E00x requests by idOperazioneClient: the same id, the first answer
    again = roma.agencies.find_persons(request, header={"idOperazioneComune": "ENTE42"})
    assert again.raw == first.raw
    other = roma.agencies.find_persons(request, header={"idOperazioneComune": "ENTE43"})
    assert other.id_operazione_anpr != first.id_operazione_anpr


def test_citizen_requests_echo_the_criteria(roma: Client) -> None:
    request = sample_request("P001")
    result = roma.citizen_requests.list_requests(request)
    assert result.value.criteriRicerca == request.criteriRicerca


def test_takeover_file_is_acknowledged(roma: Client) -> None:
    result = roma.takeover.send_file(sample_request("S001"))
    assert result.esito_operazione == "0000"
    assert result.value.datiDettaglioRisposta is not None


def test_extract_whom_a_service_changed_in_a_period(sim: Simulator, milano: Client) -> None:
    person = next(h.head for h in sim.store.households(ROMA) if len(h.members) == 1)
    milano.changes.move_residence(
        [
            Member(
                codice_fiscale=person.codice_fiscale,
                surname=person.surname,
                name=person.name,
                relation="1",
            )
        ],
        Address(comune=MILANO, street="BRERA", cap="20121"),
    )
    request = _request(
        "4001",
        {
            "criteriRicerca": {
                "datiAnagraficiRichiesti": ["1"],
                "riferimentoRichiesta": {"dataIniziale": TODAY, "dataFinale": TODAY},
                "registrazioni": {"codiceServizio": "5005"},
            }
        },
    )
    started = milano.extractions.extract_citizens(request)
    found = _file_subjects(_download(milano, started.value.idOperazioneANPR))
    assert person.codice_fiscale in found
    assert all(sim.store.person(cf).comune == MILANO for cf in found)  # type: ignore[union-attr]


def test_one_elaboration_of_a_service_at_a_time(sim: Simulator, roma: Client) -> None:
    request = _request(
        "4001",
        {
            "criteriRicerca": {
                "datiAnagraficiRichiesti": ["1"],
                "ulterioriSelezioni": {"sesso": "F"},
            }
        },
    )
    started = roma.extractions.extract_citizens(request)
    sim.clock.offset -= 10  # back before the elaboration is over (within the gateway's skew)
    try:
        with pytest.raises(AnprRejected) as early:
            _download(roma, started.value.idOperazioneANPR)
        assert early.value.codes == ("EN122",)
        assert "ancora in elaborazione" in early.value.errors[0].text
        with pytest.raises(AnprRejected) as busy:
            roma.extractions.extract_citizens(request)
        assert busy.value.codes == ("EN179",)
    finally:
        sim.clock.offset += 10
    assert _file_subjects(_download(roma, started.value.idOperazioneANPR))
