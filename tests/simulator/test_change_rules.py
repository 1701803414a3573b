"""ANPR's rules for the mistakes integrators make in the 5000 family (5001, 5008, 5012, 5014),
with ANPR's codes. Requests go signed over TLS from a client without the library's pre-send
checks, so what is tested is the simulator's answer (the rules table is in docs/simulator.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected
from anpr_client.results import Result
from anpr_client.simulator import Person, Simulator

from .registry_payloads import DECORRENZA, TODAY, annulment, death_2001, gen, italian_residence
from .support import A, B, raw_client, started_simulator

TOMORROW_BUT_ONE = TODAY + dt.timedelta(days=2)


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("change-rules-state")
    with started_simulator(pki_template, state, population=80) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client_a(sim: Simulator) -> Client:
    return raw_client(sim, A)


def refused(
    client: Client, operation: str, payload: dict[str, Any], header: Any = DECORRENZA
) -> tuple[str, ...]:
    """The codes of ANPR's KO answer (fails if the operation succeeds)."""
    with pytest.raises(AnprRejected) as ko:
        client.call(operation, payload, header=header)
    return ko.value.codes


def family(sim: Simulator, istat: str = A, size: int = 2) -> tuple[Person, ...]:
    """The members of a family of at least ``size`` residents no test of the module used."""
    used: set[str] = sim.__dict__.setdefault("_change_rules_used", set())
    for household in sim.store.households(istat):
        if (
            len(household.members) >= size
            and not household.cohabitation
            and household.id not in used
            and all(m.resident for m in household.members)
            and household.members[0].relation == "1"
        ):
            used.add(household.id)
            return household.members
    raise AssertionError(f"no unused family of {size} in {istat}")


def soggetto(person: Person, relation: str) -> dict[str, Any]:
    return {
        "generalita": gen(person),
        "legameSoggetto": {"dataDecorrenza": TODAY, "codiceLegame": relation},
    }


def composition(household: str | None, *members: tuple[Person, str]) -> dict[str, Any]:
    """A 5001 ``tipoMutazione`` 2: the relations of ``members`` in ``household``."""
    scheda: dict[str, Any] = {"tipoScheda": "3"}
    if household is not None:
        scheda["idFamigliaConvivenzaANPR"] = household
    return {
        "famigliaConvivenza": scheda,
        "elencoSoggettiFamiglia": [soggetto(p, r) for p, r in members],
        "datiControllo": {"tipoMutazione": "2", "tipoScheda": "1"},
    }


def relocation(household: str | None, istat: str = A) -> dict[str, Any]:
    """A 5001 ``tipoMutazione`` 4: ``household`` moves to an address of ``istat``."""
    return {
        "famigliaConvivenza": {"idFamigliaConvivenzaANPR": household, "tipoScheda": "3"},
        "residenzaFamigliaConvivenza": italian_residence(istat, street="NOMENTANA"),
        "datiControllo": {"tipoMutazione": "4", "tipoScheda": "1"},
    }


def record_change(person: Person, *codes: str, **parts: Any) -> dict[str, Any]:
    """A 5008 of ``person`` with ``tipoMutazione`` ``codes``."""
    return {
        "generalitaPerRicerca": gen(person),
        **parts,
        "datiControllo": {"tipoMutazione": list(codes)},
    }


def correction(person: Person, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """A 5014 of ``person``: ``richiestaRettifica<kind>``."""
    return {
        "generalitaPerRicerca": gen(person),
        "tipoRettifica": {f"richiestaRettifica{kind}": request},
    }


def annul_5012(result: Result[Any], person: Person, service: str) -> dict[str, Any]:
    payload = annulment("5012", result, person, sent_as=service)
    payload["datiControllo"] = {"tipoScheda": "1", "annullamentoAttribuzioneCF": "N"}
    return payload


# --------------------------------------------------------------------------- 5001 composition


def test_the_composition_names_a_family_of_the_comune(sim: Simulator, client_a: Client) -> None:
    head, *_ = family(sim)
    (milanese, *_) = family(sim, B, size=1)
    assert refused(client_a, "5001", composition(None, (head, "1"))) == ("EF028",)
    assert refused(client_a, "5001", composition("999999999", (head, "1"))) == ("EF002",)
    assert refused(client_a, "5001", composition(milanese.household_id, (milanese, "1"))) == (
        "EN119",
    )


def test_the_composition_lists_members_of_that_family(sim: Simulator, client_a: Client) -> None:
    head, other, *_ = family(sim)
    stranger, *_ = family(sim)
    payload = composition(head.household_id, (head, "1"), (stranger, "3"))
    assert refused(client_a, "5001", payload) == ("EF044",)
    payload = composition(head.household_id, (head, "1"), (other, "3"), (other, "3"))
    assert refused(client_a, "5001", payload) == ("ES004",)
    empty = composition(head.household_id)
    assert refused(client_a, "5001", empty) == ("EF006",)


def test_the_composition_lists_one_head(sim: Simulator, client_a: Client) -> None:
    head, other, *_ = family(sim)
    # Only another member's relation: the head must be listed too (italia/anpr#707).
    assert refused(client_a, "5001", composition(head.household_id, (other, "3"))) == ("EF008",)
    both = composition(head.household_id, (head, "1"), (other, "1"))
    assert refused(client_a, "5001", both) == ("EF009",)
    # A new head, the previous one not listed with their new relation (italia/anpr#727).
    assert refused(client_a, "5001", composition(head.household_id, (other, "1"))) == ("EN482",)
    # Listing the head with the changed member is what ANPR asks: done.
    done = client_a.call(
        "5001", composition(head.household_id, (head, "1"), (other, "9")), header=DECORRENZA
    )
    assert done.esito_operazione == "0000"
    changed = sim.store.person(other.codice_fiscale)
    assert changed is not None
    assert changed.relation == "9"


def test_the_composition_dates(sim: Simulator, client_a: Client) -> None:
    head, other, *_ = family(sim)
    payload = composition(head.household_id, (head, "1"), (other, "3"))
    payload["elencoSoggettiFamiglia"][1]["legameSoggetto"]["dataDecorrenza"] = TOMORROW_BUT_ONE
    assert refused(client_a, "5001", payload) == ("EHR18",)
    payload["elencoSoggettiFamiglia"][1]["legameSoggetto"]["dataDecorrenza"] = (
        other.birth_date - dt.timedelta(days=1)
    )
    assert refused(client_a, "5001", payload) == ("ES008",)
    future = {"dataDecorrenza": TOMORROW_BUT_ONE}
    assert refused(client_a, "5001", composition(head.household_id, (head, "1")), future) == (
        "EHR18",
    )


def test_the_composition_of_a_closed_record(sim: Simulator, client_a: Client) -> None:
    head, other, *_ = family(sim, size=3)
    client_a.call("2001", death_2001(other), header=DECORRENZA)
    payload = composition(head.household_id, (head, "1"), (other, "3"))
    assert refused(client_a, "5001", payload) == ("ES102",)


def test_5001_types_not_simulated_are_en379(sim: Simulator, client_a: Client) -> None:
    head, *_ = family(sim, size=1)
    payload = composition(head.household_id, (head, "1"))
    payload["datiControllo"]["tipoMutazione"] = "3"
    assert refused(client_a, "5001", payload) == ("EN379",)


# --------------------------------------------------------------------------- 5001 residence


def test_the_household_moves_within_the_comune(sim: Simulator, client_a: Client) -> None:
    members = family(sim)
    household = members[0].household_id
    assert refused(client_a, "5001", relocation(None)) == ("EF029",)
    assert refused(client_a, "5001", relocation(household, B)) == ("EF042",)
    no_address = relocation(household)
    del no_address["residenzaFamigliaConvivenza"]
    assert refused(client_a, "5001", no_address) == ("EF041",)
    client_a.call("5001", relocation(household), header=DECORRENZA)
    moved = sim.store.household(household or "")
    assert moved is not None
    assert moved.address.street_name == "NOMENTANA"
    assert moved.since == TODAY
    assert [m.codice_fiscale for m in moved.members] == [m.codice_fiscale for m in members]


# --------------------------------------------------------------------------- 5008


def test_5008_rules(sim: Simulator, client_a: Client) -> None:
    person, *_ = family(sim, size=1)
    (milanese, *_) = family(sim, B, size=1)
    assert refused(client_a, "5008", record_change(person, "09")) == ("ES096",)
    assert refused(client_a, "5008", record_change(person, "21")) == ("ES096",)
    assert refused(client_a, "5008", record_change(person, "01")) == ("ES068",)
    assert refused(client_a, "5008", record_change(person, "02")) == ("ES069",)
    assert refused(client_a, "5008", record_change(person, "12")) == ("EN379",)
    renamed = {"generalitaDaModificare": {"generalita": {"cognome": "ALTRO", "nome": "NOME"}}}
    assert refused(client_a, "5008", record_change(milanese, "01", **renamed)) == ("EN117",)
    unknown = record_change(person, "01", **renamed)
    unknown["generalitaPerRicerca"]["codiceFiscale"] = {"codFiscale": "ZZZZZZ80A01H501Z"}
    assert refused(client_a, "5008", unknown) == ("ES003",)


# --------------------------------------------------------------------------- 5014


def test_5014_rules(sim: Simulator, client_a: Client) -> None:
    person, *_ = family(sim, size=1)
    future = correction(person, "101", {"dataDecorrenzaResidenza": TOMORROW_BUT_ONE})
    assert refused(client_a, "5014", future) == ("EHR18",)
    before_birth = person.birth_date - dt.timedelta(days=1)
    early = correction(person, "101", {"dataDecorrenzaResidenza": before_birth})
    assert refused(client_a, "5014", early) == ("ES008",)
    reason = correction(person, "102", {"idMotivoIscrizione": "1"})
    assert refused(client_a, "5014", reason) == ("EN379",)


# --------------------------------------------------------------------------- 5012


def test_5012_annuls_changes_only(sim: Simulator, client_a: Client) -> None:
    head, other, *_ = family(sim)
    died = client_a.call("2001", death_2001(other), header=DECORRENZA)
    assert refused(client_a, "5012", annul_5012(died, other, "2001")) == ("EN314",)
    changed = client_a.call("5001", composition(head.household_id, (head, "1")), header=DECORRENZA)
    assert refused(client_a, "5012", annul_5012(changed, head, "5005")) == ("EN314",)
    # The change is not the last one on the head: a later one must be annulled first.
    later = client_a.call("5001", relocation(head.household_id), header=DECORRENZA)
    assert refused(client_a, "5012", annul_5012(changed, head, "5001")) == ("EN077",)
    client_a.call("5012", annul_5012(later, head, "5001"), header=DECORRENZA)
    client_a.call("5012", annul_5012(changed, head, "5001"), header=DECORRENZA)


def test_the_same_change_sent_twice_is_answered_with_the_first_answer(
    sim: Simulator, client_a: Client
) -> None:
    head, other, *_ = family(sim)
    op_id = f"MUT{time.monotonic_ns()}"[:30]
    header = {"idOperazioneComune": op_id, **DECORRENZA}
    payload = composition(head.household_id, (head, "1"), (other, "9"))
    first = client_a.transmit(client_a.prepare("5001", payload, header=header))
    # Meanwhile the relation changes again under another id: the repeat must not undo it.
    client_a.call(
        "5001", composition(head.household_id, (head, "1"), (other, "3")), header=DECORRENZA
    )
    again = client_a.transmit(client_a.prepare("5001", payload, header=header))
    assert again.body == first.body
    (record,) = [r for r in sim.ledger.operations(A, "5001") if r.id_operazione_comune == op_id]
    assert record.times_applied == 1
    changed = sim.store.person(other.codice_fiscale)
    assert changed is not None
    assert changed.relation == "3"
