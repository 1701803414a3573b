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
from anpr_client.simulator.population import (
    DEFAULT_AS_OF,
    Family,
    FiscalCodeAllocator,
    Person,
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
def _population() -> tuple[Family, ...]:
    return tuple(generate_population(_COMUNI, 400, seed=2025))


def _persons(families: tuple[Family, ...] | list[Family]) -> list[Person]:
    return [p for f in families for p in f.members]


def _years(older: date, younger: date) -> float:
    return (younger - older).days / 365.25


def test_counts_and_order() -> None:
    families = _population()
    assert [f.comune for f in families] == sorted((f.comune for f in families), key=_COMUNI.index)
    per_comune = Counter(f.comune for f in families for _ in f.members)
    assert per_comune == dict.fromkeys(_COMUNI, 400)
    assert generate_population(["058091"], 0) == []
    assert sum(len(f.members) for f in generate_population(["015146"], 1)) == 1


def test_every_codice_fiscale_is_valid_and_matches_the_person() -> None:
    comuni, stati = ComuniTable.sample(), StatiTable.sample()
    for p in _persons(_population()):
        place = p.luogo_nascita
        assert (
            cf.validate(
                p.codice_fiscale,
                surname=p.cognome,
                name=p.nome,
                sex=p.sesso,
                birth_date=p.data_nascita,
                birth_place=place.code,
                comuni=comuni,
                stati=stati,
            )
            == p.codice_fiscale
        )
        assert cf.get_birth_place(p.codice_fiscale) == place.cadastral
        if place.foreign:  # a state that existed and may be a birth state
            state = stati.get(place.code)
            assert state is not None
            assert state.cadastral == place.cadastral
            assert state.allows("birth")
            assert state.valid_from <= p.data_nascita <= state.valid_to
        else:  # the Comune as it was on the birth date
            then = comuni.at(place.code, p.data_nascita)
            assert then is not None, p
            assert (then.cadastral, then.name) == (place.cadastral, place.name)


def test_birth_places_follow_comuni_history() -> None:
    persons = _persons(_population())
    places = {(p.luogo_nascita.code, p.data_nascita >= date(2018, 3, 31)) for p in persons}
    # Corigliano-Rossano (078157, M403) exists since 2018-03-31; before, its two predecessors.
    assert ("078157", False) not in places
    assert ("078157", True) in places
    assert {("078044", False), ("078108", False)} <= places
    # Abbadia Cerreto moved from Milano's province (015001) to Lodi's (098001) in 1992.
    old = [p for p in persons if p.luogo_nascita.cadastral == "A004"]
    assert {p.luogo_nascita.code for p in old if p.data_nascita < date(1992, 4, 16)} == {"015001"}
    assert {p.luogo_nascita.code for p in old if p.data_nascita > date(1992, 4, 16)} == {"098001"}


def test_codes_and_ids_are_unique() -> None:
    families = _population()
    persons = _persons(families)
    assert len({p.codice_fiscale for p in persons}) == len(persons)
    assert len({p.id_scheda for p in persons}) == len(persons)
    assert len({f.id for f in families}) == len(families)
    for p in persons:
        assert p.id_scheda.isdigit()
        assert len(p.id_scheda) <= 16  # tipoIdSchedaSoggettoANPR
    for f in families:
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
    families = generate_population(["058091"], 200, seed=5, homonyms=3)
    persons = _persons(families)
    by_base: dict[str, list[Person]] = {}
    for p in persons:
        by_base.setdefault(cf.to_base(p.codice_fiscale), []).append(p)
    groups = [g for g in by_base.values() if len(g) > 1]
    assert sum(len(g) - 1 for g in groups) >= 3
    for group in groups:
        data = {(p.cognome, p.nome, p.sesso, p.data_nascita, p.luogo_nascita) for p in group}
        assert len(data) == 1  # same personal data, different codes
        first, *others = group
        assert first.codice_fiscale == cf.to_base(first.codice_fiscale)  # the first has the base
        for level, p in enumerate(others, 1):
            assert p.codice_fiscale == omocode(first.codice_fiscale, level)
            assert p.codice_fiscale[14] in cf.OMOCODIA_LETTERS
            assert cf.is_valid(p.codice_fiscale, surname=p.cognome, birth_date=p.data_nascita)
    singles = [f for f in families if len(f.members) == 1]
    assert any(f.head in (g[1] for g in groups) for f in singles)
    assert generate_population(["058091"], 200, seed=5, homonyms=0) != families


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


def test_families_are_coherent() -> None:
    for family in _population():
        head, *others = family.members
        residence = ComuniTable.sample().at(family.comune, DEFAULT_AS_OF)
        assert residence is not None
        assert head.relazione_parentela == "1"
        assert all(p.relazione_parentela != "1" for p in others)
        assert _years(head.data_nascita, family.data_decorrenza_residenza) >= 17.99
        assert residence.valid_from <= family.data_decorrenza_residenza <= DEFAULT_AS_OF
        partners = [p for p in others if p.relazione_parentela in ("2", "23", "28")]
        assert len(partners) <= 1
        couple = [head, *partners]
        for partner in partners:
            if partner.relazione_parentela == "2":  # married: a man and a woman, both coniugati
                assert {head.sesso, partner.sesso} == {"M", "F"}
                assert head.stato_civile == partner.stato_civile == "2"
            elif partner.relazione_parentela == "28":  # civil union
                assert head.sesso == partner.sesso
                assert head.stato_civile == partner.stato_civile == "6"
            else:  # conviventi: neither is married
                assert {head.stato_civile, partner.stato_civile} <= {"1", "4"}
        children = [p for p in others if p.relazione_parentela == "3"]
        fathers = [p for p in couple if p.sesso == "M"]
        for child in children:
            for parent in couple:
                assert _years(parent.data_nascita, child.data_nascita) >= 17.5, family
            assert _years(child.data_nascita, DEFAULT_AS_OF) < 33
            if len(couple) == 2 or fathers:  # a couple's children, or a father's
                assert child.cognome == fathers[0].cognome
            if _years(child.data_nascita, DEFAULT_AS_OF) < 18:
                assert child.stato_civile == "1"
        births = sorted(c.data_nascita for c in children)
        for older, younger in itertools.pairwise(births):
            assert older == younger or (younger - older).days >= 300  # twins, or ~11 months
        for parent in (p for p in others if p.relazione_parentela == "6"):
            assert _years(parent.data_nascita, head.data_nascita) >= 22
            assert parent.stato_civile == "3"
            if parent.sesso == "M":
                assert parent.cognome == head.cognome
        for p in family.members:
            assert p.data_nascita <= DEFAULT_AS_OF
            if p.data_nascita >= family.data_decorrenza_residenza:  # born here, after moving in
                assert p.luogo_nascita.cadastral == residence.cadastral
            if p.cittadinanza != "100" and p.luogo_nascita.foreign:
                assert p.data_nascita < family.data_decorrenza_residenza


def test_the_population_is_varied() -> None:
    families = _population()
    persons = _persons(families)
    sizes = Counter(len(f.members) for f in families)
    assert {1, 2, 3, 4, 5} <= set(sizes)
    relations = Counter(p.relazione_parentela for p in persons)
    assert {"1", "2", "3", "6", "23", "28"} <= set(relations)
    foreign = [p for p in persons if p.cittadinanza != "100"]
    assert 0.03 < len(foreign) / len(persons) < 0.2
    assert any(p.luogo_nascita.foreign for p in persons if p.cittadinanza == "100")
    assert any(not p.luogo_nascita.foreign for p in foreign)  # children born in Italy
    assert len({p.cognome for p in persons}) > 60
    assert len({f.address.cap for f in families if f.comune == "058091"}) > 3
    omocodic = [p for p in persons if cf.to_base(p.codice_fiscale) != p.codice_fiscale]
    assert len(omocodic) >= len(_COMUNI)  # one planted homonym per Comune at least
    ages = [_years(p.data_nascita, DEFAULT_AS_OF) for p in persons]
    assert min(ages) < 2
    assert max(ages) > 85


def test_codes_are_in_the_reference_tables() -> None:
    persons = _persons(_population())
    assert {p.stato_civile for p in persons} <= set(TABLES["stato_civile"].codes())
    assert {p.relazione_parentela for p in persons} <= set(TABLES["relazione_parentela"].codes())
    states = set(TABLES["stati_esteri"].codes())
    assert {p.cittadinanza for p in persons} <= states
    assert {p.luogo_nascita.code for p in persons if p.luogo_nascita.foreign} <= states


def test_values_fit_anpr_field_rules() -> None:
    names = fields.spec("alfabeticoNomiCognomi")
    street = fields.spec("alfanumericoIndirizzo")
    cap = fields.spec("tipoCap")
    species = SpeciesTable.sample()
    for family in _population():
        assert street.accepts(family.address.denominazione), family.address
        assert cap.accepts(family.address.cap)
        assert species.get(family.address.specie) is not None
        assert family.address.numero_civico.isdigit()
        for p in family.members:
            assert names.accepts(p.cognome), p.cognome
            assert names.accepts(p.nome), p.nome


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
