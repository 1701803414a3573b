"""The operation journal and safe retries: no lost operation, no duplicate registration.

>>> journal = Journal("anpr-journal.sqlite")                      # doctest: +SKIP
>>> client = Client(settings, journal=journal)                      # doctest: +SKIP
>>> client.call("5005", payload)       # recorded, retried safely   # doctest: +SKIP
>>> journal.pending()                  # what may need resolving    # doctest: +SKIP

- :mod:`.store`: the SQLite journal, its records and states;
- :mod:`.ids`: ``idOperazioneComune`` allocation shared by every user of the journal;
- :mod:`.retry`: what each failure means and how long to wait;
- :mod:`.reliable`: the journaled call and :func:`resolve`;
- :mod:`.sealing`: optional encryption at rest of the personal-data columns.

See ``docs/journal.md``.
"""

from __future__ import annotations

from .reliable import Resolution, journaled_call, lookupable, recorded_answer, resolve
from .retry import Disposition, RetryPolicy, classify
from .sealing import KEY_ENV, generate_key, key_from_text
from .store import (
    OPEN_STATES,
    SETTLED_STATES,
    Attempt,
    Journal,
    OperationRecord,
    State,
    default_journal_path,
)

__all__ = [
    "KEY_ENV",
    "OPEN_STATES",
    "SETTLED_STATES",
    "Attempt",
    "Disposition",
    "Journal",
    "OperationRecord",
    "Resolution",
    "RetryPolicy",
    "State",
    "classify",
    "default_journal_path",
    "generate_key",
    "journaled_call",
    "key_from_text",
    "lookupable",
    "recorded_answer",
    "resolve",
]
