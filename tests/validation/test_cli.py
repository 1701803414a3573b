"""``anpr validate``: exit codes, the JSON report, the HTML report, --fix."""

from __future__ import annotations

import html
import json
from pathlib import Path

import click
from click.testing import CliRunner

from anpr_client.cli.validate import validate

HEADER = "codice_fiscale,cognome,nome,sesso,data_nascita,luogo_nascita\n"
GOOD = "RSSMRA85T10H501O,ROSSI,MARIO,M,1985-12-10,058091\n"
WARNING = "RSSMRA85T10H501O,ROSSI,MARIO,F,1985-12-10,058091\n"  # EA042 (W)
BLOCKING = "RSSMRA85T10H501X,ROSSI,MARIO,M,1985-12-10,058091\n"  # ENT02 (E)
HOSTILE = 'RSSMRA85T10H501O,"<script>alert(1)</script>",MARIO,M,1985-12-10,058091\n'


def _invoke(tmp_path: Path, body: str, *args: str) -> tuple[int, str]:
    source = tmp_path / "registry.csv"
    source.write_text(HEADER + body, encoding="utf-8")
    result = CliRunner().invoke(
        validate, [str(source), "--date", "2026-01-15", "--quiet", *args], catch_exceptions=False
    )
    return result.exit_code, result.output


def test_exit_0_with_warnings_only(tmp_path: Path) -> None:
    assert _invoke(tmp_path, GOOD + WARNING)[0] == 0


def test_exit_1_with_a_blocking_finding(tmp_path: Path) -> None:
    assert _invoke(tmp_path, GOOD + BLOCKING)[0] == 1


def test_exit_2_on_unusable_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(validate, [str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    source = tmp_path / "bad.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    assert runner.invoke(validate, [str(source)]).exit_code == 2
    mapping = tmp_path / "m.toml"
    mapping.write_text("[columns\n", encoding="utf-8")
    assert runner.invoke(validate, [str(source), "--columns", str(mapping)]).exit_code == 2
    table = tmp_path / "comuni.csv"
    table.write_text("x\n", encoding="utf-8")
    result = runner.invoke(validate, [str(source), "--comuni", str(table)])
    assert result.exit_code == 2


def test_the_json_report(tmp_path: Path) -> None:
    report = tmp_path / "out.json"
    code, _ = _invoke(tmp_path, GOOD + WARNING + BLOCKING, "--report", str(report))
    assert code == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["records"] == 3
    assert data["summary"] == {"EA042": 1, "ENT02": 1}
    assert [(f["row"], f["field"], f["code"], f["severity"]) for f in data["findings"]] == [
        (2, "codice_fiscale", "EA042", "W"),
        (3, "codice_fiscale", "ENT02", "E"),
    ]
    assert all(set(f) == {"row", "field", "code", "severity", "message"} for f in data["findings"])


def test_the_html_report_escapes_everything_and_loads_nothing(tmp_path: Path) -> None:
    page = tmp_path / "out.html"
    code, _ = _invoke(tmp_path, HOSTILE + BLOCKING, "--html", str(page))
    assert code == 1
    text = page.read_text(encoding="utf-8")
    assert "<script>alert" not in text
    assert html.escape("'<' (U+003C)") in text  # the offending characters, escaped
    assert text.count("<script>") == 1  # only our own filter code
    for external in ("http://", "https://", "src=", "<link", "@import"):
        assert external not in text
    assert "Content-Security-Policy" in text
    assert 'id="f-code"' in text or "id=f-code" in text  # the filters
    assert "ENT02" in text
    assert "XSD" in text


def test_fix_writes_the_copy_and_the_log(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.csv"
    body = "rssmra85t10h501o, rossi ,Mario,m,1985-12-10,058091\n"
    code, _output = _invoke(tmp_path, body, "--fix", str(fixed))
    assert code == 0
    assert fixed.read_text(encoding="utf-8") == HEADER + GOOD
    log = (tmp_path / "fixed.changes.csv").read_text(encoding="utf-8").splitlines()
    assert log[0] == "row,field,before,after,rule"
    assert len(log) == 6  # cf upper, cognome trim + upper, nome upper, sesso upper


def test_the_summary_names_codes_and_sample_tables(tmp_path: Path) -> None:
    source = tmp_path / "registry.csv"
    source.write_text(HEADER + BLOCKING, encoding="utf-8")
    result = CliRunner().invoke(
        validate, [str(source), "--date", "2026-01-15"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert "1 records: 1 blocking findings, 0 warnings" in result.output
    assert "ENT02" in result.output
    assert "samples" in result.output


def test_the_official_tables_can_be_given(tmp_path: Path, reference_dir: Path) -> None:
    tables = reference_dir / "tables"
    source = tmp_path / "registry.csv"
    source.write_text(HEADER + GOOD.replace("058091", "999999"), encoding="utf-8")
    result = CliRunner().invoke(
        validate,
        [
            str(source),
            "--comuni",
            str(tables / "ANPR_archivio_comuni.csv"),
            "--stati",
            str(tables / "xlsx" / "tab_Stati_Esteri.xlsx"),
            "--toponimi",
            str(tables / "xlsx" / "tab_tabella_04___specie_toponimo.xlsx"),
            "--report",
            str(tmp_path / "r.json"),
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["summary"] == {"EN332": 1}


def test_the_command_is_registered_in_anpr() -> None:
    from anpr_client.cli.main import cli

    assert "validate" in cli.list_commands(click.Context(cli))
    assert cli.get_command(click.Context(cli), "validate") is not None


def test_an_unwritable_output_is_exit_2_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    for option in ("--report", "--html", "--fix"):
        code, output = _invoke(tmp_path, GOOD, option, str(blocker / "out"))
        assert code == 2, option
        assert "cannot write" in output


def test_json_output_gives_one_meaning_per_check_and_its_rows(tmp_path: Path) -> None:
    # ENT02 is predicted by several checks (format, checksum…): each has its own line.
    malformed = "RSSMRA85T10H50XO,ROSSI,MARIO,M,1985-12-10,058091\n"
    code, out = _invoke(tmp_path, GOOD + BLOCKING + WARNING + BLOCKING + malformed, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["records"] == 5
    by_rule = {f["rule"]: f for f in data["findings"]}
    checksum = by_rule["cf.checksum"]
    assert checksum["code"] == "ENT02"
    assert checksum["rows"] == [2, 4]
    assert checksum["count"] == 2
    assert checksum["meaning"] == "the check character of the codice fiscale is wrong"
    assert by_rule["cf.sex"]["rows"] == [3]
    assert (by_rule["cf.format"]["code"], by_rule["cf.format"]["rows"]) == ("ENT02", [5])
    for finding in data["findings"]:
        assert ";" not in finding["meaning"]  # one meaning, not every meaning of the code
    assert sum(f["count"] for f in data["findings"]) == data["blocking"] + data["warnings"]


def test_the_summary_table_shows_the_rows_behind_each_code(tmp_path: Path) -> None:
    source = tmp_path / "registry.csv"
    source.write_text(HEADER + GOOD + BLOCKING * 12, encoding="utf-8")
    result = CliRunner().invoke(
        validate, [str(source), "--date", "2026-01-15"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert "2, 3, 4, 5, 6, 7, 8, 9 … (+4 more)" in result.stdout
    assert "the check character of the codice fiscale is wrong" in result.stdout


def test_json_errors_are_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(validate, [str(tmp_path / "nope.csv"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "ConfigurationError"
