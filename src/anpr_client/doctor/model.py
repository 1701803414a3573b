"""What a check answers: a :class:`Check` (name, :class:`Verdict`, evidence, fix) and the
:class:`Report` of a whole run, with the exit code ``anpr doctor`` returns."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "Report", "Verdict"]


class Verdict(enum.StrEnum):
    """How a check ended."""

    OK = "ok"
    """What was checked is as ANPR expects it."""
    WARN = "warn"
    """Works today, but needs attention (a certificate expiring soon, trust left to the
    system's store, an inference that could not be confirmed)."""
    FAIL = "fail"
    """ANPR (or the library, before sending) refuses this: the fix says what to change."""
    SKIP = "skip"
    """Not checked: nothing configured to check, or a check it depends on failed (the
    evidence says which)."""


@dataclass(frozen=True)
class Check:
    """One check's answer.

    :param name: a stable dotted name (``comune_key.validity``, ``live.tls``), documented in
        ``docs/doctor.md``.
    :param verdict: the :class:`Verdict`.
    :param evidence: what was seen (subjects, dates, addresses, the answer received); never a
        secret.
    :param fix: what to do when the verdict is not ``ok``.
    :param setting: the setting concerned, when there is one.
    """

    name: str
    verdict: Verdict
    evidence: str
    fix: str | None = None
    setting: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "evidence": self.evidence,
            "fix": self.fix,
            "setting": self.setting,
        }


@dataclass(frozen=True)
class Report:
    """The checks of one run, in the order they ran."""

    checks: tuple[Check, ...]

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Report:
        return cls(tuple(checks))

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    @property
    def by_name(self) -> dict[str, Check]:
        """The checks by name (each name runs once)."""
        return {check.name: check for check in self.checks}

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.FAIL)

    @property
    def exit_code(self) -> int:
        """``0`` when no check failed (warnings allowed), ``1`` otherwise."""
        return 1 if self.failed else 0
