"""The exception for a broken rule: one helper for every validator module (internal).

A validator that finds a defect names the rule it broke (an id of :data:`.codes.RULES`); the
rule gives the ANPR code and severity the exception carries, and the last part of its id
picks the class (python-stdnum's tree): ``….length`` → :class:`InvalidLength`, ``….format``
and ``….charset`` → :class:`InvalidFormat`, ``….checksum`` → :class:`InvalidChecksum`;
any other rule that predicts a schema violation (``XSD``) → :class:`InvalidFormat`; the rest
(a date, a place, a code that is unknown or inconsistent) → :class:`InvalidComponent`.

>>> error("cf.checksum", "the check character is S, not T", field="codiceFiscale")
InvalidChecksum('the check character is S, not T')
>>> str(error("field.length", "81 characters, at most 80 allowed", field="cognome"))
'cognome: 81 characters, at most 80 allowed [XSD]'
>>> error("birthplace.date", "ceased", field="luogoNascita").severity
'W'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ..errors.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from . import codes

__all__ = ["error"]

_BY_KIND: Final[Mapping[str, type[ValidationError]]] = MappingProxyType(
    {
        "length": InvalidLength,
        "format": InvalidFormat,
        "charset": InvalidFormat,
        "checksum": InvalidChecksum,
    }
)


def error(rule_id: str, message: str, *, field: str) -> ValidationError:
    """The exception (not raised) for ``rule_id`` broken by the value of ``field``.

    An unknown ``rule_id`` is a programming mistake (``KeyError``).
    """
    rule = codes.rule(rule_id)
    default = InvalidFormat if rule.code == codes.XSD else InvalidComponent
    cls = _BY_KIND.get(rule.id.rpartition(".")[2], default)
    return cls.from_rule(rule, message, field=field)
