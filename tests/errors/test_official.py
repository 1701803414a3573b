"""Reading the user's copy of ANPR's official error table (xlsx or CSV)."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anpr_client.errors.catalogue import _official, load_official
from anpr_client.errors.exceptions import ConfigurationError

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _xlsx(
    path: Path, sheet: str, strings: str | None = None, *, target: str = "worksheets/data.xml"
) -> Path:
    workbook = (
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        '<sheet name="Errors" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/worksheet" '
        f'Target="{target}"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/" + target, sheet)
        if strings is not None:
            zf.writestr("xl/sharedStrings.xml", strings)
    return path


def _sheet(rows: str) -> str:
    return f'<worksheet xmlns="{_MAIN}"><sheetData>{rows}</sheetData></worksheet>'


def test_the_official_spreadsheet(reference_dir: Path) -> None:
    xlsx = reference_dir / "tables" / "xlsx" / "tab_elenco_errori_anpr.xlsx"
    if not xlsx.is_file():
        pytest.skip(f"{xlsx} not present")
    table = load_official(xlsx)
    assert len(table) == 791  # the 2018-05-07 edition
    with (reference_dir / "errors.csv").open(encoding="utf-8", newline="") as fh:
        derived = {r["code"]: r for r in csv.DictReader(fh)}
    for code, entry in table.items():
        assert code in derived
        assert entry.message == derived[code]["message"], code
        assert (entry.severity_servizi or "") == derived[code]["severity_servizi"], code
        assert (entry.reference_table or "") == derived[code]["reference_table"], code


def test_the_older_full_table_with_two_severity_columns(reference_dir: Path) -> None:
    xlsx = reference_dir / "tables" / "xlsx" / "tab_errori_agenzia_entrate.xlsx"
    if not xlsx.is_file():
        pytest.skip(f"{xlsx} not present")
    table = load_official(xlsx)
    assert table["EA001"].severity_subentro == "W"
    assert table["EC007"].severity_subentro == "W"
    assert table["EC007"].severity_servizi == "E"


def test_a_csv_export(reference_dir: Path) -> None:
    table = load_official(reference_dir / "errors.csv")
    assert len(table) == 853
    assert table["EN122"].severity_servizi == "E"
    assert table["EN122"].message


def test_a_semicolon_cp1252_export_with_italian_headers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Codice esito;Descrizione;Tabella riferimento;Servizi\r\n"
        "EC001;Testo di prova perché sì;Tabella 1;E\r\n"
        ";;;\r\n"
        "en122;Altro testo;;E\r\n".encode("cp1252")
    )
    table = load_official(path)
    assert set(table) == {"EC001", "EN122"}
    assert table["EC001"].message == "Testo di prova perché sì"
    assert table["EC001"].reference_table == "Tabella 1"


def test_a_minimal_workbook_with_shared_inline_and_rich_strings(tmp_path: Path) -> None:
    strings = (
        f'<sst xmlns="{_MAIN}"><si><t>Codice esito</t></si><si><t>Descrizione</t></si>'
        "<si><r><t>first </t></r><r><t>part</t></r><rPh><t>skip</t></rPh></si>"
        "<si><t>EN122</t></si></sst>"
    )
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>3</v></c><c r="C2" t="s"><v>2</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>ES003</t></is></c>'
        '<c r="C3" t="inlineStr"><is><t>inline text</t></is></c></row>'
        '<row r="4"><c r="A4" t="s"><v>99</v></c><c r="C4"><v>12</v></c></row>'
    )
    table = load_official(_xlsx(tmp_path / "t.xlsx", _sheet(rows), strings))
    assert set(table) == {"EN122", "ES003"}
    assert table["EN122"].message == "first part"
    assert table["ES003"].message == "inline text"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "no header row"),
        (b"just,some\ncsv,text\n", "no header row"),
        (b"code,message\n", "no error codes"),
        (b"\x00\x01\x02binary", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", ".xls"),
        (b"PK\x03\x04broken zip", "not a readable xlsx"),
        (bytes(range(0x80, 0xA0)) * 4, "not a CSV or xlsx"),
    ],
)
def test_bad_files_give_a_configuration_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "official"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        load_official(path)
    assert problem in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.setting == "official"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_official(tmp_path / "nope.xlsx")
    with pytest.raises(ConfigurationError, match="not a file"):
        load_official(tmp_path)


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ConfigurationError, match=r"no xl/workbook\.xml"):
        load_official(path)


def test_a_workbook_whose_sheet_is_missing(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "t.xlsx", _sheet(""))
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist() if "worksheets" not in n}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    with pytest.raises(ConfigurationError, match="missing"):
        load_official(path)


def test_entities_in_the_workbook_are_refused(tmp_path: Path) -> None:
    evil = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<sst xmlns="{_MAIN}"><si><t>&e;</t></si></sst>'
    )
    path = _xlsx(tmp_path / "t.xlsx", _sheet(""), evil)
    with pytest.raises(ConfigurationError) as info:
        load_official(path)
    assert "root:" not in str(info.value)


def test_oversized_parts_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>code</t></is></c></row>' * 50
    path = _xlsx(tmp_path / "t.xlsx", _sheet(rows))
    monkeypatch.setattr(_official, "MAX_PART_BYTES", 200)
    with pytest.raises(ConfigurationError, match="too large"):
        load_official(path)


def test_oversized_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    buf = io.StringIO()
    buf.write("code,message\n" + "EN122,x\n" * 100)
    path.write_text(buf.getvalue())
    monkeypatch.setattr(_official, "MAX_FILE_BYTES", 100)
    with pytest.raises(ConfigurationError, match="too large"):
        load_official(path)


_xml_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=80
)


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_a_foreign_exception(content: bytes) -> None:
    _load_or_configuration_error(content)


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=300))
def test_arbitrary_zips_never_escape_as_a_foreign_exception(content: bytes) -> None:
    _load_or_configuration_error(b"PK\x03\x04" + content)


@settings(max_examples=60, deadline=None)
@given(sheet=_xml_text, strings=_xml_text, target=st.sampled_from(["worksheets/s.xml", "/x/y.xml"]))
def test_arbitrary_workbook_parts_never_escape(sheet: str, strings: str, target: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="a" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Target="{target}"/>'
            "</Relationships>",
        )
        zf.writestr("xl/worksheets/s.xml", _sheet(sheet) if sheet.isalnum() else sheet)
        zf.writestr("xl/sharedStrings.xml", strings)
    _load_or_configuration_error(buf.getvalue())


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_xml_text, max_size=5), max_size=8))
def test_arbitrary_csv_never_escapes(rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows([["code", "message"], *rows])
    _load_or_configuration_error(buf.getvalue().encode("utf-8"))


def _load_or_configuration_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "official"
        path.write_bytes(content)
        try:
            table = load_official(path)
        except ConfigurationError:
            return
    assert table
    assert all(isinstance(e.message, str) for e in table.values())


def _damaged(tmp_path: Path, damage: str) -> Path:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>code</t></is></c></row>' * 40
    path = tmp_path / "t.xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", f'<workbook xmlns="{_MAIN}"><sheets/></workbook>')
        zf.writestr("xl/worksheets/sheet1.xml", _sheet(rows))
    data = bytearray(buf.getvalue())
    if damage == "encrypted":  # set the 'encrypted' flag in every central directory entry
        at = data.find(b"PK\x01\x02")
        while at >= 0:
            data[at + 8] |= 1
            at = data.find(b"PK\x01\x02", at + 4)
    else:  # flip bytes inside the first member's compressed data
        for i in range(40, 60):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", ["encrypted", "corrupt"])
def test_damaged_workbooks_give_a_configuration_error(tmp_path: Path, damage: str) -> None:
    with pytest.raises(ConfigurationError, match="not a readable xlsx"):
        load_official(_damaged(tmp_path, damage))
