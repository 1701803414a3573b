"""Foreign states and toponym species: the official tables load, our samples agree with them."""

from __future__ import annotations

from datetime import date

import pytest

from anpr_client.errors.exceptions import InvalidComponent
from anpr_client.validation import stati, toponyms
from anpr_client.validation.comuni import fold_name
from anpr_client.validation.stati import StatiTable
from anpr_client.validation.toponyms import SpeciesTable


def test_the_states_sample_agrees_with_the_official_table(official_stati: StatiTable) -> None:
    assert len(official_stati) > 200
    for state in StatiTable.sample():
        official = official_stati.get(state.code)
        assert official is not None, state
        assert (official.cadastral, fold_name(official.name)) == (
            state.cadastral,
            fold_name(state.name),
        )
        assert (official.birth, official.citizenship) == (state.birth, state.citizenship)


def test_states_by_either_code(official_stati: StatiTable) -> None:
    france = official_stati.get("215")
    assert france is not None
    assert official_stati.get("Z110") == france
    assert stati.validate("215", table=official_stati) == "215"
    with pytest.raises(InvalidComponent) as info:
        stati.validate("100", table=official_stati)  # Italy is not a foreign birth state
    assert info.value.code == "EC030"
    assert stati.validate("100", table=official_stati, use="citizenship") == "100"
    with pytest.raises(InvalidComponent) as info:
        stati.validate("000", table=official_stati, use="citizenship")
    assert info.value.code == "EC036"
    assert stati.is_valid("000")  # the sample does not know it: not reported


def test_the_species_sample_agrees_with_the_official_table(official_species: SpeciesTable) -> None:
    assert len(official_species) > 200
    for species in SpeciesTable.sample():
        official = official_species.get(species.code)
        assert official is not None, species
        assert official.name == species.name, species


def test_the_longest_species_wins(official_species: SpeciesTable) -> None:
    species, rest = official_species.split("strada statale 16 Adriatica")
    assert species is not None
    assert species.name == "STRADA STATALE"
    assert rest == "16 Adriatica"
    assert official_species.split("Località Piano")[0] == official_species.get("LOCALITA'")


def test_addresses_against_the_official_table(official_species: SpeciesTable) -> None:
    assert toponyms.validate("VIA GIUSEPPE GARIBALDI", table=official_species)
    [problem] = toponyms.problems("VIAA GARIBALDI", table=official_species)
    assert (problem.code, problem.rule) == ("EC073", "toponym.species")
    [problem] = toponyms.problems("VIA", table=official_species)
    assert problem.code == "EN081"
    [problem] = toponyms.problems("VIA ROMA #2", table=official_species)
    assert problem.code == "XSD"
    assert toponyms.validate_species("213", table=official_species) == official_species.get("VIA")
    with pytest.raises(InvalidComponent):
        toponyms.validate_species("9999", table=official_species)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", ("12", "")),
        ("12/a", ("12", "A")),
        ("12 B", ("12", "B")),
        ("7-bis", ("7", "BIS")),
        ("SNC", None),
        ("s.n.c.", None),
    ],
)
def test_house_numbers(value: str, expected: tuple[str, str] | None) -> None:
    assert toponyms.validate_civico(value) == expected


def test_species_validity_dates_are_read(official_species: SpeciesTable) -> None:
    via = official_species.get("VIA")
    assert via is not None
    assert via.valid_from <= date(2000, 1, 1) <= via.valid_to
