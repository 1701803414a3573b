"""The SQLite journal: one file (WAL) recording every ANPR operation and attempt.

The default :class:`~anpr_client.journal.repository.Repository`; every SQL statement and every
SQLite specific of the journal lives here. The states it moves operations through are
:mod:`.states`'s, the values it returns :mod:`.records`'s.

What it records, per operation: the Comune, the service family and operation code, the
``idOperazioneComune``, the ``testataRichiesta``, the request payload, and per attempt the exact
signed envelope bytes, times, HTTP status, the raw answer, the error; when settled, the
outcome, ``idOperazioneANPR``, ``esitoOperazione``, the answer and the error codes.

Every change is one SQLite transaction, and the ``sending`` row (with the envelope) is committed
— and, by default, flushed to disk — *before* the bytes leave. So after a crash at any point the
record says whether the request may have reached ANPR (see :mod:`.states`).

Ids (:meth:`Journal.allocate_id`) follow :mod:`.ids`: the counter is in the file, the epoch
is drawn by each open, and the high-water marks outside the file (:mod:`.marks`) turn a
restored or copied journal into :class:`~anpr_client.errors.JournalRolledBack` until
:meth:`Journal.accept_rollback`.

The file is created with permissions 0600 (SQLite gives its ``-wal``/``-shm`` files the same).
It holds personal data: see ``docs/journal.md``, and :mod:`.sealing` for encryption at rest.

Thread-safe (one connection behind a lock) and safe across processes and workstations sharing
the file (SQLite locking; put it on a local disk or a file system with working POSIX locks).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from ..credentials.base import can_ask
from ..errors.exceptions import ConfigurationError, CorruptJournalRecord, JournalError
from ..settings import default_journal_path
from . import ids as _ids
from .marks import IdMarks, Rollback, marks_from_env
from .ownership import current_owner, owner_alive
from .records import Attempt, AttemptEnd, OperationRecord, Settlement, wire_form
from .sealing import KEY_ENV, Sealer, key_from_text
from .states import OPEN_STATES, SETTLED_STATES, AttemptKind, State, check_transition

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["SCHEMA_VERSION", "Journal"]

SCHEMA_VERSION: Final = 1


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


# ----------------------------------------------------------------------------- schema

_ROLLBACKS: Final = """CREATE TABLE IF NOT EXISTS id_rollbacks (
        accepted_at TEXT NOT NULL,
        comune TEXT NOT NULL,
        counter INTEGER NOT NULL,
        mark INTEGER NOT NULL,
        accepted_by TEXT NOT NULL
    )"""
"""Rollbacks accepted (:meth:`Journal.accept_rollback`): when, by whom, from which counter to
which mark. Added to journals of schema 1 when opened (old versions ignore it); the journal's
``journal_id`` (meta) likewise."""

_SCHEMA: Final = (
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)""",
    """CREATE TABLE counters (comune TEXT PRIMARY KEY, last INTEGER NOT NULL)""",
    _ROLLBACKS,
    """CREATE TABLE operations (
        id INTEGER PRIMARY KEY,
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
        payload BLOB NOT NULL,
        id_operazione_anpr TEXT,
        esito TEXT,
        error_type TEXT,
        error_codes TEXT NOT NULL DEFAULT '',
        error BLOB,
        response BLOB,
        response_type TEXT,
        owner TEXT,
        lease_until REAL,
        resolution TEXT,
        elapsed REAL,
        UNIQUE (comune, id_operazione_comune)
    )""",
    """CREATE INDEX operations_state ON operations (state)""",
    """CREATE INDEX operations_created ON operations (created_at)""",
    """CREATE TABLE attempts (
        operation INTEGER NOT NULL REFERENCES operations (id),
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        id_operazione_comune TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        elapsed REAL,
        envelope BLOB NOT NULL,
        http_status INTEGER,
        response BLOB,
        response_type TEXT,
        error_type TEXT,
        error_codes TEXT NOT NULL DEFAULT '',
        error BLOB,
        PRIMARY KEY (operation, number)
    )""",
)

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
    f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE operation = ? ORDER BY number"  # noqa: S608
)
_REACHED: Final = (
    "EXISTS (SELECT 1 FROM attempts WHERE operation = operations.id AND kind = 'send' "
    "AND state != 'not_delivered')"
)
"""Whether any send of the operation may have reached ANPR (SQL, in an UPDATE of it)."""
_END_OPEN: Final = (
    f"UPDATE operations SET may_have_reached = {_REACHED}, "  # noqa: S608
    "elapsed = COALESCE(elapsed, 0) + ?, updated_at = ?, "
    f"state = CASE WHEN {_REACHED} THEN 'outcome_unknown' ELSE 'prepared' END "
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


_HEAD: Final = "comune, id_operazione_comune, state"
_NEXT_ATTEMPT: Final = (
    "(SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE operation = operations.id)"
)


def _operation_row(db: sqlite3.Connection, columns: str, key: int) -> Sequence[Any]:
    """``columns`` (a constant of this module) of operation ``key``; an unknown key raises."""
    row = db.execute(f"SELECT {columns} FROM operations WHERE id = ?", (key,)).fetchone()  # noqa: S608
    if row is None:
        raise JournalError(f"no journal operation with key {key}")
    return tuple(row)


def _create_private(path: Path) -> None:
    """Create ``path`` empty with permissions 0600 (its directory 0700 when we create it)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # in case the umask was stricter than needed, or looser


class Journal:
    """The operation journal in one SQLite file (see the module docstring); implements
    :class:`~anpr_client.journal.repository.Repository`.

    :param path: the SQLite file; created (0600) with its directory when missing. Default:
        :func:`~anpr_client.settings.default_journal_path`.
    :param key: 32 bytes to seal personal-data columns with AES-256-GCM (see :mod:`.sealing`).
        Required for every write to a journal created with a key; refused by one created
        without.
    :param durable: flush the ``sending`` record to disk before each send (``fsync``), so even
        a power cut cannot lose the fact that a request may have gone out. With ``False`` the
        journal still survives a crash of the process, not of the machine.
    :param id_prefix: the id prefix of a *new* journal (default: random; see :mod:`.ids`).
    :param create: ``False``: a missing file is an error instead of a new, empty journal (for
        tools that only read).
    :param id_marks: the file of high-water marks (:mod:`.marks`) that tells a restored or
        copied journal; default: ``$ANPR_ID_MARKS``, else the user's state directory.
        ``False``: none (a rollback goes unnoticed; ids stay unique by their epoch).

    Each open draws a new id epoch (:attr:`id_epoch`, see :mod:`.ids`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        key: bytes | None = None,
        durable: bool = True,
        id_prefix: str | None = None,
        busy_timeout: float = 30.0,
        create: bool = True,
        id_marks: str | os.PathLike[str] | Literal[False] | None = None,
    ):
        self.path = Path(path) if path is not None else default_journal_path()
        marks = marks_from_env(os.environ) if id_marks is None else id_marks
        self._marks = IdMarks(marks, busy_timeout=busy_timeout) if marks else None
        self.durable = durable
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._sealer = Sealer(key) if key is not None else None
        if not create and not self.path.is_file():
            raise ConfigurationError(
                f"there is no journal at {str(self.path)!r}", setting="journal", rule="exists"
            )
        self._open_file(id_prefix)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        secret: Callable[[str], str] | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> Journal:
        """The journal the settings name (:attr:`Settings.journal_path
        <anpr_client.settings.Settings.journal_path>`), opened as :meth:`open` does.

        Raises :class:`~anpr_client.errors.ConfigurationError` when the settings switch the
        journal off.
        """
        path = settings.journal_path
        if path is None:
            where = f" {str(settings.source)!r}" if settings.source is not None else ""
            raise ConfigurationError(
                f"the settings{where} switch the journal off (journal = false, or "
                "ANPR_JOURNAL=off)",
                setting="journal",
            )
        return cls.open(path, secret=secret, env=env, create=create)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        secret: Callable[[str], str] | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> Journal:
        """The journal at ``path``, with its key when it has one.

        The key of an encrypted journal comes from ``$ANPR_JOURNAL_KEY``, else, when the file
        turns out to be encrypted, from ``secret("journal key")``. Without either, the journal
        opens read-only for its sealed columns (writes raise ConfigurationError).
        """
        env = os.environ if env is None else env
        text = env.get(KEY_ENV)
        key = key_from_text(text) if text else None
        found = marks_from_env(env)
        marks: Path | Literal[False] = False if found is None else found
        journal = cls(path, key=key, create=create, id_marks=marks)
        if journal.encrypted and key is None and secret is not None and can_ask(secret):
            journal.close()
            key = key_from_text(secret("journal key"), setting="journal key")
            journal = cls(path, key=key, create=create, id_marks=marks)
        return journal

    @property
    def location(self) -> str:
        """The journal's file, for messages."""
        return str(self.path)

    def __repr__(self) -> str:
        enc = ", encrypted" if self.encrypted else ""
        return f"Journal({str(self.path)!r}{enc})"

    # ------------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open the journal {str(self.path)!r}: {exc}", setting="journal"
            ) from None
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        pid = os.getpid()
        if self._conn is None or self._pid != pid:
            # A connection must not cross a fork: the child opens its own.
            self._conn = self._connect()
            self._pid = pid
        return self._conn

    def _open_file(self, id_prefix: str | None) -> None:
        try:
            _create_private(self.path)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the journal {str(self.path)!r}: {exc.strerror}",
                setting="journal",
            ) from None
        with self._lock:
            db = self._db
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    self._create_schema(db, id_prefix)
                elif version > SCHEMA_VERSION:
                    raise ConfigurationError(
                        f"the journal {str(self.path)!r} has schema version {version}, newer "
                        f"than this anpr-client understands ({SCHEMA_VERSION}); upgrade",
                        setting="journal",
                    )
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                if "journal_id" not in meta:
                    meta = self._upgrade(db)
            except sqlite3.DatabaseError as exc:
                raise ConfigurationError(
                    f"{str(self.path)!r} is not a usable anpr-client journal: {exc}",
                    setting="journal",
                ) from None
        self.id_prefix: str = str(meta["id_prefix"])
        self.journal_id: str = str(meta["journal_id"])
        """The journal's identity, kept in the file: every copy of it has the same one."""
        self.id_epoch: str = _ids.new_epoch(self.id_prefix)
        """This open's epoch: the last characters of every id it allocates."""
        self.encrypted = meta.get("encryption", "none") != "none"
        if (
            self.encrypted
            and self._sealer is not None
            and not self._sealer.matches(bytes(meta["key_check"]))
        ):
            raise ConfigurationError(
                f"the journal key does not match the key of {str(self.path)!r}",
                setting="ANPR_JOURNAL_KEY",
                rule="the key the journal was created with",
            )
        if not self.encrypted and self._sealer is not None:
            raise ConfigurationError(
                f"the journal {str(self.path)!r} was created without encryption; a key cannot "
                "be added to it (start a new journal file to encrypt)",
                setting="ANPR_JOURNAL_KEY",
            )

    def _create_schema(self, db: sqlite3.Connection, id_prefix: str | None) -> None:
        prefix = _ids.validate_prefix(id_prefix) if id_prefix else _ids.new_prefix()
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] != 0:
                db.execute("ROLLBACK")  # another process created it meanwhile
                return
            for statement in _SCHEMA:
                db.execute(statement)
            meta: dict[str, Any] = {
                "id_prefix": prefix,
                "journal_id": _ids.new_journal_id(),
                "created_at": _now(),
                "encryption": "aes-256-gcm" if self._sealer else "none",
            }
            if self._sealer is not None:
                meta["key_check"] = self._sealer.check_value()
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _upgrade(db: sqlite3.Connection) -> dict[Any, Any]:
        """Give a journal of an earlier release its identity and its rollback table (both
        ignored by earlier releases, so the schema version stays)."""
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_ROLLBACKS)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('journal_id', ?)",
                (_ids.new_journal_id(),),
            )
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return meta

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
        if self._marks is not None:
            self._marks.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Any, *, durable: bool = False) -> Any:
        """Run ``fn(db)`` in one write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``)."""
        with self._lock:
            db = self._db
            sync = durable and self.durable
            if sync:
                db.execute("PRAGMA synchronous=FULL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise JournalError(f"the journal {str(self.path)!r} failed: {exc}") from exc
            finally:
                if sync:
                    db.execute("PRAGMA synchronous=NORMAL")
            return result

    # ------------------------------------------------------------------ sealing

    def _seal(self, data: bytes | None, where: str) -> bytes | None:
        if data is None:
            return None
        if not self.encrypted:
            return data
        if self._sealer is None:
            raise ConfigurationError(
                f"the journal {str(self.path)!r} is encrypted: set ANPR_JOURNAL_KEY (or pass "
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

        def alloc(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO counters (comune, last) VALUES (?, 1) "
                "ON CONFLICT (comune) DO UPDATE SET last = last + 1 RETURNING last",
                (comune,),
            ).fetchone()
            value = int(row[0])
            if value <= mark:  # the counter was below the mark: refuse (rolled back with us)
                raise Rollback(comune, value - 1, mark).error(self.location)
            return value

        value = self._write(alloc)
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
                counters = dict(self._db.execute("SELECT comune, last FROM counters").fetchall())
            except sqlite3.Error as exc:
                raise JournalError(f"the journal {str(self.path)!r} failed: {exc}") from exc
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

        def accept(db: sqlite3.Connection) -> None:
            now, who = _now(), current_owner()
            for r in found:
                db.execute(
                    "INSERT INTO counters (comune, last) VALUES (?, ?) "
                    "ON CONFLICT (comune) DO UPDATE SET last = MAX(last, excluded.last)",
                    (r.comune, r.mark),
                )
                db.execute(
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
        now = _now()
        lease_until = time.time() + lease
        first = envelope is not None
        state = State.SENDING if first else State.PREPARED

        def existing(db: sqlite3.Connection) -> int:
            row = db.execute(
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

        def insert(db: sqlite3.Connection) -> tuple[int, bool]:
            try:
                cur = db.execute(
                    "INSERT INTO operations (comune, service, operation, id_operazione_comune, "
                    "state, may_have_reached, created_at, updated_at, url, header, payload, "
                    "owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        comune,
                        service,
                        operation,
                        id_operazione_comune,
                        str(state),
                        first,
                        now,
                        now,
                        url,
                        _dumps(header_w),
                        self._seal(payload_json.encode("utf-8"), f"{where}/payload"),
                        owner,
                        lease_until,
                    ),
                )
            except sqlite3.IntegrityError:  # UNIQUE (comune, id): the id is known
                return existing(db), False
            key = int(cur.lastrowid or 0)
            if envelope is not None:
                db.execute(
                    _INSERT_ATTEMPT,
                    (
                        key,
                        1,
                        "send",
                        id_operazione_comune,
                        now,
                        self._seal(envelope, f"{where}/attempt/1/envelope"),
                    ),
                )
            return key, True

        key, created = self._write(insert, durable=first)
        if not created:
            record = self.get_by_key(key)
            assert record is not None
            return record, False
        started = dt.datetime.fromisoformat(now)
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

        def take(db: sqlite3.Connection) -> None:
            owner, lease_until, state, ident = _operation_row(
                db, "owner, lease_until, state, id_operazione_comune", key
            )
            if (
                not force
                and owner is not None
                and owner != me
                and _Row(key, ident).read("state", State, state) in OPEN_STATES
                and (lease_until or 0) > time.time()
                and owner_alive(owner) is not False
            ):
                raise JournalError(
                    f"operation {ident} is being sent by another process ({owner}); retry "
                    "after it ends",
                    id_operazione_comune=ident,
                )
            db.execute(
                "UPDATE operations SET owner = ?, lease_until = ? WHERE id = ?",
                (me, time.time() + lease, key),
            )

        self._write(take)
        record = self.get_by_key(key)
        assert record is not None
        return record

    def release(self, key: int) -> None:
        """Give up this process's hold (the operation stays as it is, free to resolve)."""
        self._write(
            lambda db: db.execute(
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

        def begin(db: sqlite3.Connection) -> int:
            row = _operation_row(db, _HEAD + ", " + _NEXT_ATTEMPT, key)
            comune, ident, number = str(row[0]), str(row[1]), int(row[3])
            state = _Row(key, ident).read("state", State, row[2])
            now = _now()
            db.execute(
                _INSERT_ATTEMPT,
                (
                    key,
                    number,
                    kind,
                    id_operazione_comune,
                    now,
                    self._seal(envelope, f"{comune}/{ident}/attempt/{number}/envelope"),
                ),
            )
            new_state = State.SENDING if kind == "send" else state
            check_transition(state, new_state)
            db.execute(
                "UPDATE operations SET state = ?, updated_at = ?, owner = ?, lease_until = ?, "
                "may_have_reached = CASE WHEN ? THEN 1 ELSE may_have_reached END WHERE id = ?",
                (
                    str(new_state),
                    now,
                    current_owner(),
                    time.time() + lease,
                    kind == "send",
                    key,
                ),
            )
            return number

        return int(self._write(begin, durable=True))

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

        def end_it(db: sqlite3.Connection) -> State:
            comune, ident, state = self._head(db, key)
            base = f"{comune}/{ident}/attempt/{number}"
            now = _now()
            db.execute(
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
            new_state = State(db.execute(_END_OPEN, (elapsed, now, key)).fetchone()[0])
            check_transition(state, new_state)  # raising rolls the transaction back
            return new_state

        return State(self._write(end_it))

    def settle(self, key: int, settlement: Settlement) -> OperationRecord:
        """Settle an operation without a new attempt (e.g. every send failed undelivered)."""

        def settle_it(db: sqlite3.Connection) -> None:
            comune, ident, state = self._head(db, key)
            self._settle(db, key, comune, ident, state, settlement, _now())

        self._write(settle_it)
        record = self.get_by_key(key)
        assert record is not None
        return record

    def _settle(
        self,
        db: sqlite3.Connection,
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
        db.execute(
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

    @staticmethod
    def _head(db: sqlite3.Connection, key: int) -> tuple[str, str, State]:
        row = _operation_row(db, _HEAD, key)
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
            sql = _SELECT_OPS + f" WHERE (created_at >= ? OR created_at NOT GLOB '{_ISO_GLOB}')"
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
                rows = db.execute(sql, tuple(args)).fetchall()
                return [(r, db.execute(_SELECT_ATTEMPTS, (r[0],)).fetchall()) for r in rows]
            except sqlite3.Error as exc:
                raise JournalError(f"the journal {str(self.path)!r} failed: {exc}") from exc

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
            envelope=self._unseal(read("envelope", _blob, a[7]), f"{at}/envelope"),
            http_status=read("http_status", _optional_integer, a[8]),
            response=self._unseal(read("response", _blob, a[9]), f"{at}/response"),
            response_type=read("response_type", _optional_text, a[10]),
            error_type=read("error_type", _optional_text, a[11]),
            error_codes=read("error_codes", _codes, a[12]),
            error=_text(self._unseal(read("error", _blob, a[13]), f"{at}/error")),
        )


# ----------------------------------------------------------------------------- reading rows

_ISO_GLOB: Final = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*"
"""What every ``created_at`` the journal writes looks like (a row not like it is corrupt)."""


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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _utf8(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8")


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")
