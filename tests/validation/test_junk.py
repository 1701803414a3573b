"""Junk input to every is_valid returns False and never raises (python-stdnum's robustness test)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anpr_client.validation import codicefiscale, comuni, fields, stati, toponyms

junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=20),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(max_size=40),
    st.text(alphabet="0123456789LMNPQRSTUVZ ", max_size=20),
)

FIXED = ["", " ", "\x00", "\n", "RSSMRA85T10A562", "RSSMRA85T10A562SS", "0" * 16, "Z" * 16,
         "12345678901", "ÀÀÀÀÀÀ85T10A562S", "RSSMRA85T10A562\n", "H501", "Z999", "100"]  # fmt: skip


def _all_false(value: Any) -> None:
    assert codicefiscale.is_valid(value) in (True, False)
    assert comuni.is_valid(value, date(2000, 1, 1)) in (True, False)
    assert stati.is_valid(value) in (True, False)
    assert toponyms.is_valid(value) in (True, False)
    for field in fields.FIELD_TYPES:
        assert fields.is_valid(value, field) in (True, False)


@given(junk)
@settings(max_examples=300)
def test_is_valid_never_raises(value: Any) -> None:
    _all_false(value)


def test_non_text_is_never_valid() -> None:
    for value in (None, 12, 1.5, b"RSSMRA85T10A562S", ["RSSMRA85T10A562S"], {"a": 1}):
        assert not codicefiscale.is_valid(value)
        assert not comuni.is_valid(value, date(2000, 1, 1))  # type: ignore[arg-type]
        assert not stati.is_valid(value)  # type: ignore[arg-type]
        assert not toponyms.is_valid(value)
        assert not any(fields.is_valid(value, f) for f in fields.FIELD_TYPES)


def test_fixed_junk_is_not_a_codice_fiscale() -> None:
    for value in FIXED:
        assert not codicefiscale.is_valid(value), value
        _all_false(value)
