"""The ANPR error-code catalogue (facts as data) and the mapping from codes to exceptions.

Every code of ANPR's official error tables, plus the codes seen in real answers but missing from
them (999, 998, EN148, EN493, EN527, XXXX), with its family, severities, reference table, the
exception class it maps to and whether a retry can help. The facts live in ``codes.csv``
(generated from the official tables by ``tools/update_error_catalogue.py``); the families and
the explanations, written by us, in ``families.toml``. ANPR's message texts are not shipped:
ANPR sends its text in every answer, and :func:`load_official` reads the official spreadsheet
when a user has it.

>>> from anpr_client.errors.catalogue import lookup
>>> info = lookup("EN122")
>>> info.family, info.severity, info.exception
('EN', 'E', 'NotFoundError')
>>> lookup("ec007").exception_class.__name__
'ReferenceValueError'
>>> lookup("NOPE") is None
True
"""

from __future__ import annotations

from ._data import (
    Catalogue,
    CodeInfo,
    Family,
    Retry,
    all_codes,
    catalogue,
    families,
    family,
    family_of,
    lookup,
    normalize_code,
)
from ._official import OfficialEntry, load_official
from ._rejections import (
    describe_item,
    emit_warnings,
    exception_for,
    primary_error,
    rejection_for,
    retry_for,
)

__all__ = [
    "Catalogue",
    "CodeInfo",
    "Family",
    "OfficialEntry",
    "Retry",
    "all_codes",
    "catalogue",
    "describe_item",
    "emit_warnings",
    "exception_for",
    "families",
    "family",
    "family_of",
    "load_official",
    "lookup",
    "normalize_code",
    "primary_error",
    "rejection_for",
    "retry_for",
]
