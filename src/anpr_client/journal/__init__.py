"""The operation journal and safe retries: no lost operation, no duplicate registration.

>>> journal = Journal("anpr-journal.sqlite")                      # doctest: +SKIP
>>> client = Client(settings, journal=journal)                      # doctest: +SKIP
>>> client.call("5005", payload)       # recorded, retried safely   # doctest: +SKIP
>>> journal.pending()                  # what may need resolving    # doctest: +SKIP

(``Client(settings)`` alone journals too, in the file or database the settings name; a
``postgresql://`` URL there, or given to :func:`open_journal`, is a PostgreSQL journal: see
``docs/journal.md``.)

- :mod:`.states`: the states of an operation and the moves between them;
- :mod:`.records`: what is recorded (operations, attempts, settlements), free of any storage;
- :mod:`.ownership`: which process holds an operation;
- :mod:`.repository`: the interface a journal backend implements;
- :mod:`.sql`: the statements both backends share (:class:`SqlJournal`), and the schema steps;
- :mod:`.sqlite`: the SQLite journal (:class:`Journal`), the default backend;
- :mod:`.postgresql`: the PostgreSQL journal (:class:`PostgresJournal`), shared by machines;
- :mod:`.backends`: :func:`open_journal`, which picks one from a path or a URL;
- :mod:`.ids`: ``idOperazioneComune`` allocation shared by every user of the journal, unique
  even across a restored or copied journal (an epoch per open);
- :mod:`.marks`: the high-water marks, kept outside the journal, that reveal a restored or
  copied one (:class:`Rollback`);
- :mod:`.retry`: what each failure means and how long to wait;
- :mod:`.reliable`: the journaled call and :func:`resolve`, driving a
  :class:`~anpr_client.soap.binding.Binding`;
- :mod:`.sealing`: optional encryption at rest of the personal-data columns.

See ``docs/journal.md``.
"""

from __future__ import annotations

from ..settings import default_journal_path
from .backends import open_journal
from .marks import Rollback
from .postgresql import PostgresJournal
from .records import Attempt, AttemptEnd, OperationRecord, Settlement
from .reliable import Resolution, journaled_call, lookupable, recorded_answer, resolve
from .repository import Repository
from .retry import Disposition, RetryPolicy, classify
from .sealing import KEY_ENV, generate_key, key_from_text
from .sql import SqlJournal
from .sqlite import Journal
from .states import OPEN_STATES, SETTLED_STATES, State

__all__ = [
    "KEY_ENV",
    "OPEN_STATES",
    "SETTLED_STATES",
    "Attempt",
    "AttemptEnd",
    "Disposition",
    "Journal",
    "OperationRecord",
    "PostgresJournal",
    "Repository",
    "Resolution",
    "RetryPolicy",
    "Rollback",
    "Settlement",
    "SqlJournal",
    "State",
    "classify",
    "default_journal_path",
    "generate_key",
    "journaled_call",
    "key_from_text",
    "lookupable",
    "open_journal",
    "recorded_answer",
    "resolve",
]
