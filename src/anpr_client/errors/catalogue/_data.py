"""The catalogue as typed data: ``codes.csv`` (facts) joined with ``families.toml`` (our words).

Both files ship inside the package and are read once per process, on first use.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from .. import exceptions as _exceptions
from ..exceptions import AnprRejected

__all__ = [
    "CODES_FILE",
    "FAMILIES_FILE",
    "Catalogue",
    "CodeInfo",
    "Family",
    "Retry",
    "all_codes",
    "catalogue",
    "families",
    "family",
    "family_of",
    "lookup",
    "normalize_code",
]

#: Names of the data files inside this package.
CODES_FILE: Final = "codes.csv"
FAMILIES_FILE: Final = "families.toml"

#: Newest edition of the official ANPR error table; codes last listed earlier were dropped.
CURRENT_EDITION: Final = "2018-05-07"

#: The columns of ``codes.csv``, in order.
CODES_COLUMNS: Final = (
    "code",
    "family",
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


class Retry(enum.StrEnum):
    """Whether sending the request again can help."""

    NO = "no"
    """The same request gets the same answer: fix the data or the setup first."""
    LATER = "later"
    """Transient: the same request may succeed later. A KO answer registered nothing, so send it
    again as a new operation (a new ``idOperazioneComune``: ANPR answers a reused id with the
    answer it stored for it)."""
    DEPENDS = "depends"
    """It depends on the case ANPR's text describes."""

    @property
    def description(self) -> str:
        return _RETRY_TEXT[self]


_RETRY_TEXT: Final = {
    Retry.NO: "no: the same request gets the same answer; fix the data or the setup first",
    Retry.LATER: "yes, later: nothing was registered; send it again as a new operation",
    Retry.DEPENDS: "depends on the case described by ANPR's text",
}


def _exception_class(name: str) -> type[AnprRejected]:
    cls = getattr(_exceptions, name, None)
    if not (isinstance(cls, type) and issubclass(cls, AnprRejected)):
        raise LookupError(f"{name!r} is not an AnprRejected class of anpr_client.errors")
    return cls


@dataclass(frozen=True, slots=True)
class Family:
    """A family of codes sharing a prefix, an exception class and a meaning."""

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

    ``severity_subentro``/``severity_servizi`` are the two severity columns of the official table
    (``None`` where it has none); ``last_listed`` is the edition date of the newest official table
    listing the code (``None`` for codes only seen in practice); ``source`` is ``anpr``, ``ae``,
    ``anpr+ae`` (the official tables) or ``observed``; ``evidence`` cites public reports for
    observed codes. ``meaning``/``action`` are our own explanation, ``None`` where the family's
    applies.
    """

    code: str
    family: str
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
    def family_info(self) -> Family:
        return catalogue().families[self.family]

    @property
    def named(self) -> bool:
        """True when the code has an exception class of its own (not just its family's)."""
        return self.exception != self.family_info.exception

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
        """Our explanation: the code's own, else its family's."""
        return self.meaning or self.family_info.meaning

    @property
    def what_to_do(self) -> str:
        return self.action or self.family_info.action

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (explanations resolved: the code's own, else the family's)."""
        return {
            "code": self.code,
            "family": self.family,
            "family_name": self.family_info.name,
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
    """Every code and family, indexed. Obtain it with :func:`catalogue`."""

    codes: Mapping[str, CodeInfo]
    families: Mapping[str, Family]

    def lookup(self, code: object) -> CodeInfo | None:
        key = normalize_code(code)
        return self.codes.get(key) if key else None

    def family_of(self, code: object) -> Family | None:
        """The family of ``code`` (also for codes the catalogue does not list), or ``None``."""
        key = normalize_code(code)
        if not key:
            return None
        info = self.codes.get(key)
        if info is not None:
            return self.families[info.family]
        return _family_by_prefix(self.families, key)


def normalize_code(code: object) -> str | None:
    """``code`` stripped and upper-cased, or ``None`` if it cannot be an ANPR code."""
    if not isinstance(code, str):
        return None
    key = code.strip().upper()
    return key if _CODE_RE.fullmatch(key) else None


def _family_by_prefix(fams: Mapping[str, Family], code: str) -> Family | None:
    if code.isdigit():
        return next((f for f in fams.values() if f.numeric), None)
    match = _LETTERS_RE.match(code)
    if match is None:
        return None
    letters = match.group(0)
    best: tuple[int, Family] | None = None
    for fam in fams.values():
        for prefix in fam.prefixes:
            if letters.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), fam)
    return best[1] if best else None


# --------------------------------------------------------------------------------- loading


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{FAMILIES_FILE}: {where} must be a string")
    return " ".join(value.split())


def parse_families(data: Mapping[str, Any]) -> dict[str, Family]:
    """The ``[families.*]`` tables of ``families.toml``."""
    fams: dict[str, Family] = {}
    for key, raw in data.get("families", {}).items():
        fams[key] = Family(
            key=key,
            name=_text(raw["name"], f"families.{key}.name"),
            prefixes=tuple(raw.get("prefixes", ())),
            exception=raw["exception"],
            retry=Retry(raw["retry"]),
            meaning=_text(raw["meaning"], f"families.{key}.meaning"),
            action=_text(raw["action"], f"families.{key}.action"),
            numeric=bool(raw.get("numeric", False)),
        )
        _exception_class(fams[key].exception)
    return fams


def read_families_toml() -> dict[str, Any]:
    """``families.toml`` parsed (for tools that build ``codes.csv``)."""
    raw = resources.files(__package__).joinpath(FAMILIES_FILE).read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def read_codes_csv(text: str) -> list[dict[str, str]]:
    """The rows of a ``codes.csv`` text, comment lines (``#``) skipped."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    if tuple(reader.fieldnames or ()) != CODES_COLUMNS:
        raise ValueError(f"{CODES_FILE}: unexpected columns {reader.fieldnames}")
    return list(reader)


def _build() -> Catalogue:
    toml = read_families_toml()
    fams = parse_families(toml)
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
            family=row["family"],
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
        if codes[code].family not in fams:
            raise ValueError(f"{CODES_FILE}: {code} has unknown family {row['family']!r}")
    return Catalogue(codes=codes, families=fams)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, loaded on first use and shared by the whole process (read-only)."""
    return _build()


# --------------------------------------------------------------------------------- shortcuts


def lookup(code: object) -> CodeInfo | None:
    """The catalogue entry of ``code`` (case and surrounding blanks ignored), or ``None``."""
    return catalogue().lookup(code)


def all_codes() -> tuple[CodeInfo, ...]:
    """Every code of the catalogue, in catalogue order (by family, then code)."""
    return tuple(catalogue().codes.values())


def families() -> tuple[Family, ...]:
    """Every family, in catalogue order."""
    return tuple(catalogue().families.values())


def family(key: object) -> Family | None:
    """The family whose key is ``key`` (``"EC"``, ``"EHR"``, …; case ignored), or ``None``."""
    if not isinstance(key, str):
        return None
    return catalogue().families.get(key.strip().upper())


def family_of(code: object) -> Family | None:
    """The family ``code`` belongs to, by catalogue entry or else by prefix, or ``None``."""
    return catalogue().family_of(code)
