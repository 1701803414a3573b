"""A run of the doctor reports what a check raised as a failed check: it never crashes."""

from __future__ import annotations

from collections.abc import Iterator

from anpr_client.doctor import Check, Verdict
from anpr_client.doctor.run import _guarded


def test_a_check_that_raises_becomes_a_failed_check() -> None:
    def broken() -> Iterator[Check]:
        yield Check("x.first", Verdict.OK, "seen")
        raise ValueError("a certificate that breaks a parser")

    first, failed = list(_guarded("x", broken()))
    assert first.name == "x.first"
    assert (failed.name, failed.verdict) == ("x.unexpected", Verdict.FAIL)
    assert "ValueError: a certificate that breaks a parser" in failed.evidence
