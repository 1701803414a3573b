"""Request templates: the payload of an operation with a placeholder for every value.

>>> from anpr_client.soap.bundle import get_bundle
>>> t = template(get_bundle(), "7001")
>>> t.payload
{'datiRichiesta': {'idTabella': '<3 digits>'}}

:func:`template` walks the request element of an operation in our bundle (the XSD model of
:mod:`.xsdmodel`) and returns the payload a user starts from — the shape
:meth:`anpr_client.Client.call` and ``anpr request build`` take — with each value replaced by a
placeholder that says what goes there: its type, length and character class
(``"<string 1..80 [A-Za-z' ]>"``), its format (``"<date YYYY-MM-DD>"``) or the values allowed
(``"<one of: M | F | N (or lower case)>"``). By default only what the XSD requires; with
``full=True`` every element. A repeated element is a list of one; of an ``xs:choice`` the first
branch is shown, and :attr:`Template.notes` names the others. ``testataRichiesta`` is left out:
the client fills it (``header=`` changes a field).

Fill every placeholder (and drop what you do not need, in a full template) and the payload
builds; the schema still checks every value (:meth:`anpr_client.Client.prepare`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .bundle import Bundle, Operation
    from .xsdmodel import Facets, Node

__all__ = ["Template", "placeholder", "template"]

#: A pattern that is one character class (or ``\\d``) repeated: shown as that class.
_REPEATED_CLASS: Final = re.compile(r"\((\[.*\]|\\d)\)[*+]|(\[.*\])[*+]")
_FORMATS: Final = {
    "date": "<date YYYY-MM-DD>",
    "dateTime": "<dateTime YYYY-MM-DDThh:mm:ss+hh:mm>",
    "boolean": "<boolean: true | false>",
    "base64Binary": "<base64>",
    "int": "<integer>",
    "integer": "<integer>",
    "long": "<integer>",
    "short": "<integer>",
    "decimal": "<decimal>",
}


@dataclass(frozen=True)
class Template:
    """A payload skeleton of ``operation`` (see the module docstring)."""

    operation: str
    payload: dict[str, Any]
    notes: tuple[str, ...]
    """One line per choice shown by its first branch, and what the template leaves out."""
    full: bool = False


def template(bundle: Bundle, operation: str | Operation, *, full: bool = False) -> Template:
    """The template of ``operation``'s request: the required elements (``full``: all)."""
    op = operation if not isinstance(operation, str) else bundle.operation(operation)
    model = bundle.request_model(op)
    notes: list[str] = []
    payload = _content(model, "", full, notes, ())
    if "testataRichiesta" in model.children:
        notes.insert(0, "testataRichiesta: filled by the client (change a field with header=)")
    return Template(op.code, payload, tuple(notes), full)


def _shown(node: Node, full: bool) -> bool:
    choice = node.choice
    if choice is not None:
        return node.name == choice.branches[0] and (full or choice.required)
    return full or node.required


def _content(
    node: Node, path: str, full: bool, notes: list[str], seen: tuple[tuple[str, str | None], ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, child in node.children.items():
        if not path and name == "testataRichiesta":
            continue
        where = f"{path}/{name}" if path else name
        choice = child.choice
        if not _shown(child, full):
            if choice is not None and name == choice.branches[0]:
                branches = " | ".join(choice.branches)
                notes.append(
                    f"{where}: an optional xs:choice of {branches} (see the full template)"
                )
            continue
        if choice is not None and len(choice.branches) > 1:
            others = " | ".join(choice.branches[1:])
            kind = "one of" if choice.required else "at most one of"
            notes.append(f"{where}: {kind} {name} | {others} (an xs:choice; {name} shown)")
        value = _value(child, where, full, notes, seen)
        if value == {} and not full:
            notes.append(f"{where}: every element of it is optional (see the full template)")
        out[name] = [value] if child.repeated else value
    return out


def _value(
    node: Node, path: str, full: bool, notes: list[str], seen: tuple[tuple[str, str | None], ...]
) -> Any:
    if node.is_simple:
        facets = node.facets
        assert facets is not None  # a simple node has them
        return placeholder(facets)
    key = (node.type_namespace, node.type_name)
    if node.type_name is not None and key in seen:
        notes.append(f"{path}: {node.type_name} again (it nests itself); left empty")
        return {}
    return _content(node, path, full, notes, (*seen, key))


def placeholder(facets: Facets) -> str:
    """The placeholder of a simple value: ``"<date YYYY-MM-DD>"``, ``"<one of: 1 | 2>"``,
    ``"<string 1..80 [A-Za-z' ]>"``, ``"<3 digits>"``…"""
    if facets.enumeration is not None:
        return f"<one of: {_choices(facets.enumeration)}>"
    known = _FORMATS.get(facets.base)
    if known is not None:
        return known
    charset = None
    if facets.patterns:
        last = facets.patterns[-1]
        match = _REPEATED_CLASS.fullmatch(last[0]) if len(last) == 1 else None
        charset = " | ".join(last) if match is None else match.group(1) or match.group(2)
    size = _size(facets.min_length, facets.max_length)
    if charset == r"\d":
        return "<1 digit>" if size == "1" else f"<{size or 'some'} digits>"
    parts = ["string", size, None if charset is None else _printable(charset)]
    return "<" + " ".join(p for p in parts if p) + ">"


def _size(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    if low == high:
        return str(low)
    return f"{'' if low is None else low}..{'' if high is None else high}"


def _choices(values: tuple[str, ...]) -> str:
    """The values once: upper and lower case spellings of the same word are one choice."""
    upper = [v for v in values if v.upper() == v]
    folded = {v.lower() for v in upper if v.lower() != v}
    if folded and set(values) == set(upper) | folded:
        return " | ".join(upper) + " (or lower case)"
    return " | ".join(values)


def _printable(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` (ANPR's classes hold C1 codes)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02X}" for c in text)
