"""Fixtures of the validation tests: ANPR's official tables (read for comparison only)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from anpr_client.validation.comuni import ComuniTable
from anpr_client.validation.rules import PersonChecker
from anpr_client.validation.stati import StatiTable
from anpr_client.validation.toponyms import SpeciesTable

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 1, 15)
"""The reference date of every test, so results do not drift with the calendar."""


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``$ANPR_REFERENCE_DIR`` (default ``<repo>/../shared/anpr``); skips the test if absent."""
    path = Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))
    if not (path / "tables").is_dir():
        pytest.skip(f"official ANPR reference files not found in {path} (set ANPR_REFERENCE_DIR)")
    return path


@pytest.fixture(scope="session")
def archive_path(reference_dir: Path) -> Path:
    return reference_dir / "tables" / "ANPR_archivio_comuni.csv"


@pytest.fixture(scope="session")
def official_comuni(archive_path: Path) -> ComuniTable:
    """The real comuni archive (19k periods)."""
    return ComuniTable.from_file(archive_path)


@pytest.fixture(scope="session")
def official_stati(reference_dir: Path) -> StatiTable:
    return StatiTable.from_file(reference_dir / "tables" / "xlsx" / "tab_Stati_Esteri.xlsx")


@pytest.fixture(scope="session")
def official_species(reference_dir: Path) -> SpeciesTable:
    return SpeciesTable.from_file(
        reference_dir / "tables" / "xlsx" / "tab_tabella_04___specie_toponimo.xlsx"
    )


@pytest.fixture(scope="session")
def official_checker(
    official_comuni: ComuniTable, official_stati: StatiTable, official_species: SpeciesTable
) -> PersonChecker:
    """A checker with every official table: the full rule set."""
    return PersonChecker(
        comuni=official_comuni, stati=official_stati, species=official_species, today=TODAY
    )
