"""The journal's state machine: the states of an operation and the moves between them.

::

    prepared ──► sending ──► answered | rejected | failed            (settled by the call)
       ▲  │         │    └─► failed_not_delivered                    (never reached ANPR)
       │  │         ├──────► outcome_unknown ──► sending ──► resolved  (settled later)
       └──┴─────────┘                 └──────────────────► resolved   (by a 3003 lookup)

- ``prepared``: certainly not sent;
- ``sending`` (its process gone) or ``outcome_unknown``: may have reached ANPR; resend with the
  same id or look it up (:mod:`anpr_client.journal.reliable`), never under a new id;
- the settled states say what happened; the :data:`Outcome` is ``ok``, ``ko`` or
  ``not_applied``.

Pure data and one check (:func:`check_transition`): every repository enforces the same moves.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal

from ..errors.exceptions import JournalError

__all__ = [
    "OPEN_STATES",
    "SETTLED_STATES",
    "AttemptKind",
    "AttemptState",
    "Outcome",
    "State",
    "check_transition",
]


class State(enum.StrEnum):
    PREPARED = "prepared"
    """Recorded; nothing sent yet (or only attempts that certainly did not reach ANPR)."""
    SENDING = "sending"
    """An attempt is in flight: the request may have reached ANPR."""
    ANSWERED = "answered"
    """ANPR answered OK (warnings allowed)."""
    REJECTED = "rejected"
    """ANPR answered KO: nothing was applied; final for this id."""
    FAILED = "failed"
    """Refused before processing (gateway fault from client, HTTP 4xx): not applied."""
    FAILED_NOT_DELIVERED = "failed_not_delivered"
    """Every attempt failed before reaching ANPR (connection refused, TLS…): not applied."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """May have been applied; resolve it (replay with the same id, or 3003)."""
    RESOLVED = "resolved"
    """Was unknown, settled later; ``outcome`` says how it ended."""


OPEN_STATES: Final = frozenset({State.PREPARED, State.SENDING, State.OUTCOME_UNKNOWN})
SETTLED_STATES: Final = frozenset(State) - OPEN_STATES

_TRANSITIONS: Final[Mapping[State, frozenset[State]]] = {
    State.PREPARED: frozenset({State.SENDING, State.FAILED_NOT_DELIVERED, State.FAILED}),
    State.SENDING: frozenset(
        {
            State.PREPARED,  # that attempt certainly did not reach ANPR, nor did any before
            State.OUTCOME_UNKNOWN,
            State.ANSWERED,
            State.REJECTED,
            State.FAILED,
            State.FAILED_NOT_DELIVERED,
            State.RESOLVED,
        }
    ),
    State.OUTCOME_UNKNOWN: frozenset(
        {State.SENDING, State.ANSWERED, State.REJECTED, State.RESOLVED}
    ),
    # Not applied: the same id may be sent again (the caller asks for it explicitly).
    State.FAILED_NOT_DELIVERED: frozenset({State.SENDING}),
    State.FAILED: frozenset({State.SENDING}),
    State.ANSWERED: frozenset(),
    State.REJECTED: frozenset(),
    State.RESOLVED: frozenset(),
}


def check_transition(old: State, new: State) -> None:
    """Raise :class:`~anpr_client.errors.JournalError` unless ``old → new`` is allowed."""
    if new != old and new not in _TRANSITIONS[old]:
        raise JournalError(f"journal state cannot change from {old} to {new}")


Outcome = Literal["ok", "ko", "not_applied"]
AttemptKind = Literal["send", "lookup"]
AttemptState = Literal[
    "sending",
    "answered",
    "rejected",
    "refused",
    "not_delivered",
    "outcome_unknown",
    "in_progress",
    "not_found",
]
