"""A minimal, valid PDF certificate for the simulator's 6001 service.

:func:`render_certificate` writes the PDF objects itself (no dependency): a catalog, a page tree,
one A4 page per 40 lines or so, an uncompressed content stream per page drawn with the standard
Helvetica fonts (which every reader has, so nothing is embedded), an info dictionary, and a
cross-reference table whose offsets are exact. The output is deterministic: the same arguments
give the same bytes (the creation date is ``issued_at``, and there is no random file id).

Text is Latin-1 (the fonts use WinAnsiEncoding): typographic quotes and dashes become their
ASCII forms, accented letters outside Latin-1 lose their accent (``Ł`` → ``L``), anything else
becomes ``?``. Long values wrap. Every page says the document is a simulation without legal
value.

>>> from datetime import datetime
>>> pdf = render_certificate(title="Certificato di residenza", comune="ROMA",
...     lines=[("Cognome", "ROSSI"), ("Nome", "MARIO")],
...     issued_at=datetime(2025, 1, 2, 10, 30), certificate_id="SIM-1")
>>> pdf[:8], pdf.rstrip()[-5:]
(b'%PDF-1.4', b'%%EOF')
"""

from __future__ import annotations

import itertools
import textwrap
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Final

__all__ = ["PAGE_SIZE", "pdf_literal", "render_certificate", "to_latin1"]

PAGE_SIZE: Final = (595, 842)
"""A4 in points."""

_MARGIN: Final = 56
_LABEL_X: Final = 56
_VALUE_X: Final = 230
_LABEL_CHARS: Final = 28
"""Characters of a label per line (bold 11 pt, about 6 pt a character)."""
_VALUE_CHARS: Final = 56
"""Characters of a value per line (Helvetica 11 pt averages about 5.5 pt a character)."""
_LINE: Final = 16
_TOP_BODY: Final = 690
_BOTTOM_BODY: Final = 120
_PRODUCER: Final = "anpr-client ANPR simulator"
_NOTICE: Final = (
    "Documento generato dal simulatore ANPR di anpr-client: dati fittizi, senza valore legale."
)

_ASCII_FORMS: Final = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u2026": "...", "\u20ac": "EUR", "\u00a0": " ", "\u2022": "*", "\u00b7": ".",
    "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0152": "OE", "\u0153": "oe",
    "\u0131": "i", "\u00df": "ss",
}  # fmt: skip


def to_latin1(text: str) -> str:
    """``text`` with only printable Latin-1 characters (see the module docstring).

    >>> to_latin1("Nicolò Łukasz “Zoë” – 5 €\\tok")
    'Nicolò Lukasz "Zoë" - 5 EUR ok'
    """
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F or (0xA1 <= code <= 0xFF and ch not in _ASCII_FORMS):
            out.append(ch)
        elif ch in _ASCII_FORMS:
            out.append(_ASCII_FORMS[ch])
        elif ch in "\t\r\n\f\v":
            out.append(" ")
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", ch)
                if not unicodedata.combining(c) and 0x20 <= ord(c) <= 0xFF
            )
            out.append(base or "?")
    return "".join(out)


def pdf_literal(text: str) -> bytes:
    """``text`` as a PDF literal string, parentheses included: Latin-1, ``\\ ( )`` escaped,
    bytes above 126 written as octal escapes (so the file body stays 7-bit).

    >>> pdf_literal("a(b)\\\\c è")
    b'(a\\\\(b\\\\)\\\\\\\\c \\\\350)'
    """
    out = bytearray(b"(")
    for byte in to_latin1(text).encode("latin-1"):
        if byte in b"\\()":
            out += b"\\" + bytes([byte])
        elif byte > 126:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _pdf_date(moment: datetime) -> str:
    stamp = moment.strftime("D:%Y%m%d%H%M%S")
    offset = moment.utcoffset()
    if offset is None:
        return stamp
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{stamp}{sign}{minutes // 60:02d}'{minutes % 60:02d}'"


def _text(x: float, y: float, font: str, size: int, text: str) -> bytes:
    return b"BT /%s %d Tf %g %g Td %s Tj ET\n" % (font.encode(), size, x, y, pdf_literal(text))


def _rows(lines: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """One (label, value) per printed line: long labels and values wrap in their column."""
    rows: list[tuple[str, str]] = []
    for label, value in lines:
        labels = textwrap.wrap(to_latin1(label), _LABEL_CHARS)
        values = textwrap.wrap(to_latin1(value), _VALUE_CHARS)
        rows.extend(itertools.zip_longest(labels, values, fillvalue="") if labels or values
                    else [("", "")])  # fmt: skip
    return rows


def _page(
    *,
    title: str,
    comune: str,
    certificate_id: str,
    issued: str,
    rows: Sequence[tuple[str, str]],
    number: int,
    pages: int,
) -> bytes:
    width, _ = PAGE_SIZE
    right = width - _MARGIN
    parts = [
        _text(_MARGIN, 780, "F2", 12, "ANAGRAFE NAZIONALE DELLA POPOLAZIONE RESIDENTE (simulata)"),
        _text(_MARGIN, 760, "F2", 14, f"COMUNE DI {comune.upper()}"),
        b"0.5 w %d 748 m %d 748 l S\n" % (_MARGIN, right),
        _text(_MARGIN, 722, "F2", 16, title),
        _text(_MARGIN, 704, "F1", 10, f"Certificato n. {certificate_id}"),
    ]
    y = _TOP_BODY - 14
    for label, value in rows:
        if label:
            parts.append(_text(_LABEL_X, y, "F2", 11, label))
        parts.append(_text(_VALUE_X, y, "F1", 11, value))
        y -= _LINE
    parts += [
        b"0.5 w %d 100 m %d 100 l S\n" % (_MARGIN, right),
        _text(_MARGIN, 84, "F1", 10, f"Rilasciato il {issued}"),
        _text(_MARGIN, 70, "F1", 8, _NOTICE),
        _text(right - 60, 84, "F1", 10, f"Pagina {number} di {pages}"),
    ]
    return b"".join(parts)


def render_certificate(
    *,
    title: str,
    comune: str,
    lines: Sequence[tuple[str, str]],
    issued_at: datetime,
    certificate_id: str,
) -> bytes:
    """A PDF certificate: ``title`` issued by ``comune`` with ``lines`` of (label, value).

    ``issued_at`` is printed and used as the document's creation date; ``certificate_id`` is
    printed on each page. Returns the bytes of the file.
    """
    rows = _rows(lines)
    per_page = (_TOP_BODY - 14 - _BOTTOM_BODY) // _LINE + 1
    chunks = [rows[i : i + per_page] for i in range(0, len(rows), per_page)] or [[]]
    issued = issued_at.strftime("%d/%m/%Y %H:%M")

    # Object numbers: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then page + content pairs.
    page_ids = [6 + 2 * i for i in range(len(chunks))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % n for n in page_ids), len(chunks)),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
        b"/Encoding /WinAnsiEncoding >>",
        5: b"<< /Title %s /Subject %s /Producer %s /CreationDate %s >>"
        % (
            pdf_literal(title),
            pdf_literal(f"{title} n. {certificate_id} - Comune di {comune}"),
            pdf_literal(_PRODUCER),
            pdf_literal(_pdf_date(issued_at)),
        ),
    }
    width, height = PAGE_SIZE
    for number, (page_id, chunk) in enumerate(zip(page_ids, chunks, strict=True), 1):
        stream = _page(
            title=title,
            comune=comune,
            certificate_id=certificate_id,
            issued=issued,
            rows=chunk,
            number=number,
            pages=len(chunks),
        )
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % (width, height, page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number in range(1, len(objects) + 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n\r\n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
