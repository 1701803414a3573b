"""Codice fiscale (Italian tax code of a person).

The 16 characters encode the surname (3 letters), the name (3 letters), the birth year
(2 digits), month (a letter of ``ABCDEHLMPRST``), day (2 digits, plus 40 for women), the
cadastral code of the birth place (a Comune's code valid at the birth date, or ``Z`` and three
digits for a foreign state) and a check character.

When two people would get the same code (*omocodia*), the Agenzia delle Entrate replaces
digits with letters, starting from the rightmost: ``0123456789`` become ``LMNPQRSTUV``, and the
check character is computed again. Every such variant is a valid, distinct code, so the
validator accepts a letter from ``LMNPQRSTUV`` in any digit position and decodes it for the
consistency checks. An 11-digit numeric code is a provisional code (same check as a VAT number);
it carries no personal data.

Rejecting a valid code is the worst mistake a validator can make: consistency with the
person's data is checked only for the data given, a surname, name, sex or date mismatch is a
warning (the Agenzia's code stays valid when a registry corrects a name), and the birth place
is compared with *every* cadastral code the Comune ever had.

More information: Decreto del Ministero delle Finanze 23 dicembre 1976 (the algorithm).

>>> validate("RSSMRA85T10A562S")
'RSSMRA85T10A562S'
>>> validate("RSSMRA85T10A562")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidLength: codiceFiscale: 15 characters; ... [EA001]
>>> validate("RSSMRA85T10A562T")
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidChecksum: codiceFiscale: the check character is S, not T [ENT02]
>>> validate("RSSMRA85T1LA562V")  # omocodic: the last-but-four digit replaced
'RSSMRA85T1LA562V'
>>> calc_check_digit("RSSMRA85T10A562")
'S'
>>> get_birth_date("RSSMRA85T10A562S"), get_gender("RSSMRA85T10A562S")
(datetime.date(1985, 12, 10), 'M')
>>> get_birth_place("RSSMRA85T1LA562V")
'A562'
>>> to_base("RSSMRA85T1LA562V")
'RSSMRA85T10A562S'
>>> validate("RSSMRA85T10H501O", surname="Rossi", name="Mario", sex="M",
...          birth_date=date(1985, 12, 10), birth_place="058091")
'RSSMRA85T10H501O'
>>> [e.rule for e in check("RSSMRA85T10H501O", surname="Bianchi", sex="F")]
['cf.surname', 'cf.sex']
>>> is_valid("RSSMRA85T10A562S"), is_valid("not a code"), is_valid(None)
(True, False, False)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Final, Literal, TypedDict, Unpack

from ..errors.exceptions import ValidationError
from ._errors import error

if TYPE_CHECKING:
    from .comuni import ComuniTable
    from .stati import StatiTable

__all__ = [
    "DIGIT_POSITIONS",
    "OMOCODIA_LETTERS",
    "Context",
    "calc",
    "calc_check_digit",
    "check",
    "compact",
    "get_birth_date",
    "get_birth_place",
    "get_gender",
    "is_code_of",
    "is_valid",
    "name_code",
    "omocodic_variants",
    "surname_code",
    "to_base",
    "validate",
]

OMOCODIA_LETTERS: Final = "LMNPQRSTUV"
"""The letters that replace the digits 0-9 in an omocodic code."""

DIGIT_POSITIONS: Final = (6, 7, 9, 10, 12, 13, 14)
"""Positions (0-based) of the digits that omocodia may replace."""

_MONTHS: Final = "ABCDEHLMPRST"
_FORMAT: Final = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
_ALNUM: Final = re.compile(r"[0-9A-Z]*")
# a 16-character code without omocodia letters: its decoded form is itself
_PLAIN: Final = re.compile(r"[A-Z]{6}[0-9]{2}[ABCDEHLMPRST][0-9]{2}[A-Z][0-9]{3}[A-Z]")
_DECODE: Final = str.maketrans(OMOCODIA_LETTERS, "0123456789")
_ENCODE: Final = str.maketrans("0123456789", OMOCODIA_LETTERS)
_ODD_VALUES: Final = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
                      22, 25, 24, 23)  # fmt: skip
_ODD: Final = {
    **{str(d): _ODD_VALUES[d] for d in range(10)},
    **{chr(65 + i): v for i, v in enumerate(_ODD_VALUES)},
}
_EVEN: Final = {**{str(d): d for d in range(10)}, **{chr(65 + i): i for i in range(26)}}
_ODD_BYTES: Final = bytes(_ODD.get(chr(i), 0) for i in range(256))
_EVEN_BYTES: Final = bytes(_EVEN.get(chr(i), 0) for i in range(256))
_SPECIAL_LETTERS: Final = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "Ø": "O", "ø": "O", "Đ": "D",
     "đ": "D", "Ł": "L", "ł": "L", "Þ": "TH", "þ": "TH", "Ð": "D", "ð": "D", "ı": "I"}
)  # fmt: skip
_SEPARATORS: Final = str.maketrans("", "", " -./\t")
# bytes.translate(None, delete) drops characters in one C pass
_ASCII_NON_LETTERS: Final = bytes(i for i in range(128) if not (65 <= i <= 90 or 97 <= i <= 122))
_ASCII_UPPER: Final = bytes(i - 32 if 97 <= i <= 122 else i for i in range(256))  # a-z -> A-Z
_VOWELS: Final = b"AEIOU"
_CONSONANTS: Final = b"BCDFGHJKLMNPQRSTVWXYZ"

Precision = Literal["day", "month", "year"]


def compact(value: str) -> str:
    """The code without spaces, dots, hyphens and slashes, upper case (no validation).

    >>> compact("rss mra 85t10 a562s")
    'RSSMRA85T10A562S'
    """
    return value.translate(_SEPARATORS).strip().upper()


def calc_check_digit(value: str) -> str:
    """The check character of the first 15 characters of a code (letters and digits)."""
    if not _ALNUM.fullmatch(value[:15]) or len(value) < 15:
        raise error(
            "cf.format",
            f"not the first 15 characters of a codice fiscale: {value!r}",
            field="codiceFiscale",
        )
    return _check_char(value)


def _check_char(value: str) -> str:
    # bytes.translate maps each character to its value; sum() adds them in C
    data = value[:15].encode("ascii")
    return chr(
        65 + (sum(data[0::2].translate(_ODD_BYTES)) + sum(data[1::2].translate(_EVEN_BYTES))) % 26
    )


def _decoded(value: str) -> str:
    """The code with omocodia letters in the digit positions turned back into digits."""
    if value[6:8].isdigit() and value[9:11].isdigit() and value[12:15].isdigit():
        return value
    chars = list(value)
    for i in DIGIT_POSITIONS:
        chars[i] = chars[i].translate(_DECODE)
    return "".join(chars)


def to_base(value: str) -> str:
    """The base code of an omocodic code (all digits, check character recomputed)."""
    value = compact(value)
    base = _decoded(value)[:15]
    return base + calc_check_digit(base)


def omocodic_variants(value: str) -> Iterator[str]:
    """The base code and its 127 omocodic variants (every subset of digits replaced)."""
    base = to_base(value)[:15]
    for mask in range(128):
        chars = list(base)
        for bit, pos in enumerate(DIGIT_POSITIONS):
            if mask >> bit & 1:
                chars[pos] = chars[pos].translate(_ENCODE)
        first = "".join(chars)
        yield first + calc_check_digit(first)


def get_birth_date(value: str, *, today: date | None = None) -> date:
    """The birth date in the code. The century is a guess: the latest not in the future.

    >>> get_birth_date("RSSMRA85T10A562S")
    datetime.date(1985, 12, 10)
    """
    decoded = _decoded(compact(value))
    year = int(decoded[6:8])
    month = _MONTHS.index(decoded[8]) + 1
    day = int(decoded[9:11]) % 40
    today = today or date.today()
    century = 2000 if 2000 + year <= today.year else 1900
    try:
        return date(century + year, month, day)
    except ValueError:
        return date(century - 100 + year, month, day)


def get_gender(value: str) -> str:
    """``M`` or ``F``, from the day field (women have 40 added)."""
    return "F" if int(_decoded(compact(value))[9:11]) > 40 else "M"


def get_birth_place(value: str) -> str:
    """The cadastral code of the birth place (``H501``, or ``Z…`` for a foreign state)."""
    return _decoded(compact(value))[11:15]


def _letters(text: str) -> bytes:
    """Only the letters A-Z of a name, accents and ligatures reduced (Ò → O, ß → SS)."""
    if text.isascii():  # nothing to reduce: the same letters, upper case, in one C pass
        return text.encode("ascii").translate(_ASCII_UPPER, _ASCII_NON_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    return "".join(ch for ch in decomposed.upper() if "A" <= ch <= "Z").encode("ascii")


# The three letters of each surname and name seen, up to _CODES_SIZE each, then that memo
# starts over (a plain dict: :func:`is_code_of` reads it without a call per record)
_CODES_SIZE: Final = 65536
_SURNAME_CODES: Final[dict[str, str]] = {}
_NAME_CODES: Final[dict[str, str]] = {}


def surname_code(surname: str) -> str:
    """The three letters a surname gives: consonants, then vowels, then ``X``.

    >>> surname_code("Rossi"), surname_code("Fo"), surname_code("D'Angelo")
    ('RSS', 'FOX', 'DNG')
    """
    code = _SURNAME_CODES.get(surname)
    if code is None:
        letters = _letters(surname)
        consonants = letters.translate(None, _VOWELS)
        if len(consonants) < 3:
            consonants += letters.translate(None, _CONSONANTS) + b"XXX"
        code = consonants[:3].decode("ascii")
        if len(_SURNAME_CODES) >= _CODES_SIZE:
            _SURNAME_CODES.clear()
        _SURNAME_CODES[surname] = code
    return code


def name_code(name: str) -> str:
    """The three letters a name gives: with four consonants or more, the 1st, 3rd and 4th.

    >>> name_code("Mario"), name_code("Gianfranco"), name_code("Maria Grazia")
    ('MRA', 'GFR', 'MGR')
    """
    code = _NAME_CODES.get(name)
    if code is None:
        letters = _letters(name)
        consonants = letters.translate(None, _VOWELS)
        if len(consonants) >= 4:
            code = (consonants[0:1] + consonants[2:4]).decode("ascii")
        else:
            code = (consonants + letters.translate(None, _CONSONANTS) + b"XXX")[:3].decode("ascii")
        if len(_NAME_CODES) >= _CODES_SIZE:
            _NAME_CODES.clear()
        _NAME_CODES[name] = code
    return code


def calc(surname: str, name: str, sex: str, birth_date: date, place: str) -> str:
    """The base codice fiscale of a person (``place`` is a cadastral code: ``H501``, ``Z110``).

    >>> calc("Rossi", "Mario", "M", date(1985, 12, 10), "H501")
    'RSSMRA85T10H501O'
    """
    day = birth_date.day + (40 if sex.upper() == "F" else 0)
    first = (
        f"{surname_code(surname)}{name_code(name)}{birth_date.year % 100:02d}"
        f"{_MONTHS[birth_date.month - 1]}{day:02d}{place.upper()}"
    )
    return first + calc_check_digit(first)


def _iva_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(digits[:10]):
        n = int(ch)
        if i % 2:
            n *= 2
            n = n - 9 if n > 9 else n
        total += n
    return str((10 - total % 10) % 10)


_LAST_DAY: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_COMPARED: Final = {"day": 3, "month": 2, "year": 1}
# "MM-DD" of an ISO date -> the month letter and day of a man's code and of a woman's
_DAY_CODES: Final = {
    f"{m:02d}-{d:02d}": (f"{_MONTHS[m - 1]}{d:02d}", f"{_MONTHS[m - 1]}{d + 40:02d}")
    for m in range(1, 13)
    for d in range(1, 32)
}


# a decoded code's month letter and day (a woman's with 40 added) that exist in every year,
# and those that exist in leap years only: what _structure's date check accepts
_MONTH_DAYS: Final = frozenset(
    f"{_MONTHS[m]}{d + w:02d}"
    for m in range(12)
    for d in range(1, _LAST_DAY[m] + 1)
    for w in (0, 40)
)
_LEAP_DAYS: Final = frozenset({"B29", "B69"})


def is_code_of(value: str, surname: str, name: str, sex: str, iso_date: str) -> bool:
    """Whether ``value`` is exactly the code of this person, without omocodia, up to its
    birth place (characters 12-15, for the caller to compare): then :func:`check` with this
    data finds nothing but, perhaps, the place. ``False`` means *not sure* (ask :func:`check`).

    ``iso_date`` is a real date written ``YYYY-MM-DD``; ``sex`` counts only as ``M`` or ``F``.

    >>> is_code_of("RSSMRA85T10H501O", "Rossi", "Mario", "M", "1985-12-10")
    True
    >>> is_code_of("RSSMRA85T10H501O", "Rossi", "Mario", "F", "1985-12-10")
    False
    """
    days = _DAY_CODES.get(iso_date[5:]) if len(iso_date) == 10 else None
    return (
        days is not None
        and (sex == "M" or sex == "F")
        and _PLAIN.fullmatch(value) is not None
        and value[:11]
        == (_SURNAME_CODES.get(surname) or surname_code(surname))
        + (_NAME_CODES.get(name) or name_code(name))
        + iso_date[2:4]
        + days[sex == "F"]
        and _check_char(value) == value[15]
    )


def _structure(value: str, field: str) -> tuple[ValidationError | None, str]:
    """The first structural problem of a compacted code (or ``None``) and, for a well-formed
    16-character code, the code decoded (:func:`_decoded`; else ``""``)."""
    plain = False
    if (
        len(value) == 16
        and ((plain := _PLAIN.fullmatch(value) is not None) or _FORMAT.fullmatch(value))
        and _check_char(value) == value[15]
    ):
        decoded = value if plain else _decoded(value)  # a plain code is its own decoded form
        if decoded[8:11] in _MONTH_DAYS or (
            decoded[8:11] in _LEAP_DAYS and int(decoded[6:8]) % 4 == 0
        ):
            return None, decoded  # the common case: month letter and day looked up at once
        day = int(decoded[9:11])
        month = _MONTHS.index(decoded[8])
        last = _month_days(month, decoded)
        if 1 <= day <= last or 41 <= day <= 40 + last:
            return None, decoded
        return error(
            "cf.date", f"day {decoded[9:11]} does not exist in month {month + 1}", field=field
        ), ""
    length = len(value)
    if not _ALNUM.fullmatch(value) or not 11 <= length <= 16:
        rule = "field.charset" if not _ALNUM.fullmatch(value) else "field.length"
        what = "letters and digits only" if rule == "field.charset" else "11 to 16 characters"
        return error(rule, f"ANPR accepts {what} here", field=field), ""
    if length == 11:
        if not value.isdigit():
            return error("cf.format", "an 11-character code must be all digits", field=field), ""
        if _iva_check_digit(value) != value[10]:
            return error(
                "cf.checksum",
                f"the check digit is {_iva_check_digit(value)}, not {value[10]}",
                field=field,
            ), ""
        return None, ""
    if length != 16:
        return error(
            "cf.length", f"{length} characters; a codice fiscale has 16 (or 11 digits)", field=field
        ), ""
    if not _FORMAT.fullmatch(value):
        return error("cf.format", _format_problem(value), field=field), ""
    expected = _check_char(value)
    return error(
        "cf.checksum", f"the check character is {expected}, not {value[15]}", field=field
    ), ""


def _month_days(month: int, decoded: str) -> int:
    """Days in the month (0-based); February has 29 when some century makes the year leap."""
    return _LAST_DAY[month] + (month == 1 and int(decoded[6:8]) % 4 == 0)


def _format_problem(value: str) -> str:
    slots = (
        (range(6), "a letter", str.isalpha),
        (DIGIT_POSITIONS, f"a digit or one of {OMOCODIA_LETTERS}",
         lambda c: c.isdigit() or c in OMOCODIA_LETTERS),
        ((8,), f"a month letter ({_MONTHS})", lambda c: c in _MONTHS),
        ((11,), "a letter", str.isalpha),
        ((15,), "a letter", str.isalpha),
    )  # fmt: skip
    for positions, what, ok in slots:
        for pos in positions:
            if not ok(value[pos]):
                return f"character {pos + 1} is {value[pos]!r}; it must be {what}"
    return "the code is malformed"  # pragma: no cover - the slots cover the whole format


def check(
    value: object,
    *,
    surname: str | None = None,
    name: str | None = None,
    sex: str | None = None,
    birth_date: date | None = None,
    birth_place: str | None = None,
    precision: Precision = "day",
    comuni: ComuniTable | None = None,
    stati: StatiTable | None = None,
    field: str = "codiceFiscale",
) -> list[ValidationError]:
    """Every problem of ``value``, as exceptions (not raised); empty if the code is fine.

    A malformed code gives exactly one problem. A well-formed one is compared with the data
    given: ``surname``, ``name``, ``sex`` (``M``/``F``; anything else is not compared),
    ``birth_date`` (only year and month if ``precision`` is ``"month"``, only the year for
    ``"year"``: ANPR's *senzaGiorno* / *senzaGiornoMese*) and ``birth_place``: an ISTAT code
    (looked up in ``comuni``), a cadastral code (``H501``), a state's ANPR code (``215``, looked
    up in ``stati``) or its cadastral code (``Z110``).
    """
    if not isinstance(value, str):
        return [error("field.format", "the codice fiscale must be text", field=field)]
    if not (value.isalnum() and value.isupper()):
        value = compact(value)
    problem, decoded = _structure(value, field)
    if problem is not None:
        return [problem]
    if len(value) == 11:
        return []  # a provisional numeric code encodes no personal data
    problems: list[ValidationError] = []
    if surname and value[0:3] != surname_code(surname):
        problems.append(
            _mismatch("cf.surname", "surname", surname, surname_code(surname), value[0:3], field)
        )
    if name and value[3:6] != name_code(name):
        problems.append(_mismatch("cf.name", "name", name, name_code(name), value[3:6], field))
    if birth_date is not None:
        coded = (int(decoded[6:8]), _MONTHS.index(decoded[8]) + 1, int(decoded[9:11]) % 40)
        actual = (birth_date.year % 100, birth_date.month, birth_date.day)
        compared = _COMPARED[precision]
        if coded[:compared] != actual[:compared]:
            problems.append(
                error(
                    "cf.birthdate",
                    f"the birth date {birth_date.isoformat()} does not match the code "
                    f"(year {coded[0]:02d}, month {coded[1]}, day {coded[2]})",
                    field=field,
                )
            )
    if sex:
        given = sex if sex in ("M", "F") else sex.strip().upper()
        coded_sex = "F" if decoded[9] in "4567" else "M"
        if given in ("M", "F") and coded_sex != given:
            problems.append(
                error(
                    "cf.sex", f"the sex {given} does not match the code ({coded_sex})", field=field
                )
            )
    if birth_place:
        coded_place = decoded[11:15]
        if comuni is not None and coded_place in comuni.cadastral_codes(birth_place):
            return problems  # the common case: the Comune's own code
        place_problem = _place_problem(
            coded_place, birth_place.strip().upper(), comuni, stati, field
        )
        if place_problem is not None:
            problems.append(place_problem)
    return problems


def _mismatch(
    rule: str, what: str, given: str, expected: str, coded: str, field: str
) -> ValidationError:
    return error(
        rule, f"the {what} {given.strip()!r} gives {expected}, the code has {coded}", field=field
    )


def _place_problem(
    coded: str,
    place: str,
    comuni: ComuniTable | None,
    stati: StatiTable | None,
    field: str,
) -> ValidationError | None:
    if place.isdigit() and len(place) == 6:
        if comuni is None:
            from .comuni import ComuniTable

            comuni = ComuniTable.sample()
        accepted = comuni.cadastral_codes(place)
        if not accepted or coded in accepted:
            return None  # an unknown Comune is reported by the birth-place check
        names = sorted({c.name for c in comuni.periods(place)})
        return error(
            "cf.birthplace",
            f"the birth Comune {place} ({'/'.join(names)}) has cadastral code "
            f"{'/'.join(sorted(accepted))}, the codice fiscale has {coded}",
            field=field,
        )
    if place.isdigit() and len(place) == 3:
        if stati is None:
            from .stati import StatiTable

            stati = StatiTable.sample()
        state = stati.get(place)
        if state is None or not state.cadastral or state.cadastral == coded:
            return None
        return error(
            "cf.birthstate",
            f"the birth state {state} has code {state.cadastral}, the codice fiscale has {coded}",
            field=field,
        )
    if len(place) == 4 and place != coded:
        if comuni is not None and not place.startswith("Z"):
            istat = {c.istat for c in comuni.by_cadastral(place)}
            if any(coded in comuni.cadastral_codes(i) for i in istat):
                return None  # the same Comune under another of its cadastral codes
        rule = "cf.birthstate" if place.startswith("Z") else "cf.birthplace"
        return error(
            rule, f"the birth place {place} does not match the code's {coded}", field=field
        )
    return None


def validate(
    value: object,
    *,
    surname: str | None = None,
    name: str | None = None,
    sex: str | None = None,
    birth_date: date | None = None,
    birth_place: str | None = None,
    precision: Precision = "day",
    comuni: ComuniTable | None = None,
    stati: StatiTable | None = None,
    field: str = "codiceFiscale",
) -> str:
    """Check the code (and its consistency with the data given); return it compacted.

    Raises the first problem :func:`check` finds (blocking ones first), a warning too: a
    surname that does not give the code's letters raises :class:`InvalidComponent` with
    ``severity == "W"``.
    """
    problems = check(
        value,
        surname=surname,
        name=name,
        sex=sex,
        birth_date=birth_date,
        birth_place=birth_place,
        precision=precision,
        comuni=comuni,
        stati=stati,
        field=field,
    )
    if problems:
        problems.sort(key=lambda e: e.severity == "W")
        raise problems[0]
    assert isinstance(value, str)  # check() refuses anything else
    return compact(value)


class Context(TypedDict, total=False):
    """The keyword arguments of :func:`validate`, :func:`check` and :func:`is_valid`."""

    surname: str | None
    name: str | None
    sex: str | None
    birth_date: date | None
    birth_place: str | None
    precision: Precision
    comuni: ComuniTable | None
    stati: StatiTable | None
    field: str


def is_valid(value: object, **context: Unpack[Context]) -> bool:
    """Whether the code is valid and consistent with the data given (never raises).

    Takes the keyword arguments of :func:`validate`. Warnings (a surname mismatch…) do not
    make a code invalid, unlike :func:`validate`, which raises them; see :func:`check`.
    """
    return not any(p.severity != "W" for p in check(value, **context))
