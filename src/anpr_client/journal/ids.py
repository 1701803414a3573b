"""``idOperazioneComune`` allocation, unique per Comune across processes and workstations.

ANPR requires the id to be unique per Comune across *all* the Comune's applications
(italia/anpr#596, italia/anpr#2003), and at most 30 letters and digits (the pattern of
``idOperazioneComune`` in the XSD; alphanumeric since interface 4.1.3, italia/anpr#1836). An id
here is::

    <journal prefix, 8 chars: a letter, then letters/digits><counter, 12 digits zero-padded>
    e.g.  K7Q2M9XA000000000042

- the **counter** lives in the journal (one per Comune) and the repository advances it
  atomically (:class:`~anpr_client.journal.sqlite.Journal`: table ``counters``, in a write
  transaction), so every process and every workstation that share one journal get distinct
  values;
- the **prefix** is drawn at random when the journal is created and stored in it, so two
  journals (two workstations with their own file, or a journal deleted and created again) do not
  collide (26·36⁷ ≈ 2·10¹² prefixes), and, since it starts with a letter, it never equals the
  numeric or timestamp ids other applications of the Comune commonly use.

A journal may be created with a chosen prefix (``Journal(..., id_prefix="GESTA")``) when the
Comune assigns one per application.
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
    "PREFIX_LENGTH",
    "format_id",
    "new_prefix",
    "validate_prefix",
]

PREFIX_LENGTH: Final = 8
COUNTER_DIGITS: Final = 12
_PREFIX: Final = re.compile(r"[A-Za-z][0-9A-Za-z]{0,15}")
_UPPER: Final = string.ascii_uppercase
_ALNUM: Final = string.digits + string.ascii_uppercase


def new_prefix() -> str:
    """A random prefix: one letter, then seven letters or digits (upper case)."""
    return secrets.choice(_UPPER) + "".join(
        secrets.choice(_ALNUM) for _ in range(PREFIX_LENGTH - 1)
    )


def validate_prefix(prefix: str) -> str:
    """Check a chosen prefix: a letter first, then letters or digits, 16 characters at most."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"journal id prefix {prefix!r} is invalid: it must be a letter followed by at most "
            "15 letters or digits",
            setting="journal.id_prefix",
            rule="[A-Za-z][0-9A-Za-z]{0,15}",
        )
    return prefix


def format_id(prefix: str, counter: int) -> str:
    """The id for ``counter`` (≥ 1) under ``prefix``; ANPR's 30-character limit is checked."""
    if counter < 1:
        raise ValueError("counter values start at 1")
    value = f"{prefix}{counter:0{COUNTER_DIGITS}d}"
    if not ID_PATTERN.fullmatch(value):
        raise ConfigurationError(
            f"the id counter for prefix {prefix!r} is exhausted (30 characters reached)",
            setting="journal.id_prefix",
            rule="[0-9a-zA-Z]{1,30}",
        )
    return value
