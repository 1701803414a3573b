"""The simulated operations have real semantics (over TLS, with the library's client)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprRejected,
    AnprWarning,
    BusinessRuleError,
    InconsistentDataError,
    NotFoundError,
    OperationNotAllowedError,
)
from anpr_client.simulator import Simulator
from anpr_client.validation import codicefiscale

from .support import (
    A,
    B,
    certificate_payload,
    payload_3002,
    raw_client,
    singles,
    started_simulator,
    transfer_payload,
)

TODAY = dt.date.today()
DECORRENZA = {"dataDecorrenza": TODAY}


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("operations-state")
    with started_simulator(pki_template, state, extraction_delay=0.0) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client_a(sim: Simulator) -> Client:
    return sim.client(A, journal=None)


@pytest.fixture(scope="module")
def client_b(sim: Simulator) -> Client:
    return sim.client(B, journal=None)


def _birth(person: Any) -> dict[str, Any]:
    place = person.birth_place
    if place.state:
        return {"localita": {"descrizioneStato": place.name, "codiceStato": place.state}}
    return {
        "comune": {
            "nomeComune": place.name,
            "codiceIstat": place.comune,
            "siglaProvinciaIstat": place.province,
        }
    }


def _gen(person: Any) -> dict[str, Any]:
    return {
        "codiceFiscale": {"codFiscale": person.codice_fiscale},
        "cognome": person.surname,
        "nome": person.name,
        "sesso": person.sex,
        "dataNascita": person.birth_date,
    }


def _roma_address(street: str = "APPIA") -> list[dict[str, Any]]:
    return [
        {
            "tipoIndirizzo": "1",
            "indirizzo": {
                "cap": "00100",
                "comune": {"nomeComune": "ROMA", "codiceIstat": A, "siglaProvinciaIstat": "RM"},
                "toponimo": {"specie": "VIA", "denominazioneToponimo": street},
                "numeroCivico": {"numero": "1"},
            },
            "dataDecorrenzaResidenza": TODAY,
        }
    ]


# ----------------------------------------------------------------------------- 3000


def test_3002_by_codice_fiscale_returns_the_record(sim: Simulator, client_a: Client) -> None:
    person = sim.store.residents(A)[0]
    result = client_a.call("3002", payload_3002(person.codice_fiscale))
    (subject,) = result.value["listaSoggetti"]["datiSoggetto"]
    assert subject["generalita"]["codiceFiscale"]["codFiscale"] == person.codice_fiscale
    assert subject["identificativi"]["idANPR"] == person.id_anpr
    assert subject["residenza"][0]["indirizzo"]["comune"]["codiceIstat"] == A
    assert subject["famigliaConvivenza"]["idFamigliaConvivenzaANPR"] == person.household_id


def test_3002_by_personal_data_and_family(sim: Simulator, client_a: Client) -> None:
    household = next(h for h in sim.store.households(A) if len(h.members) >= 2)
    head = household.head
    payload = {
        "criteriRicerca": {"cognome": head.surname, "nome": head.name, "sesso": head.sex},
        "datiNascita": {"dataEvento": head.birth_date, "luogoNascita": _birth(head)},
        "datiRichiesta": {"schedaAnagraficaRichiesta": "2", "dataRiferimentoRichiesta": TODAY},
    }
    result = client_a.call("3002", payload)
    members = result.value["listaSoggetti"]["datiSoggetto"]
    assert [m["generalita"]["codiceFiscale"]["codFiscale"] for m in members] == [
        p.codice_fiscale for p in household.members
    ]
    assert (
        result.value["datiFamigliaConvivenza"]["famigliaConvivenza"]["idFamigliaConvivenzaANPR"]
        == household.id
    )


def test_3002_parts_requested(sim: Simulator, client_a: Client) -> None:
    person = sim.store.residents(A)[0]
    payload = payload_3002(person.codice_fiscale)
    payload["datiRichiesta"]["datiAnagraficiRichiesti"] = ["10"]  # residence only
    (subject,) = client_a.call("3002", payload).value["listaSoggetti"]["datiSoggetto"]
    assert set(subject) == {"identificativi", "generalita", "residenza"}


def test_3002_homonyms_need_narrower_criteria(sim: Simulator, client_a: Client) -> None:
    residents = sim.store.residents(A)
    pairs: dict[tuple[str, str, dt.date], list[Any]] = {}
    for p in residents:
        pairs.setdefault((p.surname, p.name, p.birth_date), []).append(p)
    twins = next(v for v in pairs.values() if len(v) > 1)  # the population plants one
    assert twins[0].codice_fiscale != twins[1].codice_fiscale
    assert codicefiscale.is_valid(twins[1].codice_fiscale)
    payload = {
        "criteriRicerca": {
            "cognome": twins[0].surname,
            "nome": twins[0].name,
            "sesso": twins[0].sex,
        },
        "datiNascita": {"dataEvento": twins[0].birth_date, "luogoNascita": _birth(twins[0])},
        "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": TODAY},
    }
    with pytest.raises(BusinessRuleError) as many:
        client_a.call("3002", payload)
    assert many.value.codes == ("EN095",)


def test_3002_unknown_and_missing_criteria(sim: Simulator, client_a: Client) -> None:
    with pytest.raises(NotFoundError):
        client_a.call("3002", payload_3002("RSSMRA80A01H501U", national=True))
    person = sim.store.residents(A)[0]
    partial = {
        "criteriRicerca": {"cognome": person.surname, "nome": person.name},
        "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": TODAY},
    }
    with pytest.raises(AnprRejected) as few:
        raw_client(sim, A).call("3002", partial)
    assert few.value.codes == ("EN448",)
    with pytest.raises(AnprRejected) as empty:
        raw_client(sim, A).call(
            "3002",
            {
                "criteriRicerca": {"sesso": "M"},
                "datiRichiesta": {
                    "schedaAnagraficaRichiesta": "1",
                    "dataRiferimentoRichiesta": TODAY,
                },
            },
        )
    assert empty.value.codes == ("EN448",)


def test_3003_and_3007_find_a_past_registration(sim: Simulator, client_b: Client) -> None:
    person = singles(sim)[0]
    moved = client_b.call("5005", transfer_payload([person]), header=DECORRENZA)
    single = {"idOperazioneANPR": moved.id_operazione_anpr, "tipoOperazione": "1"}
    found = client_b.call("3003", {"ricercaSingolaRichiesta": single})
    (item,) = found.value["elencoRisposte"]
    assert item["tipoOperazione"] == "5005"
    assert item["statoLavorazione"] == "2"
    stored = etree.fromstring(base64.b64decode(item["xmlRisposta"]))
    assert stored.findtext(".//testataRisposta/idOperazioneANPR") == moved.id_operazione_anpr
    assert etree.tostring(stored) == moved.raw.split(b"<soap:Body>")[1].split(b"</soap:Body>")[0]
    by_comune_id = client_b.call(
        "3007",
        {
            "ricercaSingolaRichiesta": {
                "idOperazioneComune": moved.id_operazione_comune,
                "tipoOperazione": "1",
            }
        },
    )
    (op,) = by_comune_id.value["listaOperazioniAnpr"]["operazioneANPR"]
    assert op["idOperazioneANPR"] == moved.id_operazione_anpr
    # Another Comune does not see B's operations; consultations are not listed.
    with pytest.raises(NotFoundError):
        sim.client(A, journal=None).call("3003", {"ricercaSingolaRichiesta": single})
    consulted = client_b.call("3002", payload_3002(person.codice_fiscale))
    with pytest.raises(NotFoundError):
        client_b.call(
            "3003",
            {
                "ricercaSingolaRichiesta": {
                    "idOperazioneANPR": consulted.id_operazione_anpr,
                    "tipoOperazione": "1",
                }
            },
        )


def test_3001_finds_the_parents(sim: Simulator, client_a: Client) -> None:
    mother = next(p for p in sim.store.residents(A) if p.sex == "F")
    result = client_a.call(
        "3001",
        {
            "maternita": {"generalita": _gen(mother)},
            "datiControlli": {
                "pPadre": "0",
                "pCodiceFiscalePadre": "0",
                "pMadre": "1",
                "pCognomeMadre": "1",
                "pCodiceFiscaleMadre": "1",
            },
        },
    )
    (found,) = result.value["elencoSoggettiMadre"]
    assert found["genitore"]["generalita"]["codiceFiscale"]["codFiscale"] == mother.codice_fiscale


# ----------------------------------------------------------------------------- 1000, 2000, 5000


def test_1001_registers_a_birth_with_an_attributed_codice_fiscale(
    sim: Simulator, client_a: Client
) -> None:
    mother = next(p for p in sim.store.residents(A) if p.sex == "F" and p.birth_date.year < 1995)
    born = TODAY - dt.timedelta(days=3)
    newborn = {
        "cognome": "VERDI",
        "nome": "LUCA",
        "sesso": "M",
        "dataNascita": born,
        "luogoNascita": {
            "comune": {"nomeComune": "ROMA", "codiceIstat": A, "siglaProvinciaIstat": "RM"}
        },
    }
    result = client_a.call(
        "1001",
        {
            "generalita1001": {"generalita": newborn},
            "cittadinanza": {"descrizioneStato": "ITALIA", "codiceStato": "100"},
            "maternita": {"generalita": _gen(mother)},
            "datiControllo": {"attribuzioneFamiglia": "1", "gestioneCF": "1"},
        },
        header=DECORRENZA,
    )
    (entry,) = result.value["listaSoggettiVariati"]["datiSoggetto"]
    cf = entry["generalitaAttuali"]["codiceFiscale"]["codFiscale"]
    assert cf == codicefiscale.calc("VERDI", "LUCA", "M", born, "H501")
    person = sim.store.person(cf)
    assert person is not None
    assert person.household_id == mother.household_id
    assert person.registered_by == result.id_operazione_anpr
    # The same birth again (a new id) is a duplicate registration.
    with pytest.raises(AnprRejected) as again:
        client_a.call(
            "1001",
            {
                "generalita1001": {"generalita": {**newborn, "codiceFiscale": {"codFiscale": cf}}},
                "cittadinanza": {"descrizioneStato": "ITALIA", "codiceStato": "100"},
                "maternita": {"generalita": _gen(mother)},
                "datiControllo": {"attribuzioneFamiglia": "1"},
            },
            header=DECORRENZA,
        )
    assert again.value.codes == ("EN187",)


def _immigrant(reason: str, provenienza: dict[str, Any]) -> dict[str, Any]:
    return {
        "motivoIscrizione": {"idMotivoIscrizione": reason},
        "generalita1002": {
            "generalita": {
                "cognome": "SMITH",
                "nome": "JOHN",
                "sesso": "M",
                "dataNascita": dt.date(1980, 5, 5),
                "luogoNascita": {
                    "localita": {"descrizioneStato": "REGNO UNITO", "codiceStato": "219"}
                },
            },
            "statoCivile": {"statoCivile": "1"},
        },
        "cittadinanza": [{"descrizioneStato": "REGNO UNITO", "codiceStato": "219"}],
        "provenienza": provenienza,
        "residenza": _roma_address(),
        "datiControllo": {"attribuzioneFamiglia": "1", "gestioneCF": "1"},
    }


def test_1002_immigration_from_abroad_founds_a_family(sim: Simulator, client_a: Client) -> None:
    result = client_a.call(
        "1002",
        _immigrant("4", {"localita": {"descrizioneStato": "REGNO UNITO", "codiceStato": "219"}}),
        header=DECORRENZA,
    )
    (entry,) = result.value["listaSoggettiVariati"]["datiSoggetto"]
    person = sim.store.person(entry["generalitaAttuali"]["codiceFiscale"]["codFiscale"])
    assert person is not None
    assert person.comune == A
    assert person.relation == "1"
    assert person.citizenship == "219"
    household = sim.store.household(person.household_id or "")
    assert household is not None
    assert household.address.street_name == "APPIA"


def test_1002_immigration_from_a_non_subentrato_comune(sim: Simulator, client_a: Client) -> None:
    torino = {
        "comune": {"nomeComune": "TORINO", "codiceIstat": "001272", "siglaProvinciaIstat": "TO"}
    }
    payload = _immigrant("3", torino)
    payload["generalita1002"]["generalita"]["nome"] = "PAUL"
    assert not sim.store.is_subentrato("001272")
    result = client_a.call("1002", payload, header=DECORRENZA)
    assert result.esito_operazione == "0000"


def test_1002_from_a_subentrato_comune_must_be_a_5005(client_a: Client) -> None:
    milano = {"comune": {"nomeComune": "MILANO", "codiceIstat": B, "siglaProvinciaIstat": "MI"}}
    with pytest.raises(InconsistentDataError) as refused:
        client_a.call("1002", _immigrant("3", milano), header=DECORRENZA)
    assert refused.value.codes == ("ES086",)


def test_2001_death_cancels_and_passes_the_headship(sim: Simulator, client_a: Client) -> None:
    household = next(h for h in sim.store.households(A) if len(h.members) >= 2)
    head = household.head
    assert head.relation == "1"
    result = client_a.call(
        "2001",
        {
            "motivoCancellazione": {"tipoMotivoCancellazione": "1"},
            "generalitaPerRicerca": _gen(head),
            "datiDecesso": {"dataEvento": TODAY},
            "datiControllo": {"ruoloSoggetto": "1"},
        },
        header=DECORRENZA,
    )
    assert result.esito_operazione == "0000"
    dead = sim.store.person(head.codice_fiscale)
    assert dead is not None
    assert dead.status == "deceased"
    assert dead.comune is None
    remaining = sim.store.members(household.id)
    assert [p.relation for p in remaining].count("1") == 1
    # A dead person gets only a death certificate.
    with pytest.raises(BusinessRuleError) as refused:
        client_a.call("6001", certificate_payload(dead))
    assert refused.value.codes == ("EN228",)
    assert client_a.call("6001", certificate_payload(dead, kind="2")).attachments


def test_2001_only_for_own_residents(sim: Simulator, client_b: Client) -> None:
    roman = sim.store.residents(A)[0]
    with pytest.raises(BusinessRuleError) as refused:
        client_b.call(
            "2001",
            {
                "motivoCancellazione": {"tipoMotivoCancellazione": "1"},
                "generalitaPerRicerca": _gen(roman),
                "datiDecesso": {"dataEvento": TODAY},
                "datiControllo": {"ruoloSoggetto": "1"},
            },
            header=DECORRENZA,
        )
    assert refused.value.codes == ("EN117",)


def _cancellation(person: Any, reason: str, destinazione: dict[str, Any]) -> dict[str, Any]:
    return {
        "datiCancellazione": {"motivoCancellazione": reason, "dataDecorrenzaCancellazione": TODAY},
        "generalitaPerRicerca": _gen(person),
        "destinazione": destinazione,
        "datiControllo": {"ruoloSoggetto": "1"},
    }


def test_2003_cancels_a_resident_who_moved_abroad(sim: Simulator, client_a: Client) -> None:
    person = singles(sim, A)[-1]
    france = {"localita": {"descrizioneStato": "FRANCIA", "codiceStato": "215"}}
    result = client_a.call("2003", _cancellation(person, "5", france), header=DECORRENZA)
    (entry,) = result.value["listaSoggettiVariati"]["datiSoggetto"]
    assert entry["datiCancellazione"]["motivoCancellazione"] == "5"
    gone = sim.store.person(person.codice_fiscale)
    assert gone is not None
    assert gone.status == "cancelled"
    assert gone.comune is None
    assert person.codice_fiscale not in {p.codice_fiscale for p in sim.store.residents(A)}


def test_2003_to_a_subentrato_comune_is_not_a_cancellation(
    sim: Simulator, client_a: Client
) -> None:
    person = singles(sim, A)[-1]
    milano = {"comune": {"nomeComune": "MILANO", "codiceIstat": B, "siglaProvinciaIstat": "MI"}}
    with pytest.raises(BusinessRuleError) as refused:
        client_a.call("2003", _cancellation(person, "3", milano), header=DECORRENZA)
    assert refused.value.codes == ("EN436",)


def test_5005_part_of_a_family_warns_to_update_the_family_left(
    sim: Simulator, client_b: Client
) -> None:
    household = next(h for h in sim.store.households(A) if len(h.members) >= 3)
    child = household.members[-1]
    payload = transfer_payload([child])
    payload["elencoSoggettiFamiglia"][0]["legameSoggetto"]["codiceLegame"] = "1"
    with pytest.warns(AnprWarning, match="EN226"):
        result = client_b.call("5005", payload, header=DECORRENZA)
    assert [a.code for a in result.warnings] == ["EN226"]
    assert len(sim.store.household(household.id).members) == len(household.members) - 1  # type: ignore[union-attr]


def test_5005_residence_only_in_the_destination(sim: Simulator, client_a: Client) -> None:
    person = singles(sim, B)[0]
    with pytest.raises(AnprRejected) as refused:
        client_a.call("5005", transfer_payload([person], to=B), header=DECORRENZA)
    assert refused.value.codes == ("EF042",)


def test_5005_within_the_same_comune_is_a_change_of_address(
    sim: Simulator, client_a: Client
) -> None:
    person = singles(sim, A)[0]
    payload = transfer_payload([person], to=A)
    payload["residenzaFamiglia"] = _roma_address("NOMENTANA")
    client_a.call("5005", payload, header=DECORRENZA)
    moved = sim.store.person(person.codice_fiscale)
    assert moved is not None
    assert moved.comune == A
    assert sim.store.residences(person.codice_fiscale)[-1].reason == "change"
    assert not [
        n for n in sim.notifications.pending(A) if n.codice_fiscale == person.codice_fiscale
    ]


def test_registration_needs_the_decorrenza(sim: Simulator) -> None:
    with pytest.raises(AnprRejected) as refused:
        raw_client(sim, B).call("5005", transfer_payload([singles(sim)[0]]))
    assert refused.value.codes == ("EHR97",)


# ----------------------------------------------------------------------------- 6001, 7001, misc


def test_6001_issues_a_real_pdf(sim: Simulator, client_b: Client) -> None:
    person = sim.store.residents(A)[0]  # any Comune certifies any resident
    result = client_b.call("6001", certificate_payload(person, kind="12"))
    (pdf,) = result.attachments.values()
    assert pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-1.4")
    assert pdf.data.rstrip().endswith(b"%%EOF")
    assert person.surname.encode() in pdf.data
    (issued,) = sim.store.certificates(person.codice_fiscale)
    assert issued.operation == result.id_operazione_anpr
    assert issued.comune == B
    assert result.value["protocolloANPR"]["numeroProtocolloANPR"] == result.id_operazione_anpr


def test_6001_data_only_issues_no_certificate(sim: Simulator, client_a: Client) -> None:
    person = sim.store.residents(B)[0]
    payload = certificate_payload(person)
    payload["datiControllo"]["tipoRichiesta"] = "2"
    result = client_a.call("6001", payload)
    assert "file" not in result.value
    assert result.value["datiCertificato"]["generalitaAttuali"]["cognome"] == person.surname
    assert sim.store.certificates(person.codice_fiscale) == []


def test_7001_serves_the_reference_tables(client_a: Client) -> None:
    result = client_a.call("7001", {"datiRichiesta": {"idTabella": "001"}})
    detail = result.value["datiDettaglioRisposta"]
    assert detail["idTabella"] == "001"
    table = base64.b64decode(detail["xmlFile"][0]).decode()
    assert table.splitlines()[0] == "ID,DESCRIZIONE"
    with pytest.raises(OperationNotAllowedError):
        client_a.call("7001", {"datiRichiesta": {"idTabella": "999"}})


def test_4005_lists_the_operations_of_the_comune(sim: Simulator, client_b: Client) -> None:
    since = sim.clock.now() - dt.timedelta(seconds=1)
    moved = client_b.call("5005", transfer_payload([singles(sim)[-1]]), header=DECORRENZA)
    started = client_b.call(
        "4005",
        {
            "elaborazione": {
                "dettaglioDati": "TUTTO",
                "ricercaElenchiRichieste": {
                    "statoLavorazione": "2",
                    "operazioneRichiesta": "5005",
                    "periodoRiferimentoRichieste": {
                        "dataOraIniziale": since,
                        "dataOraFinale": sim.clock.now(),
                    },
                },
            }
        },
    )
    ident = started.value["idOperazioneANPR"]
    done = client_b.call("4005", {"verificaStato": {"idOperazioneANPR": ident, "progressivo": "1"}})
    assert done.value["statoRichiesta"] == "2"
    items = {i["idOperazioneANPR"]: i for i in done.value["elencoRisposte"]}
    expected = {
        r.id_operazione_anpr
        for r in sim.ledger.operations(B, "5005", outcome="ok")
        if r.completed_at >= since.isoformat(timespec="microseconds")
    }
    assert set(items) == expected
    item = items[moved.id_operazione_anpr]
    assert b"Richiesta5005" in base64.b64decode(item["contenutoRichiesta"])
    assert b"Risposta_Comune" in base64.b64decode(item["contenutoRisposta"])
    with pytest.raises(BusinessRuleError) as unknown:
        client_b.call("4005", {"verificaStato": {"idOperazioneANPR": "1", "progressivo": "1"}})
    assert unknown.value.codes == ("EN107",)


def test_unsimulated_operation_gets_a_clear_ko(
    sim: Simulator, client_a: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every operation of the bundle has a handler now; one taken away answers EN379."""
    from tests.samples import sample_payload

    monkeypatch.delitem(sim.app.handlers, "7003")
    op = client_a.bundle.operation("7003")
    payload = sample_payload(op.wsdl, op.request)
    payload.pop("testataRichiesta", None)
    with pytest.raises(BusinessRuleError) as refused:
        client_a.call(op.code, payload)
    assert refused.value.codes == ("EN379",)
    assert "not simulated" in refused.value.errors[0].text


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ({"codDestinatario": "ANPR04"}, "codDestinatario"),
        ({"tipoInvio": "PROD"}, "tipoInvio"),
    ],
)
def test_testata_checks(client_a: Client, header: dict[str, str], field: str) -> None:
    with pytest.raises(AnprRejected) as refused:
        client_a.test_connection(header=header)
    assert refused.value.errors[0].field == field
    assert refused.value.esito_operazione == "XXXX"


def test_wsdl_is_served_at_the_path(sim: Simulator) -> None:
    from anpr_client.transport import HttpRequest

    client = sim.client(A, journal=None)
    url = client.settings.url_for("3000") + "?wsdl"
    response = client.transport.send(HttpRequest(url, b"", method="GET"))
    assert response.status == 200
    assert etree.fromstring(response.body).tag == "{http://schemas.xmlsoap.org/wsdl/}definitions"


def test_the_simulator_refuses_what_anpr_refuses_without_the_clients_checks(
    sim: Simulator,
) -> None:
    payload = _immigrant(
        "4", {"localita": {"descrizioneStato": "REGNO UNITO", "codiceStato": "219"}}
    )
    del payload["generalita1002"]["statoCivile"]
    with pytest.raises(AnprRejected) as refused:
        raw_client(sim, A).call("1002", payload, header=DECORRENZA)
    assert refused.value.codes == ("EN127",)
