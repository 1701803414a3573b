"""House rules that a reviewer should not have to check by hand: lint, format, types,
and generated files in step with their sources."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_models_are_current() -> None:
    result = _run(sys.executable, "tools/generate_models.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sources_cite_public_evidence_not_files_outside_the_repository() -> None:
    """Comments and docs cite an italia/anpr issue or a docs page, never a notes file that a
    reader of the repository does not have."""
    outside = re.compile(r"ANPR-FACTS|shared/docs")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("src", "docs", "tools", "bench")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".md", ".toml"}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert not offenders, offenders


def test_docstrings_use_one_parameter_style() -> None:
    """Parameters are documented as ``:param name:`` (reST), not as a bullet list under a
    ``**Parameters:**`` heading nor as Google- or NumPy-style sections."""
    other = re.compile(r"^\s*(\*\*Parameters:?\*\*|Args:|Arguments:|Parameters\n\s*-{3,})\s*$")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if other.match(line)
    ]
    assert not offenders, offenders
    assert other.match("    **Parameters:**")  # the pattern sees the old style
