"""The corpus itself: every fixture listed, sourced and documented; enough of them; our own."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from .corpus import CORPUS, FIXTURES, WIRE

TAGS = {"WIRE", "RESER", "DOC", "PROSE", "TEXT", "XSD", "CXF", "BUILT"}
REFERENCE = Path(
    os.environ.get("ANPR_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "anpr")
)


def _files() -> set[str]:
    return {
        str(p.relative_to(WIRE))
        for folder in FIXTURES
        for p in (WIRE / folder).rglob("*")
        if p.is_file()
    }


def test_every_fixture_file_is_listed_and_every_entry_exists() -> None:
    assert _files() == set(CORPUS)


@pytest.mark.parametrize("path", sorted(CORPUS))
def test_each_fixture_names_its_public_source_and_is_in_the_readme(path: str) -> None:
    entry = CORPUS[path]
    text = entry.data().decode("utf-8", errors="replace")
    assert set(entry.evidence) <= TAGS, entry.evidence
    assert "anpr-client wire corpus:" in text  # our closing note: what is evidence, what not
    if "BUILT" in entry.evidence:
        assert "CONSTRUCTED, not a real answer" in text
        return
    assert re.search(r"italia/(anpr|ansc)#[0-9]+|italia/anpr-client-example", text), path
    for source in entry.sources:  # "#1903", "ansc#2625", "anpr-client-example"
        assert re.search(re.escape(source) + "(?![0-9])", text), (path, source)
    readme = (WIRE / "README.md").read_text(encoding="utf-8")
    assert f"`{Path(path).name}`" in readme


def test_the_corpus_is_large_and_covers_many_operations() -> None:
    """At least 40 fixtures of real shapes over 12 operations or more (issue 12, point 2);
    the constructed broken ones do not count. The 4005 fixtures count too, when present."""
    real = [f for f in CORPUS.values() if "BUILT" not in f.evidence]
    exchanges_4005 = list((WIRE / "4005").rglob("*.xml")) if (WIRE / "4005").is_dir() else []
    assert len(real) + len(exchanges_4005) >= 40
    assert len(real) >= 40  # this part alone already does
    assert len({f.operation for f in real}) >= 12


def test_no_fixture_is_a_copy_of_an_official_file() -> None:
    if not REFERENCE.is_dir():
        pytest.skip(f"official reference files not found at {REFERENCE}")
    official = {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in REFERENCE.rglob("*") if p.is_file()
    }
    assert len(official) > 10
    copies = [p for p, f in CORPUS.items() if hashlib.sha256(f.data()).hexdigest() in official]
    assert copies == []
