"""Versioned schema steps on both backends: a new store records every step, an existing SQLite
journal of the previous layout (0.3: ``user_version`` 1, no ``schema_version`` table) is brought
up to date with its operations and counters intact, and a newer store is refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.journal import Journal, State
from anpr_client.journal.ids import counter_of
from anpr_client.journal.sql import MIGRATIONS, SCHEMA_VERSION
from tests.journal.stores import MakeJournal, Raw

# The tables a journal of the previous release had, as that release created them (kept here
# verbatim: the test must not build the "old" file with the code under test).
PREVIOUS_LAYOUT = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE counters (comune TEXT PRIMARY KEY, last INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS id_rollbacks (accepted_at TEXT NOT NULL, comune TEXT NOT NULL, "
    "counter INTEGER NOT NULL, mark INTEGER NOT NULL, accepted_by TEXT NOT NULL)",
    """CREATE TABLE operations (id INTEGER PRIMARY KEY, comune TEXT NOT NULL,
        service TEXT NOT NULL, operation TEXT NOT NULL, id_operazione_comune TEXT NOT NULL,
        state TEXT NOT NULL, outcome TEXT, may_have_reached INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, settled_at TEXT, url TEXT NOT NULL,
        header TEXT NOT NULL, payload BLOB NOT NULL, id_operazione_anpr TEXT, esito TEXT,
        error_type TEXT, error_codes TEXT NOT NULL DEFAULT '', error BLOB, response BLOB,
        response_type TEXT, owner TEXT, lease_until REAL, resolution TEXT, elapsed REAL,
        UNIQUE (comune, id_operazione_comune))""",
    "CREATE INDEX operations_state ON operations (state)",
    "CREATE INDEX operations_created ON operations (created_at)",
    """CREATE TABLE attempts (operation INTEGER NOT NULL REFERENCES operations (id),
        number INTEGER NOT NULL, kind TEXT NOT NULL, id_operazione_comune TEXT NOT NULL,
        state TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, elapsed REAL,
        envelope BLOB NOT NULL, http_status INTEGER, response BLOB, response_type TEXT,
        error_type TEXT, error_codes TEXT NOT NULL DEFAULT '', error BLOB,
        PRIMARY KEY (operation, number))""",
)


def _previous_release_journal(path: Path) -> None:
    """A journal as the previous release left it: one Comune at counter 7, one operation whose
    outcome is unknown (held by a process of another machine)."""
    with sqlite3.connect(path) as db:
        for statement in PREVIOUS_LAYOUT:
            db.execute(statement)
        db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("id_prefix", "OLDJOURN"),
                ("journal_id", "0" * 32),
                ("created_at", "2026-01-01T10:00:00.000000+00:00"),
                ("encryption", "none"),
            ],
        )
        db.execute("INSERT INTO counters VALUES ('058091', 7)")
        db.execute(
            "INSERT INTO operations (comune, service, operation, id_operazione_comune, state, "
            "may_have_reached, created_at, updated_at, url, header, payload, owner, "
            "lease_until) VALUES ('058091', '5000', '5005', 'OLDJOURN0000000000007AB', "
            "'outcome_unknown', 1, '2026-01-01T10:00:00.000000+00:00', "
            "'2026-01-01T10:00:01.000000+00:00', 'https://example.invalid/5000', '{}', "
            "x'7b7d', 'elsewhere:42:1', 0)"
        )
        db.execute("PRAGMA user_version=1")


def test_a_journal_of_the_previous_release_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _previous_release_journal(path)
    j = Journal(path, id_marks=False)
    assert j.schema_versions() == [v for v, _, _ in MIGRATIONS]
    assert (j.id_prefix, j.journal_id) == ("OLDJOURN", "0" * 32)  # its identity is kept
    (pending,) = j.pending()
    assert (pending.id_operazione_comune, pending.state) == (
        "OLDJOURN0000000000007AB",
        State.OUTCOME_UNKNOWN,
    )
    assert counter_of(j.allocate_id("058091"), j.id_prefix) == 8  # the counter goes on
    assert j.claim(pending.key, lease=60).owner is not None  # its expired lease is taken over
    j.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # 0.3 still opens it
    again = Journal(path, id_marks=False)  # a second open changes nothing
    assert again.schema_versions() == [v for v, _, _ in MIGRATIONS]


def test_a_new_store_records_every_step(make_journal: MakeJournal, raw: Raw) -> None:
    j = make_journal()
    assert j.schema_versions() == [v for v, _, _ in MIGRATIONS]
    rows = raw(j, "SELECT version, description FROM schema_version ORDER BY version")
    assert rows == [(v, d) for v, d, _ in MIGRATIONS]
    assert MIGRATIONS[-1][0] == SCHEMA_VERSION


def test_a_newer_store_is_refused(make_journal: MakeJournal, raw: Raw) -> None:
    j = make_journal()
    raw(
        j,
        "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
        (SCHEMA_VERSION + 1, "2030-01-01T00:00:00+00:00", "from the future"),
    )
    j.close()
    with pytest.raises(ConfigurationError, match="newer than this anpr-client") as info:
        make_journal()
    assert info.value.setting == "journal"


def test_workers_starting_together_apply_the_steps_once(make_journal: MakeJournal) -> None:
    opened: list[str] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(make_journal("together", id_marks=False).journal_id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert len(opened) == 6
    assert len(set(opened)) == 1  # one journal, created once
    assert make_journal("together").schema_versions() == [v for v, _, _ in MIGRATIONS]
