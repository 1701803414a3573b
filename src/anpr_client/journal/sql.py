"""What the SQL journals share: every statement on operations, attempts and ids, written once
for SQLite (:mod:`.sqlite`) and PostgreSQL (:mod:`.postgresql`).

:class:`SqlJournal` implements :class:`~anpr_client.journal.repository.Repository` over a
DB-API connection; a backend subclass supplies the connection, its transactions, its
placeholder style and its schema (the tables are the same on both, see :data:`MIGRATIONS`).
The statements are plain SQL both engines run alike (``INSERT … ON CONFLICT``, ``RETURNING``,
``CASE``), with ``?`` placeholders that a backend may rewrite (:meth:`SqlJournal._sql`).

Every change is one transaction, and the ``sending`` row (with the envelope) is committed —
and flushed to disk when durable — *before* the bytes leave. So after a crash at any point the
record says whether the request may have reached ANPR (see :mod:`.states`).

An operation is held by a **lease** (``owner``, ``lease_until``): the owner renews it with each
attempt, and another worker — on this machine or another — takes the operation over once the
lease has run out (:mod:`.ownership`). Ids (:meth:`SqlJournal.allocate_id`) follow :mod:`.ids`:
the counter is in the store, the epoch is drawn by each open, and the high-water marks outside
the store (:mod:`.marks`) turn a restored or copied journal into
:class:`~anpr_client.errors.JournalRolledBack` until :meth:`SqlJournal.accept_rollback`.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self

from ..credentials.base import can_ask
from ..errors.exceptions import (
    ConfigurationError,
    CorruptJournalRecord,
    JournalError,
    JournalUnavailable,
    OperationHeld,
)
from . import ids as _ids
from .marks import IdMarks, Rollback, marks_from_env
from .ownership import current_owner, owner_alive
from .records import Attempt, AttemptEnd, OperationRecord, Settlement, wire_form
from .sealing import KEY_ENV, Sealer, key_from_text
from .states import OPEN_STATES, SETTLED_STATES, AttemptKind, State, check_transition

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqlJournal"]


def _now() -> str:
    return _stamp(dt.datetime.now(dt.UTC))


def _stamp(moment: dt.datetime) -> str:
    """How the journal writes a time (``_now`` is this of now)."""
    return moment.isoformat(timespec="microseconds")


# ----------------------------------------------------------------------------- schema

_ROLLBACKS: Final = """CREATE TABLE IF NOT EXISTS id_rollbacks (
        accepted_at TEXT NOT NULL,
        comune TEXT NOT NULL,
        counter {bigint} NOT NULL,
        mark {bigint} NOT NULL,
        accepted_by TEXT NOT NULL
    )"""
"""Rollbacks accepted (:meth:`SqlJournal.accept_rollback`): when, by whom, from which counter to
which mark."""

_SCHEMA_VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        applied_at TEXT NOT NULL,
        description TEXT NOT NULL
    )"""

MIGRATIONS: Final[tuple[tuple[int, str, tuple[str, ...]], ...]] = (
    (
        1,
        "operations, attempts, counters, meta",
        (
            """CREATE TABLE meta (key TEXT PRIMARY KEY, value {blob} NOT NULL)""",
            """CREATE TABLE counters (comune TEXT PRIMARY KEY, last {bigint} NOT NULL)""",
            """CREATE TABLE operations (
        id {key},
        comune TEXT NOT NULL,
        service TEXT NOT NULL,
        operation TEXT NOT NULL,
        id_operazione_comune TEXT NOT NULL,
        state TEXT NOT NULL,
        outcome TEXT,
        may_have_reached INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        settled_at TEXT,
        url TEXT NOT NULL,
        header TEXT NOT NULL,
        payload {blob} NOT NULL,
        id_operazione_anpr TEXT,
        esito TEXT,
        error_type TEXT,
        error_codes TEXT NOT NULL DEFAULT '',
        error {blob},
        response {blob},
        response_type TEXT,
        owner TEXT,
        lease_until {real},
        resolution TEXT,
        elapsed {real},
        UNIQUE (comune, id_operazione_comune)
    )""",
            """CREATE INDEX operations_state ON operations (state)""",
            """CREATE INDEX operations_created ON operations (created_at)""",
            """CREATE TABLE attempts (
        operation {bigint} NOT NULL REFERENCES operations (id),
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        id_operazione_comune TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        elapsed {real},
        envelope {blob} NOT NULL,
        http_status INTEGER,
        response {blob},
        response_type TEXT,
        error_type TEXT,
        error_codes TEXT NOT NULL DEFAULT '',
        error {blob},
        PRIMARY KEY (operation, number)
    )""",
        ),
    ),
    (
        2,
        "schema_version, id_rollbacks, the journal's identity",
        (_ROLLBACKS,),
    ),
    (
        3,
        "no operations_state and operations_created indexes (no query uses them)",
        # Every statement of the journal finds its rows by the primary keys or by UNIQUE
        # (comune, id_operazione_comune); pending() filters with NOT IN (no index serves it)
        # and scans the whole table either way. The two indexes only cost every write (the
        # state one changes with each state). tests/journal/test_schema.py holds the proof:
        # the query plan of every statement the journal issues, on a store that has them.
        ("DROP INDEX IF EXISTS operations_state", "DROP INDEX IF EXISTS operations_created"),
    ),
    (
        4,
        "envelopes: each attempt's signed request in a table of its own",
        # An UPDATE rewrites the whole row: with the envelope (kilobytes, signed) in the
        # attempt's row, recording how the attempt ended wrote it again. Here it is written
        # once. Attempts recorded before keep theirs in attempts.envelope; later ones hold an
        # empty (sealed, when the journal is) value there, which a release without this step
        # shows as an empty envelope.
        (
            """CREATE TABLE envelopes (
        operation {bigint} NOT NULL REFERENCES operations (id),
        number INTEGER NOT NULL,
        envelope {blob} NOT NULL,
        PRIMARY KEY (operation, number)
    )""",
        ),
    ),
)
"""The schema, as numbered steps: ``(version, what it adds, statements)``. The statements name
their column types with ``{blob}``, ``{key}``, ``{real}`` and ``{bigint}``, which each backend
fills in (:attr:`SqlJournal._types`). A store records each step it applied in ``schema_version``;
an older store is brought up to date when opened, a newer one is refused. Version 2 also gives
the journal its identity (``journal_id`` in ``meta``) when it has none. A step, once released,
is never changed (a new store runs them all in order): version 3 drops what version 1 made."""

SCHEMA_VERSION: Final = MIGRATIONS[-1][0]
"""The schema this release writes."""

# Column lists are constants of this module: the f-strings below never hold outside input.
_OP_COLUMNS: Final = (
    "id, comune, service, operation, id_operazione_comune, state, outcome, may_have_reached, "
    "created_at, updated_at, settled_at, url, header, payload, id_operazione_anpr, esito, "
    "error_type, error_codes, error, response, response_type, owner, lease_until, resolution, "
    "elapsed"
)
_ATTEMPT_COLUMNS: Final = (
    "number, kind, id_operazione_comune, state, started_at, finished_at, elapsed, envelope, "
    "http_status, response, response_type, error_type, error_codes, error"
)
_SELECT_OPS: Final = f"SELECT {_OP_COLUMNS} FROM operations"  # noqa: S608
_SELECT_ATTEMPTS: Final = (
    "SELECT a.number, a.kind, a.id_operazione_comune, a.state, a.started_at, a.finished_at, "
    "a.elapsed, a.envelope, a.http_status, a.response, a.response_type, a.error_type, "
    "a.error_codes, a.error, e.envelope FROM attempts a LEFT JOIN envelopes e "
    "ON e.operation = a.operation AND e.number = a.number "
    "WHERE a.operation = ? ORDER BY a.number"
)
"""An operation's attempts, each with its envelope: in ``envelopes`` (the last column) since
schema step 4, in ``attempts.envelope`` before."""
_REACHED: Final = (
    "CASE WHEN EXISTS (SELECT 1 FROM attempts WHERE operation = operations.id "
    "AND kind = 'send' AND state != 'not_delivered') THEN 1 ELSE 0 END"
)
"""Whether any send of the operation may have reached ANPR (SQL, in an UPDATE of it)."""
_END_OPEN: Final = (
    f"UPDATE operations SET may_have_reached = {_REACHED}, "  # noqa: S608
    "elapsed = COALESCE(elapsed, 0) + ?, updated_at = ?, "
    f"state = CASE WHEN {_REACHED} = 1 THEN 'outcome_unknown' ELSE 'prepared' END "
    "WHERE id = ? RETURNING state"
)
_SETTLE: Final = (
    "UPDATE operations SET state = ?, outcome = ?, resolution = ?, settled_at = ?, "  # noqa: S608
    "updated_at = ?, id_operazione_anpr = ?, esito = ?, response = ?, "
    "response_type = ?, error_type = ?, error_codes = ?, error = ?, owner = NULL, "
    f"lease_until = NULL, may_have_reached = {_REACHED}, "
    "elapsed = COALESCE(elapsed, 0) + ? WHERE id = ?"
)
_INSERT_ATTEMPT: Final = (
    f"INSERT INTO attempts (operation, {_ATTEMPT_COLUMNS}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, 'sending', ?, NULL, NULL, ?, NULL, NULL, NULL, NULL, '', NULL)"
)
_INSERT_ENVELOPE: Final = "INSERT INTO envelopes (operation, number, envelope) VALUES (?, ?, ?)"


_HEAD: Final = "comune, id_operazione_comune, state"
_NEXT_ATTEMPT: Final = (
    "(SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE operation = operations.id)"
)


_BACKENDS: list[type[SqlJournal]] = []
"""Every backend (each subclass of :class:`SqlJournal` registers itself when defined)."""


class SqlJournal(abc.ABC):
    """The journal over one SQL database (see the module docstring); a backend subclass
    supplies :meth:`_connect`, :meth:`_transaction` and :meth:`_open_store`.

    :param key: 32 bytes to seal personal-data columns with AES-256-GCM (see :mod:`.sealing`).
    :param durable: flush the ``sending`` record to disk before each send.
    :param id_marks: the file of high-water marks (:mod:`.marks`); ``None``: ``$ANPR_ID_MARKS``,
        else the user's state directory; ``False``: none.
    """

    #: Flush each id allocation to disk before the id is handed out. A backend shared by
    #: several machines needs it: an allocation lost in a server crash would hand the same
    #: id to another machine, whose high-water marks never saw it (an id queued with a job,
    #: see :mod:`anpr_client.contrib.celery`, is handed out long before its ``sending``
    #: record). On one machine the marks file catches it.
    durable_ids: bool = False

    _errors: ClassVar[tuple[type[Exception], ...]] = ()
    """The backend's database errors (turned into :class:`~anpr_client.errors.JournalError`)."""
    _types: ClassVar[Mapping[str, str]] = {}
    """The column types :data:`MIGRATIONS` names (``blob``, ``key``, ``real``, ``bigint``)."""
    _for_update: ClassVar[str] = ""
    """What locks the row an update reads first (``FOR UPDATE`` on a server; SQLite locks the
    whole file for the transaction already)."""
    _not_iso: ClassVar[str] = ""
    """SQL true when ``created_at`` does not look like a date-time the journal wrote."""

    encrypted: bool

    def __init__(
        self,
        *,
        key: bytes | None,
        durable: bool,
        busy_timeout: float,
        id_marks: str | os.PathLike[str] | Literal[False] | None,
    ):
        marks = marks_from_env(os.environ) if id_marks is None else id_marks
        self._marks = IdMarks(marks, busy_timeout=busy_timeout) if marks else None
        self.durable = durable
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1
        self._sealer = Sealer(key) if key is not None else None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        secret: Callable[[str], str] | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> SqlJournal:
        """The journal the settings name (:attr:`Settings.journal_path
        <anpr_client.settings.Settings.journal_path>`: a SQLite file, or a PostgreSQL URL),
        opened as :meth:`open` does.

        Raises :class:`~anpr_client.errors.ConfigurationError` when the settings switch the
        journal off.
        """
        location = settings.journal_path
        if location is None:
            where = f" {str(settings.source)!r}" if settings.source is not None else ""
            raise ConfigurationError(
                f"the settings{where} switch the journal off (journal = false, or "
                "ANPR_JOURNAL=off)",
                setting="journal",
            )
        return SqlJournal.at(location, secret=secret, env=env, create=create)

    @staticmethod
    def at(
        location: str | os.PathLike[str],
        *,
        secret: Callable[[str], str] | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> SqlJournal:
        """The journal at ``location``, opened by the backend that takes it (a database URL:
        PostgreSQL; anything else: a SQLite file), as :meth:`open` does."""
        for backend in _BACKENDS:  # each takes what the others do not (a URL, or a path)
            if backend._accepts(location):
                return backend.open(location, secret=secret, env=env, create=create)
        raise ConfigurationError(f"no journal backend takes {location!r}", setting="journal")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _BACKENDS.append(cls)

    @classmethod
    @abc.abstractmethod
    def _accepts(cls, location: str | os.PathLike[str]) -> bool:
        """Whether ``location`` names a store of this backend."""

    @classmethod
    def open(
        cls,
        location: Any,
        *,
        secret: Callable[[str], str] | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> Self:
        """The journal at ``location`` (this backend's), with its key when it has one.

        The key of an encrypted journal comes from ``$ANPR_JOURNAL_KEY``, else, when the store
        turns out to be encrypted, from ``secret("journal key")``. Without either, the journal
        opens read-only for its sealed columns (writes raise ConfigurationError).
        """
        env = os.environ if env is None else env
        text = env.get(KEY_ENV)
        key = key_from_text(text) if text else None
        found = marks_from_env(env)
        marks: Path | Literal[False] = False if found is None else found
        journal = cls._opened(location, key=key, create=create, id_marks=marks)
        if journal.encrypted and key is None and secret is not None and can_ask(secret):
            journal.close()
            key = key_from_text(secret("journal key"), setting="journal key")
            journal = cls._opened(location, key=key, create=create, id_marks=marks)
        return journal

    @classmethod
    @abc.abstractmethod
    def _opened(
        cls,
        location: Any,
        *,
        key: bytes | None,
        create: bool,
        id_marks: Path | Literal[False],
    ) -> Self:
        """The backend's journal at ``location`` (its constructor, for :meth:`open`)."""

    # ------------------------------------------------------------------ backend hooks

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the operations are kept, for messages."""

    @abc.abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection in autocommit mode (transactions are explicit)."""

    @abc.abstractmethod
    def _transaction(self, db: Any, *, durable: bool) -> Any:
        """A context manager: one write transaction, committed on exit (flushed to disk when
        ``durable``), rolled back on an exception."""

    def _sql(self, statement: str) -> str:
        """``statement`` in the backend's placeholder style (``?`` as written here)."""
        return statement

    def _clock(self) -> float:
        """Now, in seconds since the epoch, on the clock every user of the store shares (the
        leases are compared against it)."""
        return time.time()

    def _exec(self, db: Any, statement: str, args: Sequence[Any] = ()) -> Any:
        return db.execute(self._sql(statement), tuple(args))

    @classmethod
    def _ddl(cls, statement: str) -> str:
        return statement.format_map(cls._types)

    @property
    def _db(self) -> Any:
        pid = os.getpid()
        if self._conn is None or self._pid != pid:
            # A connection must not cross a fork: the child opens its own.
            self._conn = self._connect()
            self._pid = pid
        return self._conn

    # ------------------------------------------------------------------ schema

    def _migrate(self, db: Any, current: int, id_prefix: str | None) -> None:
        """Apply the steps of :data:`MIGRATIONS` after ``current`` and record every step in
        ``schema_version`` (in the caller's transaction, which holds the store exclusively)."""
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the journal {self.location!r} has schema version {current}, newer than this "
                f"anpr-client understands ({SCHEMA_VERSION}); upgrade anpr-client",
                setting="journal",
            )
        self._exec(db, self._ddl(_SCHEMA_VERSION_TABLE))
        for version, description, statements in MIGRATIONS:
            if version > current:
                for statement in statements:
                    self._exec(db, self._ddl(statement))
                if version == 1:
                    self._insert_meta(db, self._new_meta(id_prefix))
                if version == 2:  # journals of 0.2 had no identity
                    self._insert_meta(db, {"journal_id": _ids.new_journal_id()})
            self._exec(
                db,
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?) "
                "ON CONFLICT (version) DO NOTHING",
                (version, _now(), description),
            )

    def _new_meta(self, id_prefix: str | None) -> dict[str, Any]:
        prefix = _ids.validate_prefix(id_prefix) if id_prefix else _ids.new_prefix()
        meta: dict[str, Any] = {
            "id_prefix": prefix,
            "created_at": _now(),
            "encryption": "aes-256-gcm" if self._sealer else "none",
        }
        if self._sealer is not None:
            meta["key_check"] = self._sealer.check_value()
        return meta

    def _insert_meta(self, db: Any, meta: Mapping[str, Any]) -> None:
        for name, value in meta.items():
            self._exec(
                db,
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (name, value.encode("utf-8") if isinstance(value, str) else value),
            )

    def _read_meta(self, db: Any) -> dict[str, Any]:
        """The ``meta`` table: text values as text, ``key_check`` as bytes."""
        out: dict[str, Any] = {}
        for name, value in self._exec(db, "SELECT key, value FROM meta").fetchall():
            if isinstance(value, memoryview):
                value = bytes(value)
            if name != "key_check" and isinstance(value, bytes):
                value = value.decode("utf-8")
            out[str(name)] = value
        return out

    def _take_meta(self, meta: Mapping[str, Any]) -> None:
        """Adopt the store's identity and check the key against it."""
        self.id_prefix: str = str(meta["id_prefix"])
        self.journal_id: str = str(meta["journal_id"])
        """The journal's identity, kept in the store: every copy of it has the same one."""
        self.id_epoch: str = _ids.new_epoch(self.id_prefix)
        """This open's epoch: the last characters of every id it allocates."""
        self.encrypted = meta.get("encryption", "none") != "none"
        if (
            self.encrypted
            and self._sealer is not None
            and not self._sealer.matches(bytes(meta["key_check"]))
        ):
            raise ConfigurationError(
                f"the journal key does not match the key of {self.location!r}",
                setting="ANPR_JOURNAL_KEY",
                rule="the key the journal was created with",
            )
        if not self.encrypted and self._sealer is not None:
            raise ConfigurationError(
                f"the journal {self.location!r} was created without encryption; a key cannot "
                "be added to it (start a new journal to encrypt)",
                setting="ANPR_JOURNAL_KEY",
            )

    def schema_versions(self) -> list[int]:
        """The schema steps applied to the store, in order (``schema_version``)."""
        with self._lock:
            rows = self._exec(self._db, "SELECT version FROM schema_version ORDER BY version")
            return [int(r[0]) for r in rows.fetchall()]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
        if self._marks is not None:
            self._marks.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Any, *, durable: bool = False) -> Any:
        """Run ``fn(db)`` in one write transaction."""
        with self._lock:
            db = self._db
            try:
                with self._transaction(db, durable=durable and self.durable):
                    return fn(db)
            except self._errors as exc:
                raise JournalUnavailable(f"the journal {self.location!r} failed: {exc}") from exc

    def _operation_row(self, db: Any, columns: str, key: int) -> Sequence[Any]:
        """``columns`` (a constant of this module) of operation ``key``, locked for the
        transaction; an unknown key raises."""
        row = self._exec(
            db,
            f"SELECT {columns} FROM operations WHERE id = ?{self._for_update}",  # noqa: S608
            (key,),
        ).fetchone()
        if row is None:
            raise JournalError(f"no journal operation with key {key}")
        return tuple(row)

    # ------------------------------------------------------------------ sealing

    def _seal(self, data: bytes | None, where: str) -> bytes | None:
        if data is None:
            return None
        if not self.encrypted:
            return data
        if self._sealer is None:
            raise ConfigurationError(
                f"the journal {self.location!r} is encrypted: set ANPR_JOURNAL_KEY (or pass "
                "key=) to write to it",
                setting="ANPR_JOURNAL_KEY",
                rule="required",
            )
        return self._sealer.seal(data, where)

    def _unseal(self, data: bytes | None, where: str) -> bytes | None:
        if data is None or not self.encrypted:
            return None if data is None else bytes(data)
        if self._sealer is None:
            return None
        return self._sealer.open(bytes(data), where)

    # ------------------------------------------------------------------ ids

    def allocate_id(self, comune: str) -> str:
        """A new ``idOperazioneComune`` for ``comune``, unique across every user of the file
        and every copy of it (see :mod:`.ids`).

        Raises :class:`~anpr_client.errors.JournalRolledBack` when the file's counter is
        below the high-water mark (:mod:`.marks`): the file was restored or copied, and is
        refused until :meth:`accept_rollback`.
        """
        # Read before the transaction: a mark only holds values some transaction committed,
        # so a counter below it means the file went back, never a race with another process.
        mark = self._marks.get(self.journal_id, comune) if self._marks is not None else 0

        def alloc(db: Any) -> int:
            row = self._exec(
                db,
                "INSERT INTO counters (comune, last) VALUES (?, 1) "
                "ON CONFLICT (comune) DO UPDATE SET last = counters.last + 1 RETURNING last",
                (comune,),
            ).fetchone()
            value = int(row[0])
            if value <= mark:  # the counter was below the mark: refuse (rolled back with us)
                raise Rollback(comune, value - 1, mark).error(self.location)
            return value

        value = self._write(alloc, durable=self.durable_ids)
        if self._marks is not None:
            self._marks.raise_to(self.journal_id, comune, value)
        return _ids.format_id(self.id_prefix, value, self.id_epoch)

    def rollbacks(self) -> list[Rollback]:
        """Each Comune whose counter in the file is below its high-water mark: the file was
        restored from a backup or copied (empty without marks, or when all is well)."""
        if self._marks is None:
            return []
        marks = self._marks.for_journal(self.journal_id)
        if not marks:
            return []
        with self._lock:
            try:
                found = self._exec(self._db, "SELECT comune, last FROM counters").fetchall()
                counters = dict(found)
            except self._errors as exc:
                raise JournalUnavailable(f"the journal {self.location!r} failed: {exc}") from exc
        return [
            Rollback(comune, int(counters.get(comune, 0)), mark)
            for comune, mark in sorted(marks.items())
            if int(counters.get(comune, 0)) < mark
        ]

    def accept_rollback(self, comune: str | None = None) -> list[Rollback]:
        """Accept that the journal went back in time (:meth:`rollbacks`; one Comune, or all):
        its counters move past the high-water marks, so the ids in between are never handed
        out again, and the acceptance is recorded in the journal (table ``id_rollbacks``).
        Returns what was accepted. Check at ANPR the operations the file no longer holds."""
        found = [r for r in self.rollbacks() if comune is None or r.comune == comune]
        if not found:
            return []

        def accept(db: Any) -> None:
            now, who = _now(), current_owner()
            for r in found:
                self._exec(
                    db,
                    "INSERT INTO counters (comune, last) VALUES (?, ?) "
                    "ON CONFLICT (comune) DO UPDATE SET last = CASE WHEN excluded.last > "
                    "counters.last THEN excluded.last ELSE counters.last END",
                    (r.comune, r.mark),
                )
                self._exec(
                    db,
                    "INSERT INTO id_rollbacks (accepted_at, comune, counter, mark, accepted_by) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (now, r.comune, r.counter, r.mark, who),
                )

        self._write(accept, durable=True)
        return found

    # ------------------------------------------------------------------ operations

    def open_operation(
        self,
        *,
        comune: str,
        service: str,
        operation: str,
        id_operazione_comune: str,
        url: str,
        header: Mapping[str, Any],
        payload: Mapping[str, Any],
        lease: float,
        envelope: bytes | None = None,
    ) -> tuple[OperationRecord, bool]:
        """Record a new operation (``prepared``, held by this process for ``lease`` seconds),
        or return the existing one for that id.

        With ``envelope``, a new operation is recorded directly with its first attempt going
        out (``sending``, flushed to disk like :meth:`begin_attempt`): one transaction instead
        of two on the common path.

        Returns ``(record, created)``. An id already recorded for another operation, or with
        another payload, raises :class:`~anpr_client.errors.JournalError`: ANPR would answer
        it with the stored answer of the first request (or an error), never apply the new one.
        """
        header_w = wire_form(header)
        payload_w = wire_form(payload)
        payload_json = _dumps(payload_w)
        where = f"{comune}/{id_operazione_comune}"
        owner = current_owner()
        started = dt.datetime.now(dt.UTC)
        now = _stamp(started)  # the record returned below holds ``started``: no parse back
        lease_until = self._clock() + lease
        first = envelope is not None
        state = State.SENDING if first else State.PREPARED

        def existing(db: Any) -> int:
            row = self._exec(
                db,
                "SELECT id, operation, payload FROM operations "
                "WHERE comune = ? AND id_operazione_comune = ?",
                (comune, id_operazione_comune),
            ).fetchone()
            if row[1] != operation:
                raise JournalError(
                    f"idOperazioneComune {id_operazione_comune} was already used for "
                    f"operation {row[1]} of Comune {comune}; ANPR refuses an id reused for "
                    "another service",
                    id_operazione_comune=id_operazione_comune,
                )
            reader = _Row(row[0], id_operazione_comune)
            stored = self._unseal(reader.read("payload", _blob, row[2]), f"{where}/payload")
            known = None if stored is None else reader.read("payload", _json_object, stored)
            if known is not None and known != payload_w:
                raise JournalError(
                    f"idOperazioneComune {id_operazione_comune} was already used for a "
                    "different request; ANPR would answer with the first request's stored "
                    "answer. Use a new id for a new request",
                    id_operazione_comune=id_operazione_comune,
                )
            return int(row[0])

        def insert(db: Any) -> tuple[int, bool]:
            row = self._exec(
                db,
                "INSERT INTO operations (comune, service, operation, id_operazione_comune, "
                "state, may_have_reached, created_at, updated_at, url, header, payload, "
                "owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (comune, id_operazione_comune) DO NOTHING RETURNING id",
                (
                    comune,
                    service,
                    operation,
                    id_operazione_comune,
                    str(state),
                    int(first),
                    now,
                    now,
                    url,
                    _dumps(header_w),
                    self._seal(payload_json.encode("utf-8"), f"{where}/payload"),
                    owner,
                    lease_until,
                ),
            ).fetchone()
            if row is None:  # UNIQUE (comune, id): the id is known
                return existing(db), False
            key = int(row[0])
            if envelope is not None:
                self._insert_attempt(db, key, 1, "send", id_operazione_comune, now, envelope, where)
            return key, True

        key, created = self._write(insert, durable=first)
        if not created:
            record = self.get_by_key(key)
            assert record is not None
            return record, False
        attempts = (
            (
                Attempt(
                    number=1,
                    kind="send",
                    id_operazione_comune=id_operazione_comune,
                    state="sending",
                    started_at=started,
                    finished_at=None,
                    elapsed=None,
                    http_status=None,
                    error_type=None,
                    error_codes=(),
                    error=None,
                    envelope=envelope,
                    response=None,
                ),
            )
            if envelope is not None
            else ()
        )
        record = OperationRecord(
            key=key,
            comune=comune,
            service=service,
            operation=operation,
            id_operazione_comune=id_operazione_comune,
            state=state,
            outcome=None,
            may_have_reached=first,
            created_at=started,
            updated_at=started,
            settled_at=None,
            url=url,
            header=header_w,
            payload=payload_w,
            owner=owner,
            lease_until=lease_until,
            attempts=attempts,
        )
        return record, True

    def claim(self, key: int, *, lease: float, force: bool = False) -> OperationRecord:
        """Take charge of an operation for ``lease`` seconds (compare-and-set on its owner).

        Refused with :class:`~anpr_client.errors.JournalError` while another live process
        holds it (unless ``force``): two senders of one id would only get EN148 from ANPR.
        """
        me = current_owner()

        def take(db: Any) -> None:
            owner, lease_until, state, ident = self._operation_row(
                db, "owner, lease_until, state, id_operazione_comune", key
            )
            if (
                not force
                and owner is not None
                and owner != me
                and _Row(key, ident).read("state", State, state) in OPEN_STATES
                and (lease_until or 0) > self._clock()
                and owner_alive(owner) is not False
            ):
                raise OperationHeld(
                    f"operation {ident} is being sent by another process ({owner}); retry "
                    "after it ends",
                    id_operazione_comune=ident,
                )
            self._exec(
                db,
                "UPDATE operations SET owner = ?, lease_until = ? WHERE id = ?",
                (me, self._clock() + lease, key),
            )

        self._write(take)
        record = self.get_by_key(key)
        assert record is not None
        return record

    def release(self, key: int) -> None:
        """Give up this process's hold (the operation stays as it is, free to resolve)."""
        self._write(
            lambda db: self._exec(
                db,
                "UPDATE operations SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?",
                (key, current_owner()),
            )
        )

    def begin_attempt(
        self,
        key: int,
        *,
        kind: AttemptKind,
        envelope: bytes,
        id_operazione_comune: str,
        lease: float,
    ) -> int:
        """Record that an attempt is about to go out (committed, and flushed when ``durable``,
        before the caller sends). A send moves the operation to ``sending``."""

        def begin(db: Any) -> int:
            row = self._operation_row(db, _HEAD + ", " + _NEXT_ATTEMPT, key)
            comune, ident, number = str(row[0]), str(row[1]), int(row[3])
            state = _Row(key, ident).read("state", State, row[2])
            now = _now()
            where = f"{comune}/{ident}"
            self._insert_attempt(db, key, number, kind, id_operazione_comune, now, envelope, where)
            new_state = State.SENDING if kind == "send" else state
            check_transition(state, new_state)
            self._exec(
                db,
                "UPDATE operations SET state = ?, updated_at = ?, owner = ?, lease_until = ?, "
                "may_have_reached = CASE WHEN ? THEN 1 ELSE may_have_reached END WHERE id = ?",
                (
                    str(new_state),
                    now,
                    current_owner(),
                    self._clock() + lease,
                    kind == "send",
                    key,
                ),
            )
            return number

        return int(self._write(begin, durable=True))

    def _insert_attempt(
        self,
        db: Any,
        key: int,
        number: int,
        kind: str,
        ident: str,
        now: str,
        envelope: bytes,
        where: str,
    ) -> None:
        """Record attempt ``number`` as ``sending``, its envelope in ``envelopes`` (schema step
        4; ``attempts.envelope`` gets an empty value, sealed where it would have been)."""
        empty = self._seal(b"", f"{where}/attempt/{number}/envelope")
        self._exec(db, _INSERT_ATTEMPT, (key, number, kind, ident, now, empty))
        sealed = self._seal(envelope, f"{where}/envelopes/{number}")  # a place of its own
        self._exec(db, _INSERT_ENVELOPE, (key, number, sealed))

    def end_attempt(
        self,
        key: int,
        number: int,
        end: AttemptEnd,
        *,
        elapsed: float,
        settle: Settlement | None = None,
    ) -> State:
        """Record how an attempt ended and, in the same transaction, the operation's new state
        (returned): ``settle`` when given, else ``outcome_unknown`` if any attempt may have
        reached ANPR, else ``prepared``."""

        def end_it(db: Any) -> State:
            comune, ident, state = self._head(db, key)
            base = f"{comune}/{ident}/attempt/{number}"
            now = _now()
            self._exec(
                db,
                "UPDATE attempts SET state = ?, finished_at = ?, elapsed = ?, http_status = ?, "
                "response = ?, response_type = ?, error_type = ?, error_codes = ?, error = ? "
                "WHERE operation = ? AND number = ?",
                (
                    end.state,
                    now,
                    elapsed,
                    end.http_status,
                    *self._answer_columns(end, base),
                    key,
                    number,
                ),
            )
            if settle is not None:
                self._settle(db, key, comune, ident, state, settle, now, elapsed=elapsed)
                return settle.state
            new_state = State(self._exec(db, _END_OPEN, (elapsed, now, key)).fetchone()[0])
            check_transition(state, new_state)  # raising rolls the transaction back
            return new_state

        return State(self._write(end_it))

    def settle(self, key: int, settlement: Settlement) -> OperationRecord:
        """Settle an operation without a new attempt (e.g. every send failed undelivered)."""

        def settle_it(db: Any) -> None:
            comune, ident, state = self._head(db, key)
            self._settle(db, key, comune, ident, state, settlement, _now())

        self._write(settle_it)
        record = self.get_by_key(key)
        assert record is not None
        return record

    def _settle(
        self,
        db: Any,
        key: int,
        comune: str,
        ident: str,
        state: State,
        s: Settlement,
        now: str,
        *,
        elapsed: float = 0.0,
    ) -> None:
        check_transition(state, s.state)
        where = f"{comune}/{ident}"
        self._exec(
            db,
            _SETTLE,
            (
                str(s.state),
                s.outcome,
                s.resolution,
                now,
                now,
                s.id_operazione_anpr,
                s.esito,
                *self._answer_columns(s, where),
                elapsed,
                key,
            ),
        )

    def _answer_columns(self, x: AttemptEnd | Settlement, where: str) -> tuple[Any, ...]:
        """``response, response_type, error_type, error_codes, error`` of an attempt's end or
        of a settlement, the content sealed under ``where``."""
        return (
            self._seal(x.response, f"{where}/response"),
            x.response_type,
            x.error_type,
            " ".join(x.error_codes),
            self._seal(_utf8(x.error), f"{where}/error"),
        )

    def _head(self, db: Any, key: int) -> tuple[str, str, State]:
        row = self._operation_row(db, _HEAD, key)
        return str(row[0]), str(row[1]), _Row(key, row[1]).read("state", State, row[2])

    # ------------------------------------------------------------------ reading

    def get_by_key(self, key: int) -> OperationRecord | None:
        rows = self._select(_SELECT_OPS + " WHERE id = ?", (key,))
        return rows[0] if rows else None

    def get(self, id_operazione_comune: str, *, comune: str | None = None) -> OperationRecord:
        """The operation with this id (in ``comune`` when several Comuni share the journal).

        Raises :class:`~anpr_client.errors.JournalError` when there is none, or when the
        id exists for several Comuni and none was given.
        """
        sql = _SELECT_OPS + " WHERE id_operazione_comune = ?"
        args: tuple[Any, ...] = (id_operazione_comune,)
        if comune is not None:
            sql += " AND comune = ?"
            args += (comune,)
        rows = self._select(sql, args)
        if not rows:
            raise JournalError(
                f"no operation with idOperazioneComune {id_operazione_comune} in the journal",
                id_operazione_comune=id_operazione_comune,
            )
        if len(rows) > 1:
            raise JournalError(
                f"idOperazioneComune {id_operazione_comune} exists for several Comuni ("
                + ", ".join(r.comune for r in rows)
                + "); name the Comune",
                id_operazione_comune=id_operazione_comune,
            )
        return rows[0]

    def pending(
        self, *, comune: str | None = None, errors: list[CorruptJournalRecord] | None = None
    ) -> list[OperationRecord]:
        """Operations not settled: ``sending``, ``outcome_unknown`` and ``prepared``, oldest
        first. :meth:`OperationRecord.in_flight` tells those a live process is still sending.

        A row that cannot be read (:class:`~anpr_client.errors.CorruptJournalRecord`, naming
        the row and the column) raises; with ``errors``, it is appended there instead and the
        other rows are returned. A row whose state is no known state is such a row: it is
        never left out silently, since it may be an operation still to settle.
        """
        settled = tuple(str(s) for s in SETTLED_STATES)
        sql = _SELECT_OPS + f" WHERE state NOT IN ({', '.join('?' * len(settled))})"
        args: tuple[Any, ...] = settled
        if comune is not None:
            sql += " AND comune = ?"
            args += (comune,)
        return self._records(self._fetch(sql + " ORDER BY created_at, id", args), errors)

    def since(
        self,
        start: dt.datetime,
        *,
        comune: str | None = None,
        batch: int = 200,
        errors: list[CorruptJournalRecord] | None = None,
    ) -> Iterator[OperationRecord]:
        """Operations created at or after ``start`` (aware, or naive meaning UTC), in order.

        Unreadable rows raise, or go to ``errors`` as for :meth:`pending` (a row whose
        ``created_at`` is no date-time is among them, whatever ``start`` is)."""
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        bound = start.astimezone(dt.UTC).isoformat(timespec="microseconds")
        last = 0
        while True:
            sql = _SELECT_OPS + f" WHERE (created_at >= ? OR {self._not_iso})"
            sql += " AND id > ?"
            args: tuple[Any, ...] = (bound, last)
            if comune is not None:
                sql += " AND comune = ?"
                args += (comune,)
            raw = self._fetch(sql + " ORDER BY id LIMIT ?", (*args, batch))
            if not raw:
                return
            yield from self._records(raw, errors)
            last = int(raw[-1][0][0])

    def _select(self, sql: str, args: Sequence[Any]) -> list[OperationRecord]:
        return self._records(self._fetch(sql, args), None)

    def _fetch(
        self, sql: str, args: Sequence[Any]
    ) -> list[tuple[Sequence[Any], list[Sequence[Any]]]]:
        """Operation rows with their attempt rows, as stored."""
        with self._lock:
            try:
                db = self._db
                rows = self._exec(db, sql, tuple(args)).fetchall()
                return [(r, self._exec(db, _SELECT_ATTEMPTS, (r[0],)).fetchall()) for r in rows]
            except self._errors as exc:
                raise JournalUnavailable(f"the journal {self.location!r} failed: {exc}") from exc

    def _records(
        self,
        raw: Sequence[tuple[Sequence[Any], list[Sequence[Any]]]],
        errors: list[CorruptJournalRecord] | None,
    ) -> list[OperationRecord]:
        out = []
        for row, attempts in raw:
            try:
                out.append(self._record(row, attempts))
            except CorruptJournalRecord as exc:
                if errors is None:
                    raise
                errors.append(exc)
            except ConfigurationError as exc:  # a sealed value that does not open
                if errors is None:
                    raise
                ident = row[4] if isinstance(row[4], str) else None
                errors.append(
                    CorruptJournalRecord(
                        f"journal row {row[0]}: {exc}",
                        row=row[0],
                        field="sealed",
                        id_operazione_comune=ident,
                    )
                )
        return out

    def _record(self, r: Sequence[Any], attempt_rows: Sequence[Sequence[Any]]) -> OperationRecord:
        (key, comune, service, operation, ident, state, outcome, reached, created, updated,
         settled, url, header, payload, anpr_id, esito, err_type, err_codes, err, response,
         response_type, owner, lease_until, resolution, elapsed) = r  # fmt: skip
        row = _Row(key, ident)
        ident = row.read("id_operazione_comune", _text_value, ident)
        comune = row.read("comune", _text_value, comune)
        where = f"{comune}/{ident}"
        raw_payload = self._unseal(row.read("payload", _blob, payload), f"{where}/payload")
        attempts = tuple(self._attempt(row, where, a) for a in attempt_rows)
        return OperationRecord(
            key=key,
            comune=comune,
            service=row.read("service", _text_value, service),
            operation=row.read("operation", _text_value, operation),
            id_operazione_comune=ident,
            state=row.read("state", State, state),
            outcome=row.read("outcome", _optional_text, outcome),
            may_have_reached=bool(reached),
            created_at=row.read("created_at", _timestamp, created),
            updated_at=row.read("updated_at", _timestamp, updated),
            settled_at=row.read("settled_at", _optional_timestamp, settled),
            url=row.read("url", _text_value, url),
            header=row.read("header", _json_object, header),
            payload=None if raw_payload is None else row.read("payload", _json_object, raw_payload),
            id_operazione_anpr=row.read("id_operazione_anpr", _optional_text, anpr_id),
            esito=row.read("esito", _optional_text, esito),
            error_type=row.read("error_type", _optional_text, err_type),
            error_codes=row.read("error_codes", _codes, err_codes),
            error=_text(self._unseal(row.read("error", _blob, err), f"{where}/error")),
            response=self._unseal(row.read("response", _blob, response), f"{where}/response"),
            response_type=row.read("response_type", _optional_text, response_type),
            owner=row.read("owner", _optional_text, owner),
            lease_until=row.read("lease_until", _optional_number, lease_until),
            resolution=row.read("resolution", _optional_text, resolution),
            elapsed=row.read("elapsed", _optional_number, elapsed),
            sealed=self.encrypted and self._sealer is None,
            clock_offset=self._clock() - time.time(),
            attempts=attempts,
        )

    def _attempt(self, row: _Row, where: str, a: Sequence[Any]) -> Attempt:
        number = row.read("attempts.number", _integer, a[0])
        at = f"{where}/attempt/{number}"

        def read(column: str, parse: Callable[[Any], Any], value: Any) -> Any:
            return row.read(f"attempts[{number}].{column}", parse, value)

        return Attempt(
            number=number,
            kind=read("kind", _text_value, a[1]),
            id_operazione_comune=read("id_operazione_comune", _text_value, a[2]),
            state=read("state", _text_value, a[3]),
            started_at=read("started_at", _timestamp, a[4]),
            finished_at=read("finished_at", _optional_timestamp, a[5]),
            elapsed=read("elapsed", _optional_number, a[6]),
            envelope=(
                self._unseal(read("envelope", _blob, a[7]), f"{at}/envelope")
                if a[14] is None
                else self._unseal(read("envelope", _blob, a[14]), f"{where}/envelopes/{number}")
            ),
            http_status=read("http_status", _optional_integer, a[8]),
            response=self._unseal(read("response", _blob, a[9]), f"{at}/response"),
            response_type=read("response_type", _optional_text, a[10]),
            error_type=read("error_type", _optional_text, a[11]),
            error_codes=read("error_codes", _codes, a[12]),
            error=_text(self._unseal(read("error", _blob, a[13]), f"{at}/error")),
        )


# ----------------------------------------------------------------------------- reading rows


class _Row:
    """Reads the columns of one stored operation; a column that does not parse raises
    :class:`~anpr_client.errors.CorruptJournalRecord` naming the row and the column (and never
    its content, which may be personal data)."""

    def __init__(self, key: Any, ident: Any):
        self.key = key if isinstance(key, int) else None
        self.ident = ident if isinstance(ident, str) else None

    def read(self, column: str, parse: Callable[[Any], Any], value: Any) -> Any:
        try:
            return parse(value)
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            what = _EXPECTED.get(parse, "readable")
            name = f" ({self.ident})" if self.ident else ""
            raise CorruptJournalRecord(
                f"journal row {self.key}{name}: the column {column} is not {what} (changed "
                "by hand, a crash or another program?); the other rows are unaffected",
                row=self.key,
                field=column,
                id_operazione_comune=self.ident,
            ) from exc


def _text_value(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text_value(value)


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    return value


def _optional_integer(value: Any) -> int | None:
    return None if value is None else _integer(value)


def _optional_number(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError("not a number")
    return float(value)


def _timestamp(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(_text_value(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)  # naive: UTC, as written


def _optional_timestamp(value: Any) -> dt.datetime | None:
    return None if value is None else _timestamp(value)


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, str | bytes):
        raise TypeError("not JSON text")
    data = json.loads(value)
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    return data


def _blob(value: Any) -> bytes | None:
    """A content column: bytes (text put there by hand counts as its UTF-8 bytes)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("not bytes")


def _codes(value: Any) -> tuple[str, ...]:
    return tuple(_text_value(value).split())


_EXPECTED: Final[dict[Callable[[Any], Any], str]] = {
    _text_value: "text",
    _optional_text: "text or empty",
    _integer: "an integer",
    _optional_integer: "an integer or empty",
    _optional_number: "a number or empty",
    _timestamp: "an ISO 8601 date-time",
    _optional_timestamp: "an ISO 8601 date-time or empty",
    _json_object: "a JSON object",
    _codes: "a list of codes",
    _blob: "bytes or empty",
    State: "a journal state (" + ", ".join(State) + ")",
}


_JSON: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""The one encoder of the journal's JSON columns: ``json.dumps`` with these arguments builds a
new encoder on every call (https://docs.python.org/3/library/json.html#json.dumps); the text is
the same."""


def _dumps(value: Any) -> str:
    return _JSON.encode(value)


def _utf8(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8")


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")
