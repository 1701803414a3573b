"""The reference tables the simulator serves through service 7001 (*scarico tabelle*).

A small set written for anpr-client, not ANPR's files: each table keeps ANPR's number (the
``idTabella`` a 7001 request carries, ``001`` for *stato civile*), ANPR's codes and column
names, and short descriptions in our own words. Only the codes the simulator and its population
use, plus a few neighbours, are listed. Tests check every code against ANPR's published tables.

Three tables are not written here but taken from the samples shipped with the validators (one
fact, one place): *stati esteri* (table 2) from :mod:`anpr_client.validation.stati`, *comuni*
(table 3, in the format of ANPR's archive) from :mod:`anpr_client.validation.comuni` and
*specie toponimo* (table 4) from :mod:`anpr_client.validation.toponyms`.

Table numbers come from ANPR's documentation of its decoding tables (italia/anpr ``src/tab``:
"Tabella 01 - Stato civile", "Tabella 36 - Tipi di mutazione"…). ANPR answers an unknown number
with ``EN148`` ("Id tabella inesistente", italia/anpr#3332); :func:`find_table` returns ``None``
for it so the simulator can do the same.

>>> TABLES["stato_civile"].id, TABLES["stato_civile"].description("2")
('001', 'Coniugato/a')
>>> find_table("5").name, find_table("999") is None
('relazione_parentela', True)
>>> render_table("stato_civile").splitlines()[:2]
[b'ID,DESCRIZIONE', b'1,Celibe/Nubile']
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final, Literal

from ..errors.exceptions import ConfigurationError
from ..validation.comuni import ComuniTable
from ..validation.stati import StatiTable
from ..validation.toponyms import SpeciesTable

__all__ = ["TABLES", "Table", "find_table", "get_table", "render_table", "table_names"]

_SETTING: Final = "simulator.tables"
_ID_DESCRIPTION: Final = ("ID", "DESCRIZIONE")


@dataclass(frozen=True, slots=True)
class Table:
    """One reference table: ANPR's number, its columns and rows (all text)."""

    name: str
    """Our name for it (``stato_civile``)."""
    id: str
    """ANPR's three-digit table number, the ``idTabella`` of a 7001 request (``001``)."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    key: str = "ID"
    """The column holding the code."""
    source: str = "anpr-client (authored)"

    def records(self) -> Iterator[dict[str, str]]:
        """The rows as ``{column: value}``."""
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))

    def codes(self) -> tuple[str, ...]:
        """The codes, in table order (a code repeats if it has several validity periods)."""
        index = self.columns.index(self.key)
        return tuple(row[index] for row in self.rows)

    def find(self, code: str) -> tuple[dict[str, str], ...]:
        """Every row with this code (empty if none)."""
        return tuple(r for r in self.records() if r[self.key] == code)

    def description(self, code: str) -> str | None:
        """The description (or name) of a code, ``None`` if the table lacks it."""
        column = next(
            (c for c in ("DESCRIZIONE", "DENOMINAZIONE", "DENOMINAZIONE_IT") if c in self.columns),
            None,
        )
        found = self.find(code)
        return found[-1][column] if found and column else None


def _authored(name: str, id: str, title: str, rows: Sequence[tuple[str, str]]) -> Table:
    return Table(name, id, title, _ID_DESCRIPTION, tuple(rows))


# The facts are ANPR's (codes and meaning); the wording of the descriptions is ours.
_AUTHORED: Final = (
    _authored("stato_civile", "001", "Stato civile", (
        ("1", "Celibe/Nubile"),
        ("2", "Coniugato/a"),
        ("3", "Vedovo/a"),
        ("4", "Divorziato/a"),
        ("6", "Unito/a civilmente"),
        ("9", "Non classificabile"),
    )),
    _authored("relazione_parentela", "005", "Relazione di parentela con l'intestatario", (
        ("1", "Intestatario della scheda"),
        ("2", "Marito o moglie"),
        ("3", "Figlio/a"),
        ("6", "Padre o madre"),
        ("7", "Nonno/a"),
        ("9", "Fratello o sorella"),
        ("16", "Genero o nuora"),
        ("17", "Suocero/a"),
        ("23", "Convivente (legame affettivo o di adozione)"),
        ("28", "Unito/a civilmente"),
        ("99", "Relazione non definita"),
    )),
    _authored("motivi_iscrizione", "007", "Motivi di iscrizione in anagrafe", (
        ("1", "Nascita"),
        ("3", "Immigrazione da un comune non subentrato"),
        ("4", "Immigrazione dall'estero"),
        ("5", "Ricomparsa dopo irreperibilità"),
        ("6", "Rimpatrio di un iscritto AIRE"),
        ("9", "Altri motivi (descritti dal comune)"),
        ("10", "Ripristino della posizione precedente"),
    )),
    _authored("tipo_certificato", "013", "Tipi di certificato", (
        ("1", "Anagrafico di nascita"),
        ("2", "Anagrafico di morte"),
        ("5", "Di cittadinanza"),
        ("7", "Di esistenza in vita"),
        ("8", "Di residenza"),
        ("9", "Storico di residenza"),
        ("11", "Di stato civile"),
        ("12", "Di stato di famiglia"),
        ("16", "Di stato di famiglia con i rapporti di parentela"),
        ("17", "Di stato libero"),
    )),
    _authored("motivi_cancellazione", "015", "Motivi di cancellazione dall'anagrafe", (
        ("1", "Morte accertata"),
        ("2", "Morte presunta dichiarata dal giudice"),
        ("3", "Trasferimento in un comune non subentrato"),
        ("5", "Trasferimento all'estero di un cittadino straniero"),
        ("6", "Irreperibilità"),
        ("7", "Mancato rinnovo della dichiarazione di dimora abituale"),
        ("10", "Doppia iscrizione"),
        ("13", "Altro motivo"),
    )),
    _authored("tipi_mutazione", "036", "Tipi di mutazione", (
        ("1", "Dati anagrafici o codice fiscale"),
        ("2", "Cittadinanza"),
        ("3", "Carta d'identità"),
        ("4", "Permesso di soggiorno"),
        ("9", "Domicilio digitale"),
        ("12", "Matrimonio"),
        ("13", "Vedovanza"),
        ("16", "Convivenza di fatto"),
        ("18", "Unione civile"),
        ("22", "Dati del decesso"),
    )),
)  # fmt: skip


def _day(value: date) -> str:
    return "" if value in (date.min, date.max) else value.isoformat()


def _yes_no(flag: bool) -> str:
    return "S" if flag else "N"


def _stati() -> Table:
    columns = ("CODMIN", "CODAT", "DENOMINAZIONE", "DATAINIZIOVALIDITA", "DATAFINEVALIDITA",
               "CITTADINANZA", "NASCITA", "RESIDENZA")  # fmt: skip
    rows = tuple(
        (
            s.code,
            s.cadastral,
            s.name,
            _day(s.valid_from),
            _day(s.valid_to),
            _yes_no(s.citizenship),
            _yes_no(s.birth),
            _yes_no(s.residence),
        )
        for s in StatiTable.sample()
    )
    return Table("stati_esteri", "002", "Stati esteri", columns, rows, key="CODMIN",
                 source="anpr_client.validation.stati sample")  # fmt: skip


def _comuni() -> Table:
    text = io.StringIO()
    ComuniTable.sample().write_csv(text)
    header, *rows = csv.reader(io.StringIO(text.getvalue()))
    return Table("comuni", "003", "Comuni", tuple(header), tuple(tuple(r) for r in rows),
                 key="CODISTAT", source="anpr_client.validation.comuni sample")  # fmt: skip


def _specie() -> Table:
    columns = ("ID", "DESCRIZIONE", "DESCRIZIONETRASLITTERATA", "DATAINIZIOVALIDITA",
               "DATAFINEVALIDITA")  # fmt: skip
    rows = tuple(
        (s.code, s.name, s.transliterated, _day(s.valid_from), _day(s.valid_to))
        for s in sorted(SpeciesTable.sample(), key=lambda s: int(s.code))
    )
    return Table("specie_toponimo", "004", "Specie toponimo", columns, rows,
                 source="anpr_client.validation.toponyms sample")  # fmt: skip


@functools.cache
def _all() -> Mapping[str, Table]:
    tables = sorted((*_AUTHORED, _stati(), _comuni(), _specie()), key=lambda t: t.id)
    return MappingProxyType({t.name: t for t in tables})


class _Tables(Mapping[str, Table]):
    """Read-only name → table mapping, built on first use (it reads the validators' samples)."""

    def __getitem__(self, name: str) -> Table:
        return _all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_all())

    def __len__(self) -> int:
        return len(_all())

    def __repr__(self) -> str:
        return f"<reference tables {', '.join(self)}>"


TABLES: Final[Mapping[str, Table]] = _Tables()
"""Every table the simulator serves, by name, in the order of ANPR's numbers."""


def table_names() -> tuple[str, ...]:
    """The names of the tables, in the order of ANPR's numbers."""
    return tuple(TABLES)


def find_table(name_or_id: str) -> Table | None:
    """The table called ``name_or_id``, or numbered so (``1``, ``001``); ``None`` if none."""
    key = name_or_id.strip()
    if key in TABLES:
        return TABLES[key]
    if key.isdigit() and len(key) <= 3:
        return next((t for t in TABLES.values() if t.id == key.zfill(3)), None)
    return None


def get_table(name_or_id: str) -> Table:
    """Like :func:`find_table`, but raises :class:`~anpr_client.errors.ConfigurationError`
    for an unknown table."""
    table = find_table(name_or_id)
    if table is None:
        raise ConfigurationError(
            f"no reference table {name_or_id!r}; known: "
            + ", ".join(f"{t.id} {t.name}" for t in TABLES.values()),
            setting=_SETTING,
            rule="known table",
        )
    return table


def render_table(name_or_id: str, fmt: Literal["csv"] = "csv") -> bytes:
    """The table as a file, as the 7001 service returns it: UTF-8 CSV, comma separated, with a
    header row of ANPR's column names."""
    table = get_table(name_or_id)
    if fmt != "csv":
        raise ConfigurationError(
            f"unsupported table format {fmt!r}; only 'csv'", setting=_SETTING, rule="format"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue().encode("utf-8")
