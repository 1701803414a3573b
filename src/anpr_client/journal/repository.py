"""The journal's interface: what the reliable call, ``resolve`` and ``anpr journal`` need from
a store of operations, whatever keeps them.

:class:`~anpr_client.journal.sqlite.Journal` (one SQLite file) and
:class:`~anpr_client.journal.postgresql.PostgresJournal` (a database server shared by workers on
several machines) implement it with the same statements (:mod:`.sql`) and the same guarantees,
and every caller works with either unchanged:

- each method is **one atomic change** (a transaction): an operation's state, its attempt and
  its settlement move together or not at all, and every move obeys
  :func:`~anpr_client.journal.states.check_transition`;
- :meth:`Repository.begin_attempt` (and :meth:`Repository.open_operation` with an envelope) is
  **durable before it returns**: the caller sends the bytes only after the record that they
  may have gone out is safe;
- ids from :meth:`Repository.allocate_id` are unique per Comune across every process and
  machine that uses the store, *and across copies of the store in time* (see :mod:`.ids`):
  ``ids.format_id(prefix, counter, epoch)`` with the store's prefix, a per-Comune counter
  advanced atomically in the store, and an epoch drawn by each open (``ids.new_epoch``), so a
  store restored from a backup never repeats an id it handed out before; the store has an
  identity of its own that its copies share (a backup of a database server keeps it too);
- a store whose counter is below the high-water mark of its identity (:class:`~.marks.IdMarks`,
  kept outside the store) went back in time: :meth:`Repository.allocate_id` raises
  :class:`~anpr_client.errors.JournalRolledBack` until :meth:`Repository.accept_rollback`
  moves the counter past the mark; :meth:`Repository.rollbacks` lists what it sees;
- :meth:`Repository.claim` is a compare-and-set on the operation's owner and its **lease**
  (:mod:`.ownership`): two live processes never drive one operation, and one whose holder
  died — on any machine — is taken over once the lease has run out (on the store's clock);
- content columns may be sealed (:mod:`.sealing`): a record read without the key has
  ``sealed`` set and its personal data left out;
- a stored row that cannot be read is a :class:`~anpr_client.errors.CorruptJournalRecord`
  naming the row and the column, never an untyped exception, and never hides the other rows
  (``errors=`` of :meth:`Repository.pending` and :meth:`Repository.since`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from ..errors.exceptions import CorruptJournalRecord
from .marks import Rollback
from .records import AttemptEnd, OperationRecord, Settlement
from .states import AttemptKind, State

__all__ = ["Repository"]


class Repository(Protocol):
    """A store of journal operations (see the module docstring for the guarantees)."""

    @property
    def location(self) -> str:
        """Where the operations are kept, for messages (a file, a database)."""
        ...

    def allocate_id(self, comune: str) -> str:
        """A new ``idOperazioneComune`` for ``comune``, unique across every user of the store
        and every copy of it; :class:`~anpr_client.errors.JournalRolledBack` when the store
        is behind the ids it handed out."""
        ...

    def rollbacks(self) -> list[Rollback]:
        """Each Comune whose counter is below its high-water mark (the store was restored or
        copied); empty when all is well."""
        ...

    def accept_rollback(self, comune: str | None = None) -> list[Rollback]:
        """Move the counters of :meth:`rollbacks` (one Comune's, or all) past their marks and
        record it; returns what was accepted."""
        ...

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
        """Record a new operation held by this process for ``lease`` seconds (``prepared``; with
        ``envelope``, ``sending`` with its first attempt), or return the one recorded under
        that id: ``(record, created)``. An id known for another operation or payload raises
        :class:`~anpr_client.errors.JournalError`."""
        ...

    def claim(self, key: int, *, lease: float, force: bool = False) -> OperationRecord:
        """Take charge of an operation for ``lease`` seconds; refused while another live
        process holds it (unless ``force``)."""
        ...

    def release(self, key: int) -> None:
        """Give up this process's hold (the operation stays as it is)."""
        ...

    def begin_attempt(
        self,
        key: int,
        *,
        kind: AttemptKind,
        envelope: bytes,
        id_operazione_comune: str,
        lease: float,
    ) -> int:
        """Record, durably, that an attempt is about to go out; returns its number. A send
        moves the operation to ``sending``."""
        ...

    def end_attempt(
        self,
        key: int,
        number: int,
        end: AttemptEnd,
        *,
        elapsed: float,
        settle: Settlement | None = None,
    ) -> State:
        """Record how an attempt ended and, atomically with it, the operation's new state
        (returned): ``settle`` when given, else ``outcome_unknown`` if any send may have
        reached ANPR, else ``prepared``."""
        ...

    def settle(self, key: int, settlement: Settlement) -> OperationRecord:
        """Settle an operation without a new attempt."""
        ...

    def get_by_key(self, key: int) -> OperationRecord | None: ...

    def get(self, id_operazione_comune: str, *, comune: str | None = None) -> OperationRecord:
        """The operation with this id; :class:`~anpr_client.errors.JournalError` when there is
        none, or when several Comuni have it and none was named."""
        ...

    def pending(
        self, *, comune: str | None = None, errors: list[CorruptJournalRecord] | None = None
    ) -> list[OperationRecord]:
        """Operations not settled (any state but a settled one), oldest first. A row that
        cannot be read raises :class:`~anpr_client.errors.CorruptJournalRecord`; with
        ``errors`` it is appended there and the others are returned."""
        ...

    def since(
        self,
        start: dt.datetime,
        *,
        comune: str | None = None,
        errors: list[CorruptJournalRecord] | None = None,
    ) -> Iterator[OperationRecord]:
        """Operations created at or after ``start``, in order (unreadable rows as for
        :meth:`pending`)."""
        ...

    def close(self) -> None: ...
