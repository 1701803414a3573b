"""Reading ANPR reference tables in whatever shape they arrive (internal).

ANPR publishes its tables in several shapes: the comuni archive as a comma-separated UTF-8 CSV
with ISO dates; the decoding tables as ``.xlsx`` workbooks with ``DD/MM/YYYY`` dates (or Excel
day numbers); the 7001 service as files that may be gzip- or zip-compressed, separated by
semicolons, quoted or not, with ``DD-MM-YYYY`` dates (italia/anpr#1418, #2593). This module turns
any of them into rows of ``{COLUMN: text}`` with upper-case column names, and parses their dates.
Nothing here knows what a Comune is.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import ClassVar, Final, Self, cast

from lxml import etree

from ..errors.exceptions import ConfigurationError, ProtocolError
from ..safexml import parse_xml

__all__ = ["MAX_TABLE_BYTES", "ReferenceTable", "parse_table_date", "read_bytes", "read_rows"]

MAX_TABLE_BYTES: Final = 256 * 1024 * 1024
"""Cap on a decompressed table (the full comuni archive is about 2.5 MB)."""

_XLSX_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_EXCEL_EPOCH: Final = date(1899, 12, 30)
_ISO: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_DMY: Final = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: .*)?")
_SERIAL: Final = re.compile(r"\d{1,7}(?:\.0+)?")


def parse_table_date(text: str) -> date | None:
    """A table date: ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``DD-MM-YYYY`` or an Excel day number.

    Empty → ``None``. Raises ``ValueError`` for anything else.

    >>> parse_table_date("1924-11-14"), parse_table_date("14/11/1924"), parse_table_date("9085")
    (datetime.date(1924, 11, 14), datetime.date(1924, 11, 14), datetime.date(1924, 11, 14))
    """
    text = text.strip()
    if not text:
        return None
    try:
        m = _ISO.fullmatch(text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.fullmatch(text)
        if m:
            return date(int(m[3]), int(m[2]), int(m[1]))
        if _SERIAL.fullmatch(text):
            return _EXCEL_EPOCH + timedelta(days=int(float(text)))
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"not a date: {text!r}")


def _inflate(data: bytes, *, wbits: int, setting: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, MAX_TABLE_BYTES + 1)
    except zlib.error as exc:
        raise ConfigurationError(f"corrupt compressed table: {exc}", setting=setting) from None
    if len(out) > MAX_TABLE_BYTES or inflater.unconsumed_tail:
        raise ConfigurationError(
            f"table larger than {MAX_TABLE_BYTES} bytes once decompressed", setting=setting
        )
    if not inflater.eof:
        raise ConfigurationError("corrupt compressed table: truncated", setting=setting)
    return out


def _zip_member(archive: zipfile.ZipFile, name: str, setting: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_TABLE_BYTES:
        raise ConfigurationError(f"{name} in the archive is too large", setting=setting)
    with archive.open(info) as fh:
        data = fh.read(MAX_TABLE_BYTES + 1)
    if len(data) > MAX_TABLE_BYTES:
        raise ConfigurationError(f"{name} in the archive is too large", setting=setting)
    return data


def _xml(data: bytes, setting: str) -> etree._Element:
    try:
        return parse_xml(data, max_bytes=MAX_TABLE_BYTES)
    except ProtocolError as exc:
        raise ConfigurationError(f"unreadable table: {exc}", setting=setting) from None


def _xlsx_rows(archive: zipfile.ZipFile, setting: str) -> Iterator[list[str]]:
    ns = {"m": _XLSX_NS}
    strings: list[str] = []
    if "xl/sharedStrings.xml" in archive.namelist():
        root = _xml(_zip_member(archive, "xl/sharedStrings.xml", setting), setting)
        strings = ["".join(str(t) for t in si.itertext()) for si in root.findall("m:si", ns)]
    sheet = "xl/worksheets/sheet1.xml"
    if (
        "xl/workbook.xml" in archive.namelist()
        and "xl/_rels/workbook.xml.rels" in archive.namelist()
    ):
        book = _xml(_zip_member(archive, "xl/workbook.xml", setting), setting)
        first = book.find("m:sheets/m:sheet", ns)
        rels = _xml(_zip_member(archive, "xl/_rels/workbook.xml.rels", setting), setting)
        if first is not None:
            rid = first.get(f"{{{_REL_NS}}}id")
            for rel in rels.findall(f"{{{_PKG_REL_NS}}}Relationship"):
                if rel.get("Id") == rid:
                    target = rel.get("Target", "").lstrip("/")
                    sheet = target if target.startswith("xl/") else f"xl/{target}"
    if sheet not in archive.namelist():
        raise ConfigurationError("the workbook has no worksheet", setting=setting)
    root = _xml(_zip_member(archive, sheet, setting), setting)
    for row in root.iter(f"{{{_XLSX_NS}}}row"):
        cells: dict[int, str] = {}
        for pos, cell in enumerate(row.findall("m:c", ns)):
            ref = cell.get("r", "")
            letters = "".join(ch for ch in ref if ch.isalpha())
            col = pos
            if letters:
                col = 0
                for ch in letters.upper():
                    col = col * 26 + (ord(ch) - 64)
                col -= 1
            kind = cell.get("t")
            value = cell.find("m:v", ns)
            if kind == "inlineStr":
                inline = cell.find("m:is", ns)
                text = "".join(str(t) for t in inline.itertext()) if inline is not None else ""
            elif value is None or value.text is None:
                text = ""
            elif kind == "s":
                index = int(value.text)
                text = strings[index] if 0 <= index < len(strings) else ""
            else:
                text = value.text
            cells[col] = text
        if cells:
            width = max(cells) + 1
            yield [cells.get(i, "") for i in range(width)]


def _xml_rows(root: etree._Element, columns: Sequence[str]) -> Iterator[list[str]]:
    """Rows of an XML table: the repeated elements whose children are named like columns."""
    wanted = {c.upper() for c in columns}
    header: list[str] | None = None
    for element in root.iter():
        children = [c for c in element if isinstance(c.tag, str)]
        names = [etree.QName(c).localname.upper() for c in children]
        if not children or not wanted.intersection(names):
            continue
        if header is None:
            header = names
            yield header
        values = {etree.QName(c).localname.upper(): (c.text or "") for c in children}
        yield [values.get(name, "") for name in header]


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Windows exports of the same tables are cp1252; every byte decodes.
        return data.decode("cp1252", errors="replace")


def _csv_rows(text: str) -> Iterator[list[str]]:
    first = next((ln for ln in text.splitlines() if ln.strip() and ln[0] != "#"), "")
    delimiter = max((",", ";", "\t", "|"), key=first.count)
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _raw_rows(data: bytes, columns: Sequence[str], setting: str) -> Iterator[list[str]]:
    if data[:2] == b"\x1f\x8b":
        data = _inflate(data, wbits=31, setting=setting)
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise ConfigurationError(f"corrupt zip archive: {exc}", setting=setting) from None
        with archive:
            names = archive.namelist()
            if "xl/workbook.xml" in names or "xl/worksheets/sheet1.xml" in names:
                yield from _xlsx_rows(archive, setting)
                return
            members = [n for n in names if not n.endswith("/")]
            if not members:
                raise ConfigurationError("empty zip archive", setting=setting)
            data = _zip_member(archive, members[0], setting)
            if data[:2] == b"\x1f\x8b":
                data = _inflate(data, wbits=31, setting=setting)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        yield from _xml_rows(_xml(data, setting), columns)
        return
    yield from _csv_rows(_text(data))


def read_rows(
    data: bytes,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    setting: str,
) -> Iterator[dict[str, str]]:
    """Rows of a table as ``{COLUMN: text}`` (upper-case names, values stripped).

    ``columns`` is the table's official column order, used when the file has no header row;
    ``required`` are the columns without which the table is useless. Raises
    :class:`~anpr_client.errors.ConfigurationError` naming ``setting``.
    """
    rows = _raw_rows(data, columns, setting)
    wanted = {c.upper() for c in columns}
    header: list[str] | None = None
    for raw in rows:
        cells = [c.strip() for c in raw]
        if not any(cells) or cells[0].startswith("#"):
            continue  # blank lines and comment lines (our own data files name their source)
        if header is None:
            names = [c.upper().lstrip("\ufeff") for c in cells]
            if wanted.intersection(names):
                header = names
                missing = [c for c in required if c.upper() not in header]
                if missing:
                    raise ConfigurationError(
                        f"the table lacks the column(s) {', '.join(missing)}", setting=setting
                    )
                continue
            if len(cells) < len(required):
                raise ConfigurationError(
                    "the table has no header row and too few columns", setting=setting
                )
            header = [c.upper() for c in columns]
        yield dict(zip(header, cells, strict=False))
    if header is None:
        raise ConfigurationError("the table is empty", setting=setting)


def read_bytes(source: str | Path | bytes, *, setting: str) -> bytes:
    """The bytes of a table given as a path or as bytes."""
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the table {str(source)!r}: {exc.strerror or exc}", setting=setting
        ) from None


class ReferenceTable:
    """What the reference tables (comuni, stati esteri, specie toponimo) share: loading from a
    file, and the small sample shipped with anpr-client. Subclasses set ``SETTING`` (named in
    errors) and ``SAMPLE_FILE`` (in ``validation/data``) and implement ``from_bytes``."""

    SETTING: ClassVar[str]
    SAMPLE_FILE: ClassVar[str]

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<bytes>", complete: bool = True) -> Self:
        raise NotImplementedError

    @classmethod
    def from_file(cls, path: str | Path, *, complete: bool = True) -> Self:
        """A table from a file in the format ANPR publishes."""
        return cls.from_bytes(
            read_bytes(path, setting=cls.SETTING), source=str(path), complete=complete
        )

    @classmethod
    def sample(cls) -> Self:
        """The small table shipped with anpr-client (``complete=False``); shared, read-only."""
        with _samples_lock:
            sample = _samples.get(cls)
            if sample is None:
                data = (resources.files(__package__) / "data" / cls.SAMPLE_FILE).read_bytes()
                sample = _samples[cls] = cls.from_bytes(
                    data, source="anpr-client sample", complete=False
                )
        return cast(Self, sample)


_samples: dict[type[ReferenceTable], ReferenceTable] = {}
_samples_lock = threading.Lock()
