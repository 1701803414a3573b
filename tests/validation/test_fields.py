"""Field rules read from our bundle's XSD, compared with ANPR's official tipoDato.xsd."""

from __future__ import annotations

from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError, InvalidFormat, InvalidLength
from anpr_client.validation import fields


def test_our_bundle_has_the_official_rules_for_every_field_we_check(reference_dir: Path) -> None:
    ours = fields.load_specs()
    official = fields.load_specs(reference_dir / "wsdl" / "tipoDato.xsd")
    for field, type_name in fields.FIELD_TYPES.items():
        assert ours[type_name] == official[type_name], field


def test_every_type_of_our_bundle_matches_the_official_one(reference_dir: Path) -> None:
    ours = fields.load_specs()
    official = fields.load_specs(reference_dir / "wsdl" / "tipoDato.xsd")
    assert len(ours) > 150
    different = [name for name, spec in ours.items() if name in official and official[name] != spec]
    assert different == []


@pytest.mark.parametrize(
    "value",
    ["ROSSI", "D'ANGELO", "DE LA CRUZ", "NICOLÒ", "Müller", "O'NEILL-SMITH", "J.R.", "Œuvre"],
)
def test_names_anpr_accepts(value: str) -> None:
    assert fields.validate(value, field="cognome") == value


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("ROSSI2", "field.charset"),
        ("D’ANGELO", "field.charset"),  # typographic apostrophe
        ("Ștefan", "field.charset"),  # S with comma below, outside À-ž
        ("Ζήνων", "field.charset"),
        ("A" * 81, "field.length"),
        ("", "field.length"),
    ],
)
def test_names_anpr_refuses(value: str, rule: str) -> None:
    with pytest.raises((InvalidFormat, InvalidLength)) as info:
        fields.validate(value, field="cognome")
    assert (info.value.rule, info.value.code, info.value.field) == (rule, "XSD", "cognome")


def test_the_error_lists_the_offending_characters() -> None:
    with pytest.raises(InvalidFormat, match=r"'1' \(U\+0031\), '2' \(U\+0032\)"):
        fields.validate("R1SS2", field="nome")


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("sesso", "F", "X"),
        ("codiceIstat", "058091", "58091"),
        ("codiceStato", "215", "2150"),
        ("cap", "00184", "0018A"),
        ("numero", "12", "12A"),
        ("dataNascita", "1985-12-10", "10/12/1985"),
        ("denominazioneToponimo", "GIUSEPPE GARIBALDI (NORD)", "GARIBALDI #1"),
    ],
)
def test_other_fields(field: str, good: str, bad: str) -> None:
    assert fields.is_valid(good, field=field)
    assert not fields.is_valid(bad, field=field)


def test_whitespace_collapse_types_ignore_surrounding_blanks() -> None:
    assert fields.is_valid(" 215 ", field="codiceStato")  # numerico: whiteSpace collapse
    assert fields.is_valid(" 1985-12-10 ", field="dataNascita")  # xs:date collapses too
    assert not fields.is_valid(" 058091", field="codiceIstat")  # preserve: the blank counts


def test_validate_date() -> None:
    assert fields.validate_date("2000-02-29").day == 29
    with pytest.raises(InvalidFormat):
        fields.validate_date("1900-02-29")


def test_unknown_field_is_a_typed_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="'nonexistent'") as info:
        fields.spec("nonexistent")
    assert info.value.setting == "field"
