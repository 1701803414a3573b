"""High-water marks of the ids handed out, kept *outside* the journal: a journal restored from a
backup, a copied one, or an older file put in its place is detected and reported.

A journal's id counter only ever grows. This store remembers, per journal (its ``journal_id``,
drawn at creation and kept in the file, so every copy of a journal has the same one) and per
Comune, the highest counter value handed out on this machine by this user. A journal whose
counter is *below* its mark has gone back in time: the ids between the two were handed out
already, and ANPR answers a known id with its first answer (italia/anpr#596), so they must not
be handed out again. The repository refuses to allocate (:class:`~anpr_client.errors.
JournalRolledBack`, with what to do) until the rollback is accepted
(:meth:`Journal.accept_rollback <anpr_client.journal.Journal.accept_rollback>`), which moves
the counter past the mark.

The mark never decides uniqueness alone: the random epoch of every journal open
(:mod:`.ids`) keeps ids apart even where no mark can see the rollback (another machine, a
whole machine reverted to a snapshot, this store lost). The mark is what makes a rollback
*visible*.

The store is a small SQLite file (WAL, shared safely by every process of the user), by default
``<user state dir>/anpr-client/id-marks.sqlite`` — outside the journal's directory, so a
restore of that directory does not restore the marks with it. ``$ANPR_ID_MARKS`` names another
file, or ``off``. Any repository (SQLite, a database server) uses the same store through
:class:`IdMarks`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors.exceptions import ConfigurationError, JournalError, JournalRolledBack

__all__ = ["MARKS_ENV", "IdMarks", "Rollback", "default_marks_path", "marks_from_env"]

MARKS_ENV: Final = "ANPR_ID_MARKS"
_OFF: Final = frozenset({"off", "false", "no"})


def default_marks_path() -> Path:
    """``<user state dir>/anpr-client/id-marks.sqlite`` (platformdirs)."""
    from platformdirs import user_state_path

    return user_state_path("anpr-client", appauthor=False) / "id-marks.sqlite"


def marks_from_env(env: Mapping[str, str]) -> Path | None:
    """Where the marks are kept: ``$ANPR_ID_MARKS`` (a path; ``off``: nowhere, ``None``), else
    :func:`default_marks_path`."""
    value = env.get(MARKS_ENV, "").strip()
    if not value:
        return default_marks_path()
    if value.lower() in _OFF:
        return None
    return Path(value).expanduser().absolute()


@dataclass(frozen=True)
class Rollback:
    """A journal whose counter for ``comune`` is below the highest value handed out."""

    comune: str
    counter: int
    """The journal's counter: the last value it knows it handed out."""
    mark: int
    """The highest value handed out (this machine, this user): ids up to it were used."""

    def error(self, location: str) -> JournalRolledBack:
        """The error that refuses a new id, saying what happened and what to do."""
        return JournalRolledBack(
            f"the journal {location!r} is older than the ids it handed out for Comune "
            f"{self.comune}: its counter is at {self.counter}, but {self.mark} was handed out "
            "already. It was restored from a backup, copied, or replaced by an older file. "
            f"Operations recorded after that copy was taken ({self.mark - self.counter} id(s) "
            "or more) are missing from it, and some may still be unsettled: check them at ANPR "
            "(4005 or 3003) before redoing anything. No id is handed out until you accept the "
            "rollback: `anpr journal accept-rollback` (Journal.accept_rollback()); new ids "
            f"then start after {self.mark}",
            comune=self.comune,
            counter=self.counter,
            mark=self.mark,
        )


_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS id_marks (journal TEXT NOT NULL, comune TEXT NOT NULL, "
    "last INTEGER NOT NULL, PRIMARY KEY (journal, comune))"
)


class IdMarks:
    """The high-water marks in the SQLite file ``path`` (created 0600 on the first write; a
    missing file reads as no marks). Thread-safe; a forked child opens its own connection."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0):
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def __repr__(self) -> str:
        return f"IdMarks({str(self.path)!r})"

    def _db(self, *, create: bool) -> sqlite3.Connection | None:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if not create and not self.path.is_file():
            return None
        try:
            self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"cannot keep the id high-water marks in {str(self.path)!r}: "
                f"{getattr(exc, 'strerror', None) or exc}; set {MARKS_ENV} to a writable file "
                "(or to off: rollbacks of the journal then go unnoticed)",
                setting=MARKS_ENV,
            ) from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _failed(self, exc: sqlite3.Error) -> JournalError:
        return JournalError(f"the id high-water marks {str(self.path)!r} failed: {exc}")

    def get(self, journal: str, comune: str) -> int:
        """The mark of ``comune`` in ``journal`` (0: none)."""
        with self._lock:
            db = self._db(create=False)
            if db is None:
                return 0
            try:
                row = db.execute(
                    "SELECT last FROM id_marks WHERE journal = ? AND comune = ?", (journal, comune)
                ).fetchone()
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
        return int(row[0]) if row else 0

    def for_journal(self, journal: str) -> dict[str, int]:
        """Every Comune's mark in ``journal``."""
        with self._lock:
            db = self._db(create=False)
            if db is None:
                return {}
            try:
                rows = db.execute(
                    "SELECT comune, last FROM id_marks WHERE journal = ?", (journal,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
        return {str(c): int(v) for c, v in rows}

    def raise_to(self, journal: str, comune: str, value: int) -> None:
        """Record that ``value`` was handed out (a mark never goes down)."""
        with self._lock:
            db = self._db(create=True)
            assert db is not None
            try:
                db.execute(
                    "INSERT INTO id_marks (journal, comune, last) VALUES (?, ?, ?) "
                    "ON CONFLICT (journal, comune) DO UPDATE SET last = MAX(last, excluded.last)",
                    (journal, comune, value),
                )
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
