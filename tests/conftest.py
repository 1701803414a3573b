"""Suite-wide isolation: nothing a test does may touch the user's own files.

Clients built from settings journal to the user's data directory by default; point that
directory (and the rest of XDG) at a temporary one for the whole run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

_HOME = tempfile.mkdtemp(prefix="anpr-client-tests-")
for _var, _sub in (
    ("XDG_DATA_HOME", "data"),
    ("XDG_CACHE_HOME", "cache"),
    ("XDG_STATE_HOME", "state"),
):
    os.environ[_var] = os.path.join(_HOME, _sub)


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs() -> Iterator[None]:
    yield
    shutil.rmtree(_HOME, ignore_errors=True)


REFERENCE_MARK = "ANPR_REFERENCE_DIR"
"""A test that needs ANPR's official material names this variable, or the folder it looked in
(:func:`_reference_dir`), in its skip reason."""


def _reference_dir() -> str:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "anpr"
    return os.environ.get(REFERENCE_MARK) or str(default)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests were skipped for want of the official ANPR material, and how to run
    them: a green run without it is not a conformance run."""
    reference = _reference_dir()
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if any(mark in str(getattr(report, "longrepr", "")) for mark in (REFERENCE_MARK, reference))
    ]
    if not skipped:
        return
    terminalreporter.write_sep("=", "official ANPR reference material missing", yellow=True)
    terminalreporter.write_line(
        f"{len(skipped)} conformance test(s) skipped: no official ANPR bundle (WSDL/XSD, error "
        f"table, reference tables) in {reference}."
    )
    terminalreporter.write_line(
        f"To run them, point {REFERENCE_MARK} at an unpacked official bundle, e.g. "
        f"{REFERENCE_MARK}=/path/to/anpr scripts/test"
    )


def _no_traceback(result: Result) -> Result:
    """What every CLI test asserts of its output: no Python traceback, ever, and no exception
    escaping the command (a library error is a message and an exit code)."""
    texts = [result.output]
    if result.stderr_bytes is not None:
        texts.append(result.stderr)
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(
            f"the CLI let {type(exc).__name__} escape: {exc!r}; it must print a message and exit "
            "with a documented code"
        ) from exc
    return result


@pytest.fixture(autouse=True, scope="session")
def _cli_never_shows_a_traceback() -> Iterator[None]:
    """Wrap :meth:`CliRunner.invoke` for the whole run: every CLI test checks the rule."""
    invoke = CliRunner.invoke

    def checked(self: CliRunner, *args: Any, **kwargs: Any) -> Result:
        return _no_traceback(invoke(self, *args, **kwargs))

    CliRunner.invoke = checked  # type: ignore[method-assign]
    try:
        yield
    finally:
        CliRunner.invoke = invoke  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """An ephemeral PostgreSQL cluster for the whole run (:mod:`tests.postgres`): skipped with
    the reason when PostgreSQL is missing, a failure with ``ANPR_REQUIRE_COMPONENTS=1``."""
    from tests.postgres import start_cluster

    cluster = start_cluster()
    if isinstance(cluster, str):
        if os.environ.get("ANPR_REQUIRE_COMPONENTS") == "1":
            pytest.fail(f"required component missing (ANPR_REQUIRE_COMPONENTS=1): {cluster}")
        pytest.skip(cluster)
    try:
        yield cluster
    finally:
        cluster.stop()
