"""Fixtures of the simulator-data tests: the official ANPR tables, read for comparison only."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from anpr_client.validation._tables import read_rows

REPO = Path(__file__).resolve().parents[2]

OfficialRows = Callable[[str, tuple[str, ...]], list[dict[str, str]]]


@pytest.fixture(scope="session")
def official_tables() -> Path:
    """``$ANPR_REFERENCE_DIR/tables/xlsx`` (default ``<repo>/../shared/anpr``); skips if absent."""
    base = Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))
    path = base / "tables" / "xlsx"
    if not path.is_dir():
        pytest.skip(f"official ANPR tables not found in {path} (set ANPR_REFERENCE_DIR)")
    return path


@pytest.fixture(scope="session")
def official_rows(official_tables: Path) -> OfficialRows:
    """The rows of an official workbook as ``{COLUMN: text}`` (read with zipfile + lxml)."""

    def read(filename: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
        data = (official_tables / filename).read_bytes()
        return list(read_rows(data, columns=columns, required=columns[:1], setting="test"))

    return read
