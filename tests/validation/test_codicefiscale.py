"""Codice fiscale: computed codes validate, every single-character change is caught, omocodia."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anpr_client.errors.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from anpr_client.validation import codicefiscale as cf

NAME_CHARS = string.ascii_letters + "àèéìòùÀÈÉÌÒÙ' -"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=30).filter(
    lambda s: any(c.isalpha() for c in s)
)
places = st.one_of(
    st.builds(
        lambda letter, n: f"{letter}{n:03d}", st.sampled_from("ABCDEFGHILM"), st.integers(1, 999)
    ),
    st.builds(lambda n: f"Z{n:03d}", st.integers(100, 999)),
)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
sexes = st.sampled_from("MF")


@st.composite
def persons(draw: st.DrawFn) -> dict[str, object]:
    return {
        "surname": draw(names),
        "name": draw(names),
        "sex": draw(sexes),
        "birth_date": draw(births),
        "place": draw(places),
    }


def _code(p: dict[str, object]) -> str:
    return cf.calc(p["surname"], p["name"], p["sex"], p["birth_date"], p["place"])  # type: ignore[arg-type]


@given(persons())
def test_a_computed_code_validates_with_its_data(p: dict[str, object]) -> None:
    code = _code(p)
    assert (
        cf.validate(
            code,
            surname=p["surname"],  # type: ignore[arg-type]
            name=p["name"],  # type: ignore[arg-type]
            sex=p["sex"],  # type: ignore[arg-type]
            birth_date=p["birth_date"],  # type: ignore[arg-type]
            birth_place=p["place"],  # type: ignore[arg-type]
        )
        == code
    )
    birth: date = p["birth_date"]  # type: ignore[assignment]
    decoded = cf.get_birth_date(code, today=date(2026, 1, 1))
    assert (decoded.month, decoded.day, decoded.year % 100) == (
        birth.month,
        birth.day,
        birth.year % 100,
    )
    assert cf.get_gender(code) == p["sex"]
    assert cf.get_birth_place(code) == p["place"]


_ALPHABET = string.ascii_uppercase + string.digits


@given(persons(), st.integers(0, 15), st.sampled_from(_ALPHABET))
def test_any_single_character_change_is_caught(
    p: dict[str, object], position: int, replacement: str
) -> None:
    code = _code(p)
    if code[position] == replacement:
        replacement = "0" if replacement != "0" else "A"
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(ValidationError) as info:
        cf.validate(changed)
    assert info.value.code in ("ENT02", "XSD")
    assert not cf.is_valid(changed)


@given(persons())
@settings(max_examples=30)
def test_every_omocodic_variant_is_recognised(p: dict[str, object]) -> None:
    base = _code(p)
    variants = list(cf.omocodic_variants(base))
    assert len(set(variants)) == 128
    assert variants[0] == base
    for variant in variants:
        assert (
            cf.validate(
                variant,
                surname=p["surname"],  # type: ignore[arg-type]
                name=p["name"],  # type: ignore[arg-type]
                sex=p["sex"],  # type: ignore[arg-type]
                birth_date=p["birth_date"],  # type: ignore[arg-type]
                birth_place=p["place"],  # type: ignore[arg-type]
            )
            == variant
        )
        assert cf.to_base(variant) == base
        assert cf.get_birth_place(variant) == p["place"]


def test_omocodia_letters_replace_digits_from_the_right() -> None:
    base = "RSSMRA85T10A562S"
    first = next(v for v in cf.omocodic_variants(base) if v[14] == "N")
    assert first[:14] == base[:14]
    assert cf.is_valid(first)


@pytest.mark.parametrize(
    ("code", "exception", "rule", "predicted"),
    [
        ("RSSMRA85T10A562", InvalidLength, "cf.length", "EA001"),
        ("RSSMRA85T10A562SX", InvalidLength, "field.length", "XSD"),
        ("RSSMRA85T10A56*S", InvalidFormat, "field.charset", "XSD"),
        ("RSSMRA85T10A562T", InvalidChecksum, "cf.checksum", "ENT02"),
        ("RSSMRA85Z10A562S", InvalidFormat, "cf.format", "ENT02"),  # Z is not a month
        ("RS5MRA85T10A562S", InvalidFormat, "cf.format", "ENT02"),
        ("12345678901", InvalidChecksum, "cf.checksum", "ENT02"),
        ("1234567890A", InvalidFormat, "cf.format", "ENT02"),
    ],
)
def test_defects_name_their_rule_and_code(
    code: str, exception: type[ValidationError], rule: str, predicted: str
) -> None:
    with pytest.raises(exception) as info:
        cf.validate(code)
    assert (info.value.rule, info.value.code, info.value.field) == (
        rule,
        predicted,
        "codiceFiscale",
    )


def test_an_impossible_date_is_a_component_error() -> None:
    first = "RSSMRA85B30A562"  # 30 February
    with pytest.raises(InvalidComponent) as info:
        cf.validate(first + cf.calc_check_digit(first))
    assert info.value.rule == "cf.date"
    leap = "RSSMRA84B29A562"  # 29 February 1984 (or 1884): exists
    assert cf.is_valid(leap + cf.calc_check_digit(leap))
    day81 = "RSSMRA85T81A562"  # days run 1-31 and 41-71
    assert not cf.is_valid(day81 + cf.calc_check_digit(day81))


def test_a_provisional_numeric_code_is_accepted() -> None:
    digits = "0123456789"
    code = digits + cf._iva_check_digit(digits)
    assert cf.validate(code, surname="Rossi", sex="F") == code  # no personal data encoded


def test_compact_removes_separators_and_folds_case() -> None:
    assert cf.validate(" rss-mra.85t10 a562s ") == "RSSMRA85T10A562S"


def test_consistency_problems_are_all_reported_as_warnings_or_errors() -> None:
    code = cf.calc("Rossi", "Mario", "M", date(1985, 12, 10), "H501")
    problems = cf.check(
        code,
        surname="Bianchi",
        name="Luigi",
        sex="F",
        birth_date=date(1985, 12, 11),
        birth_place="F205",
    )
    assert [(p.rule, p.code, p.severity) for p in problems] == [
        ("cf.surname", "EAV21", "W"),
        ("cf.name", "EAV21", "W"),
        ("cf.birthdate", "EA038", "W"),
        ("cf.sex", "EA042", "W"),
        ("cf.birthplace", "EN339", "E"),
    ]
    # validate raises the blocking one first; is_valid ignores warnings
    with pytest.raises(InvalidComponent) as info:
        cf.validate(code, surname="Bianchi", birth_place="F205")
    assert info.value.rule == "cf.birthplace"
    assert cf.is_valid(code, surname="Bianchi")
    assert not cf.is_valid(code, birth_place="F205")


def test_partial_birth_dates_compare_only_what_is_known() -> None:
    code = cf.calc("Rossi", "Mario", "M", date(1950, 6, 15), "H501")
    assert cf.check(code, birth_date=date(1950, 6, 1), precision="month") == []
    assert cf.check(code, birth_date=date(1950, 1, 1), precision="year") == []
    assert [p.rule for p in cf.check(code, birth_date=date(1950, 1, 1), precision="month")] == [
        "cf.birthdate"
    ]


@pytest.mark.parametrize(
    ("surname", "expected"),
    [("Rossi", "RSS"), ("Fo", "FOX"), ("D'Angelo", "DNG"), ("Nicolò", "NCL"), ("Groß", "GRS")],
)
def test_surname_codes(surname: str, expected: str) -> None:
    assert cf.surname_code(surname) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Mario", "MRA"), ("Gianfranco", "GFR"), ("Maria Grazia", "MGR"), ("Eva", "VEA")],
)
def test_name_codes(name: str, expected: str) -> None:
    assert cf.name_code(name) == expected


def test_foreign_birth_is_compared_with_the_state_code() -> None:
    code = cf.calc("Dupont", "Jean", "M", date(1970, 3, 3), "Z110")  # France
    assert cf.check(code, birth_place="215") == []  # ANPR's code of France (sample table)
    [problem] = cf.check(code, birth_place="216")  # Germany
    assert (problem.rule, problem.code) == ("cf.birthstate", "EN340")


def _date_rule(decoded: str) -> bool:
    """The date rule of the code as the Decreto states it (the careful reading, for the test
    of _structure's look-up): a day of the month, or 40 more for a woman; 29 February in
    years some century makes leap."""
    month = "ABCDEHLMPRST".index(decoded[8])
    last = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month]
    last += month == 1 and int(decoded[6:8]) % 4 == 0
    day = int(decoded[9:11])
    return 1 <= day <= last or 41 <= day <= 40 + last


@pytest.mark.parametrize("year", ["00", "23", "24", "99"])
def test_the_month_and_day_look_up_accepts_what_the_date_rule_accepts(year: str) -> None:
    """_structure answers a well-formed code's date from two sets: against the rule itself,
    for every month letter and every day 00-99, plain and with omocodia letters."""
    for month in "ABCDEHLMPRST":
        for day in range(100):
            first = f"RSSMRA{year}{month}{day:02d}H501"
            for variant in (first, first[:9] + first[9:11].translate(cf._ENCODE) + first[11:]):
                code = variant + cf.calc_check_digit(variant)
                problem, decoded = cf._structure(code, "codiceFiscale")
                assert (problem is None) == _date_rule(cf._decoded(code)), code
                if problem is None:
                    assert decoded == cf._decoded(code)
                else:
                    assert problem.rule == "cf.date"
    assert {
        f"{m}{d:02d}"
        for m in "ABCDEHLMPRST"
        for d in range(100)
        if _date_rule(f"XXXXXX01{m}{d:02d}")
    } == cf._MONTH_DAYS


def _reference_letters(text: str) -> bytes:
    """The letters as the Decreto reads them, the careful way: each character reduced."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.translate(cf._SPECIAL_LETTERS))
    return "".join(ch for ch in decomposed.upper() if "A" <= ch <= "Z").encode("ascii")


def _reference_codes(text: str) -> tuple[str, str]:
    letters = _reference_letters(text)
    consonants = bytes(c for c in letters if c not in b"AEIOU")
    vowels = bytes(c for c in letters if c in b"AEIOU")
    surname = (consonants + vowels + b"XXX")[:3].decode()
    if len(consonants) >= 4:
        name = (consonants[0:1] + consonants[2:4]).decode()
    else:
        name = (consonants + vowels + b"XXX")[:3].decode()
    return surname, name


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=string.ascii_letters + " '-.,0123456789", max_size=30),
        st.text(max_size=20),
    )
)
def test_surname_and_name_codes_against_the_careful_reading(text: str) -> None:
    """The ASCII path (one translate), the consonants-first shortcut and the memos give the
    letters the per-character reading gives, first time and from the memo."""
    for _ in range(2):
        assert (cf.surname_code(text), cf.name_code(text)) == _reference_codes(text)


def test_the_code_memos_are_bounded() -> None:
    for i in range(cf._CODES_SIZE + 10):
        cf.surname_code(f"ROSSI{i}")
        cf.name_code(f"MARIO{i}")
    assert len(cf._SURNAME_CODES) <= cf._CODES_SIZE
    assert len(cf._NAME_CODES) <= cf._CODES_SIZE
    assert cf._SURNAME_CODES.get("ROSSI0") is None  # it started over
