"""Batch validation: CSV and JSON Lines, column mappings, --fix, unusable input, memory."""

from __future__ import annotations

import csv
import json
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.validation import batch
from anpr_client.validation.batch import ColumnMapping, read_records, validate_file
from anpr_client.validation.report import ReportWriter
from anpr_client.validation.rules import PERSON_FIELDS, PersonChecker

from .conftest import TODAY
from .people import COLUMNS, World

GOOD = {
    "codice_fiscale": "RSSMRA85T10H501O",
    "cognome": "ROSSI",
    "nome": "MARIO",
    "sesso": "M",
    "data_nascita": "1985-12-10",
    "luogo_nascita": "058091",
}


def _write_csv(path: Path, rows: list[dict[str, str]], *, delimiter: str = ",") -> Path:
    columns = list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _run(path: Path, **kwargs: object) -> dict[str, object]:
    report = path.with_suffix(".report.json")
    validate_file(
        path,
        checker=PersonChecker(today=TODAY),
        report=ReportWriter(json_path=report, source=path.name),
        **kwargs,  # type: ignore[arg-type]
    )
    data: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    return data


def test_the_json_report_has_exactly_the_contract_shape(tmp_path: Path) -> None:
    bad = dict(GOOD, sesso="F")
    data = _run(_write_csv(tmp_path / "in.csv", [GOOD, bad, GOOD]))
    assert list(data) == ["records", "summary", "findings"]
    assert data["records"] == 3
    assert data["summary"] == {"EA042": 1}
    assert data["findings"] == [
        {
            "row": 2,
            "field": "codice_fiscale",
            "code": "EA042",
            "severity": "W",
            "message": "the sex F does not match the code (M)",
        }
    ]


def test_json_lines_use_the_same_keys(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps(GOOD),
        "",
        "not json",
        json.dumps(["a", "list"]),
        json.dumps(dict(GOOD, numero_civico=12, cittadinanza=None)),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = _run(path)
    assert data["records"] == 4  # blank lines are not rows
    assert [(f["row"], f["code"]) for f in data["findings"]] == [(2, "INPUT"), (3, "INPUT")]  # type: ignore[attr-defined]


def test_a_column_mapping_renames_columns_and_reads_dates(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\ncodice_fiscale = "CF"\ndata_nascita = "NATO IL"\n\n'
        '[format]\ndate = "%d/%m/%Y"\ndelimiter = ";"\n',
        encoding="utf-8",
    )
    row = {("CF" if k == "codice_fiscale" else "NATO IL" if k == "data_nascita" else k): v
           for k, v in GOOD.items()}  # fmt: skip
    row["NATO IL"] = "10/12/1985"
    path = _write_csv(tmp_path / "in.csv", [row, dict(row, sesso="F")], delimiter=";")
    data = _run(path, mapping=ColumnMapping.from_toml(mapping))
    assert data["findings"] == [
        {
            "row": 2,
            "field": "CF",
            "code": "EA042",
            "severity": "W",
            "message": "the sex F does not match the code (M)",
        }
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[columns]\ncodice = 'CF'\n", "unknown field"),
        ("[columns\n", "not valid TOML"),
        ("[format]\nencoding = 'klingon'\n", "unknown encoding"),
        ("[format]\ndelimiter = ';;'\n", "one character"),
        ("[other]\n", "[columns] and [format]"),
    ],
)
def test_a_bad_mapping_is_refused(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=fragment.replace("[", r"\[")):
        ColumnMapping.from_toml(path)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"cognome,nome\nROSSI,MARIO\n", "lacks the column"),
        (
            b"codice_fiscale,cognome,nome,sesso,data_nascita,luogo_nascita\n"
            + "X,N\xc3\xb2,\xe8,M,1985-01-01,058091\n".encode("latin-1"),
            "not utf-8-sig text",
        ),
    ],
)
def test_unusable_input_is_a_configuration_error(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    report = tmp_path / "r.json"
    with pytest.raises(ConfigurationError, match=fragment) as info:
        validate_file(path, report=ReportWriter(json_path=report))
    assert info.value.setting == "input"
    assert not report.exists()  # no half-written report
    with pytest.raises(ConfigurationError, match="cannot read"):
        validate_file(tmp_path / "missing.csv")


def test_fix_writes_a_normalised_copy_and_a_change_log(tmp_path: Path) -> None:
    messy = dict(GOOD, cognome="  rossi ", codice_fiscale="RSSMRA85T1OH501O")
    source = _write_csv(tmp_path / "in.csv", [GOOD, messy])
    with source.open("a", encoding="utf-8") as fh:
        fh.write("short,row\n")
    fixed = tmp_path / "fixed.csv"
    result = validate_file(source, checker=PersonChecker(today=TODAY), fix=fixed)
    assert result.changes == 3
    rows = list(csv.reader(fixed.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == list(GOOD)
    assert rows[1] == list(GOOD.values())
    assert rows[2] == list(GOOD.values())  # fixed
    assert rows[3] == ["short", "row"]  # never lose data: copied as it was
    log = list(csv.DictReader((tmp_path / "fixed.changes.csv").read_text("utf-8").splitlines()))
    assert [(r["row"], r["field"], r["rule"]) for r in log] == [
        ("2", "codice_fiscale", "cf.spelling"),
        ("2", "cognome", "whitespace.trim"),
        ("2", "cognome", "case.upper"),
    ]
    # the fixed copy passes
    again = validate_file(fixed, checker=PersonChecker(today=TODAY))
    assert again.summary == {"INPUT": 1}


def test_fix_keeps_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps(dict(GOOD, nome="mario", extra=1)) + "\nbroken\n", encoding="utf-8"
    )
    fixed = tmp_path / "out.jsonl"
    validate_file(source, fix=fixed)
    first, second = fixed.read_text(encoding="utf-8").splitlines()
    assert json.loads(first) == dict(GOOD, extra=1)
    assert second == "broken"


def _many(world: World, n: int) -> Iterator[dict[str, str]]:
    for _ in range(n):
        yield world.person()


def test_memory_stays_flat_while_streaming(tmp_path: Path, official_checker: PersonChecker) -> None:
    """Peak memory of a run does not grow with the number of records (nor of findings)."""
    world = World(official_checker.comuni, official_checker.stati, random.Random(3), TODAY)
    people = list(_many(world, 500))
    peaks = []
    for n in (200, 2_000, 8_000):  # the first run warms caches up (lazy imports, XSD rules)
        path = tmp_path / f"in{n}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
            writer.writeheader()
            for i in range(n):
                writer.writerow(dict(people[i % 500], sesso="X"))  # one finding per row
        tracemalloc.start()
        try:
            result = validate_file(
                path,
                checker=official_checker,
                report=ReportWriter(json_path=tmp_path / "r.json", html_path=tmp_path / "r.html"),
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert result.summary == {"XSD": n}
    assert peaks[2] < peaks[1] * 1.5 + 64 * 1024, peaks


def test_records_come_one_at_a_time(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "in.csv", [GOOD] * 3)
    records = read_records(path)
    first = next(records)
    assert first.row == 1
    assert first.values is not None
    assert first.values["cognome"] == "ROSSI"
    assert [r.row for r in records] == [2, 3]


@pytest.mark.parametrize("count", [6, 8, 10])
def test_the_row_builder_gives_the_dict_zip_would(count: int) -> None:
    names = PERSON_FIELDS[:count]
    cells = [f"cell {i}" for i in range(count + 2)]  # two other columns after ours
    built = batch._first_cells(names)(cells)
    assert built == dict(zip(names, cells, strict=False))
    assert list(built) == list(names)


def test_columns_in_our_order_read_as_columns_in_another(
    tmp_path: Path, official_checker: PersonChecker
) -> None:
    """The header in our field order takes the row builder, any other order the per-column
    path: the same records, the same report."""
    world = World(official_checker.comuni, official_checker.stati, random.Random(7), TODAY)
    rows = [world.person() for _ in range(200)]
    for row in rows[::7]:
        row["sesso"] = "F" if row["sesso"] == "M" else "M"
    ours = _write_csv(tmp_path / "ours.csv", [{**r, "extra": "x"} for r in rows])
    other = _write_csv(tmp_path / "other.csv", [dict(reversed(r.items())) for r in rows])
    assert [r.values for r in read_records(ours)] == [r.values for r in read_records(other)]
    first, second = _run(ours), _run(other)
    assert first["findings"]  # the planted sexes
    assert first == second
