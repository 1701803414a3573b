"""Versioned schema steps on both backends: a new store records every step, an existing SQLite
journal of the previous layout (0.3: ``user_version`` 1, no ``schema_version`` table) is brought
up to date with its operations and counters intact, a store at schema version 2 loses the two
indexes no query uses (step 3, with the query plans that show it), and a newer store is
refused."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.journal import Journal, PostgresJournal, SqlJournal, State
from anpr_client.journal.ids import counter_of
from anpr_client.journal.records import AttemptEnd, Settlement
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


VERSION_2_STEPS = (
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, "
    "description TEXT NOT NULL)",
    "INSERT INTO schema_version VALUES (1, '2026-01-01T10:00:00+00:00', 'one'), "
    "(2, '2026-01-01T10:00:00+00:00', 'two')",
)
"""What schema version 2 added to that layout (``id_rollbacks`` is in it already)."""

DROPPED = {"operations_state", "operations_created"}


def _version_2_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A store at schema version 2 (the indexes of step 1 in it), built without the code under
    test, with one operation of unknown outcome; its location."""
    meta = [
        ("id_prefix", b"OLDJOURN"),
        ("journal_id", b"0" * 32),
        ("created_at", b"2026-01-01T10:00:00.000000+00:00"),
        ("encryption", b"none"),
    ]
    operation = (
        "INSERT INTO operations (comune, service, operation, id_operazione_comune, state, "
        "may_have_reached, created_at, updated_at, url, header, payload, owner, lease_until) "
        "VALUES ('058091', '5000', '5005', 'OLDJOURN0000000000007AB', 'outcome_unknown', 1, "
        "'2026-01-01T10:00:00.000000+00:00', '2026-01-01T10:00:01.000000+00:00', "
        "'https://example.invalid/5000', '{}', ?, 'elsewhere:42:1', 0)"
    )
    attempt = (
        "INSERT INTO attempts (operation, number, kind, id_operazione_comune, state, started_at, "
        "envelope) VALUES (1, 1, 'send', 'OLDJOURN0000000000007AB', 'outcome_unknown', "
        "'2026-01-01T10:00:00.000000+00:00', ?)"
    )
    if backend == "sqlite":
        path = tmp_path / "v2.sqlite"
        with sqlite3.connect(path) as db:
            for statement in PREVIOUS_LAYOUT + VERSION_2_STEPS:
                db.execute(statement)
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta)
            db.execute("INSERT INTO counters VALUES ('058091', 7)")
            db.execute(operation, (b"{}",))
            db.execute(attempt, (b"<old-envelope/>",))
            db.execute("PRAGMA user_version=1")
        return str(path)
    import psycopg

    url = str(request.getfixturevalue("postgres").fresh_url("v2"))
    types = (
        ("id INTEGER PRIMARY KEY", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
        ("BLOB", "BYTEA"),
        ("REAL", "DOUBLE PRECISION"),
        ("INTEGER", "BIGINT"),
    )
    with psycopg.connect(url, autocommit=True) as pg:
        for statement in PREVIOUS_LAYOUT + VERSION_2_STEPS:
            for sqlite_type, pg_type in types:
                statement = statement.replace(sqlite_type, pg_type)
            pg.execute(statement)
        for key, value in meta:
            pg.execute("INSERT INTO meta (key, value) VALUES (%s, %s)", (key, value))
        pg.execute("INSERT INTO counters VALUES ('058091', 7)")
        pg.execute(operation.replace("?", "%s"), (b"{}",))
        pg.execute(attempt.replace("?", "%s"), (b"<old-envelope/>",))
    return url


def _indexes(journal: SqlJournal, raw: Raw) -> set[str]:
    if isinstance(journal, Journal):
        found = raw(journal, "SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        found = raw(journal, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return {str(name) for (name,) in found}


def _one_call(journal: SqlJournal) -> int:
    """What a journaled call records (an id, the operation with its first attempt, the answer
    that settles it); the operation's key."""
    ident = journal.allocate_id("058091")
    record, created = journal.open_operation(
        comune="058091",
        service="3000",
        operation="3002",
        id_operazione_comune=ident,
        url="https://example.invalid/3000",
        header={"idOperazioneComune": ident},
        payload={"criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"}},
        lease=60,
        envelope=b"<soap:Envelope/>",
    )
    assert created
    answer = b"<answer/>"
    journal.end_attempt(
        record.key,
        1,
        AttemptEnd(state="answered", http_status=200, response=answer, response_type="text/xml"),
        elapsed=0.1,
        settle=Settlement(
            state=State.ANSWERED,
            outcome="ok",
            resolution="answer",
            response=answer,
            response_type="text/xml",
        ),
    )
    return record.key


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_store_at_version_2_loses_the_unused_indexes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, raw: Raw
) -> None:
    location = _version_2_store(backend, tmp_path, request)
    j: SqlJournal = (
        Journal(location, id_marks=False)
        if backend == "sqlite"
        else PostgresJournal(location, id_marks=False)
    )
    try:
        assert j.schema_versions() == [v for v, _, _ in MIGRATIONS]
        assert _indexes(j, raw).isdisjoint(DROPPED)
        (pending,) = j.pending()  # what it held is still there, its envelope in attempts
        assert pending.id_operazione_comune == "OLDJOURN0000000000007AB"
        assert [a.envelope for a in pending.attempts] == [b"<old-envelope/>"]
        assert counter_of(j.allocate_id("058091"), j.id_prefix) == 8
        key = _one_call(j)  # and it records calls as before
        done = j.get_by_key(key)
        assert done is not None
        assert done.state is State.ANSWERED
        assert done.response == b"<answer/>"
        assert [a.envelope for a in done.attempts] == [b"<soap:Envelope/>"]
        in_attempts = raw(j, "SELECT envelope FROM attempts WHERE operation = ?", (key,))
        assert [bytes(e) for (e,) in in_attempts] == [b""]  # written once, in envelopes
        stored = raw(j, "SELECT number, envelope FROM envelopes WHERE operation = ?", (key,))
        assert [(n, bytes(e)) for n, e in stored] == [(1, b"<soap:Envelope/>")]
        assert [r.id_operazione_comune for r in j.pending()] == ["OLDJOURN0000000000007AB"]
        since = j.since(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        assert [r.key for r in since] == [pending.key, key]
    finally:
        j.close()


def test_a_new_store_has_neither_index(make_journal: MakeJournal, raw: Raw) -> None:
    j = make_journal()
    _one_call(j)
    indexes = _indexes(j, raw)
    assert indexes.isdisjoint(DROPPED)
    assert indexes  # the primary keys' and UNIQUE's indexes are listed: the query sees indexes


def _workload(journal: SqlJournal) -> None:
    """Every statement the repository issues in use (a call, a resend, a claim, a release, a
    settlement, every reading, the rollback checks)."""
    key = _one_call(journal)
    done = journal.get_by_key(key)
    assert done is not None
    journal.get(done.id_operazione_comune)
    journal.get(done.id_operazione_comune, comune="058091")
    ident = journal.allocate_id("058091")
    record, _ = journal.open_operation(
        comune="058091",
        service="5000",
        operation="5005",
        id_operazione_comune=ident,
        url="https://example.invalid/5000",
        header={},
        payload={"a": 1},
        lease=60,
    )
    journal.open_operation(  # the same id again: the existing operation
        comune="058091",
        service="5000",
        operation="5005",
        id_operazione_comune=ident,
        url="https://example.invalid/5000",
        header={},
        payload={"a": 1},
        lease=60,
    )
    journal.claim(record.key, lease=60)
    number = journal.begin_attempt(
        record.key, kind="send", envelope=b"<e/>", id_operazione_comune=ident, lease=60
    )
    journal.end_attempt(record.key, number, AttemptEnd(state="outcome_unknown"), elapsed=0.1)
    journal.release(record.key)
    for comune in (None, "058091"):
        journal.pending(comune=comune)
        list(journal.since(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), comune=comune))
    journal.settle(
        record.key, Settlement(state=State.RESOLVED, outcome="not_applied", resolution="x")
    )
    journal.schema_versions()
    journal.rollbacks()
    journal.accept_rollback()


def test_no_statement_of_the_journal_needs_the_dropped_indexes(tmp_path: Path) -> None:
    """The proof behind step 3: the query plan (``EXPLAIN QUERY PLAN``) of every statement
    the journal issues, on a store that still has both indexes. None finds its rows with
    them; the one that uses one at all is pending() without a Comune, which walks
    operations_created for its ORDER BY — still a scan of the whole table (its NOT IN filter
    has no index), which without the index sorts only the rows it keeps."""
    statements: list[str] = []
    j = Journal(tmp_path / "now.sqlite", id_marks=False)
    j._db.set_trace_callback(statements.append)
    _workload(j)
    j._db.set_trace_callback(None)
    j.close()
    old = sqlite3.connect(tmp_path / "v2.sqlite")
    for statement in PREVIOUS_LAYOUT + VERSION_2_STEPS:
        old.execute(statement)
    for version, _, steps in MIGRATIONS:  # the tables of the later steps, for their queries
        if version > 3:
            for step in steps:
                old.execute(Journal._ddl(step))
    plans: dict[str, list[str]] = {}
    for statement in dict.fromkeys(statements):
        if statement.split(None, 1)[0].upper() in {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"}:
            continue
        if statement.lstrip().upper().startswith("CREATE"):
            continue
        found = old.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
        plans[statement] = [str(row[3]) for row in found]
    old.close()
    assert any("FROM operations" in s for s in plans), "the workload issued no query"
    assert any("state NOT IN" in s for s in plans)
    assert any("created_at >=" in s for s in plans)
    users = {s: p for s, p in plans.items() if any(name in " ".join(p) for name in DROPPED)}
    for statement, plan in plans.items():
        for step in plan:
            assert not step.startswith("SEARCH") or not any(n in step for n in DROPPED), (
                statement,
                step,
            )
    assert all("state NOT IN" in s and " comune = " not in s for s in users), users
    assert all(p == ["SCAN operations USING INDEX operations_created"] for p in users.values())


def test_a_new_sqlite_journal_has_small_pages_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    from anpr_client.journal.sqlite import PAGE_SIZE

    new = Journal(tmp_path / "new.sqlite", id_marks=False)
    _one_call(new)
    new.close()
    old_path = tmp_path / "old.sqlite"
    _previous_release_journal(old_path)  # sqlite3's default page size
    with sqlite3.connect(old_path) as db:
        default = db.execute("PRAGMA page_size").fetchone()[0]
    assert default != PAGE_SIZE
    old = Journal(old_path, id_marks=False)
    _one_call(old)
    old.close()
    for path, size in ((tmp_path / "new.sqlite", PAGE_SIZE), (old_path, default)):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA page_size").fetchone()[0] == size, path
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


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
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    assert {name for (name,) in found}.isdisjoint(DROPPED)


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


def test_a_sealed_envelope_is_bound_to_its_attempt(make_journal: MakeJournal, raw: Raw) -> None:
    """The envelope has a sealed place of its own in ``envelopes``; the attempt's old column
    holds an empty value sealed where a release without step 4 looks for it."""
    from anpr_client.journal.sealing import Sealer, generate_key, key_from_text

    key = key_from_text(generate_key())
    j = make_journal("sealed", key=key)
    first, second = _one_call(j), _one_call(j)
    a, b = j.get_by_key(first), j.get_by_key(second)
    assert a is not None
    assert b is not None
    assert [x.envelope for x in a.attempts] == [b"<soap:Envelope/>"]
    (old,) = raw(j, "SELECT envelope FROM attempts WHERE operation = ?", (first,))
    where = f"058091/{a.id_operazione_comune}/attempt/1/envelope"
    assert Sealer(key).open(bytes(old[0]), where) == b""  # what 0.2 reads there
    raw(
        j,
        "UPDATE envelopes SET envelope = (SELECT envelope FROM envelopes WHERE operation = ?) "
        "WHERE operation = ?",
        (first, second),
    )
    with pytest.raises(ConfigurationError, match="does not open"):
        j.get_by_key(second)
    raw(
        j,
        "UPDATE envelopes SET envelope = (SELECT envelope FROM attempts WHERE operation = ?) "
        "WHERE operation = ?",
        (first, first),
    )
    with pytest.raises(ConfigurationError, match="does not open"):
        j.get_by_key(first)  # the empty placeholder does not pass for the envelope
