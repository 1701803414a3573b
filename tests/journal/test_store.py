"""The journal file: states, crash consistency, permissions, schema, encryption, queries."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Final

import pytest

from anpr_client.errors.exceptions import (
    ConfigurationError,
    CorruptJournalRecord,
    JournalError,
    OperationHeld,
)
from anpr_client.journal import Journal, SqlJournal, State, generate_key, key_from_text
from anpr_client.journal.ownership import current_owner, owner_alive
from anpr_client.journal.records import AttemptEnd, Settlement, wire_form
from anpr_client.journal.sealing import Sealer
from anpr_client.journal.states import check_transition
from tests.journal.stores import MakeJournal, Raw

CF = "RSSMRA80A01H501U"


def _open(j: SqlJournal, ident: str = "ID1", payload: dict[str, object] | None = None) -> int:
    record, created = j.open_operation(
        comune="058091",
        service="5000",
        operation="5005",
        id_operazione_comune=ident,
        url="https://example.invalid/5000",
        header={"idOperazioneComune": ident, "dataOraRichiesta": "2026-01-01T10:00:00+01:00"},
        payload=payload if payload is not None else {"codiceFiscale": CF},
        lease=60,
    )
    assert created
    return record.key


# ----------------------------------------------------------------------------- state machine

ALLOWED = {
    State.PREPARED: {State.SENDING, State.FAILED_NOT_DELIVERED, State.FAILED},
    State.SENDING: {
        State.PREPARED,
        State.OUTCOME_UNKNOWN,
        State.ANSWERED,
        State.REJECTED,
        State.FAILED,
        State.FAILED_NOT_DELIVERED,
        State.RESOLVED,
    },
    State.OUTCOME_UNKNOWN: {State.SENDING, State.ANSWERED, State.REJECTED, State.RESOLVED},
    State.FAILED_NOT_DELIVERED: {State.SENDING},
    State.FAILED: {State.SENDING},
    State.ANSWERED: set(),
    State.REJECTED: set(),
    State.RESOLVED: set(),
}


@pytest.mark.parametrize("old", list(State))
@pytest.mark.parametrize("new", list(State))
def test_transitions(old: State, new: State) -> None:
    if new == old or new in ALLOWED[old]:
        check_transition(old, new)
    else:
        with pytest.raises(JournalError, match=f"from {old} to {new}"):
            check_transition(old, new)


def test_unknown_outcome_never_goes_back_to_not_sent() -> None:
    # Once a request may have reached ANPR, no state may claim it certainly did not.
    with pytest.raises(JournalError):
        check_transition(State.OUTCOME_UNKNOWN, State.PREPARED)
    with pytest.raises(JournalError):
        check_transition(State.OUTCOME_UNKNOWN, State.FAILED_NOT_DELIVERED)


def test_settlement_must_be_final() -> None:
    with pytest.raises(JournalError):
        Settlement(state=State.SENDING, outcome="ok", resolution="answer")


# ----------------------------------------------------------------------------- lifecycle


def test_sending_is_committed_before_the_send(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    key = _open(j)
    envelope = b"<soap:Envelope>exact signed bytes \xc3\xa8</soap:Envelope>"
    j.begin_attempt(key, kind="send", envelope=envelope, id_operazione_comune="ID1", lease=60)
    # What another process (or this one after a crash) reads right now:
    other = make_journal("j")
    record = other.get("ID1")
    assert record.state is State.SENDING
    assert record.may_have_reached
    assert record.attempts[0].state == "sending"
    assert record.attempts[0].envelope == envelope
    assert record.owner == current_owner()
    assert [r.id_operazione_comune for r in other.pending()] == ["ID1"]


def test_new_operation_with_its_first_attempt(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    record, created = j.open_operation(
        comune="058091",
        service="5000",
        operation="5005",
        id_operazione_comune="ID9",
        url="u",
        header={"idOperazioneComune": "ID9"},
        payload={"when": dt.date(2026, 1, 2)},
        lease=60,
        envelope=b"<first/>",
    )
    assert created
    stored = make_journal("j").get("ID9")
    # What open_operation returned is what the file says.
    assert stored == record
    assert stored.state is State.SENDING
    assert stored.may_have_reached
    assert [(a.number, a.state, a.envelope) for a in stored.attempts] == [
        (1, "sending", b"<first/>")
    ]


def test_not_delivered_attempt_goes_back_to_prepared(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    key = _open(j)
    n = j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)
    state = j.end_attempt(
        key, n, AttemptEnd(state="not_delivered", error_type="ConnectError"), elapsed=0.01
    )
    record = j.get("ID1")
    assert state is record.state is State.PREPARED
    assert not record.may_have_reached
    n = j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)
    state = j.end_attempt(key, n, AttemptEnd(state="outcome_unknown"), elapsed=0.5)
    record = j.get("ID1")
    assert state is record.state is State.OUTCOME_UNKNOWN
    assert record.may_have_reached
    # A later undelivered attempt does not make an earlier unknown one go away.
    n = j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)
    state = j.end_attempt(key, n, AttemptEnd(state="not_delivered"), elapsed=0.01)
    record = j.get("ID1")
    assert state is record.state is State.OUTCOME_UNKNOWN
    assert record.may_have_reached
    assert record.elapsed == pytest.approx(0.52)
    assert [a.state for a in record.attempts] == [
        "not_delivered",
        "outcome_unknown",
        "not_delivered",
    ]


def test_settled_record_keeps_the_answer(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    key = _open(j)
    n = j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)
    j.end_attempt(
        key,
        n,
        AttemptEnd(state="answered", http_status=200, response=b"<answer/>"),
        elapsed=0.1,
        settle=Settlement(
            state=State.ANSWERED,
            outcome="ok",
            resolution="answer",
            id_operazione_anpr="4415005",
            esito="0000",
            response=b"<answer/>",
            response_type="text/xml",
        ),
    )
    record = j.get("ID1")
    assert (record.state, record.outcome, record.id_operazione_anpr) == (
        State.ANSWERED,
        "ok",
        "4415005",
    )
    assert record.owner is None
    assert record.settled_at is not None
    assert record.response == b"<answer/>"
    assert record.attempts[0].http_status == 200
    assert j.pending() == []
    with pytest.raises(JournalError):
        j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)


def test_id_reuse_is_refused(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    _open(j)
    same, created = j.open_operation(
        comune="058091",
        service="5000",
        operation="5005",
        id_operazione_comune="ID1",
        url="u",
        header={},
        payload={"codiceFiscale": CF},
        lease=60,
    )
    assert not created
    assert same.id_operazione_comune == "ID1"
    with pytest.raises(JournalError, match=r"another request|different request"):
        j.open_operation(
            comune="058091",
            service="5000",
            operation="5005",
            id_operazione_comune="ID1",
            url="u",
            header={},
            payload={"codiceFiscale": "VRDLGU75B02F205X"},
            lease=60,
        )
    with pytest.raises(JournalError, match="operation 5005"):
        j.open_operation(
            comune="058091",
            service="1000",
            operation="1001",
            id_operazione_comune="ID1",
            url="u",
            header={},
            payload={},
            lease=60,
        )
    # Another Comune may use the same id.
    _, created = j.open_operation(
        comune="001272",
        service="5000",
        operation="5005",
        id_operazione_comune="ID1",
        url="u",
        header={},
        payload={},
        lease=60,
    )
    assert created
    with pytest.raises(JournalError, match="several Comuni"):
        j.get("ID1")
    assert j.get("ID1", comune="001272").comune == "001272"
    with pytest.raises(JournalError, match="no operation"):
        j.get("NOPE")


def test_wire_form_renders_values_as_sent() -> None:
    value = {
        "a": dt.date(2026, 1, 15),
        "b": [Decimal("1.50"), 3, True],
        "c": {"d": b"\x00\x01", "e": None},
        "f": dt.datetime(2026, 1, 15, 10, 30, tzinfo=dt.UTC),
    }
    assert wire_form(value) == {
        "a": "2026-01-15",
        "b": ["1.50", "3", "true"],
        "c": {"d": "AAE="},
        "f": "2026-01-15T10:30:00+00:00",
    }


def test_since_orders_and_bounds(make_journal: MakeJournal) -> None:
    j = make_journal("j")
    for i in range(5):
        _open(j, f"ID{i}")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    got = [r.id_operazione_comune for r in j.since(start, batch=2)]
    assert got == [f"ID{i}" for i in range(5)]
    assert list(j.since(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))) == []
    naive_utc = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    assert len(list(j.since(naive_utc))) == 5


# ----------------------------------------------------------------------------- owners and claims


def test_claim_respects_a_live_holder_on_another_host(make_journal: MakeJournal, raw: Raw) -> None:
    j = make_journal("j")
    key = _open(j)
    raw(
        j,
        "UPDATE operations SET owner = 'other-host:4242:1', lease_until = ? WHERE id = ?",
        (dt.datetime.now().timestamp() + 600, key),
    )
    with pytest.raises(OperationHeld, match="another process"):
        j.claim(key, lease=60)
    assert j.claim(key, lease=60, force=True).owner == current_owner()
    raw(
        j,
        "UPDATE operations SET owner = 'other-host:4242:1', lease_until = ? WHERE id = ?",
        (dt.datetime.now().timestamp() - 1, key),
    )
    assert j.claim(key, lease=60).owner == current_owner()  # the lease ran out


def test_claim_takes_over_from_a_dead_process(make_journal: MakeJournal, raw: Raw) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host, _, token = current_owner().split(":")
    boot = token.rpartition(".")[0]  # the boot tag (Linux): owners of another boot are not judged
    dead = f"{host}:{child.stdout.strip()}:{boot + '.' if boot else ''}1"
    assert owner_alive(dead) is False
    assert owner_alive(f"{host}:{child.stdout.strip()}:another0.1") is None
    assert owner_alive(current_owner()) is True
    assert owner_alive("elsewhere:1:1") is None
    j = make_journal("j")
    key = _open(j)
    raw(
        j,
        "UPDATE operations SET owner = ?, lease_until = ? WHERE id = ?",
        (dead, dt.datetime.now().timestamp() + 600, key),
    )
    assert not j.get("ID1").in_flight()
    assert j.claim(key, lease=60).owner == current_owner()


# ----------------------------------------------------------------------------- the file


def test_file_permissions_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "sub" / "dir" / "j.sqlite"
        j = Journal(path)
        key = _open(j)
        j.begin_attempt(key, kind="send", envelope=b"<e/>", id_operazione_comune="ID1", lease=60)
    finally:
        os.umask(old)
    for p in (path, path.with_name("j.sqlite-wal"), path.with_name("j.sqlite-shm")):
        assert p.exists(), p
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_schema_is_versioned(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("PRAGMA user_version=99")
    with pytest.raises(ConfigurationError, match="newer"):
        Journal(path)


_FULL, _NORMAL = 2, 1  # PRAGMA synchronous, https://www.sqlite.org/pragma.html#pragma_synchronous


@pytest.mark.parametrize("durable", [True, False])
def test_a_sqlite_transaction_commits_or_rolls_back_and_restores_the_sync_level(
    tmp_path: Path, durable: bool
) -> None:
    """``Journal._transaction``: the durable ones (the ``sending`` record) run at
    ``synchronous=FULL``, every other at ``NORMAL``, and the level is back at ``NORMAL``
    after each, committed or not; a failure inside rolls everything back and leaves no
    transaction open, so the next write works."""
    j = Journal(tmp_path / "j.sqlite", id_marks=False, durable=True)
    db = j._db
    seen: list[tuple[int, bool]] = []

    def write(fail: bool) -> None:
        with j._transaction(db, durable=durable):
            seen.append((db.execute("PRAGMA synchronous").fetchone()[0], db.in_transaction))
            db.execute("INSERT INTO counters (comune, last) VALUES (?, 1)", (str(len(seen)),))
            if fail:
                raise KeyboardInterrupt  # any exception, BaseException included

    with pytest.raises(KeyboardInterrupt):
        write(fail=True)
    assert not db.in_transaction
    assert db.execute("PRAGMA synchronous").fetchone()[0] == _NORMAL
    write(fail=False)
    assert not db.in_transaction
    assert db.execute("PRAGMA synchronous").fetchone()[0] == _NORMAL
    level = _FULL if durable else _NORMAL
    assert seen == [(level, True), (level, True)]
    other = sqlite3.connect(tmp_path / "j.sqlite")
    assert other.execute("SELECT comune FROM counters").fetchall() == [("2",)]  # committed


def test_a_sqlite_transaction_that_cannot_begin_leaves_the_sync_level(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path, id_marks=False, busy_timeout=0.05)
    db = j._db
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"), j._transaction(db, durable=True):
        pytest.fail("the transaction began under another writer")  # pragma: no cover
    blocker.execute("ROLLBACK")
    assert not db.in_transaction
    assert db.execute("PRAGMA synchronous").fetchone()[0] == _NORMAL


def test_shares_a_file_with_other_tables(tmp_path: Path) -> None:
    # The notification inbox may live in the journal's file (its tables are prefixed).
    path = tmp_path / "shared.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notification_inbox (id INTEGER PRIMARY KEY, body BLOB)")
        db.execute("INSERT INTO notification_inbox (body) VALUES (x'00')")
    j = Journal(path)
    _open(j)
    assert j.get("ID1").state is State.PREPARED
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM notification_inbox").fetchone()[0] == 1


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(ConfigurationError, match=r"not a database|not a usable"):
        Journal(path)


def test_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="cannot create the journal"):
        Journal(blocker / "j.sqlite")


# ----------------------------------------------------------------------------- encryption


def test_sealed_columns_hold_no_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    key = key_from_text(generate_key())
    j = Journal(path, key=key)
    k = _open(j)
    n = j.begin_attempt(
        k, kind="send", envelope=f"<cf>{CF}</cf>".encode(), id_operazione_comune="ID1", lease=60
    )
    j.end_attempt(
        k,
        n,
        AttemptEnd(state="rejected", response=f"<r>{CF}</r>".encode(), error=f"bad {CF}"),
        elapsed=0.1,
        settle=Settlement(
            state=State.REJECTED, outcome="ko", resolution="answer", error=f"value {CF}"
        ),
    )
    j.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("j.sqlite"))
    assert CF.encode() not in raw
    # With the key everything reads back.
    record = Journal(path, key=key).get("ID1")
    assert record.payload == {"codiceFiscale": CF}
    assert record.attempts[0].envelope == f"<cf>{CF}</cf>".encode()
    assert record.error == f"value {CF}"
    # Without it: the clear columns only.
    blind = Journal(path).get("ID1")
    assert blind.sealed
    assert blind.payload is None
    assert blind.attempts[0].envelope is None
    assert (blind.state, blind.operation, blind.outcome) == (State.REJECTED, "5005", "ko")
    with pytest.raises(ConfigurationError, match="encrypted"):
        _open(Journal(path), "ID2")
    with pytest.raises(ConfigurationError, match="does not match"):
        Journal(path, key=key_from_text(generate_key()))


def test_sealed_value_is_bound_to_its_place(make_journal: MakeJournal, raw: Raw) -> None:
    key = key_from_text(generate_key())
    j = make_journal("j", key=key)
    _open(j, "ID1", {"who": "first"})
    _open(j, "ID2", {"who": "second"})
    raw(
        j,
        "UPDATE operations SET payload = "
        "(SELECT payload FROM operations WHERE id_operazione_comune = 'ID1') "
        "WHERE id_operazione_comune = 'ID2'",
    )
    with pytest.raises(ConfigurationError, match="does not open"):
        j.get("ID2")


def test_key_cannot_be_added_to_a_clear_journal(make_journal: MakeJournal) -> None:
    make_journal("j").close()
    with pytest.raises(ConfigurationError, match="without encryption"):
        make_journal("j", key=os.urandom(32))


def test_bad_keys_are_named_not_shown() -> None:
    with pytest.raises(ConfigurationError) as info:
        key_from_text("c2hvcnQ=")  # 5 bytes
    assert "32 bytes" in str(info.value)
    assert "c2hvcnQ" not in str(info.value)
    with pytest.raises(ConfigurationError, match="base64"):
        key_from_text("not base64 at all!!")
    key = os.urandom(32)
    assert "hidden" in repr(Sealer(key))
    assert key.hex() not in repr(Sealer(key))


# ----------------------------------------------------------------------------- damaged rows

DAMAGE = [
    ("header", "'{not json'"),
    ("header", "'[1, 2]'"),
    ("header", "7"),
    ("header", "x'ff00'"),
    ("created_at", "'yesterday'"),
    ("created_at", "'2026-13-45T99:00:00'"),
    ("created_at", "5"),  # kept as the text 5
    ("updated_at", "x'00'"),
    ("settled_at", "'soon'"),
    ("state", "'outcome_unknwn'"),
    ("error_codes", "x'ff'"),
    ("lease_until", "'tomorrow'"),
    ("owner", "x'00'"),
]


TYPED: Final = frozenset({"lease_until", "owner", "error_codes", "updated_at"})
"""Damage PostgreSQL's column types refuse (only SQLite stores any value in any column)."""


@pytest.mark.parametrize(("column", "value"), DAMAGE)
def test_a_damaged_row_is_a_typed_error_naming_row_and_column(
    make_journal: MakeJournal, raw: Raw, backend: str, column: str, value: str
) -> None:
    if backend == "postgresql" and (column in TYPED or not value.startswith("'")):
        pytest.skip("PostgreSQL's column types refuse this damage")
    j = make_journal("j")
    keys = [_open(j, ident) for ident in ("ID1", "ID2", "ID3")]
    raw(j, f"UPDATE operations SET {column} = {value} WHERE id = ?", (keys[1],))  # noqa: S608
    with pytest.raises(CorruptJournalRecord) as info:
        j.get("ID2")
    exc = info.value
    assert isinstance(exc, JournalError)
    assert (exc.row, exc.field, exc.id_operazione_comune) == (keys[1], column, "ID2")
    assert f"journal row {keys[1]} (ID2): the column {column} is not" in str(exc)
    assert j.get("ID1").id_operazione_comune == "ID1"  # the others read as before
    with pytest.raises(CorruptJournalRecord):
        j.pending()  # told nothing, a reader never skips a row silently
    errors: list[CorruptJournalRecord] = []
    assert [r.id_operazione_comune for r in j.pending(errors=errors)] == ["ID1", "ID3"]
    assert [(e.row, e.field) for e in errors] == [(keys[1], column)]
    errors.clear()
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert [r.key for r in j.since(start, errors=errors, batch=2)] == [keys[0], keys[2]]
    assert [(e.row, e.field) for e in errors] == [(keys[1], column)]


def test_a_damaged_attempt_names_its_number(make_journal: MakeJournal, raw: Raw) -> None:
    j = make_journal("j")
    key = _open(j)
    j.begin_attempt(key, kind="send", envelope=b"<x/>", id_operazione_comune="ID1", lease=60)
    raw(j, "UPDATE attempts SET started_at = 'then' WHERE operation = ?", (key,))
    with pytest.raises(CorruptJournalRecord, match=r"attempts\[1\]\.started_at") as info:
        j.get_by_key(key)
    assert info.value.field == "attempts[1].started_at"


def test_a_damaged_payload_does_not_break_an_idempotent_call(
    make_journal: MakeJournal, raw: Raw
) -> None:
    j = make_journal("j")
    key = _open(j)
    raw(j, "UPDATE operations SET payload = ? WHERE id = ?", (b"no json", key))
    with pytest.raises(CorruptJournalRecord, match="column payload") as info:
        j.open_operation(
            comune="058091",
            service="5000",
            operation="5005",
            id_operazione_comune="ID1",
            url="https://example.invalid/5000",
            header={"idOperazioneComune": "ID1"},
            payload={"codiceFiscale": CF},
            lease=60,
        )
    assert CF not in str(info.value)
    assert info.value.field == "payload"
