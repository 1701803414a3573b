"""``anpr doctor [--config FILE] [--live] [--json]``: check an installation before its first call.

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 the configuration
cannot be read (nothing was checked). Each check prints its verdict, its evidence and, when it
did not pass, the fix; ``--json`` prints the list of checks. See docs/doctor.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..doctor import Check, Report, Verdict, diagnose
from ..errors.exceptions import AnprError, ConfigurationError
from ._common import EXIT_INVALID, config_option, echo_json, json_option, settings_from

__all__ = ["doctor"]

_LABEL = {Verdict.OK: "ok", Verdict.WARN: "WARN", Verdict.FAIL: "FAIL", Verdict.SKIP: "skip"}
_COLOUR = {Verdict.OK: "green", Verdict.WARN: "yellow", Verdict.FAIL: "red", Verdict.SKIP: None}


@click.command("doctor")
@config_option
@click.option(
    "--live",
    is_flag=True,
    help="Also reach the endpoint: DNS, TCP, TLS, clock offset, TestConn (rsa-sha256, rsa-sha1).",
)
@json_option
def doctor(config: Path | None, live: bool, as_json: bool) -> None:
    """Check certificates, operator, trust and the security frame (and, with --live, the
    endpoint), with a verdict, the evidence and the fix for each."""
    try:
        settings = settings_from(config)
    except ConfigurationError as exc:
        _unreadable(exc, as_json)
    try:
        report = diagnose(settings, live=live)
    except AnprError as exc:  # a check let a library error out: still no traceback
        report = Report.of(
            [Check("doctor", Verdict.FAIL, f"{type(exc).__name__}: {exc}", setting=None)]
        )
    if as_json:
        echo_json([c.as_dict() for c in report])
    else:
        _print(report)
    sys.exit(report.exit_code)


def _unreadable(exc: ConfigurationError, as_json: bool) -> None:
    check = Check(
        "settings",
        Verdict.FAIL,
        f"the configuration cannot be used: {exc}",
        fix=f"correct setting {exc.setting!r}" + (f" ({exc.rule})" if exc.rule else "")
        if exc.setting
        else None,
        setting=exc.setting,
    )
    if as_json:
        echo_json([check.as_dict()])
    else:
        _print(Report.of([check]))
    sys.exit(EXIT_INVALID)


def _print(report: Report) -> None:
    width = max((len(c.name) for c in report), default=0)
    for check in report:
        label = click.style(f"{_LABEL[check.verdict]:<4}", fg=_COLOUR[check.verdict], bold=True)
        click.echo(f"{label}  {check.name:<{width}}  {check.evidence}")
        if check.fix and check.verdict is not Verdict.OK:
            click.echo(f"      {'':<{width}}  fix: {check.fix}")
    counts = {v: sum(1 for c in report if c.verdict is v) for v in Verdict}
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    click.echo(f"\n{summary}")
