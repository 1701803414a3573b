"""A Comune's daily work end to end, through the library's client (signed, over TLS, with its
pre-send checks) against the session's simulator (the ``anpr_simulator`` fixtures): what one
operation does, the next one sees, and the other Comune learns it from ANPR's notification.

The session simulator is shared: each scenario picks persons nobody used before and filters
notifications by its own operations.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprRejected,
    BusinessRuleError,
    InconsistentDataError,
    NotFoundError,
    OperationNotAllowedError,
)
from anpr_client.notifications import NotificationReceiver, ReplyCode, ResidenceChanged
from anpr_client.notifications.events import ResidenceRestored
from anpr_client.results import Result
from anpr_client.simulator import Fault, Person, Simulator

from .registry_payloads import (
    AIRE_DATA,
    DECORRENZA,
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
    registration_1002,
    subject_of,
)
from .support import A, B, certificate_payload, payload_3002


@pytest.fixture
def client_b(anpr_simulator: Simulator) -> Iterator[Client]:
    client = anpr_simulator.client(B, journal=None)
    try:
        yield client
    finally:
        client.close()


def _unused(sim: Simulator, istat: str, *, size: int = 1) -> tuple[Person, ...]:
    """The members of a household of ``size`` persons that no scenario used yet."""
    used: set[str] = sim.__dict__.setdefault("_scenario_persons", set())
    for household in sim.store.households(istat):
        members = household.members
        if (
            len(members) >= size
            and (size > 1 or len(members) == 1)
            and not household.cohabitation
            and all(m.resident for m in members)
            and not used & {m.codice_fiscale for m in members}
        ):
            used.update(m.codice_fiscale for m in members)
            return members
    raise AssertionError(f"no unused household of {size} in {istat}")


def _mother(sim: Simulator) -> Person:
    """An adult woman of a household of Roma that no scenario used yet."""
    used: set[str] = sim.__dict__.setdefault("_scenario_persons", set())
    adult = TODAY.year - 20
    for household in sim.store.households(A):
        codes = {m.codice_fiscale for m in household.members}
        if household.cohabitation or used & codes:
            continue
        for member in household.members:
            if member.sex == "F" and member.birth_date.year < adult and member.resident:
                used.update(codes)
                return member
    raise AssertionError("no mother left in Roma")


def _call(client: Client, operation: str, payload: dict[str, Any]) -> Result[Any]:
    result = client.call(operation, payload, header=DECORRENZA)
    assert result.esito_operazione == "0000"
    return result


def _family_of(client: Client, person: Person) -> dict[str, Any]:
    """3002 of ``person``'s whole family (``schedaAnagraficaRichiesta`` 2)."""
    payload = payload_3002(person.codice_fiscale)
    payload["datiRichiesta"]["schedaAnagraficaRichiesta"] = "2"
    value: dict[str, Any] = client.call("3002", payload).value
    return value


def _codes(answer: dict[str, Any]) -> list[str]:
    return [
        s["generalita"]["codiceFiscale"]["codFiscale"]
        for s in answer["listaSoggetti"]["datiSoggetto"]
    ]


def _received(sim: Simulator, istat: str, operation: str | None) -> list[Any]:
    """The notifications ``operation`` produced for ``istat``, as the Comune's own N000
    receiver takes the pushes ANPR would send (signed by ANPR, encrypted for its key)."""
    receiver = NotificationReceiver.from_settings(sim.settings(istat))
    events = []
    for record in sim.notifications.pending(istat):
        if record.operation != operation:
            continue
        receipt = receiver.receive(sim.notifications.build_push(record))
        assert receipt.outcome is ReplyCode.ACQUIRED, receipt.reason
        events.append(receipt.event)
    return events


def test_a_birth_is_in_the_family_and_gets_its_certificate(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    mother = _mother(sim)
    born = _call(anpr_client, "1001", birth_1001(mother, name="GIULIO"))
    child = sim.store.person(subject_of(born))
    assert child is not None
    assert child.household_id == mother.household_id
    assert child.relation == "3"

    family = _family_of(anpr_client, mother)
    assert child.codice_fiscale in _codes(family)
    assert family["datiFamigliaConvivenza"]["famigliaConvivenza"]["tipoScheda"] == "3"

    certificate = anpr_client.call("6001", certificate_payload(child, kind="1"))
    (pdf,) = certificate.attachments.values()
    assert pdf.data.startswith(b"%PDF-")
    assert [c.kind for c in sim.store.certificates(child.codice_fiscale)] == ["1"]


def test_a_death_is_cancelled_then_annulled_and_the_person_is_resident_again(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    head, *others = _unused(sim, A, size=2)
    assert head.relation == "1"
    died = _call(anpr_client, "2001", death_2001(head))

    with pytest.raises(NotFoundError):
        anpr_client.call("3002", payload_3002(head.codice_fiscale))
    assert head.codice_fiscale not in {p.codice_fiscale for p in sim.store.residents(A)}
    assert [m.relation for m in sim.store.members(head.household_id or "")].count("1") == 1
    # A second death of the same person: the record is closed.
    with pytest.raises(InconsistentDataError) as closed:
        anpr_client.call("2001", death_2001(head), header=DECORRENZA)
    assert closed.value.codes == ("ES102",)

    annulled = _call(anpr_client, "2011", annulment("2011", died, head))

    assert subject_of(annulled) == head.codice_fiscale
    again = sim.store.person(head.codice_fiscale)
    assert again == head
    family = _family_of(anpr_client, head)
    assert _codes(family)[0] == head.codice_fiscale
    assert set(_codes(family)) == {p.codice_fiscale for p in (head, *others)}
    assert [m.relation for m in sim.store.members(head.household_id or "")].count("1") == 1
    certificate = anpr_client.call("6001", certificate_payload(head))
    assert certificate.attachments
    # The annulment is done: the same death cannot be annulled twice.
    with pytest.raises(BusinessRuleError) as twice:
        anpr_client.call("2011", annulment("2011", died, head), header=DECORRENZA)
    assert twice.value.codes == ("EN077",)


def test_an_aire_registration_is_found_as_aire(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    registered = _call(anpr_client, "A002", aire_registration(newcomer("LONTANA", "MARIA")))
    person = sim.store.person(subject_of(registered))
    assert person is not None
    assert person.aire
    assert person.comune == A
    assert person.codice_fiscale not in {p.codice_fiscale for p in sim.store.residents(A)}

    payload = payload_3002(person.codice_fiscale)
    payload["criteriRicerca"]["soggettoAIRE"] = "S"
    (found,) = anpr_client.call("3002", payload).value["listaSoggetti"]["datiSoggetto"]
    assert found["generalita"]["soggettoAIRE"] == "S"
    (residence,) = found["residenza"]
    assert residence["tipoIndirizzo"] == "4"
    estero = residence["localitaEstera"]
    assert estero["indirizzoEstero"]["localita"]["descrizioneLocalita"] == "PARIGI"
    assert estero["consolato"]["codiceConsolato"] == "2290103"
    assert found["famigliaConvivenza"]["tipoScheda"] == "5"
    assert found["famigliaConvivenza"]["famigliaAire"] == "S"
    assert found["datiIscrizione"]["tipoIscrizioneAIRE"]["motivoIscrizione"] == "C01"
    # Among the residents only, nobody; by the state abroad, found; from Milano, not there.
    payload["criteriRicerca"]["soggettoAIRE"] = "N"
    with pytest.raises(NotFoundError):
        anpr_client.call("3002", payload)
    del payload["criteriRicerca"]["soggettoAIRE"]
    payload["residenzaIscrizioneAIRE"] = {
        "localita": {"descrizioneStato": "FRANCIA", "codiceStato": "215"}
    }
    (in_france,) = anpr_client.call("3002", payload).value["listaSoggetti"]["datiSoggetto"]
    assert in_france["generalita"]["codiceFiscale"]["codFiscale"] == person.codice_fiscale
    payload["residenzaIscrizioneAIRE"] = {
        "localita": {"descrizioneStato": "REGNO UNITO", "codiceStato": "219"}
    }
    with pytest.raises(NotFoundError):
        anpr_client.call("3002", payload)

    # A006: the citizen moves abroad again, into a new famiglia AIRE in Lyon.
    moved = aire_change(person, "2", residence=foreign_residence(locality="LIONE"))
    _call(anpr_client, "A006", moved)
    (found,) = anpr_client.call("3002", payload_3002(person.codice_fiscale)).value["listaSoggetti"][
        "datiSoggetto"
    ]
    localita = found["residenza"][0]["localitaEstera"]["indirizzoEstero"]["localita"]
    assert localita["descrizioneLocalita"] == "LIONE"


def test_a_resident_of_another_comune_moving_abroad_is_notified_to_that_comune(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    """Roma registers in its AIRE a resident of Milano who moves to Paris (A006, tipo 1):
    the record leaves Milano's competence, and Milano gets ANPR's N010."""
    sim = anpr_simulator
    (milanese,) = _unused(sim, B)
    moved = _call(
        anpr_client,
        "A006",
        aire_change(milanese, "1", residence=foreign_residence(), iscrizione=AIRE_DATA),
    )
    person = sim.store.person(milanese.codice_fiscale)
    assert person is not None
    assert person.aire
    assert person.comune == A
    assert milanese.codice_fiscale not in {p.codice_fiscale for p in sim.store.residents(B)}

    (event,) = _received(sim, B, moved.id_operazione_anpr)
    assert type(event) is ResidenceChanged
    assert event.kind == "N010"
    assert event.codice_fiscale == milanese.codice_fiscale
    assert event.requesting_comune.codice_istat == A
    assert event.id_operazione_anpr == moved.id_operazione_anpr
    assert event.effective_date == TODAY


def test_a_change_of_aire_comune_is_notified_to_the_comune_left(
    anpr_simulator: Simulator, anpr_client: Client, client_b: Client
) -> None:
    """Milano takes over the AIRE registration of a citizen of Roma's AIRE (A006, tipo 4,
    italia/anpr#1799): Roma gets the N010; the address abroad stays."""
    sim = anpr_simulator
    registered = _call(anpr_client, "A002", aire_registration(newcomer("VIAGGIATRICE", "ANNA")))
    person = sim.store.person(subject_of(registered))
    assert person is not None
    data = {**AIRE_DATA, "motivoIscrizione": "C03"}
    taken = _call(client_b, "A006", aire_change(person, "4", iscrizione=data))

    now = sim.store.person(person.codice_fiscale)
    assert now is not None
    assert (now.status, now.comune) == ("aire", B)
    household = sim.store.household_of(now)
    assert household is not None
    assert household.comune == B
    assert household.address == sim.store.household(person.household_id or "").address  # type: ignore[union-attr]
    (event,) = _received(sim, A, taken.id_operazione_anpr)
    assert event.kind == "N010"
    assert event.requesting_comune.codice_istat == B


def test_restoring_the_previous_position_is_notified_to_the_previous_comune(
    anpr_simulator: Simulator, anpr_client: Client, client_b: Client
) -> None:
    """A Roman emigrates to a Comune not on ANPR (2003, reason 3); Milano registers him
    (1002) and then cancels him to restore the previous position (2003, reason 12): Roma gets
    the N014 to register him again (italia/anpr#823)."""
    sim = anpr_simulator
    (roman,) = _unused(sim, A)
    _call(anpr_client, "2003", cancellation_2003(roman, "3", TORINO))
    registration = registration_1002(
        full_gen(roman), reason="3", provenienza=TORINO, residence=italian_residence(B)
    )
    _call(client_b, "1002", registration)
    restored = _call(client_b, "2003", cancellation_2003(roman, "12"))

    (event,) = _received(sim, A, restored.id_operazione_anpr)
    assert type(event) is ResidenceRestored
    assert event.kind == "N014"
    assert event.codice_fiscale == roman.codice_fiscale
    assert event.requesting_comune.codice_istat == B
    # Roma registers him again: the same record, resident in Roma.
    again = _call(anpr_client, "1002", registration_1002(full_gen(roman), reason="10"))
    assert subject_of(again) == roman.codice_fiscale
    person = sim.store.person(roman.codice_fiscale)
    assert person is not None
    assert (person.id, person.comune, person.resident) == (roman.id, A, True)


def test_a_convivenza_is_registered_filled_emptied_and_archived(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    created = _call(anpr_client, "1010", cohabitation_1010(name="CONVENTO DELLE CLARISSE"))
    scheda = created.value["listaSoggettiVariati"]["datiSoggetto"][0]["famigliaConvivenza"]
    assert scheda["tipoScheda"] == "4"
    household_id = scheda["idFamigliaConvivenzaANPR"]
    joined = _call(
        anpr_client,
        "1002",
        registration_1002(
            newcomer("SUORA", "CHIARA"), joins=("convivenza", household_id, "4"), relation="25"
        ),
    )
    sister = sim.store.person(subject_of(joined))
    assert sister is not None
    family = _family_of(anpr_client, sister)
    record = family["datiFamigliaConvivenza"]["famigliaConvivenza"]
    assert (record["tipoScheda"], record["denominazioneConvivenza"]) == (
        "4",
        "CONVENTO DELLE CLARISSE",
    )
    with pytest.raises(BusinessRuleError) as busy:
        anpr_client.call("2009", archive_2009(household_id), header=DECORRENZA)
    assert busy.value.codes == ("EN126",)

    _call(anpr_client, "2003", cancellation_2003(sister, "6"))
    _call(anpr_client, "2009", archive_2009(household_id))
    archived = sim.store.household(household_id)
    assert archived is not None
    assert not archived.active


def test_a_registration_annulled_leaves_nothing(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    persons = sim.store.count_persons()
    registered = _call(anpr_client, "1002", registration_1002(newcomer("ERRORE", "MATERIALE")))
    person = sim.store.person(subject_of(registered))
    assert person is not None
    _call(anpr_client, "1013", annulment("1013", registered, person))
    assert sim.store.person(person.codice_fiscale) is None
    assert sim.store.household(person.household_id or "") is None
    assert sim.store.count_persons() == persons
    with pytest.raises(NotFoundError):
        anpr_client.call("3002", payload_3002(person.codice_fiscale, national=True))


# ------------------------------------------------------------------ a mistake of each kind


def _mistakes(sim: Simulator) -> list[tuple[str, str, dict[str, Any], dict[str, Any], str]]:
    """(kind of mistake, operation, payload, header, ANPR's code)."""
    (resident,) = _unused(sim, A)
    (milanese,) = _unused(sim, B)
    (dead,) = _unused(sim, A)
    sim.store.record_death(dead, date=TODAY, operation=None)
    stranger = {
        "codiceFiscale": {"codFiscale": "BNCNNA85C44Z110Q"},
        "cognome": "BIANCHI",
        "nome": "ANNA",
    }
    tomorrow = {"dataDecorrenza": TODAY + dt.timedelta(days=3)}
    yesterday = {"dataDecorrenza": TODAY - dt.timedelta(days=1)}
    unknown = {**cancellation_2003(resident, "6"), "generalitaPerRicerca": stranger}
    return [
        ("person not found", "2003", unknown, DECORRENZA, "ES003"),
        ("not of this Comune", "2003", cancellation_2003(milanese, "6"), DECORRENZA, "EN117"),
        ("already registered", "A002", aire_registration(full_gen(milanese)), DECORRENZA, "EN187"),
        ("a date in the future", "1010", cohabitation_1010(), tomorrow, "EHR18"),
        ("dates out of order", "2001", death_2001(resident), yesterday, "ES007"),
        ("a cancelled record", "2003", cancellation_2003(dead, "6"), DECORRENZA, "ES102"),
        ("missing data", "1010", cohabitation_1010(species=None), DECORRENZA, "EN081"),
        ("the wrong service", "2003", cancellation_2003(resident, "8"), DECORRENZA, "EN346"),
    ]  # fmt: skip


def test_a_mistake_of_each_kind_gets_its_code(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    for kind, operation, payload, header, code in _mistakes(anpr_simulator):
        with pytest.raises(AnprRejected) as refused:
            anpr_client.call(operation, payload, header=header)
        assert refused.value.codes == (code,), kind


def test_the_same_registration_sent_twice_is_answered_with_the_first_answer(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    op_id = f"AIRE{time.monotonic_ns()}"[:30]
    payload = aire_registration(newcomer("DOPPIONE", "ANNA"))
    header = {"idOperazioneComune": op_id, **DECORRENZA}
    first = anpr_client.transmit(anpr_client.prepare("A002", payload, header=header))
    again = anpr_client.transmit(anpr_client.prepare("A002", payload, header=header))
    assert again.body == first.body
    (record,) = [r for r in sim.ledger.operations(A, "A002") if r.id_operazione_comune == op_id]
    assert record.times_applied == 1
    assert len([p for p in sim.store.aire_citizens(A) if p.surname == "DOPPIONE"]) == 1


def test_the_same_id_while_the_first_is_running_is_en148(
    anpr_simulator: Simulator, anpr_client: Client, anpr_faults: Any
) -> None:
    sim = anpr_simulator
    op_id = f"SLOW{time.monotonic_ns()}"[:30]
    payload = registration_1002(newcomer("LENTO", "MARIO"))
    header = {"idOperazioneComune": op_id, **DECORRENZA}
    anpr_faults.inject(Fault("latency", operation="1002", seconds=1.0))
    done: dict[str, bytes] = {}
    slow = threading.Thread(
        target=lambda: done.setdefault(
            "first", anpr_client.transmit(anpr_client.prepare("1002", payload, header=header)).body
        )
    )
    slow.start()
    deadline = time.monotonic() + 5
    while not sim.ledger.in_progress():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    other = sim.client(A, journal=None)
    try:
        with pytest.raises(OperationNotAllowedError) as busy:
            other.send(other.prepare("1002", payload, header=header))
    finally:
        other.close()
    slow.join()
    assert busy.value.codes == ("EN148",)
    assert done["first"]
    assert len([p for p in sim.store.residents(A) if p.surname == "LENTO"]) == 1
