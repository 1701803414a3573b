"""Addresses: the toponym species (Tabella 4 of ANPR) and house numbers.

An Italian address in ANPR is split into a *specie* (``VIA``, ``PIAZZA``, ``LOCALITA'``…: one of
the species of Tabella 4, sent as ``codSpecie`` and/or ``specie``), a *denominazione*
(``GIUSEPPE GARIBALDI``) and a *numero civico* (digits, with an optional letter or exponent:
``12/A``). A species missing from the table makes ANPR answer ``EC073``.

:meth:`SpeciesTable.split` finds the longest species at the start of a one-line address
(``STRADA STATALE 16`` is the species ``STRADA STATALE``, not ``STRADA``). Abbreviations such as
``V.LE`` are *not* expanded here; :mod:`.normalise` does it, with a report entry.

The table is loaded from ANPR's decoding table (``tab_tabella_04___specie_toponimo.xlsx`` or a
CSV with its columns ``ID``, ``DESCRIZIONE``, ``DESCRIZIONETRASLITTERATA``, ``ORDINAMENTO``,
``DATAINIZIOVALIDITA``, ``DATAFINEVALIDITA``), or the small sample shipped with anpr-client
(``complete=False``).

>>> table = SpeciesTable.sample()
>>> species, rest = table.split("Viale Giuseppe Mazzini")
>>> species.name, rest
('VIALE', 'Giuseppe Mazzini')
>>> validate("PIAZZA DEL POPOLO")
'PIAZZA DEL POPOLO'
>>> validate_civico("12/a")
('12', 'A')
>>> validate_civico("dodici")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidFormat: numero_civico: 'dodici' is not a house number ... [XSD]
>>> is_valid("VIA ROMA"), is_valid("VIA"), is_valid(3)
(True, False, False)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

from ..errors.exceptions import ConfigurationError, ValidationError
from . import fields
from ._errors import error
from ._tables import ReferenceTable, parse_table_date, read_rows
from .comuni import fold_name

__all__ = [
    "ABBREVIATIONS",
    "SPECIES_COLUMNS",
    "Specie",
    "SpeciesTable",
    "compact",
    "is_valid",
    "problems",
    "validate",
    "validate_civico",
    "validate_species",
]

SPECIES_COLUMNS: Final = (
    "ID",
    "DESCRIZIONE",
    "DESCRIZIONETRASLITTERATA",
    "ORDINAMENTO",
    "DATAINIZIOVALIDITA",
    "DATAFINEVALIDITA",
)
_SETTING: Final = "validation.toponyms"
_CIVICO: Final = re.compile(r"(\d{1,20})\s*(?:[/\-]?\s*([0-9A-Z]{1,10}))?")
_NO_NUMBER: Final = frozenset({"SNC", "S.N.C.", "S.N.C", "SN", "S/N", "SENZA NUMERO"})

#: Common abbreviations of species in local registries (expanded by :mod:`.normalise`).
ABBREVIATIONS: Final = {
    "V.": "VIA",
    "V.LE": "VIALE",
    "VLE": "VIALE",
    "P.ZA": "PIAZZA",
    "P.ZZA": "PIAZZA",
    "PZA": "PIAZZA",
    "P.LE": "PIAZZALE",
    "P.TTA": "PIAZZETTA",
    "C.SO": "CORSO",
    "L.GO": "LARGO",
    "LOC.": "LOCALITA'",
    "FRAZ.": "FRAZIONE",
    "FR.": "FRAZIONE",
    "VIC.": "VICOLO",
    "STR.": "STRADA",
    "S.S.": "STRADA STATALE",
    "S.P.": "STRADA PROVINCIALE",
    "TRAV.": "TRAVERSA",
}


@dataclass(frozen=True, slots=True)
class Specie:
    """One toponym species."""

    code: str
    name: str
    transliterated: str = ""
    valid_from: date = date.min
    valid_to: date = date.max


class SpeciesTable(ReferenceTable):
    """Toponym species by code and by (folded) name. Read-only."""

    SETTING = _SETTING
    SAMPLE_FILE = "specie_toponimo_sample.csv"

    def __init__(self, species: Iterable[Specie], *, source: str, complete: bool = True):
        self.source = source
        self.complete = complete
        self._by_code: dict[str, Specie] = {}
        self._by_name: dict[str, Specie] = {}
        for s in species:
            self._by_code[s.code] = s
            for key in (fold_name(s.name), fold_name(s.transliterated)):
                if key:
                    self._by_name.setdefault(key, s)
        self._max_words = max((len(k.split()) for k in self._by_name), default=1)
        # single-word species, and those of them that begin a longer one (VIA: VIA NUOVA)
        self._leading = frozenset(k.split()[0] for k in self._by_name if " " in k)
        self._single = frozenset(k for k in self._by_name if " " not in k)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Specie]:
        return iter(self._by_code.values())

    def __repr__(self) -> str:
        return f"<SpeciesTable {self.source!r}: {len(self)} species, complete={self.complete}>"

    def get(self, code_or_name: str) -> Specie | None:
        """The species with this code (``213``) or name (``VIA``; accents and case ignored)."""
        key = code_or_name.strip()
        if key.isdigit():
            return self._by_code.get(key.lstrip("0") or "0") or self._by_code.get(key)
        return self._by_name.get(fold_name(key))

    def split(self, address: str) -> tuple[Specie | None, str]:
        """The longest species at the start of ``address`` and the rest (the denomination)."""
        words = address.split()
        for n in range(min(self._max_words, len(words)), 0, -1):
            head = " ".join(words[:n])
            species = self._by_name.get(head)
            if species is None and not _folded(head):
                species = self._by_name.get(fold_name(head))
            if species is not None:
                return species, " ".join(words[n:])
        return None, " ".join(words)

    def plain_denomination(self, address: str) -> str | None:
        """The denomination :meth:`split` gives when ``address`` is in the plain form (a one-word
        species, then single spaces between printable words, the second beginning with a letter
        or digit A-Z 0-9, and no two-word species at the start); ``None`` means *not sure* (ask
        :meth:`split`). The species is known then: the first word."""
        head, _, rest = address.partition(" ")
        if not (
            head in self._single
            and rest[:1].isascii()
            and rest[:1].isalnum()
            and rest[-1] != " "
            and "  " not in rest
            and rest.isprintable()
        ):
            return None
        if head in self._leading:  # VIA GARIBALDI, not VIA NUOVA: the two words are no species
            if self._max_words > 2:
                return None
            pair = f"{head} {rest.partition(' ')[0]}"
            if pair in self._by_name or not _folded(pair):  # folded, split would look it up
                return None
        return rest

    @classmethod
    def from_rows(
        cls, rows: Iterable[dict[str, str]], *, source: str, complete: bool = True
    ) -> SpeciesTable:
        species = []
        for line, row in enumerate(rows, 2):
            code, name = row.get("ID", "").strip(), row.get("DESCRIZIONE", "").strip()
            if not code or not name:
                continue
            try:
                start = parse_table_date(row.get("DATAINIZIOVALIDITA", "")) or date.min
                end = parse_table_date(row.get("DATAFINEVALIDITA", "")) or date.max
            except ValueError as exc:
                raise ConfigurationError(
                    f"{source}, record {line}: {exc}", setting=_SETTING
                ) from None
            species.append(
                Specie(code, name, row.get("DESCRIZIONETRASLITTERATA", "").strip(), start, end)
            )
        if not species:
            raise ConfigurationError(f"{source}: the species table is empty", setting=_SETTING)
        return cls(species, source=source, complete=complete)

    @classmethod
    def from_bytes(
        cls, data: bytes, *, source: str = "<bytes>", complete: bool = True
    ) -> SpeciesTable:
        rows = read_rows(
            data, columns=SPECIES_COLUMNS, required=("ID", "DESCRIZIONE"), setting=_SETTING
        )
        return cls.from_rows(rows, source=source, complete=complete)


def _folded(words: str) -> bool:
    """Whether ``fold_name`` leaves single-spaced ``words`` as they are (A-Z, 0-9 only)."""
    return words.isascii() and words.isupper() and words.replace(" ", "").isalnum()


def compact(address: str) -> str:
    """The address with folded blanks, upper case (no validation).

    A letter whose capital is two letters (``ß`` → ``SS``, ``ŉ`` → ``ʼN``) stays as it is:
    compacting never changes the spelling, and ``ʼ`` is outside ANPR's address class.

    >>> compact(" via   dell'Università ")
    "VIA DELL'UNIVERSITÀ"
    >>> compact("Straße")
    'STRAßE'
    """
    folded = " ".join(address.split())
    upper = folded.upper()
    if len(upper) == len(folded):  # no letter became two
        return upper
    return "".join(c if len(u := c.upper()) > 1 else u for c in folded)


def problems(
    address: object, *, table: SpeciesTable | None = None, field: str = "indirizzo"
) -> list[ValidationError]:
    """Every problem of a one-line address (species + denomination), not raised."""
    if not isinstance(address, str):
        return [error("field.format", "the address must be text", field=field)]
    table = table if table is not None else SpeciesTable.sample()
    species, denomination = table.split(address)
    found: list[ValidationError] = []
    if species is None:
        if table.complete or not address.split():
            first = address.split()[0] if address.split() else ""
            found.append(
                error("toponym.species", f"{first!r} is not a toponym species", field=field)
                if first
                else error("field.missing", "the address is empty", field=field)
            )
        return found
    if not denomination:
        found.append(error("field.missing", f"only the species {species.name!r}", field=field))
        return found
    rules = _denomination_spec()
    if not rules.accepts(denomination):
        problem = rules.problem(denomination) or ("field.format", "rejected")
        found.append(error(problem[0], problem[1], field=field))
    return found


@functools.cache
def _denomination_spec() -> fields.FieldSpec:
    return fields.spec("denominazioneToponimo")


def validate(
    address: object, *, table: SpeciesTable | None = None, field: str = "indirizzo"
) -> str:
    """Check a one-line address (``VIA ROMA``); return it compacted (:func:`compact`).

    Raises the first of :func:`problems`.
    """
    found = problems(address, table=table, field=field)
    if found:
        raise found[0]
    assert isinstance(address, str)  # problems() refuses anything else
    return compact(address)


def validate_species(
    value: str, *, table: SpeciesTable | None = None, field: str = "specie"
) -> Specie | None:
    """The species named or coded ``value``; ``None`` if unknown to an incomplete table."""
    table = table if table is not None else SpeciesTable.sample()
    species = table.get(value)
    if species is None and table.complete:
        raise error("toponym.species", f"{value!r} is not a toponym species", field=field)
    return species


def validate_civico(value: object, *, field: str = "numero_civico") -> tuple[str, str] | None:
    """``(numero, suffix)`` of a house number (``12/A`` → ``('12', 'A')``); ``None`` for SNC."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return value, ""
    text = " ".join(value.split()).upper() if isinstance(value, str) else None
    if text in _NO_NUMBER:
        return None
    m = _CIVICO.fullmatch(text) if text else None
    if m is None:
        raise error("field.format", f"{value!r} is not a house number (12, 12/A, SNC)", field=field)
    return m[1], m[2] or ""


def is_valid(
    address: object, *, table: SpeciesTable | None = None, field: str = "indirizzo"
) -> bool:
    """Whether a one-line address passes (never raises; the arguments of :func:`validate`)."""
    return not problems(address, table=table, field=field)
