"""``idOperazioneComune`` allocation, unique per Comune across processes, workstations, and
copies of a journal in time (a restored backup, a copied file, a reverted machine).

ANPR requires the id to be unique per Comune across *all* the Comune's applications
(italia/anpr#596, italia/anpr#2003), and at most 30 letters and digits (the pattern of
``idOperazioneComune`` in the XSD; alphanumeric since interface 4.1.3, italia/anpr#1836). A
known id is answered with the *first* answer given to it (italia/anpr#596): an id handed out
twice gives the second request another request's answer (another person's record). An id
here is::

    <journal prefix><counter, 12 digits zero-padded><epoch, 6 letters/digits>
    e.g.  K7Q2M9XA 000000000042 T4K2ZQ   →   K7Q2M9XA000000000042T4K2ZQ

- the **prefix** is drawn at random when the journal is created and stored in it (a letter,
  then seven letters or digits: 26·36⁷ ≈ 2·10¹² prefixes), so two journals do not collide, and,
  since it starts with a letter, it never equals the numeric or timestamp ids other
  applications of the Comune commonly use; a journal may be created with a chosen prefix
  (``Journal(..., id_prefix="GESTA")``, at most 12 characters) when the Comune assigns one per
  application;
- the **counter** lives in the journal (one per Comune) and the repository advances it
  atomically, so every process and workstation sharing one journal gets distinct values, and
  ids sort in the order they were handed out;
- the **epoch** is drawn at random each time a journal is opened (36⁶ ≈ 2·10⁹ values), so ids
  of two opens never coincide even when their counters do: a journal restored from a backup,
  a copy used next to its original, a machine reverted to a snapshot all count again from an
  old value, but under a new epoch. Where the rollback can be seen — the counter is below the
  high-water mark kept outside the journal (:mod:`.marks`) — it is also refused until accepted.

A journal created before epochs (or with a prefix of 13–16 characters) keeps its prefix; its
ids gain as much epoch as the 30 characters leave (``30 − 12 − len(prefix)``).
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Final

from ..errors.exceptions import ConfigurationError
from ..soap.testata import ID_PATTERN

__all__ = [
    "COUNTER_DIGITS",
    "EPOCH_LENGTH",
    "MAX_PREFIX_LENGTH",
    "PREFIX_LENGTH",
    "counter_of",
    "epoch_length",
    "format_id",
    "new_epoch",
    "new_journal_id",
    "new_prefix",
    "validate_prefix",
]

PREFIX_LENGTH: Final = 8
COUNTER_DIGITS: Final = 12
EPOCH_LENGTH: Final = 6
MAX_PREFIX_LENGTH: Final = 30 - COUNTER_DIGITS - EPOCH_LENGTH
_PREFIX_RULE: Final = f"[A-Za-z][0-9A-Za-z]{{0,{MAX_PREFIX_LENGTH - 1}}}"
_PREFIX: Final = re.compile(_PREFIX_RULE)
_UPPER: Final = string.ascii_uppercase
_ALNUM: Final = string.digits + string.ascii_uppercase


def _random(length: int, first: str = _ALNUM) -> str:
    if length <= 0:
        return ""
    return secrets.choice(first) + "".join(secrets.choice(_ALNUM) for _ in range(length - 1))


def new_prefix() -> str:
    """A random prefix: one letter, then seven letters or digits (upper case)."""
    return _random(PREFIX_LENGTH, _UPPER)


def new_journal_id() -> str:
    """A journal's identity (kept in the file, so its copies share it): 128 random bits."""
    return secrets.token_hex(16)


def epoch_length(prefix: str) -> int:
    """How many epoch characters the ids under ``prefix`` carry: :data:`EPOCH_LENGTH`, fewer
    only for the long prefixes journals could be created with before epochs."""
    return max(0, min(EPOCH_LENGTH, 30 - COUNTER_DIGITS - len(prefix)))


def new_epoch(prefix: str) -> str:
    """A random epoch for one journal open, as long as ids under ``prefix`` allow."""
    return _random(epoch_length(prefix))


def validate_prefix(prefix: str) -> str:
    """Check a chosen prefix: a letter first, then letters or digits, 12 characters at most (the
    30 characters of an id leave that beside the counter and the epoch)."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"journal id prefix {prefix!r} is invalid: it must be a letter followed by at most "
            f"{MAX_PREFIX_LENGTH - 1} letters or digits",
            setting="journal.id_prefix",
            rule=_PREFIX_RULE,
        )
    return prefix


def format_id(prefix: str, counter: int, epoch: str = "") -> str:
    """The id for ``counter`` (≥ 1) under ``prefix`` in ``epoch``; ANPR's 30-character limit is
    checked."""
    if counter < 1:
        raise ValueError("counter values start at 1")
    value = f"{prefix}{counter:0{COUNTER_DIGITS}d}{epoch}"
    if not ID_PATTERN.fullmatch(value):
        raise ConfigurationError(
            f"the id counter for prefix {prefix!r} is exhausted (30 characters reached)",
            setting="journal.id_prefix",
            rule="[0-9a-zA-Z]{1,30}",
        )
    return value


def counter_of(ident: str, prefix: str) -> int | None:
    """The counter of an id this journal's ``prefix`` handed out (``None`` for another id)."""
    digits = ident[len(prefix) : len(prefix) + COUNTER_DIGITS]
    ours = ident.startswith(prefix) and len(digits) == COUNTER_DIGITS
    return int(digits) if ours and digits.isascii() and digits.isdigit() else None
