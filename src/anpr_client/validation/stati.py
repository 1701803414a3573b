"""Foreign states (Tabella 2 of ANPR, *Stati esteri*).

ANPR identifies a state by a three-digit code (``CODMIN``, equal to ISTAT's code: ``215`` is
France, ``100`` Italy); the codice fiscale of a person born abroad carries the state's
cadastral code instead (``CODAT``: ``Z110``). The table also says what each code may be used for:
``NASCITA`` (birth), ``CITTADINANZA`` (citizenship), ``RESIDENZA`` (residence), ``S`` or ``N``;
Italy, for instance, is a citizenship but not a foreign birth state.

The table is loaded from ANPR's decoding table (``tab_Stati_Esteri.xlsx`` or a CSV with the
same columns: ``ID``, ``DENOMINAZIONE``, …, ``DATAINIZIOVALIDITA``, ``DATAFINEVALIDITA``, …,
``CODMIN``, ``CODAT``, ``CODISTAT``, ``CITTADINANZA``, ``NASCITA``, ``RESIDENZA``, …), or the
small sample shipped with anpr-client (``complete=False``).

>>> table = StatiTable.sample()
>>> table.get("215").name, table.get("215").cadastral
('FRANCIA', 'Z110')
>>> validate("215", use="birth")
'215'
>>> validate("100", use="birth")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidComponent: luogoNascita: 100 (ITALIA) is not a foreign ... [EC030]
>>> is_valid("Z110"), is_valid("12")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from .._identifiers import STATE_CADASTRAL_CODE, STATE_CODE
from ..errors.exceptions import ConfigurationError, ValidationError
from ._errors import error
from ._tables import ReferenceTable, parse_table_date, read_rows

__all__ = ["STATES_COLUMNS", "StatiTable", "Stato", "Use", "compact", "is_valid", "validate"]

STATES_COLUMNS: Final = (
    "ID",
    "DENOMINAZIONE",
    "DENOMINAZIONEISTAT",
    "DENOMINAZIONEISTAT_EN",
    "DATAINIZIOVALIDITA",
    "DATAFINEVALIDITA",
    "CODISO3166_1_ALPHA3",
    "CODMAE",
    "CODMIN",
    "CODAT",
    "CODISTAT",
    "CITTADINANZA",
    "NASCITA",
    "RESIDENZA",
    "FONTE",
    "TIPO",
    "CODISOSOVRANO",
    "DATAULTIMOAGG",
)
_SETTING: Final = "validation.stati"
_USE_COLUMN: Final = {"birth": "NASCITA", "citizenship": "CITTADINANZA", "residence": "RESIDENZA"}

Use = Literal["birth", "citizenship", "residence"]
"""What a state's code is given for (the table's NASCITA, CITTADINANZA, RESIDENZA)."""


@dataclass(frozen=True, slots=True)
class Stato:
    """One foreign state (or territory) of the table."""

    code: str
    """ANPR's three-digit code (``CODMIN``)."""
    cadastral: str
    """The cadastral code used in the codice fiscale (``CODAT``, ``Z…``); empty for Italy."""
    name: str
    valid_from: date = date.min
    valid_to: date = date.max
    birth: bool = True
    citizenship: bool = True
    residence: bool = True

    def allows(self, use: Use) -> bool:
        return {"birth": self.birth, "citizenship": self.citizenship, "residence": self.residence}[
            use
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class StatiTable(ReferenceTable):
    """Foreign states by ANPR code and by cadastral code. Read-only."""

    SETTING = _SETTING
    SAMPLE_FILE = "stati_sample.csv"

    def __init__(self, states: Iterable[Stato], *, source: str, complete: bool = True):
        self.source = source
        self.complete = complete
        self._by_code: dict[str, Stato] = {}
        self._by_cadastral: dict[str, list[Stato]] = {}
        for s in states:
            self._by_code[s.code] = s
            if s.cadastral:
                self._by_cadastral.setdefault(s.cadastral, []).append(s)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Stato]:
        return iter(self._by_code.values())

    def __repr__(self) -> str:
        return f"<StatiTable {self.source!r}: {len(self)} states, complete={self.complete}>"

    def get(self, code: str) -> Stato | None:
        """The state with this ANPR code (``215``) or cadastral code (``Z110``)."""
        found = self._by_code.get(code)
        if found is None and code in self._by_cadastral:
            found = self._by_cadastral[code][0]
        return found

    @classmethod
    def from_rows(
        cls, rows: Iterable[dict[str, str]], *, source: str, complete: bool = True
    ) -> StatiTable:
        states: list[Stato] = []
        for line, row in enumerate(rows, 2):
            code = (row.get("CODMIN") or row.get("CODISTAT") or "").strip()
            if code.isdigit() and len(code) < 3:
                code = code.zfill(3)
            if not code:
                continue  # a few rows of the official table are notes without a code
            try:
                start = parse_table_date(row.get("DATAINIZIOVALIDITA", "")) or date.min
                end = parse_table_date(row.get("DATAFINEVALIDITA", "")) or date.max
            except ValueError as exc:
                raise ConfigurationError(
                    f"{source}, record {line}: {exc}", setting=_SETTING
                ) from None

            def flag(column: str, row: dict[str, str] = row) -> bool:
                return row.get(column, "").strip().upper() != "N"

            states.append(
                Stato(
                    code=code,
                    cadastral=row.get("CODAT", "").strip().upper(),
                    name=row.get("DENOMINAZIONE", "").strip(),
                    valid_from=start,
                    valid_to=end,
                    birth=flag("NASCITA"),
                    citizenship=flag("CITTADINANZA"),
                    residence=flag("RESIDENZA"),
                )
            )
        if not states:
            raise ConfigurationError(f"{source}: the states table is empty", setting=_SETTING)
        return cls(states, source=source, complete=complete)

    @classmethod
    def from_bytes(
        cls, data: bytes, *, source: str = "<bytes>", complete: bool = True
    ) -> StatiTable:
        rows = read_rows(data, columns=STATES_COLUMNS, required=("CODMIN",), setting=_SETTING)
        return cls.from_rows(rows, source=source, complete=complete)


def compact(code: str) -> str:
    """The code without blanks, upper case (no validation)."""
    return code.strip().upper()


def validate(
    code: object,
    *,
    day: date | None = None,
    table: StatiTable | None = None,
    use: Use = "birth",
    field: str | None = None,
) -> str:
    """Check that ``code`` (``215`` or ``Z110``) is a state usable as ``use``; return it.

    With ``day``, the state must also exist on that date. ``field`` names the field in the
    error (default ``luogoNascita`` or ``cittadinanza``). Unknown codes pass in an incomplete
    table (the sample).
    """
    table = table if table is not None else StatiTable.sample()
    rule = "birthstate.unknown" if use == "birth" else "citizenship.unknown"
    field = field or ("luogoNascita" if use == "birth" else "cittadinanza")
    if not isinstance(code, str):
        raise error("field.format", "the state code must be text", field=field)
    value = compact(code)
    if not (STATE_CODE.fullmatch(value) or STATE_CADASTRAL_CODE.fullmatch(value)):
        raise error(
            "field.format",
            f"{code!r} is not a state code (3 digits, or Z and 3 digits)",
            field=field,
        )
    state = table.get(value)
    if state is None:
        if not table.complete:
            return value
        message = f"{value} is not a state in {table.source}"
    elif not state.allows(use):
        what = {"birth": "a foreign birth state", "citizenship": "a citizenship"}.get(use, use)
        message = f"{state} is not {what}"
    elif day is not None and not state.valid_from <= day <= state.valid_to:
        message = f"{state} did not exist on {day.isoformat()}"
    else:
        return value
    raise error(rule, message, field=field)


def is_valid(
    code: object,
    *,
    day: date | None = None,
    table: StatiTable | None = None,
    use: Use = "birth",
    field: str | None = None,
) -> bool:
    """Whether ``code`` is a state usable as ``use`` (never raises; the arguments of
    :func:`validate`)."""
    try:
        validate(code, day=day, table=table, use=use, field=field)
    except ValidationError:
        return False
    return True
