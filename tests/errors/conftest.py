"""Fixtures of the error-model tests: where the official ANPR reference files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``$ANPR_REFERENCE_DIR`` (default ``<repo>/../shared/anpr``); skips the test if absent."""
    path = Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))
    if not (path / "errors.csv").is_file():
        pytest.skip(f"official ANPR reference files not found in {path} (set ANPR_REFERENCE_DIR)")
    return path
