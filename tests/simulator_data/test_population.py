"""The simulator's fictitious population: valid, unique codici fiscali and plausible families."""

from __future__ import annotations

import doctest
import functools
import itertools
from collections import Counter
from datetime import date

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.simulator import population
from anpr_client.simulator.household import Household, Person
from anpr_client.simulator.population import (
    DEFAULT_AS_OF,
    FiscalCodeAllocator,
    generate_population,
    omocode,
)
from anpr_client.simulator.tables import TABLES
from anpr_client.validation import codicefiscale as cf
from anpr_client.validation import fields
from anpr_client.validation.comuni import ComuniTable
from anpr_client.validation.stati import StatiTable
from anpr_client.validation.toponyms import SpeciesTable

# Every Comune of the shipped sample that exists today (Rossano and Corigliano Calabro ceased).
_COMUNI = ("058091", "015146", "037006", "063049", "001272", "048017", "082053", "028001",
           "078157", "098001", "021008")  # fmt: skip


@functools.cache
def _population() -> tuple[Household, ...]:
    return tuple(generate_population(_COMUNI, 400, seed=2025))


def _persons(households: tuple[Household, ...] | list[Household]) -> list[Person]:
    return [p for f in households for p in f.members]


def _years(older: date, younger: date) -> float:
    return (younger - older).days / 365.25


def test_counts_and_order() -> None:
    households = _population()
    assert [h.comune for h in households] == sorted(
        (h.comune for h in households), key=_COMUNI.index
    )
    per_comune = Counter(f.comune for f in households for _ in f.members)
    assert per_comune == dict.fromkeys(_COMUNI, 400)
    assert generate_population(["058091"], 0) == []
    assert sum(len(f.members) for f in generate_population(["015146"], 1)) == 1


def test_every_codice_fiscale_is_valid_and_matches_the_person() -> None:
    comuni, stati = ComuniTable.sample(), StatiTable.sample()
    for p in _persons(_population()):
        place = p.birth_place
        assert (
            cf.validate(
                p.codice_fiscale,
                surname=p.surname,
                name=p.name,
                sex=p.sex,
                birth_date=p.birth_date,
                birth_place=place.code,
                comuni=comuni,
                stati=stati,
            )
            == p.codice_fiscale
        )
        assert cf.get_birth_place(p.codice_fiscale) == place.cadastral
        if place.foreign:  # a state that existed and may be a birth state
            state = stati.get(place.code or "")
            assert state is not None
            assert state.cadastral == place.cadastral
            assert state.allows("birth")
            assert state.valid_from <= p.birth_date <= state.valid_to
        else:  # the Comune as it was on the birth date
            then = comuni.at(place.code or "", p.birth_date)
            assert then is not None, p
            assert (then.cadastral, then.name) == (place.cadastral, place.name)


def test_birth_places_follow_comuni_history() -> None:
    persons = _persons(_population())
    places = {(p.birth_place.code, p.birth_date >= date(2018, 3, 31)) for p in persons}
    # Corigliano-Rossano (078157, M403) exists since 2018-03-31; before, its two predecessors.
    assert ("078157", False) not in places
    assert ("078157", True) in places
    assert {("078044", False), ("078108", False)} <= places
    # Abbadia Cerreto moved from Milano's province (015001) to Lodi's (098001) in 1992.
    old = [p for p in persons if p.birth_place.cadastral == "A004"]
    assert {p.birth_place.code for p in old if p.birth_date < date(1992, 4, 16)} == {"015001"}
    assert {p.birth_place.code for p in old if p.birth_date > date(1992, 4, 16)} == {"098001"}


def test_codes_and_ids_are_unique() -> None:
    households = _population()
    persons = _persons(households)
    assert len({p.codice_fiscale for p in persons}) == len(persons)
    assert len({p.id for p in persons}) == len(persons)
    assert len({f.id for f in households}) == len(households)
    for p in persons:
        assert p.id.isdigit()
        assert len(p.id) <= 16  # tipoIdSchedaSoggettoANPR
    for f in households:
        assert f.id.isdigit()
        assert len(f.id) <= 20  # tipoIdFamigliaConvivenzaANPR


def test_deterministic_by_seed() -> None:
    first = generate_population(["058091", "015146"], 150, seed=9)
    assert first == generate_population(["058091", "015146"], 150, seed=9)
    other = generate_population(["058091", "015146"], 150, seed=10)
    assert {p.codice_fiscale for p in _persons(first)} != {
        p.codice_fiscale for p in _persons(other)
    }


def test_a_comune_does_not_depend_on_the_others() -> None:
    alone = generate_population(["058091"], 120, seed=3)
    together = generate_population(["058091", "015146"], 120, seed=3)
    assert together[: len(alone)] == alone


def test_homonyms_get_the_omocodic_code_of_the_agenzia() -> None:
    households = generate_population(["058091"], 200, seed=5, homonyms=3)
    persons = _persons(households)
    by_base: dict[str, list[Person]] = {}
    for p in persons:
        by_base.setdefault(cf.to_base(p.codice_fiscale), []).append(p)
    groups = [g for g in by_base.values() if len(g) > 1]
    assert sum(len(g) - 1 for g in groups) >= 3
    for group in groups:
        data = {(p.surname, p.name, p.sex, p.birth_date, p.birth_place) for p in group}
        assert len(data) == 1  # same personal data, different codes
        first, *others = group
        assert first.codice_fiscale == cf.to_base(first.codice_fiscale)  # the first has the base
        for level, p in enumerate(others, 1):
            assert p.codice_fiscale == omocode(first.codice_fiscale, level)
            assert p.codice_fiscale[14] in cf.OMOCODIA_LETTERS
            assert cf.is_valid(p.codice_fiscale, surname=p.surname, birth_date=p.birth_date)
    singles = [f for f in households if len(f.members) == 1]
    assert any(f.head in (g[1] for g in groups) for f in singles)
    assert generate_population(["058091"], 200, seed=5, homonyms=0) != households


def test_the_allocator_follows_the_omocodia_order_for_twins() -> None:
    allocator = FiscalCodeAllocator()
    twins = [
        allocator.allocate("Rossi", "Mario", "M", date(1985, 12, 10), "H501") for _ in range(9)
    ]
    assert twins[0] == "RSSMRA85T10H501O"
    # Digits replaced from the right, one more each time: H501 → H50M → H5LM → HRLM, T10 → T1L…
    assert [code[6:15] for code in twins[1:8]] == [
        "85T10H50M",
        "85T10H5LM",
        "85T10HRLM",
        "85T1LHRLM",
        "85TMLHRLM",
        "8RTMLHRLM",
        "URTMLHRLM",
    ]
    assert len(set(twins)) == 9
    for code in twins:
        assert cf.validate(code, surname="Rossi", name="Mario", sex="M") == code
        assert cf.to_base(code) == twins[0]
        assert code in allocator
    assert len(allocator) == 9
    taken = FiscalCodeAllocator(taken=[twins[0]])
    assert taken.allocate("ROSSI", "MARIO", "M", date(1985, 12, 10), "H501") == twins[1]


def test_the_population_avoids_codes_already_taken() -> None:
    reference = generate_population(["015146"], 60, seed=1)
    first = reference[0].head.codice_fiscale
    again = generate_population(["015146"], 60, seed=1, taken=[first])
    assert again[0].head.codice_fiscale == omocode(first, 1)


def test_omocode_levels() -> None:
    assert omocode("RSSMRA85T10H501O", 0) == "RSSMRA85T10H501O"
    every_digit = "RSSMRAURTMLHRLM"
    assert omocode("RSSMRA85T10H501O", 7) == every_digit + cf.calc_check_digit(every_digit)
    with pytest.raises(ConfigurationError, match="omocodia level 8"):
        omocode("RSSMRA85T10H501O", 8)


def test_households_are_coherent() -> None:
    for household in _population():
        head, *others = household.members
        residence = ComuniTable.sample().at(household.comune, DEFAULT_AS_OF)
        assert residence is not None
        assert head.relation == "1"
        assert all(p.relation != "1" for p in others)
        assert _years(head.birth_date, household.since) >= 17.99
        assert residence.valid_from <= household.since <= DEFAULT_AS_OF
        partners = [p for p in others if p.relation in ("2", "23", "28")]
        assert len(partners) <= 1
        couple = [head, *partners]
        for partner in partners:
            if partner.relation == "2":  # married: a man and a woman, both coniugati
                assert {head.sex, partner.sex} == {"M", "F"}
                assert head.marital_status == partner.marital_status == "2"
            elif partner.relation == "28":  # civil union
                assert head.sex == partner.sex
                assert head.marital_status == partner.marital_status == "6"
            else:  # conviventi: neither is married
                assert {head.marital_status, partner.marital_status} <= {"1", "4"}
        children = [p for p in others if p.relation == "3"]
        fathers = [p for p in couple if p.sex == "M"]
        for child in children:
            for parent in couple:
                assert _years(parent.birth_date, child.birth_date) >= 17.5, household
            assert _years(child.birth_date, DEFAULT_AS_OF) < 33
            if len(couple) == 2 or fathers:  # a couple's children, or a father's
                assert child.surname == fathers[0].surname
            if _years(child.birth_date, DEFAULT_AS_OF) < 18:
                assert child.marital_status == "1"
        births = sorted(c.birth_date for c in children)
        for older, younger in itertools.pairwise(births):
            assert older == younger or (younger - older).days >= 300  # twins, or ~11 months
        for parent in (p for p in others if p.relation == "6"):
            assert _years(parent.birth_date, head.birth_date) >= 22
            assert parent.marital_status == "3"
            if parent.sex == "M":
                assert parent.surname == head.surname
        for p in household.members:
            assert p.birth_date <= DEFAULT_AS_OF
            if p.birth_date >= household.since:  # born here, after moving in
                assert p.birth_place.cadastral == residence.cadastral
            if p.citizenship != "100" and p.birth_place.foreign:
                assert p.birth_date < household.since


def test_the_population_is_varied() -> None:
    households = _population()
    persons = _persons(households)
    sizes = Counter(len(f.members) for f in households)
    assert {1, 2, 3, 4, 5} <= set(sizes)
    relations = Counter(p.relation for p in persons)
    assert {"1", "2", "3", "6", "23", "28"} <= set(relations)
    foreign = [p for p in persons if p.citizenship != "100"]
    assert 0.03 < len(foreign) / len(persons) < 0.2
    assert any(p.birth_place.foreign for p in persons if p.citizenship == "100")
    assert any(not p.birth_place.foreign for p in foreign)  # children born in Italy
    assert len({p.surname for p in persons}) > 60
    assert len({f.address.cap for f in households if f.comune == "058091"}) > 3
    omocodic = [p for p in persons if cf.to_base(p.codice_fiscale) != p.codice_fiscale]
    assert len(omocodic) >= len(_COMUNI)  # one planted homonym per Comune at least
    ages = [_years(p.birth_date, DEFAULT_AS_OF) for p in persons]
    assert min(ages) < 2
    assert max(ages) > 85


def test_codes_are_in_the_reference_tables() -> None:
    persons = _persons(_population())
    assert {p.marital_status for p in persons} <= set(TABLES["stato_civile"].codes())
    assert {p.relation for p in persons} <= set(TABLES["relazione_parentela"].codes())
    states = set(TABLES["stati_esteri"].codes())
    assert {p.citizenship for p in persons} <= states
    assert {p.birth_place.code for p in persons if p.birth_place.foreign} <= states


def test_values_fit_anpr_field_rules() -> None:
    names = fields.spec("alfabeticoNomiCognomi")
    street = fields.spec("alfanumericoIndirizzo")
    cap = fields.spec("tipoCap")
    species = SpeciesTable.sample()
    for household in _population():
        assert street.accepts(household.address.street_name), household.address
        assert cap.accepts(household.address.cap)
        assert species.get(household.address.street_kind) is not None
        assert household.address.house_number.isdigit()
        for p in household.members:
            assert names.accepts(p.surname), p.surname
            assert names.accepts(p.name), p.name


def test_bad_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="'999999' is unknown"):
        generate_population(["999999"], 10)
    with pytest.raises(ConfigurationError, match="'078108' is ceased or not yet founded"):
        generate_population(["078108"], 10)
    with pytest.raises(ConfigurationError, match="persons_per_comune must be between"):
        generate_population(["058091"], -1)
    with pytest.raises(ConfigurationError, match="listed twice"):
        generate_population(["058091", "058091"], 1)
    with pytest.raises(ConfigurationError, match="list of ISTAT codes"):
        generate_population("058091", 1)
    with pytest.raises(ConfigurationError, match="homonyms"):
        generate_population(["058091"], 1, homonyms=-1)


def test_doctests() -> None:
    result = doctest.testmod(population)
    assert result.attempted > 0
    assert result.failed == 0
