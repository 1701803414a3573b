"""Validate a whole registry export, streaming: CSV or JSON Lines in, findings out.

The input is a CSV file with a header row, or a JSON Lines file (one object per line), with
the person fields of :data:`~.rules.PERSON_FIELDS` as columns/keys: ``codice_fiscale``,
``cognome``, ``nome``, ``sesso`` (M/F), ``data_nascita`` (YYYY-MM-DD), ``luogo_nascita`` (ISTAT
code of an Italian Comune, or ANPR code of a foreign state) and optionally ``cittadinanza``,
``indirizzo``, ``numero_civico``, ``comune_residenza``. Other names are mapped with a TOML
file (:meth:`ColumnMapping.from_toml`)::

    [columns]            # our name = the column in your file
    codice_fiscale = "CF"
    cognome = "COGNOME"
    data_nascita = "DT_NASCITA"

    [format]             # all optional
    date = "%d/%m/%Y"    # how your dates are written (strptime)
    delimiter = ";"      # default: guessed from the header
    encoding = "cp1252"  # default: utf-8 (with or without BOM)

Records are read, checked and reported one at a time, so memory stays flat whatever the size
of the file (findings go to the report writer, which spools them to disk). Rows are numbered
from 1, the header excluded. A row that cannot be read (wrong number of CSV fields, a line
that is not a JSON object) gets one ``INPUT`` finding and is copied unchanged by ``--fix``;
a file that cannot be used at all (missing, undecodable, no header, required columns missing)
raises :class:`~anpr_client.errors.ConfigurationError` naming ``input``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Final

from .._text import decode_utf8
from ..errors.exceptions import ConfigurationError, Finding
from .normalise import Change, Policy, normalise_record
from .report import ReportWriter, RuleTally, writable
from .rules import PERSON_FIELDS, PersonChecker

if TYPE_CHECKING:
    from _csv import Writer

__all__ = [
    "REQUIRED_COLUMNS",
    "BatchResult",
    "ColumnMapping",
    "CsvLayout",
    "Record",
    "detect_format",
    "read_records",
    "validate_file",
]

#: Columns the input must have (the rest of :data:`PERSON_FIELDS` is optional).
REQUIRED_COLUMNS: Final = (
    "codice_fiscale",
    "cognome",
    "nome",
    "sesso",
    "data_nascita",
    "luogo_nascita",
)
_SETTING: Final = "input"
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_PROGRESS_EVERY: Final = 2048

Progress = Callable[[int, int], None]
"""Called with (bytes read, total bytes) now and then."""


@dataclass(frozen=True)
class ColumnMapping:
    """Where each person field is in the input, and how the input is written."""

    columns: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({f: f for f in PERSON_FIELDS})
    )
    """Our field name → the column (CSV) or key (JSON Lines) in the file."""
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8-sig"

    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMapping:
        """A mapping from a TOML file (``[columns]`` and optional ``[format]`` tables)."""
        try:
            text = decode_utf8(
                Path(path).read_bytes(), str(path), setting="columns", kind="the column mapping"
            )
            data = tomllib.loads(text)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the column mapping {str(path)!r}: {exc.strerror or exc}",
                setting="columns",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(
                f"the column mapping {str(path)!r} is not valid TOML: {exc}", setting="columns"
            ) from None
        columns = data.get("columns", {})
        fmt = data.get("format", {})
        unknown = sorted(set(data) - {"columns", "format"})
        if not isinstance(columns, dict) or not isinstance(fmt, dict) or unknown:
            raise ConfigurationError(
                "the column mapping has [columns] and [format] tables only", setting="columns"
            )
        bad = sorted(
            k for k, v in columns.items() if k not in PERSON_FIELDS or not isinstance(v, str)
        )
        if bad:
            raise ConfigurationError(
                f"unknown field(s) or non-text column names in [columns]: {', '.join(bad)}; "
                f"the fields are {', '.join(PERSON_FIELDS)}",
                setting="columns",
            )
        merged = {f: f for f in PERSON_FIELDS}
        merged.update(columns)
        extra = sorted(set(fmt) - {"date", "delimiter", "encoding"})
        if extra:
            raise ConfigurationError(
                f"unknown [format] option(s): {', '.join(extra)}", setting="columns"
            )
        delimiter = fmt.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise ConfigurationError("[format] delimiter is one character", setting="columns")
        encoding = fmt.get("encoding", "utf-8-sig")
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            raise ConfigurationError(f"unknown encoding {encoding!r}", setting="columns") from None
        return cls(MappingProxyType(merged), fmt.get("date"), delimiter, encoding)


@dataclass(slots=True)
class Record:
    """One input row: its number, the person fields (``None`` if unreadable), the raw row."""

    row: int
    values: dict[str, str] | None
    raw: list[str] | dict[str, object] | str
    problem: str = ""


@dataclass
class BatchResult:
    """What a batch run found."""

    records: int = 0
    summary: dict[str, int] = field(default_factory=dict)
    """Findings by predicted code."""
    blocking: int = 0
    warnings: int = 0
    changes: int = 0
    """Normalisation changes written by ``fix`` (0 without it)."""
    sample_tables: bool = False
    """The checks ran on the bundled samples (unknown codes not reported)."""
    rules: list[RuleTally] = field(default_factory=list)
    """The findings by check (code and rule, one meaning each) with their rows, the most
    frequent first."""

    @property
    def exit_code(self) -> int:
        """0 no blocking finding, 1 blocking findings."""
        return 1 if self.blocking else 0


def _format_of(path: Path, head: bytes) -> str:
    if path.suffix.lower() in _JSONL_SUFFIXES:
        return "jsonl"
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return "csv"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def _open(path: Path) -> tuple[IO[bytes], int]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {str(path)!r}: {exc.strerror or exc}", setting=_SETTING
        ) from None
    return raw, os.fstat(raw.fileno()).st_size


@dataclass
class CsvLayout:
    """The header and delimiter of a CSV input, filled in by :func:`read_records`."""

    header: list[str] = field(default_factory=list)
    delimiter: str = ","


def detect_format(path: str | Path) -> str:
    """``csv`` or ``jsonl``: by the file name, else by the first character."""
    path = Path(path)
    raw, _ = _open(path)
    with raw:
        return _format_of(path, raw.read(4096))


def read_records(
    path: str | Path,
    mapping: ColumnMapping | None = None,
    *,
    progress: Progress | None = None,
    layout: CsvLayout | None = None,
) -> Iterator[Record]:
    """The records of a CSV or JSON Lines file, one at a time (see the module documentation).

    ``layout``, if given, receives the CSV header and delimiter once the header is read.
    """
    for row, values, raw, problem in _rows(
        Path(path),
        mapping or ColumnMapping(),
        progress,
        layout if layout is not None else CsvLayout(),
    ):
        yield Record(row, values, raw, problem)


_Row = tuple[int, dict[str, str] | None, list[str] | dict[str, object] | str, str]
"""What :class:`Record` holds, as a tuple: :func:`validate_file` reads the rows without
building a ``Record`` for each (a Python ``__init__`` call per row)."""


def _rows(
    path: Path, mapping: ColumnMapping, progress: Progress | None, layout: CsvLayout
) -> Iterator[_Row]:
    """The rows of :func:`read_records`; a CSV row is read in this one generator (no
    ``yield from`` between the reader and its caller: a frame less to resume per row)."""
    fmt = detect_format(path)
    raw, size = _open(path)
    with raw:
        if fmt == "jsonl":
            yield from _jsonl(raw, size, mapping, progress)
            return
        with io.TextIOWrapper(raw, encoding=mapping.encoding, newline="") as text:
            reader, names, index, width = _csv_header(text, mapping, layout)
            row = 0
            date_format = mapping.date_format
            # the header's first columns are the fields in our order: one dict display
            to_values = (
                _first_cells(tuple(names))
                if [i for _, i in index] == list(range(len(index)))
                else None
            )
            try:
                for cells in reader:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    row += 1
                    if progress is not None and row % _PROGRESS_EVERY == 0:
                        progress(raw.tell(), size)
                    if len(cells) != width:
                        yield row, None, cells, f"{len(cells)} fields, the header has {width}"
                        continue
                    if to_values is not None:
                        values = to_values(cells)
                    else:
                        values = {name: cells[i] for name, i in index}
                    if date_format and values.get("data_nascita"):
                        values["data_nascita"] = _iso_date(values["data_nascita"], date_format)
                    yield row, values, cells, ""
            except UnicodeDecodeError as exc:
                raise _decoding_error(exc, row + 1, mapping) from None
            except csv.Error as exc:
                raise ConfigurationError(
                    f"unreadable CSV at row {row + 1}: {exc}", setting=_SETTING
                ) from None
            if progress is not None:
                progress(size, size)


@functools.lru_cache(maxsize=16)
def _first_cells(names: tuple[str, ...]) -> Callable[[list[str]], dict[str, str]]:
    """A function giving ``{names[0]: cells[0], names[1]: cells[1], …}`` (the cells past them,
    other columns, left out): a dict display with constant keys, which builds the dict in one
    step, twice as fast as ``dict(zip(names, cells))`` per row. The names are our own field
    names (:data:`PERSON_FIELDS`), written as literals: nothing of the file's goes into the code.
    """
    assert set(names) <= set(PERSON_FIELDS), names  # the caller passes ours, never the file's
    items = ", ".join(f"{name!r}: cells[{i}]" for i, name in enumerate(names))
    built: Callable[[list[str]], dict[str, str]] = eval(f"lambda cells: {{{items}}}")  # noqa: S307
    return built


def _decoding_error(
    exc: UnicodeDecodeError, row: int, mapping: ColumnMapping
) -> ConfigurationError:
    return ConfigurationError(
        f"the file is not {mapping.encoding} text (row {row}: {exc.reason}); "
        "set [format] encoding in the column mapping (e.g. cp1252)",
        setting=_SETTING,
    )


def _csv_header(
    text: io.TextIOWrapper, mapping: ColumnMapping, layout: CsvLayout
) -> tuple[Iterator[list[str]], list[str], list[tuple[str, int]], int]:
    """Read the header: the reader of the rows after it, our fields found in it (names, and
    each with its column), and the number of columns."""
    try:
        first = text.readline()
    except UnicodeDecodeError as exc:
        raise _decoding_error(exc, 0, mapping) from None
    if not first.strip():
        raise ConfigurationError("the file is empty (a header row is expected)", setting=_SETTING)
    delimiter = mapping.delimiter or max((",", ";", "\t", "|"), key=first.count)
    header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([first], delimiter=delimiter))]
    layout.header, layout.delimiter = header, delimiter
    position = {name: i for i, name in enumerate(header)}
    missing = [
        f"{mapping.columns.get(c, c)!r}"
        for c in REQUIRED_COLUMNS
        if mapping.columns.get(c, c) not in position
    ]
    if missing:
        raise ConfigurationError(
            f"the header lacks the column(s) {', '.join(missing)} "
            f"(found: {', '.join(header) or 'none'}); map other names with --columns",
            setting=_SETTING,
        )
    index = [
        (name, position[mapping.columns.get(name, name)])
        for name in PERSON_FIELDS
        if mapping.columns.get(name, name) in position
    ]
    return csv.reader(text, delimiter=delimiter), [n for n, _ in index], index, len(header)


def _iso_date(value: str, fmt: str) -> str:
    try:
        return datetime.strptime(value.strip(), fmt).date().isoformat()
    except ValueError:
        return value  # left as written: the date check reports it


def _jsonl(
    raw: IO[bytes], size: int, mapping: ColumnMapping, progress: Progress | None
) -> Iterator[_Row]:
    row = 0
    keys = [(name, mapping.columns.get(name, name)) for name in PERSON_FIELDS]
    date_format = mapping.date_format
    done = 0
    for line in raw:
        done += len(line)
        try:
            text = line.decode(mapping.encoding)
        except UnicodeDecodeError as exc:
            raise _decoding_error(exc, row + 1, mapping) from None
        if not text.strip():
            continue
        row += 1
        if progress is not None and row % _PROGRESS_EVERY == 0:
            progress(done, size)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield row, None, text, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        if not isinstance(obj, dict):
            yield row, None, text, "not a JSON object"
            continue
        values: dict[str, str] = {}
        for name, key in keys:
            value = obj.get(key)
            if value is None:
                continue
            values[name] = (
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            )
        if date_format and values.get("data_nascita"):
            values["data_nascita"] = _iso_date(values["data_nascita"], date_format)
        yield row, values, obj, ""
    if progress is not None:
        progress(size, size)


class _FixWriter:
    """Writes the normalised copy and the change log (atomically, on success)."""

    def __init__(self, target: Path, fmt: str, mapping: ColumnMapping):
        self.target = target
        self.log_path = target.with_name(f"{target.stem}.changes.csv")
        self.fmt = fmt
        self.mapping = mapping
        writable(target, "fix")
        self._tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finish/abort
            "w", encoding="utf-8", newline="", dir=target.parent, delete=False, suffix=".part"
        )
        self._log_tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finish/abort
            "w", encoding="utf-8", newline="", dir=target.parent, delete=False, suffix=".part"
        )
        self._rows: Writer | None = None
        self._log = csv.writer(self._log_tmp, lineterminator="\n")
        self._log.writerow(["row", "field", "before", "after", "rule"])
        self.changes = 0

    def header(self, header: list[str], delimiter: str) -> None:
        self._rows = csv.writer(self._tmp, delimiter=delimiter, lineterminator="\n")
        self._rows.writerow(header)

    def write(
        self, record: Record, header: list[str], changes: list[Change], fixed: dict[str, str] | None
    ) -> None:
        columns = self.mapping.columns
        for change in changes:
            self._log.writerow(
                [
                    record.row,
                    columns.get(change.field, change.field),
                    change.before,
                    change.after,
                    change.rule,
                ]
            )
        self.changes += len(changes)
        if self.fmt == "csv":
            assert self._rows is not None
            cells = list(record.raw) if isinstance(record.raw, list) else []
            if fixed is not None and changes:
                position = {name: i for i, name in enumerate(header)}
                for change in changes:
                    cells[position[columns.get(change.field, change.field)]] = fixed[change.field]
            self._rows.writerow(cells)
        elif isinstance(record.raw, dict):
            obj = dict(record.raw)
            if fixed is not None:
                for change in changes:
                    obj[columns.get(change.field, change.field)] = fixed[change.field]
            self._tmp.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            self._tmp.write(str(record.raw).rstrip("\r\n") + "\n")

    def finish(self) -> None:
        self._tmp.close()
        self._log_tmp.close()
        os.replace(self._tmp.name, self.target)
        os.replace(self._log_tmp.name, self.log_path)

    def abort(self) -> None:
        for fh in (self._tmp, self._log_tmp):
            fh.close()
            Path(fh.name).unlink(missing_ok=True)


def validate_file(
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    checker: PersonChecker | None = None,
    report: ReportWriter | None = None,
    fix: str | Path | None = None,
    policy: Policy | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Check every record of ``path``; findings go to ``report``, a normalised copy to ``fix``.

    Returns the counts. ``fix`` also writes ``<fix stem>.changes.csv`` (row, field, before,
    after, rule: every change, so it can be undone). Findings are those of the data **as
    written**: run again on the fixed copy to see what normalisation solved.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    checker = checker or PersonChecker()
    report = report or ReportWriter(source=str(path))
    policy = policy or Policy()
    result = BatchResult(sample_tables=not (checker.comuni.complete and checker.stati.complete))
    layout = CsvLayout()
    writer: _FixWriter | None = None
    columns = mapping.columns
    check = checker.check
    add = report.add
    header = layout.header
    try:
        fmt = detect_format(path)
        if fix is not None:
            writer = _FixWriter(Path(fix), fmt, mapping)
        row = 0
        for row, values, raw, problem in _rows(path, mapping, progress, layout):
            if values is None:
                add(row, checker.finding("", "row.unreadable", problem))
            else:
                for finding in check(values):
                    add(
                        row,
                        Finding(
                            columns.get(finding.path, finding.path),
                            finding.rule,
                            finding.message,
                            finding.code,
                            finding.severity,
                        )
                        if finding.path in columns
                        else finding,
                    )
            if writer is not None:
                if row == 1 and fmt == "csv":
                    header = layout.header
                    writer.header(header, layout.delimiter)
                record = Record(row, values, raw, problem)
                if values is None:
                    writer.write(record, header, [], None)
                else:
                    fixed, changes = normalise_record(values, policy=policy)
                    writer.write(record, header, changes, fixed)
        result.records = row
        if writer is not None:
            if result.records == 0 and fmt == "csv":
                writer.header(layout.header, layout.delimiter)
            writer.finish()
            result.changes = writer.changes
    except BaseException:
        if writer is not None:
            writer.abort()
        report.abort()
        raise
    summary = report.finish(result.records)
    result.summary = dict(summary.by_code)
    result.blocking = summary.blocking
    result.warnings = summary.warnings
    result.rules = summary.tallies()
    return result
