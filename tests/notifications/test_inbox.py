"""The inbox: one row per (tipoNotifica, idNotifica), states, checkpoints, a shared file."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.notifications import (
    EntryState,
    Inbox,
    InvalidNotification,
    PullCheckpoint,
    decode_notification,
)
from anpr_client.notifications.events import Notification
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
