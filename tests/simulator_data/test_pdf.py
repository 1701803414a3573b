"""The simulator's PDF certificates are real PDF files: exact structure, readable text."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from anpr_client.simulator import pdf
from anpr_client.simulator.pdf import pdf_literal, render_certificate, to_latin1

_ISSUED = datetime(2025, 3, 4, 9, 15, tzinfo=timezone(timedelta(hours=1)))
_LINES = [
    ("Cognome", "D'ANGELO"),
    ("Nome", "NICOLÒ"),
    ("Nato a", "ROMA (RM) il 10/12/1985"),
    ("Note", r"uses (parentheses) and a back\slash"),
    ("Residenza", "VIA DELLA LIBERTA' 12, 00184 ROMA"),
]


def _certificate(lines: list[tuple[str, str]] | None = None) -> bytes:
    return render_certificate(
        title="Certificato di residenza",
        comune="Roma",
        lines=_LINES if lines is None else lines,
        issued_at=_ISSUED,
        certificate_id="SIM-000042",
    )


def _xref(data: bytes) -> dict[int, int]:
    """Object number → offset, from the cross-reference table that ``startxref`` points at."""
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)[1])  # type: ignore[index]
    assert data[start : start + 4] == b"xref"
    header = re.match(rb"xref\r?\n(\d+) (\d+)\r?\n", data[start:])
    assert header is not None
    first, count = int(header[1]), int(header[2])
    table = data[start + header.end() :]
    entries = [table[i * 20 : (i + 1) * 20] for i in range(count)]
    assert entries[0] == b"0000000000 65535 f\r\n"
    offsets: dict[int, int] = {}
    for number, entry in enumerate(entries[1:], first + 1):
        assert re.fullmatch(rb"\d{10} 00000 n\r\n", entry), entry
        offsets[number] = int(entry[:10])
    trailer = table[count * 20 :]
    assert re.match(rb"trailer\s*<<.*/Size %d\b.*/Root 1 0 R" % count, trailer, re.S)
    return offsets


def _streams(data: bytes) -> list[bytes]:
    found = []
    for m in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        body = data[m.end() : m.end() + int(m[1])]
        assert data[m.end() + int(m[1]) :].startswith(b"\nendstream")
        found.append(body)
    return found


def test_header_trailer_and_xref_offsets_point_at_the_objects() -> None:
    data = _certificate()
    assert data.startswith(b"%PDF-1.4\n%")
    assert data.rstrip().endswith(b"%%EOF")
    offsets = _xref(data)
    assert len(offsets) == 7  # catalog, pages, 2 fonts, info, page, content
    for number, offset in offsets.items():
        assert data[offset:].startswith(b"%d 0 obj\n" % number), number
    assert b"/Type /Catalog /Pages 2 0 R" in data
    assert b"/BaseFont /Helvetica " in data


def test_the_text_is_in_the_content_stream_escaped() -> None:
    (stream,) = _streams(_certificate())
    assert b"(COMUNE DI ROMA) Tj" in stream
    assert b"(Certificato di residenza) Tj" in stream
    assert b"(D'ANGELO) Tj" in stream
    assert b"(NICOL\\322) Tj" in stream  # Ò is 0xD2 in WinAnsi/Latin-1
    assert rb"(uses \(parentheses\) and a back\\slash) Tj" in stream
    assert b"(Certificato n. SIM-000042) Tj" in stream
    assert b"(Rilasciato il 04/03/2025 09:15) Tj" in stream
    assert b"senza valore legale" in stream
    assert max(stream) < 128  # 7-bit body: Latin-1 goes as octal escapes


def test_info_dictionary_and_determinism() -> None:
    data = _certificate()
    assert b"/CreationDate (D:20250304091500+01'00')" in data
    assert b"/Producer (anpr-client ANPR simulator)" in data
    assert data == _certificate()
    assert data != _certificate([*_LINES, ("Altro", "x")])


def test_long_content_wraps_and_spans_pages() -> None:
    lines = [("Indirizzo", "VIA " + "MOLTO " * 40 + "LUNGA")]
    lines += [(f"Componente {i}", f"PERSONA NUMERO {i}") for i in range(90)]
    data = _certificate(lines)
    offsets = _xref(data)
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 3
    assert b"/Count %d" % pages in data
    for number, offset in offsets.items():
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    text = b"".join(_streams(data))
    assert b"(PERSONA NUMERO 89) Tj" in text
    assert b"(Pagina %d di %d) Tj" % (pages, pages) in text
    assert all(len(m) <= 60 for m in re.findall(rb"\((MOLTO[^)]*)\)", text))


def test_transliteration_keeps_latin1_and_replaces_the_rest() -> None:
    assert to_latin1("Łukasz Wałęsa “Zoë” – 5 € ½") == 'Lukasz Walesa "Zoë" - 5 EUR ½'
    assert to_latin1("ок\x00\n") == "??? "  # Cyrillic and control characters
    assert to_latin1("漢") == "?"
    assert pdf_literal("a(b)\\") == b"(a\\(b\\)\\\\)"
    assert pdf_literal("è") == b"(\\350)"


def test_empty_certificate_is_still_a_valid_pdf() -> None:
    data = _certificate([])
    offsets = _xref(data)
    assert len(offsets) == 7


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("ANPR_REQUIRE_COMPONENTS") == "1":
            pytest.fail(f"{name} is required (ANPR_REQUIRE_COMPONENTS=1): apt-get install {name}")
        pytest.skip(f"{name} not installed (apt-get install poppler-utils qpdf)")
    return path


def test_qpdf_finds_no_error(tmp_path: Path) -> None:
    qpdf = _tool("qpdf")
    target = tmp_path / "certificate.pdf"
    target.write_bytes(_certificate([(f"Riga {i}", "valore") for i in range(70)]))
    result = subprocess.run(
        [qpdf, "--check", str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def test_pdftotext_extracts_the_text(tmp_path: Path) -> None:
    pdftotext = _tool("pdftotext")
    target = tmp_path / "certificate.pdf"
    target.write_bytes(_certificate())
    result = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(target), "-"], capture_output=True, check=True
    )
    text = result.stdout.decode("utf-8")
    expected = ["COMUNE DI ROMA", "Certificato di residenza", "D'ANGELO", "NICOLÒ", "SIM-000042"]
    expected += [r"uses (parentheses) and a back\slash", "04/03/2025 09:15"]
    for part in expected:
        assert part in text, part


def test_doctests() -> None:
    result = doctest.testmod(pdf)
    assert result.attempted > 0
    assert result.failed == 0
