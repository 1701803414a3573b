"""The durable notification inbox: one SQLite file (WAL), shared with the journal if you like.

Every notification taken in charge, pushed or pulled, becomes one row, **committed and flushed
to disk before the receiver acknowledges it** (``PRAGMA synchronous=FULL``). A row is unique
per ``(tipoNotifica, idNotifica)``: a redelivered notification, or the same one pushed and
pulled, is stored once (:meth:`Inbox.add` says whether it was new). Pulled 4005 results of
other kinds (:class:`~anpr_client.notifications.events.ResultItem`: ``5008``, ``NA01``,
``8046``…) are rows too, keyed by ``(tipoOperazione, idOperazioneANPR)``.

States of a row (:class:`EntryState`)::

    pending ──► done          a handler returned (Dispatcher, or mark_done)
    invalid (quarantined) ──► released
              │                the operator let the poller move past it (release); kept
              └──► pending     the same key arrived decodable (pushed, or pulled again)

A pulled item that cannot be decoded is **quarantined** (state ``invalid``): kept with the
item as received and the reason, and the poller does not move its checkpoint past it until
it is released or arrives decodable (:mod:`.poller`). A handler that raises leaves its event
``pending`` (``attempts`` and ``last_error`` say why), so a crash loses nothing and the next
run resumes. The file also keeps the 4005 poller's checkpoint (:class:`PullCheckpoint`),
written in the same transaction as the events it pulled.

The tables are prefixed ``notification_`` and the file's ``user_version`` is left alone, so the
same file can hold the operation journal (``[notifications] store`` = ``journal``). The file is
created with permissions 0600: it holds personal data in clear.

Thread-safe (one connection behind a lock, reopened after ``fork``) and safe across processes
sharing the file (SQLite locking).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._files import create_private
from .._postgres import placeholders, psycopg_module, redact_url, server_message
from ..errors.exceptions import ConfigurationError, NotificationError, ProtocolError
from ..safexml import parse_xml
from ..settings import is_database_url
from .events import Notification, ResultItem, decode_notification, parse_datetime, result_item

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "EntryState",
    "Inbox",
    "InboxEntry",
    "InvalidNotification",
    "PullCheckpoint",
]

SCHEMA_VERSION: Final = 2
"""2 (0.2): result items of other kinds (``detail``, ``request``), the quarantine's hold on the
poller (``pending_held``, ``held_from``); a version-1 file is upgraded in place when opened."""

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS notification_schema (
        version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS notification_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,                 -- tipoNotifica
        id_notifica TEXT NOT NULL,          -- testataNotifica/idOperazioneANPR
        recipient TEXT,                     -- codDestinatario
        sender TEXT,                        -- codMittente
        sent_at TEXT,                       -- the push's dataOraRichiesta (none when pulled)
        channel TEXT NOT NULL,              -- push | pull
        received_at TEXT NOT NULL,
        payload BLOB NOT NULL,              -- the plaintext payload XML
        operation_id TEXT,                  -- the idOperazioneANPR the event is about
        codice_fiscale TEXT,                -- the subject, when there is one
        state TEXT NOT NULL,                -- pending | done | invalid | released
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,                    -- a handler's error; the quarantine's reason
        done_at TEXT,
        detail TEXT,                        -- a ResultItem's statoLavorazione, formats (JSON)
        request BLOB,                       -- a ResultItem's contenutoRichiesta, decoded
        UNIQUE (kind, id_notifica)
    )""",
    """CREATE INDEX IF NOT EXISTS notification_events_state
        ON notification_events (state, seq)""",
    """CREATE TABLE IF NOT EXISTS notification_pulls (
        name TEXT PRIMARY KEY,              -- one checkpoint per poller (the Comune's ISTAT)
        covered_until TEXT,                 -- every window before this instant was pulled
        pending_id TEXT,                    -- the elaborazione in flight (idOperazioneANPR)
        pending_from TEXT,
        pending_until TEXT,
        pending_ready_at TEXT,              -- its dataDisponibilita
        pending_page INTEGER,               -- the next progressivo to fetch
        updated_at TEXT NOT NULL,
        pending_held INTEGER NOT NULL DEFAULT 0,  -- items of the window left in quarantine
        held_from TEXT                      -- start of the first window held by quarantine
    )""",
)
#: Columns added since version 1 (table, column, declaration), added to older files.
_ADDED: Final = (
    ("notification_events", "detail", "TEXT"),
    ("notification_events", "request", "BLOB"),
    ("notification_pulls", "pending_held", "INTEGER NOT NULL DEFAULT 0"),
    ("notification_pulls", "held_from", "TEXT"),
)


class EntryState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    INVALID = "invalid"
    """Quarantined: a pulled item that cannot be decoded, kept with the reason."""
    QUARANTINED = "invalid"  # the same state, by the name the documentation uses
    RELEASED = "released"
    """A quarantined item the operator let go (:meth:`Inbox.release`): kept, never
    dispatched, no longer holding the poller."""


@dataclass(frozen=True)
class InvalidNotification:
    """A pulled item that cannot be decoded: quarantined (state ``invalid``), never dropped.

    ``raw`` is the ``elencoRisposte`` item as received; ``reason`` says what failed."""

    kind: str
    id_notifica: str
    recipient: str | None
    sender: str | None
    sent_at: dt.datetime | None
    raw: bytes
    reason: str


@dataclass(frozen=True)
class InboxEntry:
    """One row of the inbox. ``event`` is ``None`` only for ``invalid`` rows."""

    seq: int
    kind: str
    id_notifica: str
    channel: str
    state: EntryState
    received_at: dt.datetime
    attempts: int
    last_error: str | None
    done_at: dt.datetime | None
    operation_id: str | None
    codice_fiscale: str | None
    event: Notification | None
    raw: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id_notifica)

    @property
    def reason(self) -> str | None:
        """Why a quarantined (or released) item could not be decoded."""
        if self.state in (EntryState.INVALID, EntryState.RELEASED):
            return self.last_error
        return None

    def __repr__(self) -> str:
        return (
            f"<InboxEntry {self.kind} {self.id_notifica} {self.state.value} "
            f"channel={self.channel} attempts={self.attempts}>"
        )


@dataclass(frozen=True)
class PullCheckpoint:
    """Where the 4005 poller stands (see :mod:`.poller`)."""

    name: str
    covered_until: dt.datetime | None = None
    """Every notification sent before this instant has been pulled."""
    pending_id: str | None = None
    """The ``idOperazioneANPR`` of an ``elaborazione`` whose results are not all fetched."""
    pending_from: dt.datetime | None = None
    pending_until: dt.datetime | None = None
    pending_ready_at: dt.datetime | None = None
    pending_page: int = 1
    pending_held: int = 0
    """Items of the extraction in flight left in quarantine so far (its window is held)."""
    held_from: dt.datetime | None = None
    """The start of the first window whose items are in quarantine: ``covered_until`` does not
    move past it until they are released or arrive decodable."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _from_iso(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_datetime(value)


class Inbox:
    """The notification inbox in the SQLite file at ``path`` (created if missing), or in the
    PostgreSQL database a ``postgresql://`` URL names.

    :param path: the file or the URL; may be the operation journal's (tables do not collide).
    :param durable: flush every commit to disk (the default; ``synchronous=FULL`` on SQLite)
        so an acknowledged notification survives a power cut; ``False`` trades that for speed
        (tests).
    :param timeout: seconds to wait for another process's lock before failing.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, timeout: float = 10):
        self.url: str | None = str(path) if is_database_url(path) else None
        """The PostgreSQL database (a ``postgresql://`` URL), or ``None`` for a file."""
        self.path: Path | None = None if self.url is not None else Path(path).expanduser()
        """The SQLite file, or ``None`` on PostgreSQL."""
        self._durable = durable
        self._timeout = timeout
        self._lock = threading.RLock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiter] = []  # rows waiting for a commit (add)
        self._conn: Any = None
        self._pid = os.getpid()
        if self.path is not None:
            try:
                create_private(self.path)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the notification inbox {self.location!r}: {exc.strerror}",
                    setting="notifications.store",
                ) from None
        try:
            with self._lock:
                db = self._db
                db.execute("BEGIN IMMEDIATE")
                try:
                    if self.url is None or not _pg_has_schema(db):
                        for statement in _SCHEMA:
                            db.execute(self._ddl(statement))
                    row = db.execute("SELECT max(version) FROM notification_schema").fetchone()
                    if row[0] is not None and row[0] > SCHEMA_VERSION:
                        raise ConfigurationError(
                            f"the notification inbox {self.location!r} has schema version "
                            f"{row[0]}, newer than this anpr-client understands; upgrade",
                            setting="notifications.store",
                        )
                    if row[0] is None or row[0] < SCHEMA_VERSION:
                        _upgrade(db, postgres=self.url is not None)
                        db.execute(
                            "INSERT INTO notification_schema (version) VALUES (?)",
                            (SCHEMA_VERSION,),
                        )
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(*_errors()):
                        db.execute("ROLLBACK")
                    raise
        except _errors() as exc:
            self.close()
            raise ConfigurationError(
                f"{self.location!r} is not a usable notification inbox: {self._message(exc)}",
                setting="notifications.store",
            ) from None
        except BaseException:
            self.close()
            raise

    @property
    def location(self) -> str:
        """The file, or the database's URL without its password, for messages."""
        return redact_url(self.url) if self.url is not None else str(self.path)

    def _message(self, exc: BaseException) -> str:
        return server_message(exc, self.url) if self.url is not None else str(exc)

    def _ddl(self, statement: str) -> str:
        if self.url is None:
            return statement
        return statement.replace(
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        ).replace(" BLOB", " BYTEA")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, durable: bool = True, timeout: float = 10
    ) -> Inbox:
        """The inbox at ``[notifications] store``, or else in the journal's file."""
        path = settings.notifications.store or settings.journal_path
        if path is None:
            raise ConfigurationError(
                "the notification inbox needs a file: set [notifications] store (or journal)",
                setting="notifications.store",
                rule="a path",
            )
        return cls(path, durable=durable, timeout=timeout)

    # ------------------------------------------------------------------ connection

    @property
    def _db(self) -> Any:
        if self._conn is None or self._pid != os.getpid():
            if self.url is not None:
                self._conn = _PostgresConnection.connect(
                    self.url, durable=self._durable, timeout=self._timeout
                )
            else:
                assert self.path is not None
                conn = sqlite3.connect(
                    self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL").fetchone()
                conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
                self._conn = conn
            self._pid = os.getpid()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Inbox {self.location!r}>"

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # ------------------------------------------------------------------ writing

    def add(self, event: Notification, *, channel: str = "push") -> bool:
        """Store ``event`` as ``pending``; ``False`` if its key was already stored.

        Returns only once the row is committed (and flushed, when durable). Raises
        :class:`~anpr_client.errors.NotificationError` (outcome ``7``) if the file fails.

        Calls from several threads share commits (group commit): the thread that gets the
        writer's lock stores every row queued meanwhile in one transaction, one flush for all,
        and each call returns once the transaction holding its row is committed. Should that
        transaction fail, each of its rows is stored again in a transaction of its own, so a
        row fails only for its own reason.
        """
        waiter = _Waiter(event, channel)
        with self._queue_lock:
            self._queue.append(waiter)
        with self._lock:
            if not waiter.done:  # no other thread took it into its commit: take the queue
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._add_batch(batch)
        return waiter.outcome()

    def _add_batch(self, batch: list[_Waiter]) -> None:
        """Store the queued rows in one transaction (under the writer's lock)."""
        try:
            with self._transaction() as db:
                added = [_insert(db, w.event, w.channel) for w in batch]
        except Exception:
            if len(batch) == 1:
                raise
            for waiter in batch:  # each alone: a row fails only for its own reason
                try:
                    with self._transaction() as db:
                        waiter.settle(_insert(db, waiter.event, waiter.channel), None)
                except Exception as exc:
                    waiter.settle(False, exc)
            return
        except BaseException as exc:  # interrupted: no row of the batch is known stored
            for waiter in batch:
                waiter.settle(False, exc)
            raise
        for waiter, new in zip(batch, added, strict=True):
            waiter.settle(new, None)

    def add_many(
        self,
        events: Iterable[Notification],
        *,
        channel: str = "pull",
        invalid: Iterable[InvalidNotification] = (),
        checkpoint: PullCheckpoint | None = None,
    ) -> int:
        """Store events, quarantine undecodable ``invalid`` items and, in the same transaction,
        save the poller's ``checkpoint``. Returns how many events were new."""
        with self._transaction() as db:
            added = sum(_insert(db, e, channel) for e in events)
            for bad in invalid:
                _quarantine(db, bad, channel)
            if checkpoint is not None:
                _save_checkpoint(db, checkpoint)
            return added

    def add_pulled(
        self,
        events: Iterable[Notification],
        quarantined: Iterable[InvalidNotification],
        checkpoint: Callable[[int], PullCheckpoint],
    ) -> tuple[int, list[tuple[str, str]]]:
        """Store one result page in one transaction (the 4005 poller's commit).

        Events are stored (a quarantined or released row of the same key is replaced by the
        decodable event); each undecodable item is quarantined unless its key is already
        stored decodable or released. ``checkpoint`` is called with the number of items that
        *hold* the poller (quarantined, not released) and returns the checkpoint to save.
        Returns how many events were new and the keys that hold.
        """
        with self._transaction() as db:
            added = sum(_insert(db, e, "pull") for e in events)
            held = [(bad.kind, bad.id_notifica) for bad in quarantined if _quarantine(db, bad)]
            _save_checkpoint(db, checkpoint(len(held)))
            return added, held

    def release(self, kind: str, id_notifica: str) -> bool:
        """Let the poller move past a quarantined item: it stays stored (``released``, with its
        reason), is never dispatched, and no longer holds the checkpoint. ``False`` if no
        quarantined item has this key."""
        with self._transaction() as db:
            cursor = db.execute(
                """UPDATE notification_events SET state = 'released', done_at = ?
                   WHERE kind = ? AND id_notifica = ? AND state = 'invalid'""",
                (_iso(_now()), kind, id_notifica),
            )
            return bool(cursor.rowcount == 1)

    def mark_done(self, kind: str, id_notifica: str) -> None:
        """A handler took the event: it will not be dispatched again."""
        with self._transaction() as db:
            db.execute(
                """UPDATE notification_events SET state = 'done', done_at = ?, last_error = NULL
                   WHERE kind = ? AND id_notifica = ? AND state = 'pending'""",
                (_iso(_now()), kind, id_notifica),
            )

    def mark_failed(self, kind: str, id_notifica: str, error: str) -> None:
        """A handler raised: the event stays ``pending``; the attempt and its reason are kept."""
        with self._transaction() as db:
            db.execute(
                """UPDATE notification_events SET attempts = attempts + 1, last_error = ?
                   WHERE kind = ? AND id_notifica = ? AND state = 'pending'""",
                (error[:2000], kind, id_notifica),
            )

    def save_checkpoint(self, checkpoint: PullCheckpoint) -> None:
        with self._transaction() as db:
            _save_checkpoint(db, checkpoint)

    # ------------------------------------------------------------------ reading

    def contains(self, kind: str, id_notifica: str) -> bool:
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT 1 FROM notification_events WHERE kind = ? AND id_notifica = ?",
                    (kind, id_notifica),
                ).fetchone()
            except _errors() as exc:
                raise _storage_error(exc) from None
        return row is not None

    def get(self, kind: str, id_notifica: str) -> InboxEntry | None:
        rows = self._select("WHERE kind = ? AND id_notifica = ?", (kind, id_notifica))
        return rows[0] if rows else None

    def entries(
        self, *, state: EntryState | str | None = None, kind: str | None = None
    ) -> list[InboxEntry]:
        """Rows in arrival order, optionally of one state and/or type."""
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(EntryState(state).value)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(where, params)

    def pending(self, limit: int | None = None) -> list[InboxEntry]:
        """Pending events, oldest first."""
        suffix = f" LIMIT {int(limit)}" if limit is not None else ""
        return self._select("WHERE state = 'pending'", (), suffix)

    def count(self, state: EntryState | str | None = None) -> int:
        with self._lock:
            try:
                if state is None:
                    row = self._db.execute("SELECT count(*) FROM notification_events").fetchone()
                else:
                    row = self._db.execute(
                        "SELECT count(*) FROM notification_events WHERE state = ?",
                        (EntryState(state).value,),
                    ).fetchone()
            except _errors() as exc:
                raise _storage_error(exc) from None
        return int(row[0])

    def __iter__(self) -> Iterator[InboxEntry]:
        return iter(self.entries())

    def checkpoint(self, name: str) -> PullCheckpoint:
        with self._lock:
            try:
                row = self._db.execute(
                    """SELECT covered_until, pending_id, pending_from, pending_until,
                              pending_ready_at, pending_page, pending_held, held_from
                       FROM notification_pulls WHERE name = ?""",
                    (name,),
                ).fetchone()
            except _errors() as exc:
                raise _storage_error(exc) from None
        if row is None:
            return PullCheckpoint(name)
        return PullCheckpoint(
            name=name,
            covered_until=_from_iso(row[0]),
            pending_id=row[1],
            pending_from=_from_iso(row[2]),
            pending_until=_from_iso(row[3]),
            pending_ready_at=_from_iso(row[4]),
            pending_page=int(row[5] or 1),
            pending_held=int(row[6] or 0),
            held_from=_from_iso(row[7]),
        )

    def _select(self, where: str, params: Sequence[object], suffix: str = "") -> list[InboxEntry]:
        with self._lock:
            try:
                rows = self._db.execute(
                    f"""SELECT seq, kind, id_notifica, recipient, sender, sent_at, channel,
                               received_at, payload, operation_id, codice_fiscale, state,
                               attempts, last_error, done_at, detail, request
                        FROM notification_events {where} ORDER BY seq{suffix}""",  # noqa: S608
                    tuple(params),
                ).fetchall()
            except _errors() as exc:
                raise _storage_error(exc) from None
        return [_entry(row) for row in rows]


class _Waiter:
    """One :meth:`Inbox.add` call waiting for the commit that holds its row."""

    __slots__ = ("channel", "done", "error", "event", "new")

    def __init__(self, event: Notification, channel: str):
        self.event, self.channel = event, channel
        self.done = False
        self.new = False
        self.error: BaseException | None = None

    def settle(self, new: bool, error: BaseException | None) -> None:
        self.new, self.error, self.done = new, error, True

    def outcome(self) -> bool:
        """Whether the row was new; raises what storing it raised."""
        if not self.done:  # pragma: no cover - the writer's lock settles every waiter
            raise NotificationError("the inbox lost a row before its commit", outcome="7")
        if self.error is not None:
            raise self.error
        return self.new


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the inbox lock; storage errors become outcome 7."""

    def __init__(self, inbox: Inbox):
        self._inbox = inbox

    def __enter__(self) -> Any:
        self._inbox._lock.acquire()
        try:
            db = self._inbox._db
            db.execute("BEGIN IMMEDIATE")
        except _errors() as exc:
            self._inbox._lock.release()
            raise _storage_error(exc) from None
        except BaseException:
            self._inbox._lock.release()
            raise
        self._conn = db
        return db

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                try:
                    self._conn.execute("COMMIT")
                except _errors() as error:
                    self._rollback()
                    raise _storage_error(error) from None
            else:
                self._rollback()
                if isinstance(exc, _errors()):
                    raise _storage_error(exc) from None
        finally:
            self._inbox._lock.release()

    def _rollback(self) -> None:
        with contextlib.suppress(*_errors()):  # no transaction left to undo
            self._conn.execute("ROLLBACK")


def _storage_error(exc: BaseException) -> NotificationError:
    return NotificationError(
        f"the notification inbox failed: {redact_url(str(exc))}",
        outcome="7",
        field="notifications.store",
        rule="a writable SQLite file or PostgreSQL database",
    )


def _errors() -> tuple[type[BaseException], ...]:
    """The storage errors of both backends (psycopg's only when it is loaded)."""
    psycopg = sys.modules.get("psycopg")
    error = getattr(psycopg, "Error", None) if psycopg is not None else None
    return (sqlite3.Error, error) if isinstance(error, type) else (sqlite3.Error,)


_WRITER_LOCK: Final = 0x414E4E31  # "ANN1": one writer at a time, as BEGIN IMMEDIATE in SQLite


class _PostgresConnection:
    """The few ``sqlite3.Connection`` calls the inbox makes, on a psycopg connection: ``?``
    placeholders, and ``BEGIN IMMEDIATE`` as a transaction holding the inbox's advisory lock
    (one writer at a time, as SQLite's write lock), so the inbox's read-then-write steps mean
    the same on both backends."""

    def __init__(self, conn: Any):
        self._conn = conn

    @classmethod
    def connect(cls, url: str, *, durable: bool, timeout: float) -> _PostgresConnection:
        psycopg = psycopg_module("notifications.store", "a PostgreSQL notification inbox")
        try:
            conn = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=max(1, round(timeout)),
                application_name="anpr-client inbox",
            )
            conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
            if not durable:
                conn.execute("SET synchronous_commit = off")
        except psycopg.Error as exc:
            raise ConfigurationError(
                f"cannot open the notification inbox {redact_url(url)!r}: "
                f"{server_message(exc, url)}",
                setting="notifications.store",
            ) from None
        return cls(conn)

    def execute(self, statement: str, params: Sequence[object] = ()) -> Any:
        if statement == "BEGIN IMMEDIATE":
            return self._conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({_WRITER_LOCK})")
        return self._conn.execute(placeholders(statement), tuple(params))

    def close(self) -> None:
        self._conn.close()


def _pg_has_schema(db: Any) -> bool:
    """Whether the inbox's tables exist (read from the catalog table, not a session cache)."""
    found = db.execute(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'notification_schema' "
        "AND schemaname = current_schema()"
    ).fetchone()
    return found is not None


def _upgrade(db: Any, *, postgres: bool = False) -> None:
    """Add the columns a store of an older schema lacks (inside the opening transaction)."""
    for table, column, declaration in _ADDED:
        if postgres:
            kind = declaration.replace("BLOB", "BYTEA")
            db.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            continue
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def _insert(db: Any, event: Notification, channel: str) -> bool:
    """Store ``event`` as ``pending``; a quarantined or released row of its key is replaced (the
    same notification arrived decodable). ``False`` if the key was already stored decodable."""
    detail = request = None
    if isinstance(event, ResultItem):
        detail = json.dumps(
            {
                "state": event.state,
                "response_format": event.response_format,
                "request_format": event.request_format,
            }
        )
        request = event.request
    cursor = db.execute(
        """INSERT INTO notification_events
           (kind, id_notifica, recipient, sender, sent_at, channel, received_at, payload,
            operation_id, codice_fiscale, state, detail, request)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
           ON CONFLICT (kind, id_notifica) DO UPDATE SET
             recipient = excluded.recipient, sender = excluded.sender,
             sent_at = excluded.sent_at, channel = excluded.channel,
             received_at = excluded.received_at, payload = excluded.payload,
             operation_id = excluded.operation_id, codice_fiscale = excluded.codice_fiscale,
             state = 'pending', attempts = 0, last_error = NULL, done_at = NULL,
             detail = excluded.detail, request = excluded.request
           WHERE notification_events.state IN ('invalid', 'released')""",
        (
            event.kind,
            event.id_notifica,
            event.recipient,
            event.sender,
            _iso(event.sent_at),
            channel,
            _iso(_now()),
            event.raw,
            event.operation_id,
            event.codice_fiscale,
            detail,
            request,
        ),
    )
    return bool(cursor.rowcount == 1)


def _quarantine(db: Any, bad: InvalidNotification, channel: str = "pull") -> bool:
    """Quarantine ``bad`` (or refresh the quarantined copy with the latest item and reason).
    ``True`` when the item holds the poller: not already stored decodable, nor released."""
    row = db.execute(
        "SELECT state FROM notification_events WHERE kind = ? AND id_notifica = ?",
        (bad.kind, bad.id_notifica),
    ).fetchone()
    if row is None:
        db.execute(
            """INSERT INTO notification_events
               (kind, id_notifica, recipient, sender, sent_at, channel, received_at,
                payload, state, last_error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'invalid', ?)""",
            (
                bad.kind,
                bad.id_notifica,
                bad.recipient,
                bad.sender,
                _iso(bad.sent_at),
                channel,
                _iso(_now()),
                bad.raw,
                bad.reason,
            ),
        )
        return True
    if row[0] == EntryState.INVALID.value:
        db.execute(
            """UPDATE notification_events SET payload = ?, last_error = ?, received_at = ?
               WHERE kind = ? AND id_notifica = ?""",
            (bad.raw, bad.reason, _iso(_now()), bad.kind, bad.id_notifica),
        )
        return True
    return False


def _save_checkpoint(db: Any, cp: PullCheckpoint) -> None:
    db.execute(
        """INSERT INTO notification_pulls
           (name, covered_until, pending_id, pending_from, pending_until, pending_ready_at,
            pending_page, updated_at, pending_held, held_from)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET
             covered_until = excluded.covered_until, pending_id = excluded.pending_id,
             pending_from = excluded.pending_from, pending_until = excluded.pending_until,
             pending_ready_at = excluded.pending_ready_at, pending_page = excluded.pending_page,
             updated_at = excluded.updated_at, pending_held = excluded.pending_held,
             held_from = excluded.held_from""",
        (
            cp.name,
            _iso(cp.covered_until),
            cp.pending_id,
            _iso(cp.pending_from),
            _iso(cp.pending_until),
            _iso(cp.pending_ready_at),
            cp.pending_page,
            _iso(_now()),
            cp.pending_held,
            _iso(cp.held_from),
        ),
    )


def _entry(row: Sequence[Any]) -> InboxEntry:
    (seq, kind, id_notifica, recipient, sender, sent_at, channel, received_at, payload) = row[:9]
    (operation_id, codice_fiscale, state, attempts, last_error, done_at) = row[9:15]
    detail, request = row[15:]
    raw = bytes(payload)
    entry_state = EntryState(str(state))
    event: Notification | None = None
    if entry_state not in (EntryState.INVALID, EntryState.RELEASED):
        event = _decode_stored(
            str(kind),
            str(id_notifica),
            None if recipient is None else str(recipient),
            None if sender is None else str(sender),
            _from_iso(None if sent_at is None else str(sent_at)),
            raw,
            None if detail is None else str(detail),
            None if request is None else bytes(request),
        )
    return InboxEntry(
        seq=int(seq),
        kind=str(kind),
        id_notifica=str(id_notifica),
        channel=str(channel),
        state=entry_state,
        received_at=_from_iso(str(received_at)) or _now(),
        attempts=int(attempts),
        last_error=None if last_error is None else str(last_error),
        done_at=_from_iso(None if done_at is None else str(done_at)),
        operation_id=None if operation_id is None else str(operation_id),
        codice_fiscale=None if codice_fiscale is None else str(codice_fiscale),
        event=event,
        raw=raw,
    )


def _decode_stored(
    kind: str,
    id_notifica: str,
    recipient: str | None,
    sender: str | None,
    sent_at: dt.datetime | None,
    raw: bytes,
    detail: str | None,
    request: bytes | None,
) -> Notification | None:
    """Decode a stored row again (it was decoded once before storing); ``None`` if the file
    was altered since, so a listing never fails on one bad row."""
    try:
        if detail is not None:
            item = json.loads(detail)
            return result_item(
                kind,
                id_notifica=id_notifica,
                state=item.get("state"),
                response=raw,
                response_format=item.get("response_format"),
                request=request,
                request_format=item.get("request_format"),
                recipient=recipient,
            )
        return decode_notification(
            kind,
            parse_xml(raw),
            id_notifica=id_notifica,
            recipient=recipient,
            sender=sender,
            sent_at=sent_at,
            raw=raw,
        )
    except (NotificationError, ProtocolError, ValueError, AttributeError):
        return None
