"""Junk to every validator module, python-stdnum's robustness test (``test_robustness.doctest``).

Whatever the value (``None``, numbers, bytes, containers, empty or huge strings, NUL and other
control characters, lone surrogates, any Unicode), ``is_valid`` returns ``True`` or ``False``
and ``validate`` returns a string or raises a :class:`~anpr_client.errors.ValidationError`
subclass naming the field, the rule and the ANPR code: never anything else. The modules are
driven as values, through :func:`~anpr_client.validation.validator_modules`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anpr_client.errors.exceptions import AnprError, ValidationError
from anpr_client.validation import (
    ValidatorModule,
    codicefiscale,
    comuni,
    fields,
    stati,
    toponyms,
    validator_modules,
)
from anpr_client.validation.codes import RULES

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=20),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
    st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zs", "Zl", "Zp"]), max_size=20),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), max_size=20),  # other digits
    st.text(alphabet="0123456789LMNPQRSTUVZ ", max_size=20),
    st.text(alphabet="ABCHVIAZ0123456789 -/.'\t\n\r\x00", max_size=30),
)

FIXED = ["", " ", "\x00", "\n", "RSSMRA85T10A562", "RSSMRA85T10A562SS", "0" * 16, "Z" * 16,
         "12345678901", "ÀÀÀÀÀÀ85T10A562S", "RSSMRA85T10A562\n", "H501", "Z999", "100"]  # fmt: skip

HUGE = ["A" * 1_000_000, "0" * 1_000_000, "VIA ROMA " * 100_000, "\x00" * 100_000,
        "é" * 100_000, "\ud800" * 10_000, "RSSMRA85T10A562S" * 10_000, " " * 100_000]  # fmt: skip

# The fields each module is driven with: the ANPR element it usually checks, and for
# ``fields`` every logical field it knows (there the field picks the rules).
FIELDS: dict[str, tuple[str, ...]] = {
    "codicefiscale": ("codiceFiscale",),
    "comuni": ("luogoNascita",),
    "fields": tuple(fields.FIELD_TYPES),
    "stati": ("cittadinanza",),
    "toponyms": ("indirizzo",),
}


def _name(module: ValidatorModule) -> str:
    return module.__name__.rpartition(".")[2]


def _drive(module: ValidatorModule, value: Any, field: str) -> None:
    valid = module.is_valid(value, field=field)
    assert valid is True or valid is False
    refusal: ValidationError | None = None
    try:
        result = module.validate(value, field=field)
    except ValidationError as exc:
        refusal = exc
    if refusal is None:
        assert isinstance(result, str)
        assert valid, (module.__name__, value)
        assert module.validate(result, field=field) == result  # the normalised form is stable
        return
    assert refusal.field == field
    assert refusal.rule is not None
    assert refusal.rule in RULES
    assert refusal.code == RULES[refusal.rule].code
    assert refusal.severity in ("E", "W")
    assert str(refusal)
    if refusal.severity == "E":
        assert not valid, (module.__name__, value, refusal)


def _drive_all(value: Any) -> None:
    for module in validator_modules():
        for field in FIELDS[_name(module)]:
            _drive(module, value, field)


def test_every_module_is_driven() -> None:
    assert sorted(_name(m) for m in validator_modules()) == sorted(FIELDS)


@given(junk)
@settings(max_examples=300, deadline=None)
def test_junk_never_breaks_a_validator(value: Any) -> None:
    _drive_all(value)


@pytest.mark.parametrize("value", HUGE, ids=lambda v: f"{v[:4]!r}x{len(v)}")
def test_huge_values_never_break_a_validator(value: str) -> None:
    _drive_all(value)


@given(junk)
@settings(max_examples=100, deadline=None)
def test_the_context_does_not_change_that(value: Any) -> None:
    day = date(2000, 1, 1)
    for use in ("birth", "residence"):
        assert comuni.is_valid(value, day=day, use=use) in (True, False)
    for state_use in ("birth", "citizenship", "residence"):
        assert stati.is_valid(value, day=day, use=state_use) in (True, False)
    assert codicefiscale.is_valid(
        value, surname="Rossi", name="Mario", sex="M", birth_date=day, birth_place="058091"
    ) in (True, False)
    calls: list[Callable[[], str]] = [
        lambda: comuni.validate(value, day=day, use="residence"),
        lambda: stati.validate(value, day=day, use="citizenship"),
        lambda: codicefiscale.validate(value, surname="Rossi", birth_date=day, birth_place="Z110"),
        lambda: fields.validate(value, field="generalita.cognome", rules="cognome"),
    ]
    for call in calls:
        with contextlib.suppress(ValidationError):  # anything else fails the test
            call()


def test_non_text_is_never_valid() -> None:
    for value in (None, 12, 1.5, b"RSSMRA85T10A562S", ["RSSMRA85T10A562S"], {"a": 1}):
        assert not codicefiscale.is_valid(value)
        assert not comuni.is_valid(value, day=date(2000, 1, 1))
        assert not stati.is_valid(value)
        assert not toponyms.is_valid(value)
        assert not any(fields.is_valid(value, field=f) for f in fields.FIELD_TYPES)
        for module in validator_modules():
            with pytest.raises(ValidationError):
                module.validate(value, field="x" if _name(module) != "fields" else "cognome")


def test_fixed_junk_is_not_a_codice_fiscale() -> None:
    for value in FIXED:
        assert not codicefiscale.is_valid(value), value
        _drive_all(value)


def test_validation_errors_are_library_errors() -> None:
    """So a caller catching :class:`AnprError` catches every refusal (and ``ValueError`` too)."""
    assert issubclass(ValidationError, AnprError)
    assert issubclass(ValidationError, ValueError)


def test_compacting_an_address_never_breaks_it() -> None:
    """Every character ANPR accepts in an address still passes once compacted (upper case)."""
    rules = fields.spec("denominazioneToponimo")
    for char in map(chr, range(0x110000)):
        if char.strip() and rules.allows_char(char):
            compacted = toponyms.validate(f"VIA ROMA{char}")
            assert toponyms.is_valid(compacted), (char, compacted)
