"""Normalisation with an explicit, reversible report: no value ever changes silently.

Every change is a :class:`Change` (field, value before, value after, rule), one per step, so
a report can be read by a person and undone by :func:`revert`. What may change is set by a
:class:`Policy`; the defaults only make changes that cannot alter what a value means:

``whitespace.trim`` / ``whitespace.fold``
    blanks around a value removed, inner runs of blanks folded to one space;
``case.upper``
    upper case where ANPR keeps upper case (names, codes, addresses; never free text);
``cf.compact``
    spaces, dots and hyphens removed from a codice fiscale;
``cf.spelling``
    a codice fiscale with ``O``/``0``, ``I``/``1``, ``S``/``5``, ``B``/``8`` confused where a
    digit or a letter must be (in the digit positions only letters of the omocodia alphabet
    ``LMNPQRSTUV`` are legitimate), fixed only when exactly one reading has a matching check
    character;
``toponym.abbreviation``
    a known abbreviation of a toponym species expanded (``V.LE`` → ``VIALE``).

Opt-in (``Policy(transliterate=True)``):

``transliterate``
    characters outside the field's ANPR character class replaced by their closest allowed
    form: the typographic apostrophe ’ by ', letters with diacritics outside ANPR's Latin
    range by their base letter (Ș → S), ``ß`` by ``SS``. A character with no such form is left
    alone (and the validator reports it).

>>> value, changes = normalise_value("  rossi   bianchi ", "cognome")
>>> value
'ROSSI BIANCHI'
>>> [c.rule for c in changes]
['whitespace.trim', 'whitespace.fold', 'case.upper']
>>> normalise_value("RSSMRA85T1OA562S", "codice_fiscale")[0]  # letter O for digit 0
'RSSMRA85T10A562S'
>>> normalise_value("Ștefan", "nome")[0]  # transliteration is opt-in
'ȘTEFAN'
>>> normalise_value("Ștefan", "nome", policy=Policy(transliterate=True))[0]
'STEFAN'
>>> record, changes = normalise_record({"cognome": " d’amico", "sesso": "m"},
...                                    policy=Policy(transliterate=True))
>>> record
{'cognome': "D'AMICO", 'sesso': 'M'}
>>> revert(record, changes)
{'cognome': ' d’amico', 'sesso': 'm'}
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..errors.exceptions import ValidationError
from . import codicefiscale, fields
from .toponyms import ABBREVIATIONS

__all__ = [
    "DEFAULT_KINDS",
    "Change",
    "Policy",
    "normalise_record",
    "normalise_value",
    "revert",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One normalisation step of one field: ``before`` became ``after`` by ``rule``."""

    field: str
    before: str
    after: str
    rule: str


@dataclass(frozen=True)
class Policy:
    """What normalisation may change (see the module documentation for each rule)."""

    whitespace: bool = True
    uppercase: bool = True
    codice_fiscale: bool = True
    abbreviations: bool = True
    transliterate: bool = False


#: How each batch field is normalised: ``name``, ``cf``, ``code``, ``address``, ``text``.
DEFAULT_KINDS: Final = MappingProxyType(
    {
        "codice_fiscale": "cf",
        "cognome": "name",
        "nome": "name",
        "sesso": "code",
        "data_nascita": "code",
        "luogo_nascita": "code",
        "cittadinanza": "code",
        "indirizzo": "address",
        "numero_civico": "code",
        "comune_residenza": "code",
    }
)

# Field → the XSD field whose character class transliteration aims at.
_CLASS_OF: Final = {"name": "cognome", "address": "denominazioneToponimo"}
_QUOTES: Final = {"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'", "′": "'", "–": "-", "—": "-"}
_EXPANSIONS: Final = {
    "ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Đ": "D", "đ": "D",
    "Ł": "L", "ł": "L", "Þ": "TH", "þ": "TH", "ı": "I",
}  # fmt: skip
_DIGIT_FOR: Final = {"O": "0", "I": "1", "S": "5", "B": "8"}
_LETTER_FOR: Final = {v: k for k, v in _DIGIT_FOR.items()}
_LETTER_POSITIONS: Final = (0, 1, 2, 3, 4, 5, 8, 11, 15)


def _kind_of(field: str, kinds: Mapping[str, str]) -> str:
    return kinds.get(field) or DEFAULT_KINDS.get(field) or "text"


def normalise_value(
    value: str,
    field: str,
    *,
    policy: Policy = Policy(),
    kind: str | None = None,
) -> tuple[str, list[Change]]:
    """The normalised value of ``field`` and the changes made, in order."""
    kind = kind or _kind_of(field, {})
    changes: list[Change] = []

    def step(new: str, rule: str) -> None:
        nonlocal value
        if new != value:
            changes.append(Change(field, value, new, rule))
            value = new

    if policy.whitespace:
        step(value.strip(), "whitespace.trim")
        if kind != "cf":
            step(" ".join(value.split()), "whitespace.fold")
    if kind == "text":
        return value, changes
    if policy.transliterate and kind in _CLASS_OF:
        step(_transliterate(value, fields.spec(_CLASS_OF[kind])), "transliterate")
    if policy.uppercase:
        step(value.upper(), "case.upper")
    if kind == "cf" and policy.codice_fiscale:
        step(codicefiscale.compact(value) if value.strip() else value, "cf.compact")
        step(_fix_cf_spelling(value), "cf.spelling")
    if kind == "address" and policy.abbreviations:
        step(_expand_abbreviation(value), "toponym.abbreviation")
    return value, changes


def _transliterate(value: str, spec: fields.FieldSpec) -> str:
    out = []
    for ch in value:
        if spec.allows_char(ch):
            out.append(ch)
            continue
        replacement = _QUOTES.get(ch) or _EXPANSIONS.get(ch)
        if replacement is None:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            replacement = base if base and all(spec.allows_char(c) for c in base) else ch
        out.append(replacement)
    return "".join(out)


def _fix_cf_spelling(value: str) -> str:
    if len(value) != 16 or codicefiscale.is_valid(value):
        return value
    options: list[tuple[str, ...]] = []
    for pos, ch in enumerate(value):
        if pos in codicefiscale.DIGIT_POSITIONS and ch in _DIGIT_FOR:
            options.append((ch, _DIGIT_FOR[ch]))
        elif pos in _LETTER_POSITIONS and ch in _LETTER_FOR:
            options.append((ch, _LETTER_FOR[ch]))
        else:
            options.append((ch,))
    if all(len(o) == 1 for o in options):
        return value
    candidates = {
        "".join(chars)
        for chars in itertools.product(*options)
        if "".join(chars) != value and codicefiscale.is_valid("".join(chars))
    }
    return candidates.pop() if len(candidates) == 1 else value


def _expand_abbreviation(value: str) -> str:
    head, _, rest = value.partition(" ")
    expansion = ABBREVIATIONS.get(head.upper())
    if expansion is None or not rest:
        return value
    return f"{expansion} {rest}"


def normalise_record(
    record: Mapping[str, str],
    *,
    policy: Policy = Policy(),
    kinds: Mapping[str, str] = DEFAULT_KINDS,
    only: Iterable[str] | None = None,
) -> tuple[dict[str, str], list[Change]]:
    """A normalised copy of ``record`` and every change made (fields not in ``only`` and
    fields whose value is not text are copied unchanged)."""
    out = dict(record)
    changes: list[Change] = []
    selected = set(only) if only is not None else set(kinds)
    for field, value in record.items():
        if field not in selected or not isinstance(value, str) or not value:
            continue
        new, steps = normalise_value(value, field, policy=policy, kind=_kind_of(field, kinds))
        out[field] = new
        changes.extend(steps)
    return out, changes


def revert(record: Mapping[str, str], changes: Iterable[Change]) -> dict[str, str]:
    """Undo ``changes`` on ``record`` (the normalised one); raises if the record differs."""
    out = dict(record)
    for change in reversed(list(changes)):
        if out.get(change.field) != change.after:
            raise ValidationError(
                f"cannot revert {change.rule}: the value is no longer {change.after!r}",
                field=change.field,
                rule="normalise.revert",
            )
        out[change.field] = change.before
    return out
