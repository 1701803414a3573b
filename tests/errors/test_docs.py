"""docs/errors.md is generated from the catalogue and must be current."""

from __future__ import annotations

import subprocess
import sys

from anpr_client.errors.catalogue import all_codes, groups
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


def test_the_page_lists_every_code_group_and_fault() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for info in all_codes():
        assert f"\n| {info.code} | " in text, info.code
    for grp in groups():
        assert f"### {grp.key}: {grp.name}" in text
        assert f"`{grp.exception}`" in text
    for known in FAULTS:
        assert f"`{known.label}` → `{known.exception.__name__}`" in text
        assert known.causes[0] in text
