"""Without ANPR's official material, the pytest summary says how many conformance tests it
skipped and how to point ``ANPR_REFERENCE_DIR`` at an official bundle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_summary_counts_the_skipped_conformance_tests(tmp_path: Path) -> None:
    env = {**os.environ, "ANPR_REFERENCE_DIR": str(tmp_path / "no-bundle-here")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/conformance/test_wsdl.py",
            "tests/core/test_bundle.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    line = next((ln for ln in run.stdout.splitlines() if "conformance test(s) skipped" in ln), None)
    assert line is not None, run.stdout
    skipped = int(line.split()[0])
    assert skipped >= 1
    assert str(tmp_path / "no-bundle-here") in line
    assert "point ANPR_REFERENCE_DIR at an unpacked official bundle" in run.stdout
