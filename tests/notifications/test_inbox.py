"""The inbox: one row per (tipoNotifica, idNotifica), states, checkpoints, a shared file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client.errors.exceptions import ConfigurationError, NotificationError
from anpr_client.notifications import (
    EntryState,
    Inbox,
    InvalidNotification,
    PullCheckpoint,
    ResultItem,
    decode_notification,
)
from anpr_client.notifications.events import Notification, result_item
from anpr_client.settings import Settings
from tests.notifications.support import CF_1, n010_payload


def event(id_notifica: str = "1", cf: str = CF_1, kind: str = "N010") -> Notification:
    return decode_notification(
        kind, etree.fromstring(n010_payload(cf, kind=kind)), id_notifica=id_notifica
    )


def test_stored_once_per_type_and_id(inbox: Inbox) -> None:
    assert inbox.add(event("1"))
    assert not inbox.add(event("1"))
    assert inbox.add(event("1", kind="N014"))  # same id, another type: another notification
    assert inbox.add(event("2"), channel="pull")
    assert inbox.count() == 3
    entry = inbox.get("N010", "2")
    assert entry is not None
    assert entry.channel == "pull"
    assert entry.event == event("2")
    assert entry.codice_fiscale == CF_1
    assert entry.operation_id == "700000001"
    assert CF_1 not in repr(entry)


def test_states(inbox: Inbox) -> None:
    inbox.add(event("1"))
    inbox.add(event("2"))
    inbox.mark_failed("N010", "1", "RuntimeError: boom")
    (first, _) = inbox.pending()
    assert (first.attempts, first.last_error) == (1, "RuntimeError: boom")
    inbox.mark_done("N010", "1")
    assert [e.id_notifica for e in inbox.pending()] == ["2"]
    done = inbox.get("N010", "1")
    assert done is not None
    assert done.state is EntryState.DONE
    assert done.done_at is not None
    inbox.mark_failed("N010", "1", "late")  # a done event is never reopened
    assert inbox.count(EntryState.DONE) == 1


def test_invalid_rows_and_checkpoint_commit_together(inbox: Inbox) -> None:
    bad = InvalidNotification("N010", "9", "058091", "ANPR", None, b"<x/>", "no payload")
    checkpoint = PullCheckpoint(
        "058091", covered_until=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), pending_page=1
    )
    assert inbox.add_many([event("1")], invalid=[bad], checkpoint=checkpoint) == 1
    (row,) = inbox.entries(state="invalid")
    assert (row.event, row.last_error, row.raw) == (None, "no payload", b"<x/>")
    assert inbox.checkpoint("058091") == checkpoint
    assert inbox.checkpoint("other") == PullCheckpoint("other")


def test_persists_across_reopening(inbox_location: str) -> None:
    with Inbox(inbox_location) as box:
        box.add(event("1"))
        assert not box.add(event("1"))  # stored once
    with Inbox(inbox_location) as box:  # reopened: nothing to create, nothing lost
        assert [e.key for e in box.entries()] == [("N010", "1")]


def test_shares_the_journals_database(postgres: Any) -> None:
    """Journal and inbox in one PostgreSQL schema: the settings' journal URL serves both."""
    from anpr_client.journal import PostgresJournal

    url = postgres.fresh_url("shared")
    with Inbox(url) as box:
        box.add(event("1"))
    PostgresJournal(url, id_marks=False).close()  # created after the inbox: both coexist
    settings = Settings(codice_istat="058091", journal=url)
    with Inbox.from_settings(settings) as box:
        assert (box.url, box.path) == (url, None)
        assert box.count() == 1
    with Inbox(url.replace("user=anpr", "user=anpr&password=s3cret")) as same:
        assert "s3cret" not in repr(same)  # trust auth: the password is not checked


def test_two_processes_write_one_postgresql_inbox(postgres: Any, tmp_path: Path) -> None:
    """Receivers on two machines: each push stored once, none lost, whoever stores it."""
    url = postgres.fresh_url("two")
    Inbox(url).close()
    script = (
        "import sys\n"
        "from anpr_client.notifications import Inbox\n"
        "from tests.notifications.test_inbox import event\n"
        "with Inbox(sys.argv[1]) as box:\n"
        "    new = sum(box.add(event(str(i))) for i in range(200))\n"
        "print(new)\n"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=root, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    added = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert sum(added) == 200  # every key stored by exactly one of them
    with Inbox(url) as box:
        assert box.count() == 200


def test_persists_across_reopening_with_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "inbox.sqlite"
    with Inbox(path) as box:
        box.add(event("1"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with Inbox(path) as box:
        assert [e.key for e in box.entries()] == [("N010", "1")]


def test_shares_the_journal_file(tmp_path: Path) -> None:
    journal_module = pytest.importorskip("anpr_client.journal")
    path = tmp_path / "anpr.sqlite"
    with Inbox(path) as box:
        box.add(event("1"))
    journal = journal_module.Journal(path)  # created after the inbox: both schemas coexist
    journal.close()
    with Inbox(path) as box:
        assert box.count() == 1
    journal = journal_module.Journal(path)
    journal.close()
    settings = Settings(codice_istat="058091", journal=path)
    with Inbox.from_settings(settings) as box:
        assert box.path == path
        assert box.count() == 1


def test_needs_a_path_and_a_sane_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Inbox.from_settings(Settings(codice_istat="058091", journal_enabled=False))
    # with the journal at its default path, the inbox shares its file
    shared = Inbox.from_settings(Settings(codice_istat="058091"))
    from anpr_client.journal import default_journal_path

    assert shared.path == default_journal_path()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigurationError):
        Inbox(junk)


def _version_1_file(path: Path) -> None:
    """An inbox as version 0.2 wrote it (schema 1), with a pending and an invalid row and a
    checkpoint."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE notification_schema (version INTEGER NOT NULL);
        INSERT INTO notification_schema VALUES (1);
        CREATE TABLE notification_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
            id_notifica TEXT NOT NULL, recipient TEXT, sender TEXT, sent_at TEXT,
            channel TEXT NOT NULL, received_at TEXT NOT NULL, payload BLOB NOT NULL,
            operation_id TEXT, codice_fiscale TEXT, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_at TEXT,
            UNIQUE (kind, id_notifica));
        CREATE TABLE notification_pulls (
            name TEXT PRIMARY KEY, covered_until TEXT, pending_id TEXT, pending_from TEXT,
            pending_until TEXT, pending_ready_at TEXT, pending_page INTEGER,
            updated_at TEXT NOT NULL);
        INSERT INTO notification_pulls VALUES
            ('058091', '2026-11-01T00:00:00+00:00', NULL, NULL, NULL, NULL, 1,
             '2026-11-01T00:00:00+00:00');
        """
    )
    db.execute(
        "INSERT INTO notification_events (kind, id_notifica, channel, received_at, payload, "
        "operation_id, codice_fiscale, state) VALUES ('N010', '1', 'push', ?, ?, ?, ?, "
        "'pending')",
        ("2026-11-01T00:00:00+00:00", n010_payload(), "700000001", CF_1),
    )
    db.execute(
        "INSERT INTO notification_events (kind, id_notifica, channel, received_at, payload, "
        "state, last_error) VALUES ('N010', '2', 'pull', ?, x'00', 'invalid', 'old reason')",
        ("2026-11-01T00:00:00+00:00",),
    )
    db.commit()
    db.close()


def test_a_version_1_inbox_is_upgraded_in_place_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _version_1_file(path)
    with Inbox(path) as box:
        pending, invalid = box.entries()
        assert pending.event == event("1")
        assert (invalid.state, invalid.reason) == (EntryState.QUARANTINED, "old reason")
        checkpoint = box.checkpoint("058091")
        assert checkpoint.covered_until == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        assert (checkpoint.pending_held, checkpoint.held_from) == (0, None)
        item = result_item("5008", id_notifica="3", state="2", response=None, response_format=None)
        assert box.add(item, channel="pull")  # the new columns are there
    with Inbox(path) as box:  # opened again: nothing to upgrade, nothing lost
        assert box.count() == 3
    db = sqlite3.connect(path)
    assert db.execute("SELECT max(version) FROM notification_schema").fetchone() == (2,)
    db.close()


def test_a_newer_inbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    with Inbox(path):
        pass
    db = sqlite3.connect(path)
    db.execute("INSERT INTO notification_schema VALUES (3)")
    db.commit()
    db.close()
    with pytest.raises(ConfigurationError, match="newer"):
        Inbox(path)


def test_result_items_round_trip_with_their_request_and_formats(inbox: Inbox) -> None:
    answer = b"<b:Risposta5008 xmlns:b='urn:x'><testataRisposta><idOperazioneANPR>31309996"
    answer += b"</idOperazioneANPR><esitoOperazione>0000</esitoOperazione></testataRisposta>"
    answer += b"</b:Risposta5008>"
    item = result_item(
        "5008",
        id_notifica="31310004",
        state="2",
        response=answer,
        response_format="gz",
        request=b"<Richiesta5008/>",
        request_format="xml",
        recipient="058091",
    )
    assert inbox.add(item, channel="pull")
    entry = inbox.get("5008", "31310004")
    assert entry is not None
    assert entry.event == item
    assert isinstance(entry.event, ResultItem)
    assert entry.event.request == b"<Richiesta5008/>"
    assert (entry.event.response_format, entry.event.request_format) == ("gz", "xml")
    assert entry.operation_id == "31309996"
    assert entry.raw == answer


def test_quarantine_release_and_a_decodable_arrival(inbox: Inbox) -> None:
    bad = InvalidNotification("N010", "7", "058091", None, None, b"<elencoRisposte/>", "broken")
    assert inbox.add_many([], invalid=[bad]) == 0
    assert inbox.get("N010", "7").state is EntryState.QUARANTINED  # type: ignore[union-attr]
    # Quarantined again: the latest copy and reason replace the first.
    again = InvalidNotification("N010", "7", "058091", None, None, b"<x/>", "still broken")
    inbox.add_many([], invalid=[again])
    entry = inbox.get("N010", "7")
    assert entry is not None
    assert (entry.raw, entry.reason, inbox.count()) == (b"<x/>", "still broken", 1)
    assert inbox.release("N010", "7")
    released = inbox.get("N010", "7")
    assert released is not None
    assert (released.state, released.event, released.reason) == (
        EntryState.RELEASED,
        None,
        "still broken",
    )
    assert inbox.pending() == []  # never dispatched
    # The same notification decodable (pushed, or pulled again): it replaces the quarantine.
    assert inbox.add(event("7"), channel="push")
    fixed = inbox.get("N010", "7")
    assert fixed is not None
    assert (fixed.state, fixed.channel, fixed.reason, fixed.event) == (
        EntryState.PENDING,
        "push",
        None,
        event("7"),
    )
    assert not inbox.add(event("7"))  # and is then stored once, as ever
    # A decodable event is never replaced by a broken copy.
    inbox.add_many([], invalid=[bad])
    assert inbox.get("N010", "7").state is EntryState.PENDING  # type: ignore[union-attr]


def _queued_behind_the_writer(inbox: Inbox, ids: list[str]) -> list[tuple[str, object]]:
    """Call ``add`` for each id from its own thread while the test holds the writer's lock, so
    that all of them queue; release it once they have, and return each call's id and result
    (or the exception it raised)."""
    results: list[tuple[str, object]] = []

    def add(id_notifica: str) -> None:
        try:
            results.append((id_notifica, inbox.add(event(id_notifica))))
        except Exception as exc:
            results.append((id_notifica, exc))

    threads = [threading.Thread(target=add, args=(i,)) for i in ids]
    with inbox._lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(inbox._queue) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(inbox._queue) == len(ids)
    for thread in threads:
        thread.join(30)
    return results


def test_concurrent_adds_share_one_commit(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    transactions: list[object] = []
    opened = inbox._transaction

    def counted() -> Any:
        transactions.append(None)
        return opened()

    monkeypatch.setattr(inbox, "_transaction", counted)
    ids = [str(i) for i in range(1, 9)] + ["1"]  # a redelivery in the same batch
    results = _queued_behind_the_writer(inbox, ids)
    assert len(transactions) == 1  # nine rows, one commit
    assert len(results) == 9
    assert sorted(r is True for i, r in results if i == "1") == [False, True]  # new once
    assert all(r is True for i, r in results if i != "1")
    assert inbox.count() == 8
    assert inbox.get("N010", "5") is not None


def test_a_row_that_fails_in_a_shared_commit_fails_alone(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anpr_client.notifications import inbox as module

    insert = module._insert

    def failing(db: Any, item: Notification, channel: str) -> bool:
        if item.id_notifica == "13":
            raise sqlite3.OperationalError("disk I/O error")
        return insert(db, item, channel)

    monkeypatch.setattr(module, "_insert", failing)
    results = dict(_queued_behind_the_writer(inbox, ["11", "12", "13", "14"]))
    failed = results["13"]
    assert isinstance(failed, NotificationError)
    assert failed.outcome == "7"
    assert [results[i] for i in ("11", "12", "14")] == [True, True, True]
    assert inbox.count() == 3
    assert inbox.get("N010", "13") is None
