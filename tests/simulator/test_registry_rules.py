"""ANPR's rules for the mistakes integrators make, with ANPR's codes, for 1000, 2000 and A000.

Each request goes over TLS, signed, from a client without the library's pre-send checks, so
what is tested is the simulator's answer (the table of rules is in docs/simulator.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected, AnprWarning
from anpr_client.results import Result
from anpr_client.simulator import Person, Simulator

from .registry_payloads import (
    AIRE_DATA,
    DECORRENZA,
    FRANCE,
    TODAY,
    TORINO,
    aire_change,
    aire_registration,
    annulment,
    archive_2009,
    birth_1001,
    cancellation_2003,
    cohabitation_1010,
    death_2001,
    foreign_residence,
    full_gen,
    italian_residence,
    newcomer,
    procedure_1014,
    registration_1002,
    scheda,
    section_2012,
    subject_of,
)
from .support import A, B, raw_client, started_simulator

YESTERDAY = TODAY - dt.timedelta(days=1)


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("registry-rules-state")
    with started_simulator(pki_template, state, population=80) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client_a(sim: Simulator) -> Client:
    return raw_client(sim, A)


@pytest.fixture(scope="module")
def client_b(sim: Simulator) -> Client:
    return raw_client(sim, B)


def refused(
    client: Client, operation: str, payload: dict[str, Any], header: Any = DECORRENZA
) -> tuple[str, ...]:
    """The codes of ANPR's KO answer (fails if the operation succeeds)."""
    with pytest.raises(AnprRejected) as ko:
        client.call(operation, payload, header=header)
    return ko.value.codes


def ok(client: Client, operation: str, payload: dict[str, Any]) -> Result[Any]:
    result = client.call(operation, payload, header=DECORRENZA)
    assert result.esito_operazione == "0000"
    return result


def single(sim: Simulator, istat: str = A) -> Person:
    """A resident living alone who has not been used by another test."""
    used: set[str] = sim.__dict__.setdefault("_used", set())
    for household in sim.store.households(istat):
        if len(household.members) == 1 and not household.cohabitation:
            person = household.head
            if person.codice_fiscale not in used and person.resident:
                used.add(person.codice_fiscale)
                return person
    raise AssertionError("no resident living alone is left")


def family(sim: Simulator, istat: str = A, size: int = 2) -> tuple[Person, ...]:
    used: set[str] = sim.__dict__.setdefault("_used", set())
    for household in sim.store.households(istat):
        members = household.members
        if len(members) >= size and not used & {m.codice_fiscale for m in members}:
            used.update(m.codice_fiscale for m in members)
            return members
    raise AssertionError("no family is left")


def mother(sim: Simulator) -> Person:
    return next(p for p in sim.store.residents(A) if p.sex == "F" and p.birth_date.year < 1995)


def aire_citizen(sim: Simulator, client: Client, surname: str) -> Person:
    """A new citizen abroad in the AIRE of the client's Comune (a new famiglia AIRE)."""
    result = ok(client, "A002", aire_registration(newcomer(surname, "ANNA")))
    person = sim.store.person(subject_of(result))
    assert person is not None
    return person


# ----------------------------------------------------------------------- dates


def test_a_future_decorrenza_is_ehr18(sim: Simulator, client_a: Client) -> None:
    future = {"dataDecorrenza": TODAY + dt.timedelta(days=10)}
    assert refused(client_a, "1001", birth_1001(mother(sim)), future) == ("EHR18",)


def test_a_birth_after_the_decorrenza_is_es008(sim: Simulator, client_a: Client) -> None:
    payload = birth_1001(mother(sim), born=TODAY)
    assert refused(client_a, "1001", payload, {"dataDecorrenza": YESTERDAY}) == ("ES008",)


def test_a_death_after_the_decorrenza_is_es007(sim: Simulator, client_a: Client) -> None:
    person = single(sim)
    payload = death_2001(person, died=TODAY)
    assert refused(client_a, "2001", payload, {"dataDecorrenza": YESTERDAY}) == ("ES007",)


def test_a_new_familys_residence_starts_on_the_decorrenza_ef061(client_a: Client) -> None:
    payload = registration_1002(
        newcomer("DATA", "ERRATA"), residence=italian_residence(since=YESTERDAY)
    )
    assert refused(client_a, "1002", payload) == ("EF061",)


def test_nobody_joins_a_family_before_its_residence_began_en237(
    sim: Simulator, client_a: Client
) -> None:
    founded = ok(client_a, "1002", registration_1002(newcomer("NUOVA", "FAMIGLIA")))
    founder = sim.store.person(subject_of(founded))
    assert founder is not None
    payload = registration_1002(
        newcomer("TROPPO", "PRESTO"),
        joins=("famiglia", founder.household_id or "", "3"),
        residence=italian_residence(since=YESTERDAY),
    )
    assert refused(client_a, "1002", payload, {"dataDecorrenza": YESTERDAY}) == ("EN237",)


def test_registering_again_before_the_last_residence_ended_is_en240(
    sim: Simulator, client_a: Client
) -> None:
    person = single(sim)
    ok(client_a, "2003", cancellation_2003(person, "3", TORINO))
    payload = registration_1002(
        full_gen(person),
        reason="3",
        provenienza=TORINO,
        residence=italian_residence(since=YESTERDAY),
    )
    assert refused(client_a, "1002", payload, {"dataDecorrenza": YESTERDAY}) == ("EN240",)


def test_an_aire_registration_starts_in_july_1990_es078(client_a: Client) -> None:
    old = dt.date(1989, 1, 1)
    payload = aire_registration(
        newcomer("VECCHIA", "DATA", born=dt.date(1950, 1, 1)),
        residence=foreign_residence(since=old),
    )
    assert refused(client_a, "A002", payload, {"dataDecorrenza": old}) == ("ES078",)


# ----------------------------------------------------------------------- person and competence


def test_a_parent_not_on_anpr_is_es003(sim: Simulator, client_a: Client) -> None:
    payload = birth_1001(mother(sim))
    payload["maternita"]["generalita"]["codiceFiscale"]["codFiscale"] = "BNCNNA85C44Z110Q"
    assert refused(client_a, "1001", payload) == ("ES003",)


def test_a_parent_of_another_comune_is_en180(sim: Simulator, client_a: Client) -> None:
    milanese = next(p for p in sim.store.residents(B) if p.sex == "F")
    assert refused(client_a, "1001", birth_1001(milanese)) == ("EN180",)


def test_a_person_of_another_comune_is_en117(sim: Simulator, client_b: Client) -> None:
    assert refused(client_b, "2003", cancellation_2003(single(sim), "6")) == ("EN117",)


def test_a_closed_record_is_es102_by_codice_fiscale_and_es101_by_id(
    sim: Simulator, client_a: Client
) -> None:
    person = single(sim)
    ok(client_a, "2001", death_2001(person))
    assert refused(client_a, "2001", death_2001(person)) == ("ES102",)
    by_id = {"cognome": person.surname, "nome": person.name, "idSchedaSoggettoANPR": person.id}
    assert refused(
        client_a, "2003", {**cancellation_2003(person, "6"), "generalitaPerRicerca": by_id}
    ) == ("ES101",)


def test_a_person_already_on_anpr_is_not_registered_again_en187(
    sim: Simulator, client_a: Client, client_b: Client
) -> None:
    milanese = single(sim, B)
    assert refused(client_a, "A002", aire_registration(full_gen(milanese))) == ("EN187",)
    abroad = aire_citizen(sim, client_b, "GIA")
    payload = registration_1002(full_gen(abroad))
    assert refused(client_a, "1002", payload) == ("EN187",)


def test_an_open_procedure_of_another_comune_blocks_en531(
    sim: Simulator, client_a: Client, client_b: Client
) -> None:
    milanese = single(sim, B)
    ok(client_b, "1014", procedure_1014("PR-EN531", "1", trigger="6", subjects=[milanese]))
    assert refused(client_a, "A006", aire_change(milanese, "1", residence=foreign_residence())) == (
        "EN531",
    )
    # Closed, it blocks no more.
    ok(client_b, "1014", procedure_1014("PR-EN531", "2"))
    ok(client_a, "A006", aire_change(milanese, "1", residence=foreign_residence()))


# ----------------------------------------------------------------------- 1002 and 1010/2009


def test_the_famiglia_block_has_tiposcheda_3_en341(sim: Simulator, client_a: Client) -> None:
    household_id = family(sim)[0].household_id or ""
    payload = registration_1002(newcomer("TIPO", "SCHEDA"), joins=("famiglia", household_id, "4"))
    assert refused(client_a, "1002", payload) == ("EN341",)


def test_the_convivenza_block_has_tiposcheda_4_en342(client_a: Client) -> None:
    convivenza = ok(client_a, "1010", cohabitation_1010(name="CASA DI RIPOSO"))
    household_id = convivenza.value["listaSoggettiVariati"]["datiSoggetto"][0][
        "famigliaConvivenza"
    ]["idFamigliaConvivenzaANPR"]
    payload = registration_1002(newcomer("FRATE", "UNO"), joins=("convivenza", household_id, "3"))
    assert refused(client_a, "1002", payload) == ("EN342",)
    # A convivenza named in the famiglia block is EN304.
    payload = registration_1002(newcomer("FRATE", "DUE"), joins=("famiglia", household_id, "3"))
    assert refused(client_a, "1002", payload) == ("EN304",)


def test_a_famiglia_aire_is_not_a_family_in_italy_ef002(sim: Simulator, client_a: Client) -> None:
    abroad = aire_citizen(sim, client_a, "ESTERO")
    payload = registration_1002(
        newcomer("IN", "ITALIA"), joins=("famiglia", abroad.household_id or "", "3")
    )
    assert refused(client_a, "1002", payload) == ("EF002",)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": "3"}, "EN342"),
        ({"species": None}, "EN081"),
        ({"species": "8"}, "EC005"),
        ({"responsible_born": TODAY + dt.timedelta(days=1)}, "ES008"),
        ({"residence": italian_residence(B)}, "EF042"),
        ({"residence": italian_residence(since=YESTERDAY)}, "EF061"),
    ],
)
def test_1010_rules(client_a: Client, change: dict[str, Any], code: str) -> None:
    assert refused(client_a, "1010", cohabitation_1010(**change)) == (code,)


def test_1010_warns_of_a_convivenza_without_a_name_en480(client_a: Client) -> None:
    with pytest.warns(AnprWarning, match="EN480"):
        result = ok(client_a, "1010", cohabitation_1010(name=None))
    assert [w.code for w in result.warnings] == ["EN480"]


def test_2009_rules(sim: Simulator, client_a: Client) -> None:
    created = ok(client_a, "1010", cohabitation_1010(name="CASERMA"))
    household_id = created.value["listaSoggettiVariati"]["datiSoggetto"][0]["famigliaConvivenza"][
        "idFamigliaConvivenzaANPR"
    ]
    ok(
        client_a,
        "1002",
        registration_1002(
            newcomer("SOLDATO", "UNO"), joins=("convivenza", household_id, "4"), relation="25"
        ),
    )
    assert refused(client_a, "2009", archive_2009(household_id)) == ("EN126",)
    assert refused(client_a, "2009", archive_2009(household_id, kind="3")) == ("EN342",)
    a_family = family(sim)[0].household_id or ""
    assert refused(client_a, "2009", archive_2009(a_family)) == ("EN135",)


def test_2009_dates(client_a: Client) -> None:
    created = ok(client_a, "1010", cohabitation_1010(name="OSPIZIO"))
    household_id = created.value["listaSoggettiVariati"]["datiSoggetto"][0]["famigliaConvivenza"][
        "idFamigliaConvivenzaANPR"
    ]
    assert refused(client_a, "2009", archive_2009(household_id, day=YESTERDAY)) == ("EN240",)
    future = TODAY + dt.timedelta(days=5)
    assert refused(client_a, "2009", archive_2009(household_id, day=future)) == ("EHR18",)
    ok(client_a, "2009", archive_2009(household_id))


# ----------------------------------------------------------------------- 2001/2003


def test_2001_needs_the_date_of_death_en081(sim: Simulator, client_a: Client) -> None:
    assert refused(client_a, "2001", death_2001(single(sim), died=None)) == ("EN081",)


def test_2001_reason_of_the_other_table_is_en370(sim: Simulator, client_a: Client) -> None:
    key = "tipoMotivoCancellazioneAIRE"
    assert refused(client_a, "2001", death_2001(single(sim), key=key)) == ("EN370",)
    abroad = aire_citizen(sim, client_a, "MORTO")
    assert refused(client_a, "2001", death_2001(abroad)) == ("EN370",)
    ok(client_a, "2001", death_2001(abroad, key=key))


@pytest.mark.parametrize(
    ("reason", "destinazione", "code"),
    [
        ("8", FRANCE, "EN346"),
        ("3", FRANCE, "EN376"),
        (
            "3",
            {"comune": {"nomeComune": "MILANO", "codiceIstat": B, "siglaProvinciaIstat": "MI"}},
            "EN436",
        ),
        ("1", None, "EC006"),
        ("14", None, "EC006"),
    ],
)
def test_2003_rules_for_a_resident(
    sim: Simulator, client_a: Client, reason: str, destinazione: Any, code: str
) -> None:
    person = sim.store.residents(A)[0]
    assert refused(client_a, "2003", cancellation_2003(person, reason, destinazione)) == (code,)


def test_2003_rules_for_a_citizen_abroad(sim: Simulator, client_a: Client) -> None:
    abroad = aire_citizen(sim, client_a, "TABELLA")
    assert refused(client_a, "2003", cancellation_2003(abroad, "3", FRANCE)) == ("EN374",)
    assert refused(client_a, "2003", cancellation_2003(abroad, "7", TORINO)) == ("EN375",)
    assert refused(client_a, "2003", cancellation_2003(abroad, "11")) == ("EC006",)
    ok(client_a, "2003", cancellation_2003(abroad, "6"))


# ----------------------------------------------------------------------- 1013/2011


def test_annulment_rules(sim: Simulator, client_a: Client, client_b: Client) -> None:
    person = single(sim)
    died = ok(client_a, "2001", death_2001(person))
    unknown = annulment("2011", died, person)
    unknown["datiOperazioneDaAnnullare"]["idOperazioneANPR"] = "999999999"
    assert refused(client_a, "2011", unknown) == ("EN078",)
    assert refused(client_b, "2011", annulment("2011", died, person)) == ("EN145",)
    assert refused(client_a, "1013", annulment("1013", died, person)) == ("EN314",)
    assert refused(client_a, "2011", annulment("2011", died, person, sent_as="2003")) == ("EN314",)
    assert refused(client_a, "2011", annulment("2011", died, person, id_comune="ALTRO")) == (
        "EN314",
    )
    somebody_else = sim.store.residents(A)[0]
    assert refused(client_a, "2011", annulment("2011", died, somebody_else)) == ("EN314",)
    ok(client_a, "2011", annulment("2011", died, person))
    assert refused(client_a, "2011", annulment("2011", died, person)) == ("EN077",)


def test_only_the_last_operation_is_annulled_en077(sim: Simulator, client_a: Client) -> None:
    born = ok(client_a, "1002", registration_1002(newcomer("ULTIMA", "OPERAZIONE")))
    person = sim.store.person(subject_of(born))
    assert person is not None
    child = ok(
        client_a,
        "1002",
        registration_1002(
            newcomer("ULTIMO", "FIGLIO"),
            joins=("famiglia", person.household_id or "", "3"),
            relation="3",
        ),
    )
    assert refused(client_a, "1013", annulment("1013", born, person)) == ("EN077",)
    # Annulled newest first, both go.
    newest = sim.store.person(subject_of(child))
    assert newest is not None
    ok(client_a, "1013", annulment("1013", child, newest))
    ok(client_a, "1013", annulment("1013", born, person))
    assert sim.store.person(person.codice_fiscale) is None


# ----------------------------------------------------------------------- A000


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"iscrizione": {**AIRE_DATA, "motivoIscrizione": "C02"}}, "ES072"),
        ({"iscrizione": {**AIRE_DATA, "motivoIscrizione": "C08"}}, "EC060"),
        ({"iscrizione": {**AIRE_DATA, "iniziativaIscrizione": "7"}}, "EC061"),
        ({"iscrizione": {**AIRE_DATA, "individuazioneComuneIscrizione": "8"}}, "EC062"),
        ({"iscrizione": {**AIRE_DATA, "motivoIscrizione": "C09"}}, "EC013"),
        ({"iscrizione": {**AIRE_DATA, "iniziativaIscrizione": "9"}}, "EC016"),
        ({"iscrizione": {**AIRE_DATA, "individuazioneComuneIscrizione": "9"}}, "EC017"),
        ({"attribution": "3"}, "EF015"),
        ({"relation": "2"}, "EF008"),
        ({"residence": italian_residence()}, "ES022"),
        ({"residence": foreign_residence(locality=None)}, "ES027"),
        ({"residence": foreign_residence(state="100")}, "EC053"),
        ({"residence": foreign_residence(since=YESTERDAY)}, "EF061"),
    ],
)
def test_a002_rules(client_a: Client, change: dict[str, Any], code: str) -> None:
    payload = aire_registration(newcomer("REGOLA", "AIRE"), **change)
    assert refused(client_a, "A002", payload) == (code,)


def test_a001_is_the_birth_reason_es071(client_a: Client) -> None:
    payload = aire_registration(newcomer("NATO", "ESTERO", born=TODAY), service="A001")
    assert refused(client_a, "A001", payload) == ("ES071",)


def test_joining_a_famiglia_aire(sim: Simulator, client_a: Client, client_b: Client) -> None:
    abroad = aire_citizen(sim, client_a, "CAPOFAMIGLIA")
    aire_family = abroad.household_id or ""
    joining = newcomer("CONIUGE", "ANNA")
    in_italy = family(sim)[0].household_id or ""
    assert refused(
        client_a,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(in_italy), relation="2"),
    ) == ("EF002",)
    assert refused(
        client_a,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(aire_family, "3"), relation="2"),
    ) == ("EF002",)
    assert refused(
        client_a,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(aire_family), relation="1"),
    ) == ("EF007",)
    assert refused(
        client_b,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(aire_family), relation="2"),
    ) == ("EN236",)
    assert refused(
        client_a,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(aire_family), relation="2"),
        {"dataDecorrenza": YESTERDAY},
    ) == ("EN237",)
    joined = ok(
        client_a,
        "A002",
        aire_registration(joining, attribution="1", family=scheda(aire_family), relation="2"),
    )
    spouse = sim.store.person(subject_of(joined))
    assert spouse is not None
    assert spouse.household_id == aire_family


def test_a006_rules(sim: Simulator, client_a: Client, client_b: Client) -> None:
    resident = single(sim)
    abroad = aire_citizen(sim, client_a, "MUTANTE")
    assert refused(client_a, "A006", aire_change(resident, "5")) == ("ES094",)
    assert refused(client_a, "A006", aire_change(abroad, "1", residence=foreign_residence())) == (
        "EN428",
    )
    assert refused(client_a, "A006", aire_change(resident, "2", residence=foreign_residence())) == (
        "ES077",
    )
    assert refused(client_b, "A006", aire_change(abroad, "3", iscrizione=AIRE_DATA)) == ("EN117",)
    assert refused(client_a, "A006", aire_change(abroad, "3")) == ("ES098",)
    own = scheda(abroad.household_id)
    assert refused(
        client_a, "A006", aire_change(abroad, "2", attribution="1", family=own, relation="2")
    ) == ("EN388",)
    ok(
        client_a,
        "A006",
        aire_change(abroad, "3", iscrizione={**AIRE_DATA, "iniziativaIscrizione": "2"}),
    )
    registration = sim.store.aire_registration(abroad)
    assert registration is not None
    assert registration.initiative == "2"
    ok(client_a, "A006", aire_change(abroad, "2", residence=foreign_residence(locality="LIONE")))
    # Not before the residence abroad just set (today).
    again = aire_change(abroad, "2", residence=foreign_residence(locality="NIZZA", since=YESTERDAY))
    assert refused(client_a, "A006", again, {"dataDecorrenza": YESTERDAY}) == ("EN240",)


# ----------------------------------------------------------------------- 1014 and 2012


def test_1014_rules(sim: Simulator, client_a: Client) -> None:
    person = single(sim)
    assert refused(client_a, "1014", procedure_1014(None, "1", trigger="6")) == ("EN247",)
    assert refused(client_a, "1014", procedure_1014("PR-1", "1")) == ("EN191",)
    assert refused(
        client_a, "1014", procedure_1014("PR-1", "1", trigger="2", subjects=[person])
    ) == ("EN128",)
    assert refused(
        client_a, "1014", procedure_1014("PR-1", "1", trigger="6", subjects=[person, person])
    ) == ("EN186",)
    future = TODAY + dt.timedelta(days=3)
    assert refused(client_a, "1014", procedure_1014("PR-1", "1", trigger="6", day=future)) == (
        "EHR18",
    )
    opened = ok(client_a, "1014", procedure_1014("PR-1", "1", trigger="6", subjects=[person]))
    details = opened.value["listaSoggettiVariati"]["datiSoggetto"][0]["dettagliProcedimento"]
    assert details["statoProcedimento"] == "1"
    assert refused(client_a, "1014", procedure_1014("PR-1", "1", trigger="6")) == ("EN151",)
    assert refused(client_a, "1014", procedure_1014("PR-2", "3")) == ("EHRA1",)
    assert refused(client_a, "1014", procedure_1014("PR-1", "3", anpr_number="1")) == ("EHRA0",)
    assert refused(client_a, "1014", procedure_1014("PR-1", "3", day=YESTERDAY)) == ("EN443",)
    ok(client_a, "1014", procedure_1014("PR-1", "3", anpr_number=details["numeroPraticaAnpr"]))
    closed = ok(client_a, "1014", procedure_1014("PR-1", "2"))
    assert closed.value["listaSoggettiVariati"]["datiSoggetto"][0]["dettagliProcedimento"][
        "dataChiusura"
    ]
    assert refused(client_a, "1014", procedure_1014("PR-1", "2")) == ("EN442",)


def test_2012_rules(sim: Simulator, client_a: Client) -> None:
    sim.store.add_electoral_section(A, "40", "SCUOLA ELEMENTARE")
    assert refused(client_a, "2012", section_2012(B, "40")) == ("EN378",)
    assert refused(client_a, "2012", section_2012(A, "41")) == ("EN557",)
    ok(client_a, "2012", section_2012(A, "40"))
    assert "40" not in sim.store.electoral_sections(A)
    assert refused(client_a, "2012", section_2012(A, "40")) == ("EN557",)


def test_every_rule_keeps_the_registry_unchanged(sim: Simulator, client_a: Client) -> None:
    """A KO answer registers nothing: the rolled-back operation leaves no trace."""
    persons = sim.store.count_persons()
    households = len(sim.store.households(A))
    refused(client_a, "A002", aire_registration(newcomer("NIENTE", "DI FATTO"), relation="2"))
    refused(
        client_a,
        "1002",
        registration_1002(
            newcomer("NIENTE", "ANCORA"), residence=italian_residence(since=YESTERDAY)
        ),
    )
    assert sim.store.count_persons() == persons
    assert len(sim.store.households(A)) == households
