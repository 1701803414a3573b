"""docs/errors.md is generated from the catalogue and must be current."""

from __future__ import annotations

import subprocess
import sys

from anpr_client.errors.catalogue import all_codes, families
from anpr_client.errors.faults import FAULTS

from .conftest import REPO

PAGE = REPO / "docs" / "errors.md"


def test_the_committed_page_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_error_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_page_lists_every_code_family_and_fault() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for info in all_codes():
        assert f"\n| {info.code} | " in text, info.code
    for fam in families():
        assert f"### {fam.key}: {fam.name}" in text
        assert f"`{fam.exception}`" in text
    for kind in FAULTS:
        assert f"`{kind.label}` → `{kind.exception.__name__}`" in text
        assert kind.causes[0] in text
