"""One run of the doctor: the offline checks, then the live ones when asked."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .endpoint import endpoint_checks
from .identities import identity_checks
from .live import live_checks
from .model import Report
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
        *endpoint_checks(settings, now),
        *identity_checks(settings, now),
        *frame_checks(settings),
    ]
    if live:
        checks.extend(live_checks(settings))
    return Report.of(checks)
