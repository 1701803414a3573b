"""The registry's new records and its change log, in process (no server): what 1013 and 2011
restore, what blocks an annulment, and the records of AIRE, convivenze, procedures, sections."""

from __future__ import annotations

import datetime as dt

import pytest

from anpr_client.simulator.db import Database
from anpr_client.simulator.household import (
    Address,
    AireRegistration,
    BirthPlace,
    ForeignAddress,
    Person,
    PersonalData,
)
from anpr_client.simulator.seeding import seed_registry
from anpr_client.simulator.store import Registry

A = "058091"
DAY = dt.date(2025, 3, 1)
LATER = dt.date(2025, 4, 1)
PARIS = ForeignAddress(
    street_kind="",
    street_name="RUE DE RIVOLI",
    house_number="3",
    cap="75001",
    kind="4",
    state="215",
    locality="PARIGI",
    consulate="2290103",
    consulate_name="PARIGI",
)


@pytest.fixture
def registry() -> Registry:
    store = Registry(Database(None))
    seed_registry(store, [A], persons_per_comune=12, seed=7)
    return store


def _join(
    registry: Registry,
    household_id: str,
    *,
    cf: str = "BNCNNA85C44Z110Q",
    relation: str = "1",
    since: dt.date = DAY,
    operation: str | None = None,
    status: str = "resident",
    comune: str = A,
) -> Person:
    """Register a newcomer (or the cancelled ``cf`` again) in ``household_id``."""
    return registry.register(
        _newcomer(cf),
        comune=comune,
        household_id=household_id,
        relation=relation,
        since=since,
        reason="aire" if status == "aire" else "registration",
        operation=operation,
        status=status,
    )


def _newcomer(cf: str = "BNCNNA85C44Z110Q") -> PersonalData:
    return PersonalData(
        codice_fiscale=cf,
        surname="BIANCHI",
        name="ANNA",
        sex="F",
        birth_date=dt.date(1985, 3, 4),
        birth_place=BirthPlace(name="FRANCIA", state="215"),
    )


def test_annulling_a_death_restores_the_person_the_family_and_the_head(
    registry: Registry,
) -> None:
    household = next(h for h in registry.households(A) if len(h.members) >= 2)
    head = household.members[0]
    before = {m.id: m for m in household.members}
    registry.record_death(head, date=DAY, operation="700000001")
    registry.promote_head(household.id, since=DAY, operation="700000001")
    assert registry.person_by_id(head.id).status == "deceased"  # type: ignore[union-attr]
    assert any(m.relation == "1" for m in registry.members(household.id))

    restored = registry.annul("700000001", by="700000002")

    assert {(c.kind, c.key) for c in restored} >= {("person", head.id), ("family", household.id)}
    assert {m.id: m for m in registry.members(household.id)} == before
    assert registry.residences(head.codice_fiscale)[-1].until is None
    assert all(c.undone_by == "700000002" for c in registry.changes("700000001"))


def test_annulling_a_registration_removes_the_person_and_the_family_it_created(
    registry: Registry,
) -> None:
    persons = registry.count_persons()
    household = registry.create_household(A, PARIS, since=DAY, operation="700000010")
    person = _join(registry, household.id, operation="700000010", status="aire")
    registry.set_aire_registration(
        person, AireRegistration("C01", "1", "1", DAY), operation="700000010"
    )
    assert [c.created for c in registry.changes("700000010")] == [True, True]

    registry.annul("700000010", by="700000011")

    assert registry.person(person.codice_fiscale) is None
    assert registry.household(household.id) is None
    assert registry.count_persons() == persons


def test_annulling_a_re_registration_gives_back_the_cancelled_record(
    registry: Registry,
) -> None:
    person = next(h.head for h in registry.households(A) if len(h.members) == 1)
    registry.cancel(person, date=DAY, operation="700000020")
    cancelled = registry.person_by_id(person.id)
    target = next(h for h in registry.households(A) if h.id != person.household_id)
    again = _join(
        registry,
        target.id,
        cf=person.codice_fiscale,
        relation="9",
        since=LATER,
        operation="700000021",
    )
    assert again.id == person.id
    assert again.resident

    registry.annul("700000021", by="700000022")

    assert registry.person_by_id(person.id) == cancelled
    assert [r.until for r in registry.residences(person.codice_fiscale)] == [DAY]


def test_a_later_operation_on_the_same_person_or_family_blocks_the_annulment(
    registry: Registry,
) -> None:
    household = next(h for h in registry.households(A) if len(h.members) >= 2)
    head, member = household.members[0], household.members[1]
    registry.record_death(head, date=DAY, operation="700000030")
    assert registry.later_changes("700000030") == []
    # A later operation moves another member of the same family: the family changed after.
    other = registry.create_household(A, household.address, since=LATER, operation="700000031")
    registry.move(
        member,
        comune=A,
        household_id=other.id,
        relation="1",
        since=LATER,
        reason="change",
        operation="700000031",
    )
    assert {c.operation for c in registry.later_changes("700000030")} == {"700000031"}
    # Once that one is annulled, the death is the last operation again.
    registry.annul("700000031", by="700000032")
    assert registry.later_changes("700000030") == []
    assert registry.person_by_id(member.id).household_id == household.id  # type: ignore[union-attr]


def test_the_seed_population_is_not_logged(registry: Registry) -> None:
    person = registry.residents(A)[0]
    registry.set_relation(person, person.relation or "1", since=DAY, operation=None)
    assert registry.changes("") == []


def test_a_famiglia_aire_keeps_its_address_abroad(registry: Registry) -> None:
    household = registry.create_household(A, PARIS, since=DAY, origin_date=DAY)
    found = registry.household(household.id)
    assert found is not None
    assert found.address == PARIS
    assert found.abroad
    assert found.scheda == "5"


def test_aire_citizens_are_not_residents(registry: Registry) -> None:
    household = registry.create_household(A, PARIS, since=DAY)
    person = _join(registry, household.id, status="aire")
    assert person.aire
    assert person.registered
    assert not person.resident
    assert person.codice_fiscale not in {p.codice_fiscale for p in registry.residents(A)}
    assert [p.codice_fiscale for p in registry.aire_citizens(A)] == [person.codice_fiscale]
    assert registry.members(household.id) == [person]
    registration = AireRegistration("C09", "9", "1", DAY, notes=(("noteMotivoIscrizione", "X"),))
    registry.set_aire_registration(person, registration, operation=None)
    assert registry.aire_registration(person) == registration


def test_an_empty_convivenza_stays_until_archived(registry: Registry) -> None:
    address = Address("VIA", "APPIA", "10", "00184")
    convivenza = registry.create_household(
        A, address, since=DAY, kind="2", name="CONVENTO", species="1", responsible="X"
    )
    assert convivenza.cohabitation
    assert convivenza.scheda == "4"
    person = _join(registry, convivenza.id, relation="25")
    registry.cancel(person, date=LATER, operation=None)
    empty = registry.household(convivenza.id)
    assert empty is not None
    assert empty.active
    assert empty.members == ()
    registry.archive_household(convivenza.id, date=LATER, operation=None)
    archived = registry.household(convivenza.id)
    assert archived is not None
    assert not archived.active
    assert archived.name == "CONVENTO"


def test_procedures_open_change_and_close(registry: Registry) -> None:
    person = registry.residents(A)[0]
    opened = registry.open_procedure(A, "P-1", trigger="6", state="1", date=DAY, subjects=[person])
    assert opened.open
    assert registry.open_procedures(person) == [opened]
    assert registry.procedure(A, "P-1") == opened
    other = registry.residents(A)[1]
    closed = registry.update_procedure(
        opened, state="2", date=LATER, subjects=[other], closed=LATER, outcome="1"
    )
    assert closed.subjects == (person.id, other.id)
    assert registry.procedure(A, "P-1") == closed
    assert registry.open_procedures(person) == []


def test_electoral_sections(registry: Registry) -> None:
    registry.add_electoral_section(A, "12", "SCUOLA")
    registry.add_electoral_section(A, "2")
    assert registry.electoral_sections(A) == {"2": "", "12": "SCUOLA"}
    assert registry.remove_electoral_section(A, "12")
    assert not registry.remove_electoral_section(A, "12")
    assert registry.electoral_sections(A) == {"2": ""}


def test_the_previous_comune_is_the_residence_before_the_current_one(
    registry: Registry,
) -> None:
    person = next(h.head for h in registry.households(A) if len(h.members) == 1)
    assert registry.previous_comune(person) is None
    registry.cancel(person, date=DAY, operation=None)
    household = registry.create_household(
        "015146", Address("VIA", "DANTE", "7", "20121"), since=LATER
    )
    moved = _join(registry, household.id, cf=person.codice_fiscale, since=LATER, comune="015146")
    assert registry.previous_comune(moved) == A
