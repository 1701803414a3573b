"""The operation ledger: ANPR's idempotency rules and the record 3003/3007/4005 read.

ANPR's rules for ``idOperazioneComune`` (unique per Comune, italia/anpr#596, #2003):

- the same id to the same service gets the **stored first answer**, byte for byte;
- the same id to a different service is refused (EN079);
- a duplicate that arrives while the first is still being processed gets EN148.

:meth:`Ledger.begin` applies them; the caller then runs the operation and, inside the same
database transaction as its effects, :meth:`Ledger.record` stores the answer; finally
:meth:`Ledger.release` ends the *in progress* state (always, also on failure). Every operation
that reaches the application gets an ``idOperazioneANPR``, also when it is answered KO; answers
that are about the id itself (EN079, EN148) are not recorded.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Final

from .db import Database

__all__ = [
    "InProgress",
    "Ledger",
    "LedgerEntry",
    "OtherService",
    "Replay",
    "Started",
]

_OPERATION_IDS: Final = 700_000_001
_ID_BLOCK: Final = 32


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded operation."""

    id_operazione_anpr: str
    comune: str
    id_operazione_comune: str
    service: str
    """The operation code (``5005``, ``3002``, ``TestConn``)."""
    outcome: str
    """``ok`` or ``ko``."""
    esito: str
    """``esitoOperazione``: ``0000`` or ``XXXX``."""
    received_at: str
    completed_at: str
    times_applied: int
    """How many times the operation was executed: the ledger keeps it at 1."""
    protocollo_comune: str | None
    request: bytes = field(repr=False)
    response_xml: bytes = field(repr=False)
    """The answer element with any attachment inline (what 3003's ``xmlRisposta`` holds)."""
    response_body: bytes = field(repr=False)
    """The HTTP body exactly as first sent; replays send these bytes."""
    response_type: str = field(repr=False)

    @property
    def state(self) -> str:
        """``done``: recorded operations are complete (running ones are not recorded yet)."""
        return "done"

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class Replay:
    """The id was already used for this service: answer with ``record``."""

    record: LedgerEntry


@dataclass(frozen=True)
class OtherService:
    """The id was already used for another service (EN079)."""

    service: str


@dataclass(frozen=True)
class InProgress:
    """An operation with this id is still being processed (EN148)."""

    service: str


@dataclass(frozen=True)
class Started:
    """A new operation: run it, record it, release it."""

    comune: str
    id_operazione_comune: str
    service: str
    id_operazione_anpr: str
    received_at: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.comune, self.id_operazione_comune)


Begin = Replay | OtherService | InProgress | Started


def _record(row: sqlite3.Row) -> LedgerEntry:
    return LedgerEntry(
        id_operazione_anpr=row["id_anpr"],
        comune=row["comune"],
        id_operazione_comune=row["id_comune"],
        service=row["service"],
        outcome=row["outcome"],
        esito=row["esito"],
        received_at=row["received_at"],
        completed_at=row["completed_at"],
        times_applied=int(row["applied"]),
        protocollo_comune=row["protocollo"],
        request=bytes(row["request"]),
        response_xml=bytes(row["response_xml"]),
        response_body=bytes(row["response_body"]),
        response_type=row["response_type"],
    )


class Ledger:
    """Recorded operations of every Comune. Thread-safe."""

    def __init__(self, db: Database):
        self._db = db
        self._running: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._ids_lock = threading.Lock()

    def new_id(self) -> str:
        """A fresh ``idOperazioneANPR`` (numeric, as the XSD requires), increasing.

        Ids are reserved from the database in small blocks; after a restart numbering
        continues past the last block (a gap, as ANPR's own numbering has)."""
        with self._ids_lock:
            if not self._ids:
                first = self._db.reserve("operation", _OPERATION_IDS, _ID_BLOCK)
                self._ids = list(range(first + _ID_BLOCK - 1, first - 1, -1))
            return str(self._ids.pop())

    def begin(
        self, comune: str, id_operazione_comune: str, service: str, *, received_at: str
    ) -> Begin:
        """Apply the idempotency rules to an incoming operation (see the module docstring)."""
        key = (comune, id_operazione_comune)
        # The database's lock around the whole decision (every begin takes it, and a record
        # commits under it); the ledger's own lock only around the running set, so that a
        # release never waits behind a query.
        with self._db.read():
            with self._lock:
                running = self._running.get(key)
            if running is not None:
                return InProgress(running) if running == service else OtherService(running)
            existing = self.find(comune, id_operazione_comune=id_operazione_comune)
            if existing is not None:
                if existing.service == service:
                    return Replay(existing)
                return OtherService(existing.service)
            with self._lock:
                self._running[key] = service
        return Started(comune, id_operazione_comune, service, self.new_id(), received_at)

    def record(
        self,
        started: Started,
        *,
        outcome: str,
        esito: str,
        completed_at: str,
        request: bytes,
        response_xml: bytes,
        response_body: bytes,
        response_type: str,
        protocollo_comune: str | None = None,
    ) -> LedgerEntry:
        """Store the answer of a started operation (call inside the operation's transaction)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO operations (id_anpr, comune, id_comune, service, outcome, esito, "
                "received_at, completed_at, request, response_xml, response_body, "
                "response_type, applied, protocollo) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    started.id_operazione_anpr,
                    started.comune,
                    started.id_operazione_comune,
                    started.service,
                    outcome,
                    esito,
                    started.received_at,
                    completed_at,
                    request,
                    response_xml,
                    response_body,
                    response_type,
                    protocollo_comune,
                ),
            )
        return LedgerEntry(
            id_operazione_anpr=started.id_operazione_anpr,
            comune=started.comune,
            id_operazione_comune=started.id_operazione_comune,
            service=started.service,
            outcome=outcome,
            esito=esito,
            received_at=started.received_at,
            completed_at=completed_at,
            times_applied=1,
            protocollo_comune=protocollo_comune,
            request=request,
            response_xml=response_xml,
            response_body=response_body,
            response_type=response_type,
        )

    def release(self, started: Started) -> None:
        """End the *in progress* state of ``started`` (recorded or not)."""
        with self._lock:
            self._running.pop(started.key, None)

    def in_progress(self) -> tuple[tuple[str, str, str], ...]:
        """(comune, idOperazioneComune, service) of operations being processed now."""
        with self._lock:
            return tuple((c, i, s) for (c, i), s in self._running.items())

    # ------------------------------------------------------------------ lookups

    def find(
        self,
        comune: str,
        *,
        id_operazione_comune: str | None = None,
        id_operazione_anpr: str | None = None,
        protocollo_comune: str | None = None,
    ) -> LedgerEntry | None:
        """The Comune's operation with the given id (the first criterion given is used)."""
        if id_operazione_comune is not None:
            clause, arg = "id_comune = ?", id_operazione_comune
        elif id_operazione_anpr is not None:
            digits = id_operazione_anpr.strip()
            if not digits.isdigit():
                return None
            clause, arg = "id_anpr = ?", str(int(digits))
        elif protocollo_comune is not None:
            clause, arg = "protocollo = ?", protocollo_comune
        else:
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT * FROM operations WHERE comune = ? AND {clause} "  # noqa: S608
                "ORDER BY completed_at LIMIT 1",
                (comune, arg),
            ).fetchone()
        return None if row is None else _record(row)

    def operations(
        self,
        comune: str | None = None,
        service: str | None = None,
        *,
        since: str | None = None,
        until: str | None = None,
        outcome: str | None = None,
    ) -> list[LedgerEntry]:
        """Recorded operations in the order they completed, optionally filtered.

        ``since``/``until`` compare ISO timestamps of completion (UTC, ``…+00:00``).
        """
        clauses: list[str] = []
        args: list[str] = []
        for column, value in (("comune", comune), ("service", service), ("outcome", outcome)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            clauses.append("completed_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("completed_at <= ?")
            args.append(until)
        where = " AND ".join(clauses) or "1 = 1"
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM operations WHERE {where} "  # noqa: S608 - fixed clauses
                "ORDER BY completed_at, CAST(id_anpr AS INTEGER)",
                args,
            ).fetchall()
        return [_record(r) for r in rows]
