"""``anpr validate FILE``: check a registry export before sending anything to ANPR.

Exit codes: 0 no blocking finding (warnings allowed), 1 blocking findings, 2 unusable input
(file, column mapping or reference table).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors.exceptions import AnprError
from ..validation.batch import BatchResult, ColumnMapping, validate_file
from ..validation.comuni import load_comuni
from ..validation.normalise import Policy
from ..validation.report import ReportWriter, RuleTally
from ..validation.rules import PersonChecker
from ..validation.stati import StatiTable
from ..validation.toponyms import SpeciesTable
from ._common import echo_json, error_json, json_option

__all__ = ["validate"]

EXIT_OK = 0
EXIT_BLOCKING = 1
EXIT_UNUSABLE = 2

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command("validate")
@click.argument("file", type=_PATH)
@click.option(
    "--comuni", type=_PATH, help="ANPR's comuni archive (CSV/xlsx). Default: cache or sample."
)
@click.option(
    "--stati", type=_PATH, help="ANPR's foreign states table (tab_Stati_Esteri). Default: sample."
)
@click.option(
    "--toponimi", type=_PATH, help="ANPR's toponym species table (Tabella 4). Default: sample."
)
@click.option("--report", "report_path", type=_PATH, help="Write the JSON report here.")
@click.option("--html", "html_path", type=_PATH, help="Write the HTML report here.")
@click.option(
    "--fix", "fix_path", type=_PATH, help="Write a normalised copy here (+ .changes.csv)."
)
@click.option("--columns", "columns_path", type=_PATH, help="Column mapping (TOML).")
@click.option(
    "--transliterate",
    is_flag=True,
    help="With --fix: also replace characters outside ANPR's classes (opt-in).",
)
@click.option(
    "--date",
    "today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Reference date for residence and future birth dates (default: today).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary table.")
@json_option
def validate(
    file: Path,
    comuni: Path | None,
    stati: Path | None,
    toponimi: Path | None,
    report_path: Path | None,
    html_path: Path | None,
    fix_path: Path | None,
    columns_path: Path | None,
    transliterate: bool,
    today: datetime | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Check FILE (CSV with a header, or JSON Lines) the way ANPR would, without sending it.

    Each finding names the ANPR error code the record would get. Columns:
    codice_fiscale, cognome, nome, sesso, data_nascita (YYYY-MM-DD), luogo_nascita (ISTAT
    code or foreign state code), optional cittadinanza, indirizzo, numero_civico,
    comune_residenza; other names via --columns.
    """
    err = Console(stderr=True)
    try:
        mapping = ColumnMapping.from_toml(columns_path) if columns_path else ColumnMapping()
        checker = PersonChecker(
            comuni=load_comuni(comuni),
            stati=StatiTable.from_file(stati) if stati else None,
            species=SpeciesTable.from_file(toponimi) if toponimi else None,
            today=today.date() if today is not None else None,
        )
        report = ReportWriter(json_path=report_path, html_path=html_path, source=file.name)
        with Progress(
            TextColumn("[bold]checking[/] {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=quiet or as_json,
        ) as progress:
            task = progress.add_task(file.name, total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = validate_file(
                file,
                mapping=mapping,
                checker=checker,
                report=report,
                fix=fix_path,
                policy=Policy(transliterate=transliterate),
                progress=advance,
            )
    except AnprError as exc:
        if as_json:
            echo_json(error_json(exc))
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNUSABLE)
    if as_json:
        echo_json(_result_json(result, checker, fix_path))
    elif not quiet:
        _print_summary(Console(), result, checker, fix_path)
    sys.exit(EXIT_BLOCKING if result.blocking else EXIT_OK)


def _sample_tables(checker: PersonChecker) -> list[str]:
    """The reference tables that are anpr-client's samples, not ANPR's complete ones."""
    return [
        name
        for name, table_ in (
            ("comuni", checker.comuni),
            ("stati", checker.stati),
            ("toponimi", checker.species),
        )
        if not table_.complete
    ]


def _result_json(
    result: BatchResult, checker: PersonChecker, fix_path: Path | None
) -> dict[str, Any]:
    return {
        "records": result.records,
        "blocking": result.blocking,
        "warnings": result.warnings,
        "findings": [tally.as_dict() for tally in result.rules],
        "sampleTables": _sample_tables(checker),
        "fix": None if fix_path is None else {"path": str(fix_path), "changes": result.changes},
    }


_ROWS_SHOWN = 8


def _rows_text(tally: RuleTally) -> str:
    shown = ", ".join(str(r) for r in tally.rows[:_ROWS_SHOWN])
    more = len(tally.rows) - _ROWS_SHOWN
    if more > 0 or tally.rows_truncated:
        shown += f" … (+{max(more, 0)}{'+' if tally.rows_truncated else ''} more)"
    return shown


def _print_summary(
    console: Console, result: BatchResult, checker: PersonChecker, fix_path: Path | None
) -> None:
    console.print(
        f"{result.records} records: {result.blocking} blocking findings, {result.warnings} warnings"
    )
    if result.rules:
        table = Table("code", "sev", "findings", "meaning", "rows")
        for tally in result.rules:
            table.add_row(
                tally.code, tally.severity, str(tally.count), tally.meaning, _rows_text(tally)
            )
        console.print(table)
    samples = _sample_tables(checker)
    if samples:
        console.print(
            f"note: the {', '.join(samples)} table(s) are anpr-client's small samples; codes "
            "they do not list were not checked (pass ANPR's tables with "
            + " ".join(f"--{n}" for n in samples)
            + ")"
        )
    if fix_path is not None:
        console.print(
            f"normalised copy: {fix_path} ({result.changes} changes, listed in "
            f"{fix_path.with_name(fix_path.stem + '.changes.csv')})"
        )
