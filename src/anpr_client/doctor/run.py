"""One run of the doctor: the offline checks, then the live ones when asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .endpoint import endpoint_checks
from .identities import identity_checks
from .live import live_checks
from .model import Check, Report, Verdict
from .selftest import frame_checks

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["diagnose"]


def diagnose(settings: Settings, *, live: bool = False, now: dt.datetime | None = None) -> Report:
    """Run every check on ``settings`` (and, with ``live``, against the endpoint).

    :param settings: the settings to check (as the client would use them).
    :param live: also reach the endpoint: DNS, TCP, TLS, clock, TestConn.
    :param now: the time certificates are checked at (default: now).
    """
    checks = [
        *_guarded("endpoint", endpoint_checks(settings, now)),
        *_guarded("identities", identity_checks(settings, now)),
        *_guarded("frame", frame_checks(settings)),
    ]
    if live:
        checks.extend(_guarded("live", live_checks(settings)))
    return Report.of(checks)


def _guarded(group: str, checks: Iterator[Check]) -> Iterator[Check]:
    """``checks``, and a failed check instead of whatever a check raised unexpectedly (a
    certificate that breaks a parser, a system error): the doctor reports, never crashes."""
    try:
        yield from checks
    except Exception as exc:  # every failure is reported as a check
        yield Check(
            f"{group}.unexpected",
            Verdict.FAIL,
            f"the {group} checks stopped on {type(exc).__name__}: {exc}",
            fix="report this with the evidence: the checks after it did not run",
        )
