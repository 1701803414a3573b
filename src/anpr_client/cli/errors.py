"""``anpr errors``: look up ANPR error codes and SOAP faults in the catalogue.

Exit codes: 0 found, 2 unknown code or invalid input (e.g. an unreadable ``--official`` file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors.catalogue import (
    CodeInfo,
    OfficialEntry,
    all_codes,
    catalogue,
    group,
    group_of,
    groups,
    load_official,
    lookup,
    normalize_code,
)
from ..errors.faults import classify_fault, fault_exception
from ._common import EXIT_INVALID, echo_json, handle_errors, json_option

__all__ = ["errors"]

_SOURCES = {
    "anpr": "official ANPR error table",
    "ae": "official Agenzia delle Entrate error table",
    "anpr+ae": "official ANPR and Agenzia delle Entrate error tables",
    "observed": "seen in real answers, missing from the official tables",
}


def official_option(f: Any) -> Any:
    return click.option(
        "--official",
        "official_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="ANPR_ERRORS_OFFICIAL",
        help=(
            "ANPR's official error spreadsheet (tab_elenco_errori_anpr.xlsx) or a CSV export "
            "of it, to show the official wording. Default: $ANPR_ERRORS_OFFICIAL."
        ),
    )(f)


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _official_json(entry: OfficialEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "message": entry.message,
        "severity_subentro": entry.severity_subentro,
        "severity_servizi": entry.severity_servizi,
        "reference_table": entry.reference_table,
    }


def _source_text(info: CodeInfo) -> str:
    text = _SOURCES.get(info.source, info.source)
    if info.last_listed:
        text += f", last listed in the {info.last_listed} edition"
        if info.withdrawn:
            text += " (dropped since)"
    if info.evidence:
        text += f"; evidence: italia/anpr issues {info.evidence}"
    return text


@click.group()
def errors() -> None:
    """Explain ANPR error codes and SOAP faults (offline, from the catalogue)."""


@errors.command()
@click.argument("code")
@official_option
@json_option
def explain(code: str, official_path: Path | None, as_json: bool) -> None:
    """Code group, severity, meaning, what to do, exception class and retry advice for CODE."""
    with handle_errors(as_json):
        official = load_official(official_path) if official_path else None
    key = normalize_code(code)
    info = lookup(key) if key else None
    entry = official.get(key) if (official and key) else None
    if info is None:
        _explain_unknown(code, key, entry, as_json=as_json)
        return
    if as_json:
        out = info.as_dict()
        if official is not None:
            out["official"] = _official_json(entry)
        echo_json(out)
        return
    grp = info.group_info
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    sev = info.severity_servizi or "-"
    sub = info.severity_subentro or "-"
    rows = [
        ("group", f"{grp.key} ({grp.name})"),
        ("severity", f"{sev} in the services; {sub} at subentro"),
        ("reference table", info.reference_table or "-"),
        ("exception", f"anpr_client.errors.{info.exception}"),
        ("retry", info.retry.description),
        ("meaning", info.explanation),
        ("what to do", info.what_to_do),
    ]
    if info.informative:
        rows.append(("note", "informative: typed E but never decides the exception class"))
    rows.append(("source", _source_text(info)))
    if official is not None:
        rows.append(("official wording", entry.message if entry else "(not in the given file)"))
    for label, value in rows:
        grid.add_row(label, Text(value))
    console = _console()
    console.print(Text(info.code, style="bold"))
    console.print(grid)


def _explain_unknown(
    code: str, key: str | None, entry: OfficialEntry | None, *, as_json: bool
) -> None:
    grp = group_of(key) if key else None
    if key is None:
        reason = f"{code!r} is not an ANPR error code (1-12 letters and digits)"
    else:
        reason = f"{key} is not in the catalogue"
        if grp is not None:
            reason += f"; by its prefix it belongs to group {grp.key} ({grp.name})"
    if as_json:
        echo_json(
            {
                "error": "unknown code",
                "code": key or code,
                "message": reason,
                "group": grp.as_dict() if grp else None,
                "official": _official_json(entry),
            }
        )
    else:
        click.echo(f"error: {reason}", err=True)
        if grp is not None:
            click.echo(f"  exception: anpr_client.errors.{grp.exception}", err=True)
            click.echo(f"  meaning: {grp.meaning}", err=True)
            click.echo(f"  what to do: {grp.action}", err=True)
        if entry is not None:
            click.echo(f"  official wording: {entry.message}", err=True)
    sys.exit(0 if entry is not None else EXIT_INVALID)


@errors.command(name="list")
@click.option("--group", "group_key", help="Only this code group (e.g. EC, EHR, EN).")
@click.option("--family", "group_alias", hidden=True, help="Former name of --group.")
@official_option
@json_option
def list_codes(
    group_key: str | None, group_alias: str | None, official_path: Path | None, as_json: bool
) -> None:
    """Every code of the catalogue (or of one code group)."""
    with handle_errors(as_json):
        official = load_official(official_path) if official_path else None
    codes = all_codes()
    group_key = group_key if group_key is not None else group_alias
    if group_key is not None:
        grp = group(group_key)
        if grp is None:
            keys = ", ".join(g.key for g in groups())
            message = f"unknown code group {group_key!r}; the groups are: {keys}"
            if as_json:
                echo_json({"error": "unknown group", "message": message})
            else:
                click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_INVALID)
        codes = tuple(c for c in codes if c.group == grp.key)
    if as_json:
        rows = []
        for info in codes:
            row = info.as_dict()
            if official is not None:
                row["official"] = _official_json(official.get(info.code))
            rows.append(row)
        echo_json(rows)
        return
    header = ["code", "group", "sev", "subentro", "exception", "retry", "reference table"]
    if official is not None:
        header.append("official wording")
    console = _console()
    table = Table(show_edge=False, pad_edge=False)
    for name in header:
        table.add_column(name, no_wrap=name in header[:6], overflow="fold")
    plain = [header]
    for info in codes:
        cells = [
            info.code,
            info.group,
            info.severity_servizi or "-",
            info.severity_subentro or "-",
            info.exception,
            info.retry.value,
            info.reference_table or "",
        ]
        if official is not None:
            entry = official.get(info.code)
            cells.append(entry.message if entry else "")
        table.add_row(*(Text(c) for c in cells))
        plain.append(cells)
    if console.is_terminal:
        console.print(table)
        console.print(f"{len(codes)} codes")
    else:  # piped: one tab-separated line per code, easy to grep and cut
        for cells in plain:
            click.echo("\t".join(cells))


def _list_groups(as_json: bool) -> None:
    counts: dict[str, int] = {}
    for info in catalogue().codes.values():
        counts[info.group] = counts.get(info.group, 0) + 1
    if as_json:
        echo_json([{**g.as_dict(), "codes": counts.get(g.key, 0)} for g in groups()])
        return
    table = Table(show_edge=False, pad_edge=False)
    for name in ("group", "name", "prefixes", "exception", "retry", "codes"):
        table.add_column(name)
    for g in groups():
        prefixes = "digits only" if g.numeric else " ".join(g.prefixes)
        cells = (g.key, g.name, prefixes, g.exception, g.retry.value, str(counts.get(g.key, 0)))
        table.add_row(*(Text(c) for c in cells))
    _console().print(table)


@errors.command(name="groups")
@json_option
def list_groups(as_json: bool) -> None:
    """The code groups (EN, EC, ES, …), their exception classes and meaning."""
    _list_groups(as_json)


@errors.command(name="families", hidden=True)
@json_option
def list_families(as_json: bool) -> None:
    """Former name of ``anpr errors groups``."""
    _list_groups(as_json)


@errors.command()
@click.argument("faultstring")
@click.option("--faultcode", default="", help="The fault's faultcode (e.g. env:Client).")
@click.option("--http-status", type=int, default=None, help="The HTTP status of the answer.")
@json_option
def fault(faultstring: str, faultcode: str, http_status: int | None, as_json: bool) -> None:
    """Diagnose a SOAP fault text: exception class and likely causes, most likely first."""
    kind = classify_fault(faultstring, faultcode=faultcode, http_status=http_status)
    exc = fault_exception(faultstring, faultcode=faultcode, http_status=http_status)
    if as_json:
        echo_json(
            {
                "faultstring": faultstring,
                "kind": kind.key,
                "exception": type(exc).__name__,
                "outcome_unknown": bool(getattr(exc, "outcome_unknown", False)),
                "outcome": kind.outcome,
                "causes": list(exc.causes),
            }
        )
        return
    console = _console()
    console.print(Text(f"{type(exc).__name__} ({kind.label})", style="bold"))
    if getattr(exc, "outcome_unknown", False):
        console.print(Text("outcome unknown: the operation may have been applied"))
    else:
        console.print(Text(f"outcome: {kind.outcome}"))
    for i, cause in enumerate(exc.causes, 1):
        console.print(Text(f"  {i}. {cause}"), soft_wrap=True)
