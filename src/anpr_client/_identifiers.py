"""The shapes of ANPR's identifiers, one definition each (internal).

Settings, the security frame, notifications, the simulator and the validators all check these
codes; they import the patterns from here, a module that imports nothing of the library, so any
module may use it without an import cycle. Use them with ``fullmatch``.

Every class is written ``[0-9]``, never ``\\d``: in a Python ``str`` pattern ``\\d`` also matches
the other scripts' digits (Arabic-Indic ``٠٥٨٠٩١``, Devanagari…), which no ANPR code contains.

>>> bool(ISTAT_CODE.fullmatch("058091")), bool(ISTAT_CODE.fullmatch("٠٥٨٠٩١"))
(True, False)
>>> bool(WORKSTATION_ID.fullmatch("058091-PC-0001")), bool(WORKSTATION_ID.fullmatch("058091-XX-1"))
(True, False)
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CADASTRAL_CODE",
    "GENERIC_TEST_OPERATOR",
    "ISTAT_CODE",
    "STATE_CADASTRAL_CODE",
    "STATE_CODE",
    "WORKSTATION_ID",
]

ISTAT_CODE: Final = re.compile(r"[0-9]{6}")
"""A Comune's ISTAT code (``058091``): the ``codiceIstat`` of payloads, ``IdSede``, settings."""

CADASTRAL_CODE: Final = re.compile(r"[A-Z][0-9]{3}")
"""A cadastral (Belfiore) code: a Comune's (``H501``) or, with ``Z``, a foreign state's."""

STATE_CODE: Final = re.compile(r"[0-9]{3}")
"""ANPR's three-digit code of a state (``215`` France, ``100`` Italy)."""

STATE_CADASTRAL_CODE: Final = re.compile(r"Z[0-9]{3}")
"""A foreign state's cadastral code (``Z110``), the one inside a codice fiscale."""

WORKSTATION_ID: Final = re.compile(r"[0-9]{6}-(PC|CO)-[0-9]{4}")
"""A workstation (``IdPostazione``): the ISTAT code, ``PC`` or ``CO``, four digits."""

GENERIC_TEST_OPERATOR: Final = re.compile(r"[A-Z]{2,20}TEST[0-9]{1,10}")
"""ANPR's generic operators of its test environments, used as the SAML NameID there instead of
an operator's codice fiscale: ``COMUNETEST019025`` (italia/anpr#374) and ``USERSFREETEST237``
(italia/anpr#2594) are the published ones; the pattern is their shape (capital letters,
``TEST``, digits), which no codice fiscale has."""
