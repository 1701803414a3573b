"""The simulator's clock: the wall clock plus an adjustable offset (a skewed ANPR)."""

from __future__ import annotations

import datetime as dt
import threading

__all__ = ["Clock", "format_datetime", "utc_iso"]


class Clock:
    """``now()`` = the wall clock + ``offset`` seconds. The offset may change while running."""

    def __init__(self, offset: float = 0.0):
        self._offset = float(offset)
        self._delta = dt.timedelta(seconds=self._offset)  # made once, not at every now()
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    @offset.setter
    def offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = float(seconds)
            self._delta = dt.timedelta(seconds=self._offset)

    def now(self) -> dt.datetime:
        """The current simulated time, timezone-aware (UTC)."""
        return dt.datetime.now(dt.UTC) + self._delta

    def local_now(self) -> dt.datetime:
        """The current simulated time in the host's local timezone (ANPR answers in local time)."""
        return self.now().astimezone()

    def today(self) -> dt.date:
        return self.local_now().date()

    def __repr__(self) -> str:
        return f"Clock(offset={self._offset})"


def format_datetime(moment: dt.datetime) -> str:
    """An ``xs:dateTime`` with milliseconds and the host's offset.

    >>> import datetime as dt
    >>> format_datetime(dt.datetime(2026, 1, 2, 10, 30, tzinfo=dt.UTC)).startswith("2026-01-02T")
    True
    """
    return moment.astimezone().isoformat(timespec="milliseconds")


def utc_iso(moment: dt.datetime) -> str:
    """A stored timestamp: UTC, microseconds, fixed width (so text order is time order)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
