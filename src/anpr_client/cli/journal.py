"""``anpr journal``: what was sent to ANPR, what came back, and what is still unknown.

- ``pending [--json]``: operations not settled (outcome unknown, being sent, never sent);
- ``resolve [ID]``: settle one (or every) unsettled operation: 3003 lookup and/or a resend with
  the same ``idOperazioneComune``, so nothing is applied twice;
- ``show ID [--json]``: one operation with every attempt;
- ``export --since DATE``: JSON Lines, one operation per line, for audits;
- ``accept-rollback``: go on with a journal restored from a backup (or copied): new ids start
  past every id handed out, once the lost operations have been checked;
- ``keygen``: a new key for ``ANPR_JOURNAL_KEY`` (encryption at rest).

The journal is the one the settings name (``--config``/``ANPR_CONFIG``: a SQLite file or a
``postgresql://`` URL); without settings, ``$ANPR_JOURNAL`` (a path or a URL) or the default
path. Exit codes: 0 done, 1 ``resolve`` settled a KO answer,
2 invalid input (unknown id, no journal, a damaged row), 3 something is still unknown after
``resolve`` (a damaged row included). A damaged row is named on stderr after the readable rows
are listed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors.exceptions import ConfigurationError, CorruptJournalRecord, JournalError
from ..journal import OperationRecord, SqlJournal, State, generate_key, open_journal
from ..settings import journal_from_env, journal_path
from ._common import (
    EXIT_INVALID,
    EXIT_KO,
    EXIT_OK,
    EXIT_TRANSPORT,
    SECRET_PROMPT,
    config_option,
    echo_json,
    handle_errors,
    json_option,
    settings_from,
)

__all__ = ["journal"]


def _open(config: Path | None, *, warn: bool = True) -> SqlJournal:
    """The journal to read: from the settings, else ``$ANPR_JOURNAL``, else the default. A
    rollback of it (restored from a backup, copied) is reported on stderr (``warn``)."""
    if config is not None:
        j = SqlJournal.from_settings(settings_from(config), create=False, secret=SECRET_PROMPT)
    else:
        switch = journal_from_env(os.environ)
        path = journal_path(
            switch if isinstance(switch, Path | str) else None, enabled=switch is not False
        )
        if path is None:
            raise ConfigurationError(
                "ANPR_JOURNAL=off switches the journal off", setting="ANPR_JOURNAL"
            )
        j = open_journal(path, create=False)
    if warn:
        _warn_rollbacks(j)
    return j


def _warn_rollbacks(j: SqlJournal) -> None:
    for r in j.rollbacks():
        click.echo(f"warning: {r.error(j.location)}", err=True)


@contextmanager
def _not_found_is_invalid(as_json: bool) -> Iterator[None]:
    try:
        yield
    except JournalError as exc:
        if as_json:
            echo_json({"error": "JournalError", "message": str(exc)})
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)


def _exit_if_corrupt(corrupt: list[CorruptJournalRecord]) -> None:
    """After listing the readable rows: name each unreadable one (stderr) and exit 2."""
    for exc in corrupt:
        click.echo(f"error: {exc}", err=True)
    if corrupt:
        click.echo(
            f"error: {len(corrupt)} journal row(s) cannot be read (listed above); the other "
            "rows are shown. Repair them from a backup or with SQL (see docs/journal.md)",
            err=True,
        )
        sys.exit(EXIT_INVALID)


def _status(record: OperationRecord) -> str:
    if record.in_flight():
        return "being sent by a live process"
    if record.state is State.PREPARED:
        return "never reached ANPR"
    if record.state in (State.SENDING, State.OUTCOME_UNKNOWN):
        return "may have been applied: resolve it"
    return str(record.outcome or "")


def _summary_json(record: OperationRecord) -> dict[str, Any]:
    out = record.to_json(content=False)
    out.pop("attempts")
    out["attempts"] = len(record.attempts)
    out["status"] = _status(record)
    return out


@click.group("journal")
def journal() -> None:
    """The operation journal: every request sent to ANPR and its outcome."""


@journal.command()
@click.option("--comune", help="Only this Comune (ISTAT code).")
@config_option
@json_option
def pending(comune: str | None, config: Path | None, as_json: bool) -> None:
    """List operations whose outcome is not settled, oldest first."""
    corrupt: list[CorruptJournalRecord] = []
    with handle_errors(as_json):
        with _open(config) as j:
            records = j.pending(comune=comune, errors=corrupt)
        if as_json:
            echo_json([_summary_json(r) for r in records])
            _exit_if_corrupt(corrupt)
            return
        if not records and not corrupt:
            click.echo("nothing pending")
            return
        for r in records:
            last = r.attempts[-1].error_type if r.attempts else None
            click.echo(
                f"{r.created_at.astimezone():%Y-%m-%d %H:%M:%S}  {r.comune}  {r.operation:<8} "
                f"{r.id_operazione_comune:<30} {r.state:<16} {len(r.attempts)} attempt(s)"
                + (f", last: {last}" if last else "")
                + f"  — {_status(r)}"
            )
        _exit_if_corrupt(corrupt)


@journal.command()
@click.argument("ident", metavar="ID")
@click.option("--comune", help="The Comune, when several share the journal and the id.")
@config_option
@json_option
def show(ident: str, comune: str | None, config: Path | None, as_json: bool) -> None:
    """Show operation ID (its idOperazioneComune) with every attempt."""
    with handle_errors(as_json), _not_found_is_invalid(as_json):
        with _open(config) as j:
            record = j.get(ident, comune=comune)
        if as_json:
            echo_json(record.to_json())
            return
        click.echo(f"operation      {record.operation} (service {record.service})")
        click.echo(f"id             {record.id_operazione_comune} (Comune {record.comune})")
        click.echo(
            f"state          {record.state}" + (f", {record.outcome}" if record.outcome else "")
        )
        click.echo(f"status         {_status(record)}")
        if record.resolution:
            click.echo(f"settled by     {record.resolution}")
        if record.id_operazione_anpr:
            click.echo(f"idOperazioneANPR {record.id_operazione_anpr} (esito {record.esito})")
        if record.error_codes:
            click.echo(f"codes          {' '.join(record.error_codes)}")
        click.echo(f"created        {record.created_at.astimezone().isoformat()}")
        if record.settled_at:
            click.echo(f"settled        {record.settled_at.astimezone().isoformat()}")
        click.echo(f"endpoint       {record.url}")
        if record.sealed:
            click.echo("content        encrypted (set ANPR_JOURNAL_KEY to read it)")
        for a in record.attempts:
            took = f"{a.elapsed:.3f}s" if a.elapsed is not None else "-"
            extra = " ".join(
                x
                for x in (
                    f"HTTP {a.http_status}" if a.http_status else "",
                    a.error_type or "",
                    " ".join(a.error_codes),
                )
                if x
            )
            click.echo(
                f"  #{a.number} {a.kind:<6} {a.started_at.astimezone():%H:%M:%S.%f} "
                f"{a.state:<16} {took:>9}  {a.id_operazione_comune}  {extra}".rstrip()
            )


def _since(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or an ISO date-time", param_hint="--since"
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()  # naive: local time


@journal.command()
@click.option(
    "--since", "since", required=True, help="From this date (YYYY-MM-DD, local) or ISO time."
)
@click.option("--comune", help="Only this Comune (ISTAT code).")
@click.option(
    "--no-content",
    is_flag=True,
    help="Leave out personal data: payloads, envelopes, answers and error texts.",
)
@config_option
def export(since: str, comune: str | None, no_content: bool, config: Path | None) -> None:
    """Write operations created since DATE as JSON Lines (one operation per line)."""
    start = _since(since)
    corrupt: list[CorruptJournalRecord] = []
    with handle_errors(False), _open(config) as j:
        for record in j.since(start, comune=comune, errors=corrupt):
            line = json.dumps(record.to_json(content=not no_content), ensure_ascii=False)
            click.echo(line)
    _exit_if_corrupt(corrupt)


@journal.command()
@click.argument("ident", metavar="[ID]", required=False)
@click.option("--comune", help="The Comune, when several share the journal and the id.")
@click.option(
    "--lookup/--no-lookup",
    default=None,
    help="Ask 3003 first (default: the settings' [retry] reconcile).",
)
@click.option("--force", is_flag=True, help="Take over even from a live process.")
@config_option
@json_option
def resolve(
    ident: str | None,
    comune: str | None,
    lookup: bool | None,
    force: bool,
    config: Path | None,
    as_json: bool,
) -> None:
    """Settle operation ID, or every pending one: replay with the same id, or 3003.

    An operation that never reached ANPR is marked not applied and is NOT sent: whatever the
    user did after the failure stands.
    """
    from ..client import Client
    from ..journal import resolve as resolve_one

    corrupt: list[CorruptJournalRecord] = []
    with handle_errors(as_json), _not_found_is_invalid(as_json):
        settings = settings_from(config)
        with (
            SqlJournal.from_settings(settings, secret=SECRET_PROMPT) as j,
            Client(settings, journal=j, secret=SECRET_PROMPT) as client,
        ):
            _warn_rollbacks(j)
            if ident is not None:
                records = [j.get(ident, comune=comune)]
            else:
                records = [
                    r
                    for r in j.pending(comune=comune or settings.codice_istat, errors=corrupt)
                    if force or not r.in_flight()
                ]
            outcomes = [resolve_one(client, j, r, lookup=lookup, force=force) for r in records]
        code = EXIT_OK
        rows = []
        for res in outcomes:
            rec = res.record
            row = _summary_json(rec)
            if res.error is not None:
                row["error"] = f"{type(res.error).__name__}: {res.error}"
            rows.append(row)
            if not rec.settled:
                code = EXIT_TRANSPORT
            elif rec.outcome == "ko" and code == EXIT_OK:
                code = EXIT_KO
        if corrupt:  # unreadable rows may be operations still to settle: not done
            code = EXIT_TRANSPORT
            for exc in corrupt:
                click.echo(f"error: {exc}", err=True)
        if as_json:
            echo_json(rows)
        elif not rows and not corrupt:
            click.echo("nothing to resolve")
        for row in [] if as_json else rows:
            click.echo(
                f"{row['idOperazioneComune']:<30} {row['operation']:<8} {row['state']:<20} "
                f"{row['outcome'] or ''}  {row.get('error', '')}".rstrip()
            )
        sys.exit(code)


@journal.command("accept-rollback")
@click.option("--comune", help="Only this Comune (ISTAT code).")
@config_option
@json_option
def accept_rollback(comune: str | None, config: Path | None, as_json: bool) -> None:
    """Go on with a journal that went back in time (restored from a backup, or copied).

    Its id counters move past every id handed out, so none is handed out twice; the
    acceptance is recorded in the journal. First check at ANPR (4005, 3003) the operations
    recorded after the copy was taken: the journal no longer holds them.
    """
    with handle_errors(as_json):
        with _open(config, warn=False) as j:
            accepted = j.accept_rollback(comune)
        rows = [{"comune": r.comune, "counter": r.counter, "mark": r.mark} for r in accepted]
        if as_json:
            echo_json(rows)
            return
        if not rows:
            click.echo("nothing to accept: the journal is not behind the ids it handed out")
        for r in accepted:
            click.echo(
                f"Comune {r.comune}: counter {r.counter} -> {r.mark}; new ids start after {r.mark}"
            )


@journal.command()
def keygen() -> None:
    """Print a new random key for ANPR_JOURNAL_KEY (encrypts a NEW journal's personal data)."""
    click.echo(generate_key())
