"""Normalisation: every change reported, reversible, transliteration only on request."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anpr_client.errors.exceptions import ValidationError
from anpr_client.validation import codicefiscale as cf
from anpr_client.validation import fields
from anpr_client.validation.normalise import (
    DEFAULT_KINDS,
    Change,
    Policy,
    normalise_record,
    normalise_value,
    revert,
)

records = st.fixed_dictionaries(
    {name: st.text(max_size=20) for name in DEFAULT_KINDS},
)


@given(records, st.booleans())
def test_normalisation_is_reported_and_reversible(record: dict[str, str], translit: bool) -> None:
    fixed, changes = normalise_record(record, policy=Policy(transliterate=translit))
    for change in changes:
        assert change.before != change.after
    unchanged = {c.field for c in changes}
    for name, value in record.items():
        if name not in unchanged:
            assert fixed[name] == value  # nothing changes silently
    assert revert(fixed, changes) == record


@given(st.text(max_size=30))
def test_normalising_twice_changes_nothing_more(value: str) -> None:
    once, _ = normalise_value(value, "cognome")
    twice, changes = normalise_value(once, "cognome")
    assert twice == once
    assert changes == []


def test_the_steps_are_listed_in_order() -> None:
    value, changes = normalise_value("  de  luca ", "cognome")
    assert value == "DE LUCA"
    assert changes == [
        Change("cognome", "  de  luca ", "de  luca", "whitespace.trim"),
        Change("cognome", "de  luca", "de luca", "whitespace.fold"),
        Change("cognome", "de luca", "DE LUCA", "case.upper"),
    ]


def test_transliteration_is_opt_in_and_targets_the_field_class() -> None:
    assert normalise_value("D’Amico", "cognome")[0] == "D’AMICO"
    value, changes = normalise_value("D’Amico", "cognome", policy=Policy(transliterate=True))
    assert value == "D'AMICO"
    assert changes[0].rule == "transliterate"
    assert fields.is_valid(value, field="cognome")
    assert normalise_value("Ștefănescu", "cognome", policy=Policy(transliterate=True))[0] == (
        "STEFĂNESCU"  # Ș is outside ANPR's class; Ă (U+0102) is inside
    )
    assert normalise_value("Groß", "cognome", policy=Policy(transliterate=True))[0] == "GROSS"
    # no Latin form: left alone, the validator will report it
    assert normalise_value("Ζήνων", "cognome", policy=Policy(transliterate=True))[0] == "ΖΉΝΩΝ"


def test_free_text_is_only_trimmed() -> None:
    assert normalise_value("  note  libere ", "note")[0] == "note libere"


def test_cf_spelling_is_fixed_only_when_the_check_character_confirms_it() -> None:
    good = cf.calc("Rossi", "Mario", "M", date(1985, 12, 10), "H501")  # RSSMRA85T10H501O
    typo = good[:9] + "1O" + good[11:]  # letter O typed for the digit 0
    value, changes = normalise_value(typo, "codice_fiscale")
    assert value == good
    assert [c.rule for c in changes] == ["cf.spelling"]
    lower = normalise_value(" rssmra85t10h501o ", "codice_fiscale")
    assert lower[0] == good
    assert [c.rule for c in lower[1]] == ["whitespace.trim", "case.upper"]
    broken = good[:15] + ("A" if good[15] != "A" else "B")  # a wrong check character: no fix
    assert normalise_value(broken, "codice_fiscale") == (broken, [])
    # an omocodic code is a different, valid code: never "fixed" back to the base one
    omocodic = next(v for v in cf.omocodic_variants(good) if v != good)
    assert normalise_value(omocodic, "codice_fiscale") == (omocodic, [])


def test_species_abbreviations_are_expanded() -> None:
    assert normalise_value("v.le Mazzini", "indirizzo")[0] == "VIALE MAZZINI"
    assert normalise_value("V.LE", "indirizzo")[0] == "V.LE"  # nothing after it: leave it
    assert normalise_value("v.le Mazzini", "indirizzo", policy=Policy(abbreviations=False))[0] == (
        "V.LE MAZZINI"
    )


def test_revert_refuses_a_record_changed_since() -> None:
    fixed, changes = normalise_record({"cognome": "rossi"})
    fixed["cognome"] = "BIANCHI"
    with pytest.raises(ValidationError, match="no longer"):
        revert(fixed, changes)
