"""Read ANPR's official error table (the ``.xlsx`` spreadsheet or a CSV export of it).

anpr-client does not ship ANPR's message texts. A user who has the official spreadsheet
(``tab_elenco_errori_anpr.xlsx`` from github.com/italia/anpr) can point the catalogue at it to
see the official wording offline: ``load_official(path)`` or ``--official PATH`` on the CLI.

The xlsx reader is deliberately tiny: an xlsx file is a zip of XML parts; we read the first
worksheet and the shared strings, through the project's hardened XML parser, with size caps.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..exceptions import ConfigurationError, ProtocolError
from ._data import normalize_code

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["OfficialEntry", "load_official"]

#: Largest file accepted, and largest uncompressed xlsx part (a zip bomb guard).
MAX_FILE_BYTES: Final = 32 * 1024 * 1024
MAX_PART_BYTES: Final = 64 * 1024 * 1024

_MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_M: Final = f"{{{_MAIN_NS}}}"
_CELL_REF: Final = re.compile(r"([A-Z]+)(\d*)")
_SETTING: Final = "official"


@dataclass(frozen=True, slots=True)
class OfficialEntry:
    """One row of the official table, as the user's file has it."""

    code: str
    message: str
    severity_subentro: str | None = None
    severity_servizi: str | None = None
    reference_table: str | None = None


def _bad(path: Path, rule: str) -> ConfigurationError:
    return ConfigurationError(
        f"--official {path}: {rule}", setting=_SETTING, rule=rule.split(":")[0]
    )


def load_official(path: str | Path) -> dict[str, OfficialEntry]:
    """The official table in ``path`` (``.xlsx``, or ``.csv`` exported from it), by code.

    Recognises the columns by their headers (Italian as in ANPR's spreadsheet, or the English
    ones of a CSV export such as ``code,message,severity_subentro,…``). Raises
    :class:`~anpr_client.errors.ConfigurationError` naming the file and the problem if the
    file cannot be read or has no code/description columns.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _bad(path, "not a file")
        if size > MAX_FILE_BYTES:
            raise _bad(path, f"too large: {size} bytes (limit {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise _bad(path, f"cannot be read: {exc.strerror or exc}") from None
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _bad(path, "old binary .xls is not supported: save it as .xlsx or CSV")
    if data[:4] == b"PK\x03\x04":
        rows = list(_xlsx_rows(path, data))
    else:
        rows = list(_csv_rows(path, data))
    return _entries(path, rows)


# --------------------------------------------------------------------------------- xlsx


def _xlsx_rows(path: Path, data: bytes) -> Iterator[list[str]]:
    # lxml only for an official xlsx table: importing the catalogue (which every
    # ``import anpr_client`` does) stays free of the XML stack.
    from ...safexml import parse_xml

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())

            def part(name: str) -> etree._Element:
                info = zf.getinfo(name)
                if info.file_size > MAX_PART_BYTES:
                    raise _bad(path, f"part {name} too large")
                with zf.open(info) as fh:
                    raw = fh.read(MAX_PART_BYTES + 1)
                if len(raw) > MAX_PART_BYTES:
                    raise _bad(path, f"part {name} too large")
                return parse_xml(raw, max_bytes=MAX_PART_BYTES)

            if "xl/workbook.xml" not in names:
                raise _bad(path, "not an xlsx workbook: no xl/workbook.xml")
            sheet = _first_sheet(part, names)
            strings: list[str] = []
            if "xl/sharedStrings.xml" in names:
                strings = _shared_strings(part("xl/sharedStrings.xml"))
            root = part(sheet)
    except (
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        EOFError,
        ValueError,
        NotImplementedError,  # an unsupported compression method
        RuntimeError,  # an encrypted member
        OSError,
    ) as exc:
        raise _bad(path, f"not a readable xlsx file: {exc}") from None
    except ProtocolError as exc:
        raise _bad(path, f"not a readable xlsx file: {exc}") from None
    for row in root.iter(f"{_M}row"):
        cells: dict[int, str] = {}
        for cell in row.iter(f"{_M}c"):
            m = _CELL_REF.fullmatch(cell.get("r", ""))
            col = _col_index(m.group(1)) if m else len(cells)
            cells[col] = _cell_text(cell, strings)
        if cells:
            yield [cells.get(i, "") for i in range(max(cells) + 1)]


def _first_sheet(part: Callable[[str], etree._Element], names: set[str]) -> str:
    workbook = part("xl/workbook.xml")
    sheet = workbook.find(f"{_M}sheets/{_M}sheet")
    if sheet is None:
        raise ValueError("the workbook has no sheet")
    rid = sheet.get(f"{{{_REL_NS}}}id")
    target = None
    if rid and "xl/_rels/workbook.xml.rels" in names:
        for rel in part("xl/_rels/workbook.xml.rels").iter(f"{{{_PKG_REL_NS}}}Relationship"):
            if rel.get("Id") == rid:
                target = rel.get("Target")
    if target is None:
        target = "worksheets/sheet1.xml"
    name = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    name = posixpath.normpath(name)
    if name not in names:
        raise ValueError(f"worksheet {name} missing")
    return name


def _shared_strings(root: etree._Element) -> list[str]:
    out = []
    for si in root.iter(f"{_M}si"):
        # plain text (<t>) or rich-text runs (<r><t>); phonetic runs (<rPh>) are skipped
        parts = []
        for child in si:
            if child.tag == f"{_M}t":
                parts.append(child.text or "")
            elif child.tag == f"{_M}r":
                parts.extend(t.text or "" for t in child.iter(f"{_M}t"))
        out.append("".join(parts))
    return out


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _cell_text(cell: etree._Element, strings: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_M}t"))
    v = cell.find(f"{_M}v")
    text = v.text if v is not None and v.text else ""
    if kind == "s":
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            return ""
    return text


# --------------------------------------------------------------------------------- csv


def _csv_rows(path: Path, data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad(path, "not a CSV or xlsx file")
    if "\x00" in text:
        raise _bad(path, "not a CSV file: binary content")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error as exc:
        raise _bad(path, f"not a readable CSV file: {exc}") from None


# --------------------------------------------------------------------------------- columns

_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "code": ("code", "codice esito", "codice", "codice errore"),
    "message": ("message", "descrizione", "messaggio", "testo", "description"),
    "severity_subentro": ("severity_subentro", "subentro"),
    "severity_servizi": ("severity_servizi", "servizi", "severity", "severità"),
    "reference_table": ("reference_table", "tabella riferimento", "tabella di riferimento"),
}


def _norm(header: str) -> str:
    return " ".join(header.strip().lower().split())


def _entries(path: Path, rows: list[list[str]]) -> dict[str, OfficialEntry]:
    columns: dict[str, int] = {}
    start = 0
    for i, row in enumerate(rows[:10]):
        found: dict[str, int] = {}
        for field, names in _HEADERS.items():
            for j, cell in enumerate(row):
                if _norm(cell) in names and j not in found.values():
                    found[field] = j
                    break
        if "code" in found and "message" in found:
            columns, start = found, i + 1
            break
    if not columns:
        raise _bad(path, "no header row with a code and a description column")

    def get(row: list[str], field: str) -> str | None:
        j = columns.get(field)
        if j is None or j >= len(row):
            return None
        value = " ".join(row[j].split())
        return value or None

    out: dict[str, OfficialEntry] = {}
    for row in rows[start:]:
        code = normalize_code(get(row, "code") or "")
        if code is None or code in out:
            continue
        out[code] = OfficialEntry(
            code=code,
            message=get(row, "message") or "",
            severity_subentro=get(row, "severity_subentro"),
            severity_servizi=get(row, "severity_servizi"),
            reference_table=get(row, "reference_table"),
        )
    if not out:
        raise _bad(path, "no error codes found")
    return out
