"""The SQLite journal: one file (WAL) recording every ANPR operation and attempt.

The default :class:`~anpr_client.journal.repository.Repository`. The statements it shares with
the PostgreSQL journal (:mod:`.postgresql`) are :mod:`.sql`'s; every SQLite specific (the file,
its permissions, ``PRAGMA``, ``BEGIN IMMEDIATE``) lives here.

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

The file is created with permissions 0600 (SQLite gives its ``-wal``/``-shm`` files the same;
on Windows the file inherits its folder's access list, see ``docs/platforms.md``). It holds
personal data: see ``docs/journal.md``, and :mod:`.sealing` for encryption at rest.

The schema steps applied are listed in its ``schema_version`` table (:data:`.sql.MIGRATIONS`);
``PRAGMA user_version`` stays 1 while every step is one an older release can ignore, so a
journal upgraded by this release still opens with 0.2.

Thread-safe (one connection behind a lock) and safe across processes and workstations sharing
the file (SQLite locking; put it on a local disk or a file system with working POSIX locks).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Final, Literal

from .._files import create_private
from ..errors.exceptions import ConfigurationError
from ..settings import default_journal_path, is_database_url
from .sql import SCHEMA_VERSION, SqlJournal

__all__ = ["SCHEMA_VERSION", "Journal"]

_USER_VERSION: Final = 1
"""``PRAGMA user_version`` of the file: the oldest layout that can read it (see above)."""

PAGE_SIZE: Final = 2048
"""The page size of a new journal file, in bytes (SQLite's default is 4096). Every commit
writes each page it changed in full to the WAL (and a checkpoint writes it again): a call
changes a handful of small row and index pages, so smaller pages write fewer bytes per call
(``bench/bench_journal.py``; https://www.sqlite.org/pragma.html#pragma_page_size)."""

_ISO_GLOB: Final = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*"
"""What every ``created_at`` the journal writes looks like (a row not like it is corrupt)."""


class _Transaction:
    """One write transaction of :meth:`Journal._transaction`, as a context manager: a class of
    its own rather than ``contextlib.contextmanager``, whose generator and wrapper cost more than
    an empty ``BEGIN``/``COMMIT`` on every call's three transactions."""

    __slots__ = ("_db", "_durable")

    def __init__(self, db: sqlite3.Connection, durable: bool):
        self._db = db
        self._durable = durable

    def __enter__(self) -> None:
        db = self._db
        if self._durable:
            db.execute("PRAGMA synchronous=FULL")
        try:
            db.execute("BEGIN IMMEDIATE")
        except BaseException:
            if self._durable:
                db.execute("PRAGMA synchronous=NORMAL")
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        db = self._db
        try:
            if kind is None:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            elif db.in_transaction:
                db.execute("ROLLBACK")
        finally:
            if self._durable:
                db.execute("PRAGMA synchronous=NORMAL")
        return False


class Journal(SqlJournal):
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

    _errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)
    _types: ClassVar[dict[str, str]] = {
        "blob": "BLOB",
        "key": "INTEGER PRIMARY KEY",
        "real": "REAL",
        "bigint": "INTEGER",
    }
    _not_iso: ClassVar[str] = f"created_at NOT GLOB '{_ISO_GLOB}'"

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
        super().__init__(key=key, durable=durable, busy_timeout=busy_timeout, id_marks=id_marks)
        if not create and not self.path.is_file():
            raise ConfigurationError(
                f"there is no journal at {str(self.path)!r}", setting="journal", rule="exists"
            )
        self._open_file(id_prefix)

    @classmethod
    def _opened(
        cls,
        location: str | os.PathLike[str],
        *,
        key: bytes | None,
        create: bool,
        id_marks: Path | Literal[False],
    ) -> Journal:
        return cls(location, key=key, create=create, id_marks=id_marks)

    @classmethod
    def _accepts(cls, location: str | os.PathLike[str]) -> bool:
        return not is_database_url(location)

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
            # Before WAL (which writes the file's header): a new, empty file gets this page
            # size; an existing journal keeps its own (SQLite ignores it there).
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open the journal {str(self.path)!r}: {exc}", setting="journal"
            ) from None
        return conn

    def _transaction(self, db: sqlite3.Connection, *, durable: bool) -> _Transaction:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (the file's write lock for the whole transaction);
        ``durable``: with ``synchronous=FULL``, so the commit is on disk when it returns."""
        return _Transaction(db, durable)

    def _open_file(self, id_prefix: str | None) -> None:
        try:
            create_private(self.path)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the journal {str(self.path)!r}: {exc.strerror}",
                setting="journal",
            ) from None
        with self._lock:
            db = self._db
            try:
                layout = int(db.execute("PRAGMA user_version").fetchone()[0])
                if layout > _USER_VERSION:
                    raise ConfigurationError(
                        f"the journal {str(self.path)!r} has layout version {layout}, newer "
                        f"than this anpr-client understands ({_USER_VERSION}); upgrade",
                        setting="journal",
                    )
                if self._version(db) != SCHEMA_VERSION:
                    with self._transaction(db, durable=True):
                        current = self._version(db)  # another process may have moved it
                        if current != SCHEMA_VERSION:
                            self._migrate(db, current, id_prefix)  # a newer one raises
                            db.execute(f"PRAGMA user_version={_USER_VERSION}")
                meta = self._read_meta(db)
            except sqlite3.DatabaseError as exc:
                raise ConfigurationError(
                    f"{str(self.path)!r} is not a usable anpr-client journal: {exc}",
                    setting="journal",
                ) from None
        self._take_meta(meta)

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        """The schema step the file is at: its ``schema_version`` table, else (a journal of
        0.2, or a new file) its ``user_version``."""
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if found is None:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)
