"""idOperazioneComune allocation: format, per-Comune counters, and uniqueness across processes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import (
    ConfigurationError,
    JournalError,
    JournalRolledBack,
    JournalUnavailable,
)
from anpr_client.journal import Journal
from anpr_client.journal.ids import (
    COUNTER_DIGITS,
    EPOCH_LENGTH,
    counter_of,
    format_id,
    new_prefix,
    validate_prefix,
)
from anpr_client.journal.marks import MARKS_ENV, Rollback, default_marks_path, marks_from_env
from anpr_client.soap.testata import ID_PATTERN
from tests.journal.stores import MakeJournal

ROOT = Path(__file__).resolve().parents[2]


def test_ids_fit_anpr_and_count_per_comune(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    a = [j.allocate_id("058091") for _ in range(3)]
    b = j.allocate_id("001272")
    for ident in [*a, b]:
        assert ID_PATTERN.fullmatch(ident)
        assert len(ident) <= 30
        assert ident.startswith(j.id_prefix)
        assert ident[0].isalpha()
        assert len(ident) == len(j.id_prefix) + COUNTER_DIGITS + EPOCH_LENGTH
        assert ident.endswith(j.id_epoch)
    assert [counter_of(x, j.id_prefix) for x in a] == [1, 2, 3]
    assert counter_of(b, j.id_prefix) == 1  # its own counter
    assert a == sorted(a)  # in the order they were handed out
    # The counter survives reopening; the prefix is the journal's own, the epoch the open's.
    again = make_journal("j")
    assert again.id_prefix == j.id_prefix
    assert again.id_epoch != j.id_epoch
    fourth = again.allocate_id("058091")
    assert counter_of(fourth, j.id_prefix) == 4
    assert sorted([*a, fourth]) == [*a, fourth]


def test_journals_have_distinct_prefixes(tmp_path: Path) -> None:
    prefixes = {Journal(tmp_path / f"j{i}.sqlite").id_prefix for i in range(20)}
    assert len(prefixes) == 20
    assert all(len(p) == 8 and p[0].isalpha() and p.isalnum() for p in prefixes)
    assert len({new_prefix() for _ in range(1000)}) == 1000


def test_chosen_prefix(make_journal: MakeJournal) -> None:
    j = make_journal("j", id_prefix="GESTA")
    assert j.allocate_id("058091") == "GESTA000000000001" + j.id_epoch
    assert len(j.id_epoch) == EPOCH_LENGTH
    longest = make_journal("long", id_prefix="A" * 12)
    assert len(longest.allocate_id("058091")) == 30
    assert validate_prefix("A" * 12) == "A" * 12
    for bad in ("1ABC", "A-B", "", "A" * 13, "A" * 17):
        with pytest.raises(ConfigurationError, match="prefix"):
            validate_prefix(bad)
    # The prefix is fixed at creation; a later one is ignored.
    assert make_journal("j", id_prefix="OTHER").id_prefix == "GESTA"


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
    with pytest.raises(JournalUnavailable, match="locked"):  # transient: retry later
        slow.allocate_id("058091")
    blocker.execute("COMMIT")
    assert counter_of(j.allocate_id("058091"), j.id_prefix) == 42


_ALLOCATE = """
import sys
from anpr_client.journal import open_journal
j = open_journal(sys.argv[1])
with open(sys.argv[3], "w") as out:
    for _ in range(int(sys.argv[2])):
        out.write(j.allocate_id("058091") + "\\n")
"""


def test_four_processes_never_share_an_id(
    make_journal: MakeJournal, location: Callable[[str], str], backend: str, tmp_path: Path
) -> None:
    """Four workers, each in a folder of its own (working directory, temp, marks): on
    PostgreSQL they share nothing but the database, as workers on four machines would."""
    where = location("shared")
    prefix = make_journal("shared").id_prefix
    per_process = 10_000 if backend == "sqlite" else 2_000
    outs = [tmp_path / f"ids{i}.txt" for i in range(4)]
    procs = []
    for i, out in enumerate(outs):
        own = tmp_path / f"worker{i}"
        (own / "tmp").mkdir(parents=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "TMPDIR": str(own / "tmp"),
            MARKS_ENV: str(own / "marks.sqlite"),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _ALLOCATE, where, str(per_process), str(out)],
                cwd=own,
                env=env,
            )
        )
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    ids = [line for out in outs for line in out.read_text().split()]
    assert len(ids) == 4 * per_process
    assert len(set(ids)) == len(ids), "duplicate idOperazioneComune"
    counters = sorted(counter_of(i, prefix) or 0 for i in ids)
    assert counters == list(range(1, 4 * per_process + 1))  # none lost, none repeated
    assert len({i[len(prefix) + COUNTER_DIGITS :] for i in ids}) == 4  # one epoch per open


# ----------------------------------------------------------------------------- copies in time
#
# ANPR answers a known idOperazioneComune with its first answer (italia/anpr#596): an id
# handed out twice gives the second request another request's answer, e.g. another person's
# record for a 3002. A journal that goes back in time (a restored backup, a copy, a reverted
# machine) must never hand out an id again.


def _allocate(j: Journal, n: int, comune: str = "058091", *, close: bool = True) -> list[str]:
    """``n`` new ids; then the journal is closed (so the file holds them all: a copy of a
    journal in use would miss its ``-wal`` file)."""
    ids = [j.allocate_id(comune) for _ in range(n)]
    if close:
        j.close()
    return ids


def test_two_copies_in_use_share_no_id(tmp_path: Path) -> None:
    """A journal copied to a second workstation: each copy counts from the same value, under
    its own epochs, on machines that share no high-water mark."""
    original = tmp_path / "a" / "journal.sqlite"
    first = _allocate(Journal(original, id_marks=tmp_path / "a" / "marks.sqlite"), 5)
    copy = tmp_path / "b" / "journal.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    with Journal(original, id_marks=False) as x, Journal(copy, id_marks=False) as y:
        assert (x.id_prefix, x.journal_id) == (y.id_prefix, y.journal_id)  # a true copy
    used = set(first)
    for _ in range(3):  # several opens of each copy, interleaved
        a = _allocate(Journal(original, id_marks=tmp_path / "a" / "marks.sqlite"), 20)
        b = _allocate(Journal(copy, id_marks=tmp_path / "b" / "marks.sqlite"), 20)
        assert not used & set(a)
        assert not used & set(b)
        assert not set(a) & set(b)
        used |= set(a) | set(b)
    assert len(used) == 5 + 3 * 40


def test_a_restored_backup_is_refused_until_accepted(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    marks = tmp_path / "state" / "id-marks.sqlite"
    before = _allocate(Journal(path, id_marks=marks), 3)
    backup = tmp_path / "backup.sqlite"
    shutil.copyfile(path, backup)  # the nightly backup: counter at 3
    after = _allocate(Journal(path, id_marks=marks), 7)  # used after the backup: 4..10
    shutil.copyfile(backup, path)  # the disk fails; the backup is put back

    restored = Journal(path, id_marks=marks)
    assert restored.rollbacks() == [Rollback("058091", 3, 10)]
    with pytest.raises(JournalRolledBack) as info:
        restored.allocate_id("058091")  # would have been counter 4: used already
    exc = info.value
    assert isinstance(exc, JournalError)
    assert (exc.comune, exc.counter, exc.mark) == ("058091", 3, 10)
    assert "restored from a backup" in str(exc)
    assert "anpr journal accept-rollback" in str(exc)
    with pytest.raises(JournalRolledBack):
        Journal(path, id_marks=marks).allocate_id("058091")  # every open, every process
    assert restored.allocate_id("001272")  # another Comune's counter did not go back

    assert restored.accept_rollback() == [Rollback("058091", 3, 10)]
    assert restored.rollbacks() == []
    nxt = restored.allocate_id("058091")
    assert counter_of(nxt, restored.id_prefix) == 11  # past every id handed out
    assert nxt not in before + after
    with sqlite3.connect(path) as db:
        ((comune, counter, mark),) = db.execute("SELECT comune, counter, mark FROM id_rollbacks")
    assert (comune, counter, mark) == ("058091", 3, 10)


def test_a_copy_used_next_to_its_original_is_reported(tmp_path: Path) -> None:
    """Both copies on one machine share the marks: the one behind is refused, never reused."""
    marks = tmp_path / "marks.sqlite"
    original, copy = tmp_path / "j.sqlite", tmp_path / "copy.sqlite"
    used = _allocate(Journal(original, id_marks=marks), 2)
    shutil.copyfile(original, copy)
    used += _allocate(Journal(original, id_marks=marks), 2)
    behind = Journal(copy, id_marks=marks)
    with pytest.raises(JournalRolledBack):
        behind.allocate_id("058091")
    behind.accept_rollback("058091")
    used += _allocate(behind, 2)
    with pytest.raises(JournalRolledBack):  # now the original is behind the copy
        Journal(original, id_marks=marks).allocate_id("058091")
    assert len(set(used)) == len(used) == 6


def test_a_reverted_machine_hands_out_no_used_id(tmp_path: Path) -> None:
    """A snapshot restores the journal *and* the marks: nothing can see the rollback, the
    epoch of the new opens still keeps every new id apart from the used ones."""
    path, marks = tmp_path / "j.sqlite", tmp_path / "marks.sqlite"
    _allocate(Journal(path, id_marks=marks), 2)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for f in tmp_path.glob("*.sqlite*"):
        shutil.copyfile(f, snapshot / f.name)
    used = set(_allocate(Journal(path, id_marks=marks), 50))
    for f in snapshot.iterdir():
        shutil.copyfile(f, tmp_path / f.name)
    again = Journal(path, id_marks=marks)
    assert again.rollbacks() == []  # invisible
    fresh = _allocate(again, 50, close=False)  # the same counters 3..52 ...
    assert sorted(counter_of(i, again.id_prefix) or 0 for i in fresh) == list(range(3, 53))
    assert not used & set(fresh)  # ... never the same ids


def test_without_marks_only_the_epoch_protects(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, id_marks=False).close()
    backup = tmp_path / "b.sqlite"
    shutil.copyfile(path, backup)
    used = set(_allocate(Journal(path, id_marks=False), 5))
    shutil.copyfile(backup, path)
    restored = Journal(path, id_marks=False)
    assert restored.rollbacks() == []
    assert not used & set(_allocate(restored, 5))


def test_marks_location(tmp_path: Path) -> None:
    assert marks_from_env({}) == default_marks_path()
    assert default_marks_path().parts[-2:] == ("anpr-client", "id-marks.sqlite")
    assert marks_from_env({MARKS_ENV: "off"}) is None
    assert marks_from_env({MARKS_ENV: str(tmp_path / "m.sqlite")}) == tmp_path / "m.sqlite"
    j = Journal.open(tmp_path / "j.sqlite", env={MARKS_ENV: str(tmp_path / "m.sqlite")})
    j.allocate_id("058091")
    assert (tmp_path / "m.sqlite").is_file()
    assert stat.S_IMODE((tmp_path / "m.sqlite").stat().st_mode) == 0o600
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    j = Journal(tmp_path / "k.sqlite", id_marks=blocked / "m.sqlite")
    with pytest.raises(ConfigurationError, match=MARKS_ENV) as info:
        j.allocate_id("058091")
    assert info.value.setting == MARKS_ENV


def test_a_journal_of_an_earlier_release_gains_an_identity(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = Journal(path, id_marks=False)
    old.allocate_id("058091")
    old.close()
    with sqlite3.connect(path) as db:  # what 0.2 created: no identity, no rollback table
        db.execute("DELETE FROM meta WHERE key = 'journal_id'")
        db.execute("DROP TABLE id_rollbacks")
        db.execute("DROP TABLE schema_version")
        db.execute("DROP TABLE envelopes")  # nor the later steps' tables
    j = Journal(path, id_marks=tmp_path / "m.sqlite")
    assert len(j.journal_id) == 32
    assert Journal(path, id_marks=False).journal_id == j.journal_id  # kept in the file
    assert counter_of(j.allocate_id("058091"), j.id_prefix) == 2
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # still readable by 0.2


def test_a_long_prefix_of_an_earlier_release_still_fits(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, id_prefix="ABCDEFGHIJKL").close()
    with sqlite3.connect(path) as db:  # 0.2 accepted 16 characters
        db.execute("UPDATE meta SET value = 'ABCDEFGHIJKLMNOP' WHERE key = 'id_prefix'")
    j = Journal(path)
    ident = j.allocate_id("058091")
    assert len(ident) == 30
    assert ID_PATTERN.fullmatch(ident)
    assert len(j.id_epoch) == 2


def test_the_cli_reports_a_rollback_and_accepts_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from anpr_client.cli.main import cli

    path = tmp_path / "j.sqlite"
    env = {"ANPR_JOURNAL": str(path), "ANPR_CONFIG": "", MARKS_ENV: str(tmp_path / "m.sqlite")}
    j = Journal.open(path, env=env)
    j.close()
    shutil.copyfile(path, tmp_path / "backup.sqlite")
    _allocate(Journal.open(path, env=env), 4)
    shutil.copyfile(tmp_path / "backup.sqlite", path)
    runner = CliRunner()
    result = runner.invoke(cli, ["journal", "pending"], env=env)
    assert result.exit_code == 0
    assert "warning: the journal" in result.stderr
    assert "its counter is at 0, but 4 was handed out" in result.stderr
    result = runner.invoke(cli, ["journal", "accept-rollback", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"comune": "058091", "counter": 0, "mark": 4}]
    result = runner.invoke(cli, ["journal", "pending"], env=env)
    assert "warning" not in result.stderr
    result = runner.invoke(cli, ["journal", "accept-rollback"], env=env)
    assert "nothing to accept" in result.stdout
    assert counter_of(Journal.open(path, env=env).allocate_id("058091"), j.id_prefix) == 5
