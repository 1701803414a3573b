"""The catalogue as typed data: ``codes.csv`` (facts) joined with ``groups.toml`` (our words).

Both files ship inside the package and are read once per process, on first use. A *code group*
(:class:`CodeGroup`: EN, EC, ES, EHR, …) is the set of codes sharing a prefix, an exception
class and a meaning; "family" is kept for ANPR's service families (1000, 3000, …).
"""

from __future__ import annotations

import csv
import functools
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from ..._compat import renamed
from .. import exceptions as _exceptions
from ..exceptions import AnprRejected, Retry

__all__ = [
    "CODES_FILE",
    "GROUPS_FILE",
    "Catalogue",
    "CodeGroup",
    "CodeInfo",
    "Retry",
    "all_codes",
    "catalogue",
    "group",
    "group_of",
    "groups",
    "lookup",
    "normalize_code",
]

#: Names of the data files inside this package.
CODES_FILE: Final = "codes.csv"
GROUPS_FILE: Final = "groups.toml"

#: Newest edition of the official ANPR error table; codes last listed earlier were dropped.
CURRENT_EDITION: Final = "2018-05-07"

#: The columns of ``codes.csv``, in order.
CODES_COLUMNS: Final = (
    "code",
    "group",
    "severity_subentro",
    "severity_servizi",
    "reference_table",
    "exception",
    "retry",
    "last_listed",
    "source",
    "evidence",
)

_CODE_RE: Final = re.compile(r"[A-Z0-9]{1,12}")
_LETTERS_RE: Final = re.compile(r"[A-Z]+")


def _exception_class(name: str) -> type[AnprRejected]:
    cls = getattr(_exceptions, name, None)
    if not (isinstance(cls, type) and issubclass(cls, AnprRejected)):
        raise LookupError(f"{name!r} is not an AnprRejected class of anpr_client.errors")
    return cls


@dataclass(frozen=True, slots=True)
class CodeGroup:
    """A group of codes sharing a prefix, an exception class and a meaning (EN, EC, ES, …)."""

    key: str
    name: str
    prefixes: tuple[str, ...]
    exception: str
    retry: Retry
    meaning: str
    action: str
    numeric: bool = False

    @property
    def exception_class(self) -> type[AnprRejected]:
        return _exception_class(self.exception)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "key": self.key,
            "name": self.name,
            "prefixes": list(self.prefixes),
            "numeric": self.numeric,
            "exception": self.exception,
            "retry": self.retry.value,
            "meaning": self.meaning,
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What the catalogue knows about one code.

    ``group`` is the key of its :class:`CodeGroup`; ``severity_subentro``/``severity_servizi``
    are the two severity columns of the official table (``None`` where it has none);
    ``last_listed`` is the edition date of the newest official table listing the code (``None``
    for codes only seen in practice); ``source`` is ``anpr``, ``ae``, ``anpr+ae`` (the official
    tables) or ``observed``; ``evidence`` cites public reports for observed codes.
    ``meaning``/``action`` are our own explanation, ``None`` where the group's applies.
    """

    code: str
    group: str
    severity_subentro: str | None
    severity_servizi: str | None
    reference_table: str | None
    exception: str
    retry: Retry
    last_listed: str | None
    source: str
    evidence: str | None = None
    meaning: str | None = None
    action: str | None = None
    informative: bool = False

    @property
    def severity(self) -> str | None:
        """The severity for web-service calls (``servizi``), else the subentro one."""
        return self.severity_servizi or self.severity_subentro

    @property
    def exception_class(self) -> type[AnprRejected]:
        return _exception_class(self.exception)

    @property
    def group_info(self) -> CodeGroup:
        return catalogue().groups[self.group]

    @property
    def family(self) -> str:
        """Deprecated: :attr:`group`."""
        renamed("CodeInfo.family", "CodeInfo.group")
        return self.group

    @property
    def family_info(self) -> CodeGroup:
        """Deprecated: :attr:`group_info`."""
        renamed("CodeInfo.family_info", "CodeInfo.group_info")
        return self.group_info

    @property
    def named(self) -> bool:
        """True when the code has an exception class of its own (not just its group's)."""
        return self.exception != self.group_info.exception

    @property
    def official(self) -> bool:
        """True when an official ANPR table lists the code."""
        return self.source != "observed"

    @property
    def withdrawn(self) -> bool:
        """True when the newest official table no longer lists the code."""
        return self.last_listed is not None and self.last_listed < CURRENT_EDITION

    @property
    def explanation(self) -> str:
        """Our explanation: the code's own, else its group's."""
        return self.meaning or self.group_info.meaning

    @property
    def what_to_do(self) -> str:
        return self.action or self.group_info.action

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (explanations resolved: the code's own, else the group's)."""
        return {
            "code": self.code,
            "group": self.group,
            "group_name": self.group_info.name,
            "severity": self.severity,
            "severity_subentro": self.severity_subentro,
            "severity_servizi": self.severity_servizi,
            "reference_table": self.reference_table,
            "exception": self.exception,
            "retry": self.retry.value,
            "informative": self.informative,
            "meaning": self.explanation,
            "action": self.what_to_do,
            "source": self.source,
            "last_listed": self.last_listed,
            "withdrawn": self.withdrawn,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Catalogue:
    """Every code and code group, indexed. Obtain it with :func:`catalogue`."""

    codes: Mapping[str, CodeInfo]
    groups: Mapping[str, CodeGroup]

    @property
    def families(self) -> Mapping[str, CodeGroup]:
        """Deprecated: :attr:`groups`."""
        renamed("Catalogue.families", "Catalogue.groups")
        return self.groups

    def lookup(self, code: object) -> CodeInfo | None:
        key = normalize_code(code)
        return self.codes.get(key) if key else None

    def group_of(self, code: object) -> CodeGroup | None:
        """The group of ``code`` (also for codes the catalogue does not list), or ``None``."""
        key = normalize_code(code)
        if not key:
            return None
        info = self.codes.get(key)
        if info is not None:
            return self.groups[info.group]
        return group_by_prefix(self.groups, key)


def normalize_code(code: object) -> str | None:
    """``code`` stripped and upper-cased, or ``None`` if it cannot be an ANPR code."""
    if not isinstance(code, str):
        return None
    key = code.strip().upper()
    return key if _CODE_RE.fullmatch(key) else None


def group_by_prefix(groups_: Mapping[str, CodeGroup], code: str) -> CodeGroup | None:
    """The group whose prefix matches ``code`` best (longest prefix; digits: the numeric one)."""
    if code.isdigit():
        return next((g for g in groups_.values() if g.numeric), None)
    match = _LETTERS_RE.match(code)
    if match is None:
        return None
    letters = match.group(0)
    best: tuple[int, CodeGroup] | None = None
    for grp in groups_.values():
        for prefix in grp.prefixes:
            if letters.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), grp)
    return best[1] if best else None


# --------------------------------------------------------------------------------- loading


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{GROUPS_FILE}: {where} must be a string")
    return " ".join(value.split())


def parse_groups(data: Mapping[str, Any]) -> dict[str, CodeGroup]:
    """The ``[groups.*]`` tables of ``groups.toml``."""
    found: dict[str, CodeGroup] = {}
    for key, raw in data.get("groups", {}).items():
        found[key] = CodeGroup(
            key=key,
            name=_text(raw["name"], f"groups.{key}.name"),
            prefixes=tuple(raw.get("prefixes", ())),
            exception=raw["exception"],
            retry=Retry(raw["retry"]),
            meaning=_text(raw["meaning"], f"groups.{key}.meaning"),
            action=_text(raw["action"], f"groups.{key}.action"),
            numeric=bool(raw.get("numeric", False)),
        )
        _exception_class(found[key].exception)
    return found


def read_groups_toml() -> dict[str, Any]:
    """``groups.toml`` parsed (for tools that build ``codes.csv``)."""
    raw = resources.files(__package__).joinpath(GROUPS_FILE).read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def read_codes_csv(text: str) -> list[dict[str, str]]:
    """The rows of a ``codes.csv`` text, comment lines (``#``) skipped."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    if tuple(reader.fieldnames or ()) != CODES_COLUMNS:
        raise ValueError(f"{CODES_FILE}: unexpected columns {reader.fieldnames}")
    return list(reader)


def _build() -> Catalogue:
    toml = read_groups_toml()
    found = parse_groups(toml)
    notes: Mapping[str, Any] = toml.get("codes", {})
    text = resources.files(__package__).joinpath(CODES_FILE).read_text(encoding="utf-8")
    codes: dict[str, CodeInfo] = {}
    for row in read_codes_csv(text):
        code = row["code"]
        note = notes.get(code, {})
        meaning = note.get("meaning")
        action = note.get("action")
        codes[code] = CodeInfo(
            code=code,
            group=row["group"],
            severity_subentro=row["severity_subentro"] or None,
            severity_servizi=row["severity_servizi"] or None,
            reference_table=row["reference_table"] or None,
            exception=row["exception"],
            retry=Retry(row["retry"]),
            last_listed=row["last_listed"] or None,
            source=row["source"],
            evidence=row["evidence"] or None,
            meaning=_text(meaning, f"codes.{code}.meaning") if meaning else None,
            action=_text(action, f"codes.{code}.action") if action else None,
            informative=bool(note.get("informative", False)),
        )
        if codes[code].group not in found:
            raise ValueError(f"{CODES_FILE}: {code} has unknown group {row['group']!r}")
    return Catalogue(codes=codes, groups=found)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, loaded on first use and shared by the whole process (read-only)."""
    return _build()


# --------------------------------------------------------------------------------- shortcuts


def lookup(code: object) -> CodeInfo | None:
    """The catalogue entry of ``code`` (case and surrounding blanks ignored), or ``None``."""
    return catalogue().lookup(code)


def all_codes() -> tuple[CodeInfo, ...]:
    """Every code of the catalogue, in catalogue order (by group, then code)."""
    return tuple(catalogue().codes.values())


def groups() -> tuple[CodeGroup, ...]:
    """Every code group, in catalogue order."""
    return tuple(catalogue().groups.values())


def group(key: object) -> CodeGroup | None:
    """The group whose key is ``key`` (``"EC"``, ``"EHR"``, …; case ignored), or ``None``."""
    if not isinstance(key, str):
        return None
    return catalogue().groups.get(key.strip().upper())


def group_of(code: object) -> CodeGroup | None:
    """The group ``code`` belongs to, by catalogue entry or else by prefix, or ``None``."""
    return catalogue().group_of(code)
