"""The simulator's reference tables: ANPR's numbers and codes, our wording, a readable CSV."""

from __future__ import annotations

import csv
import doctest
import io
import re
import unicodedata
from datetime import date

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.simulator import tables
from anpr_client.simulator.tables import TABLES, find_table, get_table, render_table, table_names
from anpr_client.validation.comuni import ComuniTable
from anpr_client.validation.stati import StatiTable

from .conftest import OfficialRows

# Our table → the official workbook and its code column.
_OFFICIAL = {
    "stato_civile": ("tab_Stato_civile.xlsx", "ID"),
    "relazione_parentela": ("tab_Relazione_di_parentela___Famiglia.xlsx", "ID"),
    "motivi_iscrizione": ("tab_Motivi_di_iscrizione_in_Anagrafe.xlsx", "ID"),
    "tipo_certificato": ("tab_Tipo_di_certificato.xlsx", "ID"),
    "motivi_cancellazione": ("tab_Motivi_di_cancellazione_dall_Anagrafe.xlsx", "ID"),
    "tipi_mutazione": ("tab_Tipi_di_mutazione.xlsx", "CODICE"),
    "specie_toponimo": ("tab_tabella_04___specie_toponimo.xlsx", "ID"),
}
# ANPR's numbers of its decoding tables (italia/anpr src/tab: "Tabella 01 - Stato civile"…).
_ANPR_NUMBERS = {
    "stato_civile": "001",
    "stati_esteri": "002",
    "comuni": "003",
    "specie_toponimo": "004",
    "relazione_parentela": "005",
    "motivi_iscrizione": "007",
    "tipo_certificato": "013",
    "motivi_cancellazione": "015",
    "tipi_mutazione": "036",
}


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    return {w.rstrip("AEIO") for w in re.findall(r"[A-Z]{3,}", plain)}


def test_the_set_has_the_tables_the_simulator_needs_with_anpr_numbers() -> None:
    assert {name: TABLES[name].id for name in TABLES} == _ANPR_NUMBERS
    assert table_names() == tuple(sorted(_ANPR_NUMBERS, key=_ANPR_NUMBERS.__getitem__))
    for table in TABLES.values():
        assert table.rows, table.name
        assert all(len(row) == len(table.columns) for row in table.rows)
        assert table.key in table.columns


@pytest.mark.parametrize("name", sorted(_OFFICIAL))
def test_every_code_and_its_meaning_agree_with_the_official_table(
    name: str, official_rows: OfficialRows
) -> None:
    filename, column = _OFFICIAL[name]
    official = {
        r[column]: r["DESCRIZIONE"]
        for r in official_rows(filename, (column, "DESCRIZIONE"))
        if r.get(column)
    }
    ours = TABLES[name]
    missing = [code for code in ours.codes() if code not in official]
    assert missing == []
    for code in ours.codes():  # same meaning: the descriptions share a significant word
        description = ours.description(code)
        assert description is not None
        assert _words(description) & _words(official[code]), (code, description, official[code])


def test_authored_tables_are_a_subset_not_a_copy(official_rows: OfficialRows) -> None:
    for name, (filename, column) in _OFFICIAL.items():
        if name == "specie_toponimo":
            continue  # comes from the validators' sample
        official = {
            r[column]: r["DESCRIZIONE"] for r in official_rows(filename, (column, "DESCRIZIONE"))
        }
        ours = TABLES[name]
        assert len(ours.rows) < len(official), name
        for code in ours.codes():  # a term ("Nascita") is a fact; a sentence would be a copy
            if len(official[code].split()) >= 4:
                assert ours.description(code) != official[code], (name, code)


def test_foreign_states_agree_with_the_official_table(official_rows: OfficialRows) -> None:
    official = {
        r["CODMIN"]: r["CODAT"]
        for r in official_rows("tab_Stati_Esteri.xlsx", ("CODMIN", "CODAT", "DENOMINAZIONE"))
    }
    table = TABLES["stati_esteri"]
    assert len(table.rows) >= 10
    for record in table.records():
        assert official[record["CODMIN"]] == record["CODAT"], record


def test_state_and_comuni_tables_are_the_validators_samples_and_read_back() -> None:
    comuni = ComuniTable.from_7001(render_table("003"))
    assert list(comuni) == list(ComuniTable.sample())
    roma = comuni.at("058091", date(2025, 1, 1))
    assert roma is not None
    assert roma.cadastral == "H501"
    stati = StatiTable.from_bytes(render_table("stati_esteri"))
    assert {(s.code, s.cadastral, s.birth) for s in stati} == {
        (s.code, s.cadastral, s.birth) for s in StatiTable.sample()
    }


def test_render_table_is_utf8_csv_with_a_header_row() -> None:
    for name, table in TABLES.items():
        data = render_table(name)
        assert data == render_table(table.id) == render_table(str(int(table.id)))
        reader = csv.reader(io.StringIO(data.decode("utf-8")))
        header, *rows = reader
        assert tuple(header) == table.columns
        assert [tuple(r) for r in rows] == list(table.rows)
    assert "Irreperibilità".encode() in render_table("motivi_cancellazione")


def test_lookups() -> None:
    stato_civile = get_table("stato_civile")
    assert stato_civile.description("1") == "Celibe/Nubile"
    assert stato_civile.description("5") is None
    assert stato_civile.find("2") == ({"ID": "2", "DESCRIZIONE": "Coniugato/a"},)
    assert find_table("001") is stato_civile
    assert find_table(" 36 ") is TABLES["tipi_mutazione"]
    assert TABLES["comuni"].description("028001") == "ABANO TERME"  # the newest period
    assert len(TABLES["comuni"].find("028001")) == 2
    for unknown in ("060", "nope", "0001", ""):
        assert find_table(unknown) is None


def test_unknown_table_and_format_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"no reference table '060'.*001 stato_civile"):
        get_table("060")
    with pytest.raises(ConfigurationError, match="format"):
        render_table("stato_civile", "xml")  # type: ignore[arg-type]


def test_the_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        TABLES["x"] = TABLES["comuni"]  # type: ignore[index]
    assert "comuni" in TABLES
    assert len(TABLES) == len(_ANPR_NUMBERS)


def test_doctests() -> None:
    result = doctest.testmod(tables)
    assert result.attempted > 0
    assert result.failed == 0
