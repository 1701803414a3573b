"""The daily acts from plain values: against the simulator where it serves the operation (its
registry shows the effect), against answers shaped like ANPR's otherwise (``support``), where
the request the client built is what is checked."""

from __future__ import annotations

import datetime as dt
import gzip
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors import (
    AnprRejected,
    InconsistentDataError,
    InvalidComponent,
    InvalidFormat,
    ProtocolError,
    ReadTimeout,
    ValidationError,
)
from anpr_client.models import common
from anpr_client.services import Address, AddressAbroad, Member, Place, Subject
from anpr_client.simulator import Person, Simulator
from anpr_client.validation import codicefiscale

from .conftest import MILANO, ROMA
from .support import Recorder, recorded_client, sample_answer

TODAY = dt.date.today()


def _subject(person: Person) -> Subject:
    return Subject(codice_fiscale=person.codice_fiscale, surname=person.surname, name=person.name)


def _member(person: Person, relation: str) -> Member:
    return Member(
        codice_fiscale=person.codice_fiscale,
        surname=person.surname,
        name=person.name,
        relation=relation,
    )


def _singles(sim: Simulator, istat: str) -> list[Person]:
    return [h.head for h in sim.store.households(istat) if len(h.members) == 1]


# ----------------------------------------------------------------------------- the simulator


def test_register_newborn(sim: Simulator, roma: Client) -> None:
    mother = next(p for p in sim.store.residents(ROMA) if p.sex == "F" and p.birth_date.year < 1995)
    born = TODAY - dt.timedelta(days=2)
    result = roma.registrations.register_newborn(
        "VERDI", "LUCA", "M", born, ROMA, mother=_subject(mother)
    )
    assert isinstance(result.value, common.RispostaComune)
    assert result.value.listaSoggettiVariati is not None
    (entry,) = result.value.listaSoggettiVariati.datiSoggetto
    assert entry.generalitaAttuali is not None
    assert entry.generalitaAttuali.codiceFiscale is not None
    cf = entry.generalitaAttuali.codiceFiscale.codFiscale
    assert cf == codicefiscale.calc("VERDI", "LUCA", "M", born, "H501")  # attributed by ANPR
    child = sim.store.person(cf)
    assert child is not None
    assert child.household_id == mother.household_id
    assert child.relation == "3"
    assert child.registered_by == result.id_operazione_anpr


def test_register_arrival_from_abroad_founds_a_household(sim: Simulator, roma: Client) -> None:
    home = Address(comune=ROMA, street="APPIA", street_kind="VIA", number="12", cap="00179")
    result = roma.registrations.register_arrival(
        "SMITH",
        "JOHN",
        "M",
        dt.date(1980, 5, 5),
        "219",
        coming_from="219",
        address=home,
        marital_status="1",
        citizenship="219",
    )
    assert isinstance(result.value, common.RispostaComune)
    assert result.value.listaSoggettiVariati is not None
    (entry,) = result.value.listaSoggettiVariati.datiSoggetto
    assert entry.generalitaAttuali is not None
    assert entry.generalitaAttuali.codiceFiscale is not None
    person = sim.store.person(entry.generalitaAttuali.codiceFiscale.codFiscale)
    assert person is not None
    assert (person.comune, person.relation, person.citizenship) == (ROMA, "1", "219")
    household = sim.store.household(person.household_id or "")
    assert household is not None
    assert (household.address.street_name, household.address.house_number) == ("APPIA", "12")


def test_register_arrival_from_a_comune_on_anpr_is_refused(roma: Client) -> None:
    home = Address(comune=ROMA, street="APPIA", number="3", cap="00179")
    with pytest.raises(InconsistentDataError) as refused:
        roma.registrations.register_arrival(
            "ROSSI",
            "PAOLO",
            "M",
            dt.date(1975, 1, 9),
            MILANO,
            coming_from=MILANO,  # a Comune on ANPR: a change of residence, not a registration
            address=home,
            marital_status="1",
            citizenship="100",
        )
    assert refused.value.codes == ("ES086",)


def test_record_death(sim: Simulator, roma: Client) -> None:
    household = next(h for h in sim.store.households(ROMA) if len(h.members) >= 2)
    head = household.head
    result = roma.cancellations.record_death_of(
        _subject(head), died_on=TODAY - dt.timedelta(days=1), role="head"
    )
    assert isinstance(result.value, common.RispostaComune)
    dead = sim.store.person(head.codice_fiscale)
    assert dead is not None
    assert (dead.status, dead.death_date) == ("deceased", TODAY - dt.timedelta(days=1))
    assert [p.relation for p in sim.store.members(household.id)].count("1") == 1


def test_cancel_resident_who_moved_abroad(sim: Simulator, roma: Client) -> None:
    person = _singles(sim, ROMA)[-1]
    result = roma.cancellations.cancel_resident(
        _subject(person), reason="5", role="head", destination="215"
    )
    assert result.value.listaSoggettiVariati is not None
    (entry,) = result.value.listaSoggettiVariati.datiSoggetto
    assert entry.datiCancellazione is not None
    assert entry.datiCancellazione.motivoCancellazione == "5"
    gone = sim.store.person(person.codice_fiscale)
    assert gone is not None
    assert (gone.status, gone.comune) == ("cancelled", None)


def test_move_residence_into_a_new_household_of_another_comune(
    sim: Simulator, milano: Client
) -> None:
    person = _singles(sim, ROMA)[0]
    result = milano.changes.move_residence(
        [_member(person, "1")],
        Address(comune=MILANO, street="DANTE", number="5", cap="20121"),
    )
    assert isinstance(result.value, common.RispostaComune)
    moved = sim.store.person(person.codice_fiscale)
    assert moved is not None
    assert (moved.comune, moved.relation) == (MILANO, "1")
    household = sim.store.household(moved.household_id or "")
    assert household is not None
    assert household.address.street_name == "DANTE"
    assert [n.codice_fiscale for n in sim.notifications.pending(ROMA)].count(
        person.codice_fiscale
    ) == 1  # Roma, which lost them, is told (N010)


def test_move_residence_into_an_existing_household(sim: Simulator, milano: Client) -> None:
    person = _singles(sim, ROMA)[1]
    target = sim.store.households(MILANO)[0]
    milano.changes.move_residence(
        [_member(person, "13")],
        Address(comune=MILANO, street=target.address.street_name, cap=target.address.cap),
        household=target.id,
    )
    moved = sim.store.person(person.codice_fiscale)
    assert moved is not None
    assert (moved.household_id, moved.relation) == (target.id, "13")


def test_certificate_pdf(sim: Simulator, milano: Client) -> None:
    person = sim.store.residents(ROMA)[0]  # any Comune on ANPR certifies any resident
    pdf = milano.certificates.certificate_pdf(
        _subject(person), "8", officer_surname="ROSSI", officer_name="MARIA"
    )
    assert pdf.startswith(b"%PDF-1.4")
    assert person.surname.encode() in pdf
    (issued,) = sim.store.certificates(person.codice_fiscale)
    assert issued.comune == MILANO


def test_download_table(roma: Client) -> None:
    (table,) = roma.tables.download_table("001")
    assert table.decode().splitlines()[0] == "ID,DESCRIZIONE"
    with pytest.raises(AnprRejected):
        roma.tables.download_table("999")


def test_extract_the_operations_of_the_comune(sim: Simulator, milano: Client) -> None:
    since = sim.clock.now() - dt.timedelta(seconds=1)
    person = _singles(sim, ROMA)[2]
    moved = milano.changes.move_residence(
        [_member(person, "1")], Address(comune=MILANO, street="MANZONI", cap="20121")
    )
    items = milano.extractions.extract(
        state="2", operation="5005", since=since, until=sim.clock.now(), detail="TUTTO"
    )
    found = {item.idOperazioneANPR: item for item in items}
    item = found[moved.id_operazione_anpr or ""]
    assert item.tipoOperazione == "5005"
    assert item.contenutoRichiesta is not None
    assert b"Richiesta5005" in item.contenutoRichiesta
    assert item.contenutoRisposta is not None
    assert b"Risposta_Comune" in item.contenutoRisposta


def test_extract_notifications_leaves_their_content_as_received(
    sim: Simulator, roma: Client, milano: Client
) -> None:
    person = _singles(sim, ROMA)[3]
    milano.changes.move_residence(
        [_member(person, "1")], Address(comune=MILANO, street="VERDI", cap="20121")
    )
    now = sim.clock.now()
    started = roma.extractions.start_extraction(
        state="9", operation="N010", since=now - dt.timedelta(hours=1), until=now
    )
    items = roma.extractions.collect_extraction(started.value.idOperazioneANPR)
    # One elencoRisposte item per notification, its content one gzipped document as ANPR
    # sends it (italia/anpr#4792): the face hands it over as received, not decoded.
    contents = []
    for item in items:
        assert item.tipoOperazione == "N010"
        assert item.contenutoRisposta is not None
        content = item.contenutoRisposta
        if item.formatoRisposta == "gz":
            content = gzip.decompress(content)
        contents.append(content)
    (mine,) = [c for c in contents if person.codice_fiscale.encode() in c]
    assert b"NotificaN010" in mine


def test_find_by_codice_fiscale(sim: Simulator, roma: Client) -> None:
    person = sim.store.residents(ROMA)[-1]
    result = roma.consultazione.find_by_codice_fiscale(person.codice_fiscale)
    assert result.value.listaSoggetti is not None
    (found,) = result.value.listaSoggetti.datiSoggetto
    assert found.generalita.cognome == person.surname


# ----------------------------------------------------------------------------- recorded answers


def _ok(code: str) -> Recorder:
    return Recorder(sample_answer(code, "Risposta_Comune"))


def _text(root: etree._Element, path: str) -> str | None:
    return root.findtext(path)


ALDO = Subject(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO")


def test_move_household_is_a_5001_residence_change() -> None:
    recorder = _ok("5001")
    client = recorded_client(recorder, check=True)
    result = client.changes.move_household(
        "2000580910000003",
        to=Address(comune=ROMA, street="NOMENTANA", street_kind="VIA", number="9", cap="00161"),
        effective_date=dt.date(2026, 11, 20),
        force=True,
    )
    assert isinstance(result.value, common.RispostaComune)
    sent = recorder.body()
    assert _text(sent, "testataRichiesta/dataDecorrenza") == "2026-11-20"
    assert _text(sent, "famigliaConvivenza/idFamigliaConvivenzaANPR") == "2000580910000003"
    assert _text(sent, "famigliaConvivenza/tipoScheda") == "3"
    address = "residenzaFamigliaConvivenza/indirizzo"
    assert _text(sent, f"{address}/comune/nomeComune") == "ROMA"  # from the ISTAT code
    assert _text(sent, f"{address}/comune/siglaProvinciaIstat") == "RM"
    assert _text(sent, f"{address}/toponimo/denominazioneToponimo") == "NOMENTANA"
    assert _text(sent, "residenzaFamigliaConvivenza/dataDecorrenzaResidenza") == "2026-11-20"
    assert _text(sent, "datiControllo/tipoMutazione") == "4"
    assert _text(sent, "datiControllo/listaControlli/controllo/codice") == "FO"


def test_change_household_composition_is_a_5001_composition_change() -> None:
    recorder = _ok("5001")
    client = recorded_client(recorder, check=True)
    client.changes.change_household_composition(
        "2000580910000001",
        [
            Member(
                codice_fiscale="SPSSML22T02H501C", surname="ESPOSITO", name="SAMUELE", relation="1"
            ),
            Member(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA", relation="6"),
        ],
    )
    sent = recorder.body()
    assert _text(sent, "datiControllo/tipoMutazione") == "2"
    assert _text(sent, "datiControllo/tipoScheda") == "1"
    members = sent.findall("elencoSoggettiFamiglia")
    assert [m.findtext("legameSoggetto/codiceLegame") for m in members] == ["1", "6"]
    assert members[1].findtext("generalita/codiceFiscale/codFiscale") == "MTALSE02C71H501W"
    assert _text(sent, "testataRichiesta/dataDecorrenza") == TODAY.isoformat()


@pytest.mark.parametrize(
    ("method", "args", "branch", "field", "value"),
    [
        (
            "correct_birth_place",
            (Place(code="021008", name="BOLZANO", province="BZ"),),
            "richiestaRettifica105",
            "luogoNascita/comune/codiceIstat",
            "021008",
        ),
        (
            "correct_residence_start",
            (dt.date(2001, 3, 4),),
            "richiestaRettifica101",
            "dataDecorrenzaResidenza",
            "2001-03-04",
        ),
        ("correct_registration_reason", ("4",), "richiestaRettifica102", "idMotivoIscrizione", "4"),
    ],
)
def test_corrections_are_5014_branches(
    method: str, args: tuple[Any, ...], branch: str, field: str, value: str
) -> None:
    recorder = Recorder(sample_answer("5014", "Risposta_Comune"))
    client = recorded_client(recorder, check=True)
    extra = {"born_on": dt.date(1945, 9, 11)} if method == "correct_birth_place" else {}
    result = getattr(client.changes, method)(ALDO, *args, **extra)
    assert isinstance(result.value, common.RispostaComune)
    sent = recorder.body()
    assert _text(sent, "generalitaPerRicerca/codiceFiscale/codFiscale") == ALDO.codice_fiscale
    correction = sent.find("tipoRettifica")
    assert correction is not None
    (chosen,) = correction
    assert chosen.tag == branch
    assert chosen.findtext(field) == value


def test_the_5014_answer_with_its_own_branch() -> None:
    recorder = Recorder(sample_answer("5014", "Risposta5014"))
    result = recorded_client(recorder).changes.correct_residence_start(ALDO, dt.date(2001, 3, 4))
    assert type(result.value).__name__ == "Risposta5014"


ABROAD = AddressAbroad(
    state="215",
    locality="PARIGI",
    consulate_code="1234",
    consulate_name="PARIGI",
    street="RUE DE RIVOLI",
    number="10",
    postcode="75001",
)


def test_aire_register_citizen_founds_an_aire_household() -> None:
    recorder = Recorder(sample_answer("A002", "Risposta_Comune"))
    client = recorded_client(recorder, check=True)
    result = client.aire.register_citizen(
        "ROSSI",
        "ANNA",
        "F",
        dt.date(1990, 2, 12),
        ROMA,
        address=ABROAD,
        reason="C01",
        initiative="1",
        criterion="1",
        marital_status="1",
    )
    assert isinstance(result.value, common.RispostaComune)
    sent = recorder.body()
    assert _text(sent, "iscrizioneAire/motivoIscrizione") == "C01"
    assert _text(sent, "famiglia/famiglia/tipoScheda") == "5"
    assert sent.find("famiglia/famiglia/idFamigliaConvivenzaANPR") is None
    assert _text(sent, "famiglia/legameSoggetto/codiceLegame") == "1"
    assert _text(sent, "datiControllo/attribuzioneFamigliaAIRE") == "2"
    assert _text(sent, "datiControllo/gestioneCF") == "1"
    abroad = "residenzaEstera/localitaEstera"
    assert _text(sent, "residenzaEstera/tipoIndirizzo") == "4"
    assert _text(sent, f"{abroad}/indirizzoEstero/localita/descrizioneStato") == "FRANCIA"
    assert _text(sent, f"{abroad}/consolato/codiceConsolato") == "1234"
    assert _text(sent, "generalitaA002/generalita/luogoNascita/comune/nomeComune") == "ROMA"


def test_aire_register_newborn_joins_the_aire_household() -> None:
    recorder = Recorder(sample_answer("A001", "RispostaMultipla1001"))
    client = recorded_client(recorder, check=True)
    result = client.aire.register_newborn(
        "ROSSI",
        "LEA",
        "F",
        dt.date(2026, 11, 1),
        Place(code="215", name="FRANCIA", locality="LIONE"),
        household="48703883",
        initiative="3",
        criterion="1",
        mother=Subject(codice_fiscale="RSSNNA90B52H501S", surname="ROSSI", name="ANNA"),
    )
    assert isinstance(result.value, common.RispostaMultipla1001)  # ANPR asks to choose
    sent = recorder.body()
    assert _text(sent, "famiglia/idFamigliaConvivenzaANPR") == "48703883"
    assert _text(sent, "iscrizioneAire/motivoIscrizione") == "C02"
    assert _text(sent, "datiControllo/attribuzioneFamigliaAIRE") == "1"
    born = "generalitaA001/generalita/luogoNascita/localita"
    assert (_text(sent, f"{born}/codiceStato"), _text(sent, f"{born}/descrizioneLocalita")) == (
        "215",
        "LIONE",
    )
    assert _text(sent, "testataRichiesta/dataDecorrenza") == "2026-11-01"


def test_register_newborn_with_the_mothers_household_and_a_given_codice_fiscale() -> None:
    recorder = Recorder(sample_answer("1001", "Risposta_Comune"))
    client = recorded_client(recorder, check=True)
    client.registrations.register_newborn(
        "ESPOSITO",
        "LIA",
        "F",
        dt.date(2026, 11, 1),
        ROMA,
        mother=Subject(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA"),
        household="mother",
        codice_fiscale="SPSLIA26S41H501M",
    )
    sent = recorder.body()
    assert _text(sent, "datiControllo/attribuzioneFamiglia") == "3"
    assert sent.find("datiControllo/gestioneCF") is None
    assert _text(sent, "generalita1001/generalita/codiceFiscale/codFiscale") == "SPSLIA26S41H501M"
    assert _text(sent, "maternita/generalita/cognome") == "AMATO"


# ----------------------------------------------------------------------------- bad input


def test_an_unknown_comune_is_a_typed_error_naming_the_argument() -> None:
    recorder = Recorder(b"")
    client = recorded_client(recorder)
    with pytest.raises(InvalidComponent) as unknown:
        client.changes.move_household("1", to=Address(comune="999999", street="X", cap="00100"))
    assert unknown.value.field == "address.comune"
    with pytest.raises(InvalidFormat) as shape:
        client.cancellations.cancel_resident(ALDO, reason="5", role="head", destination="ROMA")
    assert shape.value.field == "destination"
    assert recorder.sent == []


def test_a_move_needs_someone_who_moves() -> None:
    recorder = Recorder(b"")
    client = recorded_client(recorder)
    with pytest.raises(ValidationError, match="at least one person") as none:
        client.changes.move_residence([], Address(comune=ROMA, street="APPIA", cap="00179"))
    assert none.value.field == "members"
    assert recorder.sent == []


def test_a_certificate_answer_without_the_pdf_is_a_protocol_error() -> None:
    def without_file(branch: dict[str, Any]) -> None:
        branch.pop("file", None)

    recorder = Recorder(sample_answer("6001", "Risposta6001OK", without_file))
    client = recorded_client(recorder)
    with pytest.raises(ProtocolError, match="no certificate PDF"):
        client.certificates.certificate_pdf(
            ALDO, ["8", "12"], officer_surname="ROSSI", officer_name="MARIA"
        )
    sent = recorder.body()
    assert [t.text for t in sent.iterfind("listaTipiCertificati/tipoCertificato")] == ["8", "12"]
    assert _text(sent, "datiControllo/tipoRichiedente") == "2"


def _status(state: str, ready_in: float, *, page: str = "1", pages: str = "1") -> bytes:
    def edit(branch: dict[str, Any]) -> None:
        branch["statoRichiesta"] = state
        ready = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ready_in)
        branch["dataDisponibilita"] = ready
        branch["datiFornitura"] = {"progressivoCorrente": page, "progressivoTotale": pages}
        branch["elencoRisposte"] = [{"idOperazioneANPR": f"9{page}", "tipoOperazione": "5005"}]

    return sample_answer("4005", "RispostaMultipla4005", edit)


def test_collect_waits_for_the_extraction_and_reads_every_page() -> None:
    recorder = Recorder(_status("1", 30), _status("2", 0, page="1", pages="2"))
    recorder.answers.append(_status("2", 0, page="2", pages="2"))
    waits: list[float] = []
    client = recorded_client(recorder)
    items = client.extractions.collect_extraction(
        "77", poll_interval=1.0, sleep=waits.append, timeout=120
    )
    assert [i.idOperazioneANPR for i in items] == ["91", "92"]
    assert len(waits) == 1
    assert 25 < waits[0] <= 30  # until the announced dataDisponibilita
    assert [recorder.body(i).findtext("verificaStato/progressivo") for i in range(3)] == [
        "1",
        "1",
        "2",
    ]


def test_collect_gives_up_after_the_timeout() -> None:
    recorder = Recorder(_status("1", 600))
    client = recorded_client(recorder)
    with pytest.raises(ReadTimeout, match="not ready within 60 s"):
        client.extractions.collect_extraction("77", timeout=60, sleep=lambda _: None)
    assert len(recorder.sent) == 1


def test_an_extraction_period_needs_both_ends() -> None:
    client = recorded_client(Recorder(b""))
    with pytest.raises(ValidationError, match="both since and until"):
        client.extractions.start_extraction(state="2", since=dt.datetime.now(dt.UTC))
