"""idOperazioneComune allocation: format, per-Comune counters, and uniqueness across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError, JournalError
from anpr_client.journal import Journal
from anpr_client.journal.ids import format_id, new_prefix, validate_prefix
from anpr_client.soap.testata import ID_PATTERN

ROOT = Path(__file__).resolve().parents[2]


def test_ids_fit_anpr_and_count_per_comune(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    a = [j.allocate_id("058091") for _ in range(3)]
    b = j.allocate_id("001272")
    for ident in [*a, b]:
        assert ID_PATTERN.fullmatch(ident)
        assert len(ident) <= 30
        assert ident.startswith(j.id_prefix)
        assert ident[0].isalpha()
    assert [int(x[len(j.id_prefix) :]) for x in a] == [1, 2, 3]
    assert int(b[len(j.id_prefix) :]) == 1  # its own counter
    # The counter survives reopening; the prefix is the journal's own.
    again = Journal(tmp_path / "j.sqlite")
    assert again.id_prefix == j.id_prefix
    assert int(again.allocate_id("058091")[len(j.id_prefix) :]) == 4


def test_journals_have_distinct_prefixes(tmp_path: Path) -> None:
    prefixes = {Journal(tmp_path / f"j{i}.sqlite").id_prefix for i in range(20)}
    assert len(prefixes) == 20
    assert all(len(p) == 8 and p[0].isalpha() and p.isalnum() for p in prefixes)
    assert len({new_prefix() for _ in range(1000)}) == 1000


def test_chosen_prefix(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", id_prefix="GESTA")
    assert j.allocate_id("058091") == "GESTA000000000001"
    for bad in ("1ABC", "A-B", "", "A" * 17):
        with pytest.raises(ConfigurationError, match="prefix"):
            validate_prefix(bad)
    # The prefix is fixed at creation; a later one is ignored.
    assert Journal(tmp_path / "j.sqlite", id_prefix="OTHER").id_prefix == "GESTA"


def test_counter_exhaustion_is_an_error() -> None:
    assert len(format_id("A" * 16, 10**13)) == 30
    with pytest.raises(ConfigurationError, match="exhausted"):
        format_id("A" * 16, 10**14)
    with pytest.raises(ValueError, match="start at 1"):
        format_id("A", 0)


def test_counter_is_transactional(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.allocate_id("058091")
    # A writer holding the lock makes the allocator wait, not skip or repeat.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    blocker.execute("UPDATE counters SET last = 41 WHERE comune = '058091'")
    slow = Journal(path, busy_timeout=0.05)
    with pytest.raises(JournalError, match="locked"):
        slow.allocate_id("058091")
    blocker.execute("COMMIT")
    assert j.allocate_id("058091").endswith("42")


_ALLOCATE = """
import sys
from anpr_client.journal import Journal
j = Journal(sys.argv[1])
with open(sys.argv[3], "w") as out:
    for _ in range(int(sys.argv[2])):
        out.write(j.allocate_id("058091") + "\\n")
"""


def test_four_processes_never_share_an_id(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    prefix = Journal(path).id_prefix
    per_process = 10_000
    outs = [tmp_path / f"ids{i}.txt" for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ALLOCATE, str(path), str(per_process), str(out)],
            cwd=ROOT,
        )
        for out in outs
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    ids = [line for out in outs for line in out.read_text().split()]
    assert len(ids) == 4 * per_process
    assert len(set(ids)) == len(ids), "duplicate idOperazioneComune"
    counters = sorted(int(i[len(prefix) :]) for i in ids)
    assert counters == list(range(1, 4 * per_process + 1))  # none lost, none repeated
