"""Deprecated: the journal's four jobs have a module each (split in 0.2).

:mod:`.states` (the state machine), :mod:`.ownership` (which process holds an operation),
:mod:`.records` (what is recorded), :mod:`.sqlite` (the SQLite repository, :class:`Journal`),
behind the :class:`~.repository.Repository` interface. Import from :mod:`anpr_client.journal`.
"""

from .._compat import moved

moved(__name__, "anpr_client.journal")

from ..settings import default_journal_path  # noqa: E402
from .ownership import current_owner, owner_alive  # noqa: E402
from .records import Attempt, AttemptEnd, OperationRecord, Settlement, wire_form  # noqa: E402
from .sqlite import SCHEMA_VERSION, Journal  # noqa: E402
from .states import OPEN_STATES, SETTLED_STATES, State, check_transition  # noqa: E402

__all__ = [
    "OPEN_STATES",
    "SCHEMA_VERSION",
    "SETTLED_STATES",
    "Attempt",
    "AttemptEnd",
    "Journal",
    "OperationRecord",
    "Settlement",
    "State",
    "check_transition",
    "current_owner",
    "default_journal_path",
    "owner_alive",
    "wire_form",
]
