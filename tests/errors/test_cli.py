"""``anpr errors …``, driven through click's CliRunner on the group itself."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anpr_client.cli.errors import errors
from anpr_client.errors.catalogue import all_codes


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(errors, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_explain_a_code() -> None:
    code, out, _ = run("explain", "EN122")
    assert code == 0
    assert "EN122" in out
    assert "EN (Business rules)" in out
    assert "NotFoundError" in out
    assert "what to do" in out
    assert "retry" in out


def test_explain_normalises_the_code_and_prints_json() -> None:
    code, out, _ = run("explain", " en527 ", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["code"] == "EN527"
    assert data["informative"] is True
    assert data["exception"] == "BusinessRuleError"
    assert data["source"] == "observed"
    assert "official" not in data


def test_explain_999_says_retry_later() -> None:
    code, out, _ = run("explain", "999", "--json")
    assert code == 0
    assert json.loads(out)["retry"] == "later"
    assert json.loads(out)["exception"] == "ServiceError"


def test_explain_an_unknown_code_of_a_known_group() -> None:
    code, out, err = run("explain", "EC999")
    assert code == 2
    assert out == ""
    assert "not in the catalogue" in err
    assert "group EC" in err
    assert "ReferenceValueError" in err


def test_explain_an_unknown_code_in_json() -> None:
    code, out, _ = run("explain", "ZZ999", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["error"] == "unknown code"
    assert data["group"] is None


@pytest.mark.parametrize("bad", ["!!", "", "EN 122", "x" * 40])
def test_explain_invalid_input(bad: str) -> None:
    code, _, err = run("explain", bad)
    assert code == 2
    assert "not an ANPR error code" in err


def test_explain_with_the_official_spreadsheet(reference_dir: Path) -> None:
    xlsx = reference_dir / "tables" / "xlsx" / "tab_elenco_errori_anpr.xlsx"
    if not xlsx.is_file():
        pytest.skip(f"{xlsx} not present")
    code, out, _ = run("explain", "EC007", "--official", str(xlsx), "--json")
    assert code == 0
    official = json.loads(out)["official"]
    assert official["message"]
    assert official["reference_table"] == "Tabella 3 Comuni"
    code, out, _ = run("explain", "EC007", "--official", str(xlsx))
    assert code == 0
    assert "official wording" in out
    # a code the catalogue only knows from practice is absent from the spreadsheet
    code, out, _ = run("explain", "999", "--official", str(xlsx), "--json")
    assert code == 0
    assert json.loads(out)["official"] is None


def test_official_wording_of_a_code_only_the_file_knows(tmp_path: Path) -> None:
    path = tmp_path / "newer.csv"
    path.write_text("code,message\nEN999,a newer edition's code\n", encoding="utf-8")
    code, _, err = run("explain", "EN999", "--official", str(path))
    assert code == 0
    assert "a newer edition's code" in err


def test_official_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("code,message\nEN122,our test wording\n", encoding="utf-8")
    result = CliRunner(env={"ANPR_ERRORS_OFFICIAL": str(path)}).invoke(
        errors, ["explain", "EN122"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "our test wording" in result.stdout


def test_a_bad_official_file_is_invalid_input(tmp_path: Path) -> None:
    code, _, err = run("explain", "EN122", "--official", str(tmp_path / "missing.xlsx"))
    assert code == 2
    assert "cannot be read" in err
    code, out, _ = run("list", "--official", str(tmp_path / "missing.xlsx"), "--json")
    assert code == 2
    assert json.loads(out)["error"] == "ConfigurationError"


def test_list_one_group_in_json() -> None:
    code, out, _ = run("list", "--group", "ec", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == sum(1 for c in all_codes() if c.group == "EC")
    assert {r["group"] for r in rows} == {"EC"}
    assert {r["exception"] for r in rows} == {"ReferenceValueError"}
    # --family, the option's former name, still works (hidden from --help)
    code, former, _ = run("list", "--family", "ec", "--json")
    assert code == 0
    assert json.loads(former) == rows
    _, help_text, _ = run("list", "--help")
    assert "--group" in help_text
    assert "--family" not in help_text


def test_list_everything_as_tab_separated_lines_when_piped() -> None:
    code, out, _ = run("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t")[:3] == ["code", "group", "sev"]
    assert len(lines) == 1 + len(all_codes())
    assert "EN122\tEN\tE\t-\tNotFoundError\tno\t" in out
    assert "EC007\tEC\tE\tW\tReferenceValueError\tno\tTabella 3 Comuni" in out


def test_list_with_official_wording(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("code,message\nSP000,our [bold] wording\n", encoding="utf-8")
    code, out, _ = run("list", "--group", "SP", "--official", str(path))
    assert code == 0
    assert "our [bold] wording" in out  # printed literally, never as rich markup
    code, out, _ = run("list", "--group", "SP", "--official", str(path), "--json")
    assert json.loads(out)[0]["official"]["message"] == "our [bold] wording"


def test_list_an_unknown_group() -> None:
    code, _, err = run("list", "--group", "QQ")
    assert code == 2
    assert "unknown code group" in err
    assert "EHR" in err
    code, out, _ = run("list", "--group", "QQ", "--json")
    assert code == 2
    assert json.loads(out)["error"] == "unknown group"


def test_groups() -> None:
    code, out, _ = run("groups", "--json")
    assert code == 0
    data = json.loads(out)
    assert sum(g["codes"] for g in data) == len(all_codes())
    code, out, _ = run("groups")
    assert code == 0
    assert "BusinessRuleError" in out


def test_families_is_a_hidden_alias_of_groups() -> None:
    code, out, _ = run("families", "--json")
    assert code == 0
    assert out == run("groups", "--json")[1]
    _, help_text, _ = run("--help")
    assert "groups" in help_text
    assert "families" not in help_text


def test_fault_diagnosis() -> None:
    code, out, _ = run("fault", "Rejected by policy. (from client)")
    assert code == 0
    assert "RejectedByPolicy" in out
    assert "1. " in out
    assert "allow-list" in out
    code, out, _ = run("fault", "Internal Error (from server)", "--json")
    data = json.loads(out)
    assert data["exception"] == "ServerFault"
    assert data["outcome_unknown"] is True
    code, out, _ = run("fault", "whatever", "--http-status", "504")
    assert "outcome unknown" in out


def test_the_group_registers_under_a_parent_cli() -> None:
    @click.group()
    def cli() -> None:
        """A stand-in for anpr_client.cli.main."""

    cli.add_command(errors)
    result = CliRunner().invoke(cli, ["errors", "explain", "998"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "ServiceUnavailableError" in result.stdout
    result = CliRunner().invoke(cli, ["errors", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    for command in ("explain", "list", "groups", "fault"):
        assert command in result.stdout


def test_list_as_a_rich_table_on_a_terminal() -> None:
    result = CliRunner(env={"FORCE_COLOR": "1", "COLUMNS": "160"}).invoke(
        errors, ["list", "--group", "SVC"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "ServiceUnavailableError" in result.stdout
    assert "2 codes" in result.stdout
    assert "\t" not in result.stdout
