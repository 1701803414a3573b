"""Comune at a date (Tabella 3 of ANPR: the historic archive of the Italian Comuni).

A Comune is known by its six-digit ISTAT code (``058091``) and by its four-character cadastral
code (``H501``, the *codice catastale* or Belfiore code, the one inside the codice fiscale).
Both are valid only for a period: Comuni are founded, renamed, merged and moved between
provinces, and ISTAT codes are reassigned when a province changes. A birth place must be the
Comune **as it was on the birth date**, so every lookup here takes a date.

The table is ANPR's public archive format (``ANPR_archivio_comuni.csv``: ``ID``,
``DATAISTITUZIONE``, ``DATACESSAZIONE``, ``CODISTAT``, ``CODCATASTALE``, ``DENOMINAZIONE_IT``,
``DENOMTRASLITTERATA``, ``ALTRADENOMINAZIONE``, ``ALTRADENOMTRASLITTERATA``, ``IDPROVINCIA``,
``IDREGIONE``, ``IDPREFETTURA``, ``STATO`` (A active, C ceased, D to be founded),
``SIGLAPROVINCIA``, ``FONTE``, ``DATAULTIMOAGG``, ``COD_DENOM``). A period runs from
``DATAISTITUZIONE`` to ``DATACESSAZIONE``, both included (``9999-12-31`` for active Comuni).
On a merger ANPR often gives the ceased Comuni and the new one the same date, so on that day
both are valid.

Where a table comes from:

- :meth:`ComuniTable.from_file` / :meth:`ComuniTable.from_bytes`: the archive a user downloaded
  (CSV, the ``.xlsx`` decoding table, gzip or zip; comma or semicolon separated);
- :meth:`ComuniTable.from_7001`: the file(s) the 7001 service (*scarico tabelle*) returns;
- :meth:`ComuniTable.from_cache` / :meth:`ComuniTable.save_cache`: a local copy;
- :meth:`ComuniTable.sample`: a small table shipped with anpr-client for demos and tests, with
  ``complete=False``: a code it does not know is *not* reported as nonexistent.

stdnum-style functions (the shape of every validator, :mod:`._protocol`) check a code
against a table (the sample by default):

>>> compact(" h501 ")
'H501'
>>> validate("058091", day=date(1990, 1, 1))
'058091'
>>> table = ComuniTable.sample()
>>> table.at("028001", date(1920, 5, 1)).name, table.at("028001", date(1990, 5, 1)).name
('ABANO', 'ABANO TERME')
>>> validate("078108", day=date(2020, 1, 1), table=table)  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidComponent: luogoNascita: 078108 (ROSSANO) ceased ... [EN338]
>>> validate("078108", table=table)  # without a day: a Comune of any date
'078108'
>>> is_valid("078108", day=date(2000, 1, 1)), is_valid("1234", day=date(2000, 1, 1))
(True, False)
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Literal

from .._compat import old_call
from .._identifiers import CADASTRAL_CODE, ISTAT_CODE
from ..errors.exceptions import ConfigurationError, ValidationError
from ._errors import error
from ._tables import ReferenceTable, parse_table_date, read_rows

__all__ = [
    "ARCHIVE_COLUMNS",
    "Comune",
    "ComuniTable",
    "Use",
    "compact",
    "default_cache_path",
    "fold_name",
    "is_valid",
    "load_comuni",
    "validate",
    "why_not_valid",
]

#: The archive's columns, in order (the legend calls ``ID_PROVINCIA`` ``IDPROVINCIA``).
ARCHIVE_COLUMNS: Final = (
    "ID",
    "DATAISTITUZIONE",
    "DATACESSAZIONE",
    "CODISTAT",
    "CODCATASTALE",
    "DENOMINAZIONE_IT",
    "DENOMTRASLITTERATA",
    "ALTRADENOMINAZIONE",
    "ALTRADENOMTRASLITTERATA",
    "ID_PROVINCIA",
    "IDPROVINCIAISTAT",
    "IDREGIONE",
    "IDPREFETTURA",
    "STATO",
    "SIGLAPROVINCIA",
    "FONTE",
    "DATAULTIMOAGG",
    "COD_DENOM",
)
_REQUIRED: Final = ("DATAISTITUZIONE", "CODISTAT", "CODCATASTALE", "DENOMINAZIONE_IT")
_SETTING: Final = "validation.comuni"
_FOREVER: Final = date(9999, 12, 31)
_SAMPLE: Final = "comuni_sample.csv"
_NOT_ALNUM: Final = re.compile(r"[^0-9A-Z]+")


@dataclass(frozen=True, slots=True)
class Comune:
    """One period of one Comune (one row of the archive)."""

    istat: str
    cadastral: str
    name: str
    valid_from: date
    valid_to: date
    province: str = ""
    """Province abbreviation (``SIGLAPROVINCIA``)."""
    status: str = ""
    """``A`` active, ``C`` ceased, ``D`` to be founded."""
    other_name: str = ""
    """The name in the second official language (``BOZEN``), if any."""
    transliterated: str = ""
    record_id: str = ""

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to

    def __str__(self) -> str:
        return f"{self.istat} ({self.name})"


@functools.lru_cache(maxsize=65536)
def fold_name(name: str) -> str:
    """A Comune or state name reduced for comparison: no accents, case, punctuation.

    >>> fold_name("Sant’Angelo  d'Alife"), fold_name("FORLÌ")
    ('SANT ANGELO D ALIFE', 'FORLI')
    """
    if not name.isascii():
        decomposed = unicodedata.normalize("NFKD", name)
        name = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_ALNUM.sub(" ", name.upper()).split())


class ComuniTable(ReferenceTable):
    """The Comuni of a table, indexed by ISTAT code, cadastral code and name. Read-only.

    ``complete`` says whether the table claims to list every Comune (the official archive) or
    only some (the sample): validators report a code as nonexistent only in a complete table.
    """

    SETTING = _SETTING
    SAMPLE_FILE = _SAMPLE

    def __init__(self, comuni: Iterable[Comune], *, source: str, complete: bool = True):
        self.source = source
        self.complete = complete
        by_istat: dict[str, list[Comune]] = defaultdict(list)
        by_cadastral: dict[str, list[Comune]] = defaultdict(list)
        for comune in comuni:
            by_istat[comune.istat].append(comune)
            by_cadastral[comune.cadastral].append(comune)
        self._by_istat: dict[str, tuple[Comune, ...]] = {
            k: tuple(sorted(v, key=_period_key)) for k, v in by_istat.items()
        }
        self._by_cadastral: dict[str, tuple[Comune, ...]] = {
            k: tuple(sorted(v, key=_period_key)) for k, v in by_cadastral.items()
        }
        # the start dates of each code's periods, for a binary search by date
        self._starts: dict[str, list[date]] = {
            k: [c.valid_from for c in v]
            for index in (self._by_cadastral, self._by_istat)
            for k, v in index.items()
        }
        self._cadastrals: dict[str, frozenset[str]] = {
            k: frozenset(c.cadastral for c in v) for k, v in self._by_istat.items()
        }
        self._by_name: dict[str, tuple[Comune, ...]] | None = None
        # ISTAT code -> its cadastral codes, the span of its periods and whether that span has
        # days no period covers (then a binary search decides): what :meth:`valid_with` needs,
        # in one lookup. Most Comuni with several periods (renamed, moved to another province)
        # run without a gap from the first to the last, so the span alone answers.
        self._places: dict[str, tuple[frozenset[str], date, date, bool]] = {
            k: (self._cadastrals[k], v[0].valid_from, max(c.valid_to for c in v), _has_gap(v))
            for k, v in self._by_istat.items()
        }

    # ------------------------------------------------------------------ lookups

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_istat.values())

    def __iter__(self) -> Iterator[Comune]:
        for periods in self._by_istat.values():
            yield from periods

    def __repr__(self) -> str:
        return f"<ComuniTable {self.source!r}: {len(self)} periods, complete={self.complete}>"

    def periods(self, istat: str) -> tuple[Comune, ...]:
        """Every period of the ISTAT code, oldest first (empty if unknown)."""
        return self._by_istat.get(istat, ())

    def knows(self, code: str) -> bool:
        """Whether the ISTAT or cadastral code appears in the table at any date."""
        return code in self._by_istat or code in self._by_cadastral

    def _on(self, periods: tuple[Comune, ...], code: str, day: date) -> Comune | None:
        # the newest period started by ``day`` that still runs on ``day``
        i = bisect_right(self._starts[code], day)
        while i:
            i -= 1
            if periods[i].valid_to >= day:
                return periods[i]
        return None

    def valid_on(self, code: str, day: date) -> bool:
        """Whether the ISTAT (``058091``) or cadastral (``H501``) code is valid on ``day``."""
        periods = self._by_istat.get(code) or self._by_cadastral.get(code)
        return periods is not None and self._on(periods, code, day) is not None

    def valid_with(self, istat: str, day: date, cadastral: str) -> bool:
        """Whether the ISTAT code is valid on ``day`` **and** ``cadastral`` is one of the codes it
        ever had (:meth:`cadastral_codes`): the birth-place rule and the codice fiscale's place
        rule in one lookup. ``False`` if either fails or the code is unknown."""
        place = self._places.get(istat)
        if place is None or cadastral not in place[0] or not place[1] <= day <= place[2]:
            return False
        return not place[3] or self._on(self._by_istat[istat], istat, day) is not None

    def at(self, istat: str, day: date) -> Comune | None:
        """The Comune with this ISTAT code on ``day`` (the newest period if two touch)."""
        periods = self._by_istat.get(istat)
        return None if periods is None else self._on(periods, istat, day)

    def by_cadastral(self, code: str, day: date | None = None) -> tuple[Comune, ...]:
        """The Comuni with this cadastral code on ``day`` (every period if ``day`` is None).

        Before 1930 a few cadastral codes were shared by two Comuni, hence a tuple.
        """
        periods = self._by_cadastral.get(code, ())
        if day is None:
            return periods
        return tuple(c for c in periods if c.valid_from <= day <= c.valid_to)

    def cadastral_codes(self, istat: str) -> frozenset[str]:
        """Every cadastral code the ISTAT code had, over all its periods."""
        return self._cadastrals.get(istat, frozenset())

    def find(
        self, name: str, *, province: str | None = None, day: date | None = None
    ) -> tuple[Comune, ...]:
        """The Comuni called ``name`` (in either official language; accents and case ignored)."""
        if self._by_name is None:
            index: dict[str, list[Comune]] = defaultdict(list)
            for comune in self:
                keys = {fold_name(comune.name), fold_name(comune.transliterated)}
                if comune.other_name:
                    keys.add(fold_name(comune.other_name))
                    keys.add(fold_name(f"{comune.name} {comune.other_name}"))
                for k in keys - {""}:
                    index[k].append(comune)
            self._by_name = {k: tuple(v) for k, v in index.items()}
        found = self._by_name.get(fold_name(name), ())
        if province:
            found = tuple(c for c in found if c.province.upper() == province.strip().upper())
        if day is not None:
            found = tuple(c for c in found if c.valid_on(day))
        return found

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_rows(
        cls, rows: Iterable[dict[str, str]], *, source: str, complete: bool = True
    ) -> ComuniTable:
        """A table from rows keyed by the archive's column names (upper case)."""
        comuni: list[Comune] = []
        for line, row in enumerate(rows, 2):
            istat = row.get("CODISTAT", "").strip()
            cadastral = row.get("CODCATASTALE", "").strip().upper()
            try:
                valid_from = parse_table_date(row.get("DATAISTITUZIONE", "")) or date.min
                valid_to = parse_table_date(row.get("DATACESSAZIONE", "")) or _FOREVER
            except ValueError as exc:
                raise ConfigurationError(
                    f"{source}, record {line}: {exc}", setting=_SETTING, rule="archive dates"
                ) from None
            if istat.isdigit() and len(istat) < 6:  # spreadsheets drop leading zeros
                istat = istat.zfill(6)
            if not istat or not cadastral:
                raise ConfigurationError(
                    f"{source}, record {line}: CODISTAT and CODCATASTALE are mandatory",
                    setting=_SETTING,
                )
            comuni.append(
                Comune(
                    istat=istat,
                    cadastral=cadastral,
                    name=row.get("DENOMINAZIONE_IT", "").strip(),
                    valid_from=valid_from,
                    valid_to=valid_to,
                    province=row.get("SIGLAPROVINCIA", "").strip().upper(),
                    status=row.get("STATO", "").strip().upper(),
                    other_name=row.get("ALTRADENOMINAZIONE", "").strip(),
                    transliterated=row.get("DENOMTRASLITTERATA", "").strip(),
                    record_id=row.get("ID", "").strip(),
                )
            )
        if not comuni:
            raise ConfigurationError(f"{source}: the comuni table is empty", setting=_SETTING)
        return cls(comuni, source=source, complete=complete)

    @classmethod
    def from_bytes(
        cls, data: bytes, *, source: str = "<bytes>", complete: bool = True
    ) -> ComuniTable:
        """A table from the bytes of an archive file (CSV, xlsx, gzip, zip, XML)."""
        rows = read_rows(data, columns=ARCHIVE_COLUMNS, required=_REQUIRED, setting=_SETTING)
        return cls.from_rows(rows, source=source, complete=complete)

    @classmethod
    def from_7001(cls, files: bytes | Sequence[bytes], *, source: str = "7001") -> ComuniTable:
        """A table from what service 7001 returns for the comuni table.

        ``files`` are the decoded ``xmlFile`` contents of the answer (one or several parts,
        each possibly gzip- or zip-compressed): CSV with or without header (a headerless file is
        read in the archive's column order), or XML whose repeated elements are named after the
        archive's columns.
        """
        parts = [files] if isinstance(files, bytes) else list(files)
        rows: list[dict[str, str]] = []
        for part in parts:
            rows.extend(
                read_rows(part, columns=ARCHIVE_COLUMNS, required=_REQUIRED, setting=_SETTING)
            )
        return cls.from_rows(rows, source=source, complete=True)

    @classmethod
    def from_cache(cls, path: str | Path | None = None) -> ComuniTable | None:
        """The table saved by :meth:`save_cache`, or ``None`` if there is none."""
        target = Path(path) if path is not None else default_cache_path()
        if not target.is_file():
            return None
        return cls.from_file(target)

    def save_cache(self, path: str | Path | None = None) -> Path:
        """Save the table in the archive format (atomically) and return where."""
        target = Path(path) if path is not None else default_cache_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            self.write_csv(fh)
        tmp.replace(target)
        return target

    def write_csv(self, fh: io.TextIOBase | io.StringIO) -> None:
        """Write the table in ANPR's archive format (the columns anpr-client keeps)."""
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(ARCHIVE_COLUMNS)
        for c in self:
            row = dict.fromkeys(ARCHIVE_COLUMNS, "")
            row.update(
                ID=c.record_id,
                DATAISTITUZIONE=c.valid_from.isoformat(),
                DATACESSAZIONE=c.valid_to.isoformat(),
                CODISTAT=c.istat,
                CODCATASTALE=c.cadastral,
                DENOMINAZIONE_IT=c.name,
                DENOMTRASLITTERATA=c.transliterated,
                ALTRADENOMINAZIONE=c.other_name,
                STATO=c.status,
                SIGLAPROVINCIA=c.province,
            )
            writer.writerow(row.values())


def _period_key(comune: Comune) -> tuple[date, date]:
    return comune.valid_from, comune.valid_to


def _has_gap(periods: Sequence[Comune]) -> bool:
    """Whether some day between the first start and the last end of ``periods`` (sorted by
    :func:`_period_key`) is in none of them (both ends of a period are included)."""
    end = periods[0].valid_to.toordinal()
    for comune in periods[1:]:
        if comune.valid_from.toordinal() > end + 1:
            return True
        end = max(end, comune.valid_to.toordinal())
    return False


def default_cache_path() -> Path:
    """Where :meth:`ComuniTable.save_cache` writes by default (the user's cache directory)."""
    from platformdirs import user_cache_path

    return user_cache_path("anpr-client") / "comuni.csv"


def load_comuni(source: str | Path | bytes | ComuniTable | None = None) -> ComuniTable:
    """The table to use: ``source`` if given (a path, bytes or a table), else the cached copy,
    else the bundled sample."""
    if isinstance(source, ComuniTable):
        return source
    if isinstance(source, bytes):
        return ComuniTable.from_bytes(source)
    if source is not None:
        return ComuniTable.from_file(source)
    return ComuniTable.from_cache() or ComuniTable.sample()


# ---------------------------------------------------------------------- stdnum-style interface

Use = Literal["birth", "residence"]
"""What a Comune's code is given for: a birth place or a residence."""


def compact(code: str) -> str:
    """The code without surrounding blanks, upper case (no validation)."""
    return code.strip().upper()


def _legacy(
    function: str, day: date | None, legacy_day: date | None, use: Use, role: Use | None
) -> tuple[date | None, Use]:
    if legacy_day is not None:
        old_call(f"comuni.{function}", "pass the date as day=…")
        day = legacy_day if day is None else day
    if role is not None:
        old_call(f"comuni.{function}", "role= is now use=")
        use = role
    return day, use


def validate(
    code: object,
    legacy_day: date | None = None,
    /,
    *,
    day: date | None = None,
    table: ComuniTable | None = None,
    use: Use = "birth",
    field: str | None = None,
    role: Use | None = None,
) -> str:
    """Check that ``code`` (ISTAT or cadastral) names a Comune valid on ``day``; return it.

    Without ``day``, a Comune of any date passes. ``use`` picks the ANPR codes: a birth place
    (``EN332`` nonexistent, ``EN338`` not valid on that date) or a residence (``EC056``).
    ``field`` names the field in the error (default ``luogoNascita`` or ``comuneResidenza``).
    In an incomplete table (the sample) an unknown code passes: absence from a sample proves
    nothing. The date as second positional argument and ``role=`` are the old spellings of
    ``day=`` and ``use=`` (deprecated).
    """
    day, use = _legacy("validate", day, legacy_day, use, role)
    table = table if table is not None else ComuniTable.sample()
    field = field or ("luogoNascita" if use == "birth" else "comuneResidenza")
    if not isinstance(code, str):
        raise error("field.format", "the code must be text", field=field)
    value = compact(code)
    if not (ISTAT_CODE.fullmatch(value) or CADASTRAL_CODE.fullmatch(value)):
        raise error(
            "field.format",
            f"{code!r} is neither an ISTAT code (6 digits) nor a cadastral code (A123)",
            field=field,
        )
    periods = table.periods(value) if value.isdigit() else table.by_cadastral(value)
    if periods and (day is None or any(c.valid_on(day) for c in periods)):
        return value
    if not periods and not table.complete:
        return value
    if not periods:
        unknown = "birthplace.unknown" if use == "birth" else "residence.comune"
        raise error(unknown, f"{value} is not a Comune in {table.source}", field=field)
    assert day is not None  # a known Comune fails only at a date
    wrong_date = "birthplace.date" if use == "birth" else "residence.comune"
    raise error(wrong_date, why_not_valid(periods, day), field=field)


def why_not_valid(periods: Sequence[Comune], day: date) -> str:
    """Why none of ``periods`` (one Comune's, oldest first) is valid on ``day``."""
    first, last = periods[0], periods[-1]
    if day < first.valid_from:
        return f"{first} was founded on {first.valid_from.isoformat()}, after {day.isoformat()}"
    before = [c for c in periods if c.valid_to < day]
    if before and before[-1] is last:
        return f"{last} ceased on {last.valid_to.isoformat()}, before {day.isoformat()}"
    return f"{first.istat} was not a Comune on {day.isoformat()}"


def is_valid(
    code: object,
    legacy_day: date | None = None,
    /,
    *,
    day: date | None = None,
    table: ComuniTable | None = None,
    use: Use = "birth",
    field: str | None = None,
    role: Use | None = None,
) -> bool:
    """Whether ``code`` names a Comune valid on ``day`` (never raises).

    Takes the arguments of :func:`validate`; a Comune that exists but not on ``day`` is not
    valid, although ANPR only warns about it (``EN338``).
    """
    day, use = _legacy("is_valid", day, legacy_day, use, role)
    try:
        validate(code, day=day, table=table, use=use, field=field)
    except ValidationError:
        return False
    return True
