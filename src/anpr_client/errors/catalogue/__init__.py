"""The ANPR error-code catalogue (facts as data) and the mapping from codes to exceptions.

Every code of ANPR's official error tables, plus the codes seen in real answers but missing from
them (999, 998, EN148, EN493, EN527, XXXX), with its code group, severities, reference table,
the exception class it maps to and whether a retry can help. The facts live in ``codes.csv``
(generated from the official tables by ``tools/update_error_catalogue.py``); the code groups
(EN, EC, ES, EHR, …) and the explanations, written by us, in ``groups.toml``. ANPR's message
texts are not shipped: ANPR sends its text in every answer, and :func:`load_official` reads the
official spreadsheet when a user has it.

>>> from anpr_client.errors.catalogue import lookup
>>> info = lookup("EN122")
>>> info.group, info.severity, info.exception
('EN', 'E', 'NotFoundError')
>>> lookup("ec007").exception_class.__name__
'ReferenceValueError'
>>> lookup("NOPE") is None
True

The old names of the code groups (``Family``, ``families()``, ``family()``, ``family_of()``)
still work, with a :class:`DeprecationWarning`: "family" means an ANPR service family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._compat import deprecated_names
from ._data import (
    Catalogue,
    CodeGroup,
    CodeInfo,
    Retry,
    all_codes,
    catalogue,
    group,
    group_of,
    groups,
    lookup,
    normalize_code,
)
from ._official import OfficialEntry, load_official
from ._rejections import (
    describe_item,
    emit_warnings,
    exception_for,
    explain,
    primary_error,
    rejection_for,
    retry_for,
)

__all__ = [
    "Catalogue",
    "CodeGroup",
    "CodeInfo",
    "OfficialEntry",
    "Retry",
    "all_codes",
    "catalogue",
    "describe_item",
    "emit_warnings",
    "exception_for",
    "explain",
    "group",
    "group_of",
    "groups",
    "load_official",
    "lookup",
    "normalize_code",
    "primary_error",
    "rejection_for",
    "retry_for",
]

if TYPE_CHECKING:  # the old names as type checkers see them; at run time they warn
    Family = CodeGroup
    families = groups
    family = group
    family_of = group_of

__getattr__ = deprecated_names(
    __name__,
    {
        "Family": ("CodeGroup", CodeGroup),
        "families": ("groups", groups),
        "family": ("group", group),
        "family_of": ("group_of", group_of),
    },
)
