"""KO answers → typed exceptions; warnings → ``AnprWarning``; entries → our explanations.

The exception classes know nothing of error codes: :func:`rejection_for` picks the class and
hands it the deciding entry and the retry advice; :func:`explain` explains a rejection.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from ..exceptions import AnprRejected, AnprWarning, ErrorItem
from ._data import Retry, catalogue

__all__ = [
    "describe_item",
    "emit_warnings",
    "exception_for",
    "explain",
    "primary_error",
    "rejection_for",
    "retry_for",
]

# Specificity of the class an entry maps to: a class of its own (EN122, 999, …) beats a group
# class (EC, ES, …), which beats the generic AnprRejected. Informative entries (EN527) never
# decide while another blocking entry is present.
_NAMED, _GROUP, _GENERIC, _INFORMATIVE = 3, 2, 1, 0


def _classify(code: object) -> tuple[type[AnprRejected], int]:
    cat = catalogue()
    info = cat.lookup(code)
    if info is not None:
        cls = info.exception_class
        if info.informative:
            return cls, _INFORMATIVE
        if info.named:
            return cls, _NAMED
        return cls, _GROUP if cls is not AnprRejected else _GENERIC
    grp = cat.group_of(code)
    if grp is None or grp.exception_class is AnprRejected:
        return AnprRejected, _GENERIC
    return grp.exception_class, _GROUP


def exception_for(code: object) -> type[AnprRejected]:
    """The exception class a blocking entry with ``code`` maps to (``AnprRejected`` if unknown).

    Codes missing from the catalogue still map by group prefix (``EC999`` → EC's class).
    """
    return _classify(code)[0]


def retry_for(code: object) -> Retry:
    """Whether sending the same request again can help, for ``code`` (``DEPENDS`` if unknown)."""
    cat = catalogue()
    info = cat.lookup(code)
    if info is not None:
        return info.retry
    grp = cat.group_of(code)
    return grp.retry if grp is not None else Retry.DEPENDS


def primary_error(errors: Sequence[ErrorItem]) -> ErrorItem | None:
    """The entry that decides the exception class, or ``None`` if no entry is blocking.

    The most specific blocking entry wins (a code with its own class, then a group class, then
    any other code; informative codes such as EN527 last); ties go to the first in ANPR's order.
    """
    best: tuple[int, ErrorItem] | None = None
    for item in errors:
        if not item.blocking:
            continue
        rank = _classify(item.code)[1]
        if best is None or rank > best[0]:
            best = (rank, item)
    return best[1] if best else None


def rejection_for(
    errors: Sequence[ErrorItem],
    *,
    operation: str,
    id_operazione_comune: str | None = None,
    id_operazione_anpr: str | None = None,
    esito_operazione: str | None = None,
    raw: bytes | None = None,
) -> AnprRejected:
    """The exception for a KO answer: its class follows the most specific blocking code.

    Every entry, blocking or warning, stays in ``errors`` in ANPR's order. With no blocking
    entry at all (a KO made only of warnings, or an empty list) the class is ``AnprRejected``.
    The exception gets the deciding entry (``primary``) and its retry advice (``retry``;
    ``DEPENDS`` when no entry decides).
    """
    items = tuple(errors)
    primary = primary_error(items)
    if primary is None:
        cls, retry = AnprRejected, Retry.DEPENDS
    else:
        cls, retry = exception_for(primary.code), retry_for(primary.code)
    return cls(
        items,
        operation=operation,
        id_operazione_comune=id_operazione_comune,
        id_operazione_anpr=id_operazione_anpr,
        esito_operazione=esito_operazione,
        raw=raw,
        primary=primary,
        retry=retry,
    )


def emit_warnings(items: Sequence[ErrorItem], *, operation: str, stacklevel: int = 2) -> int:
    """Issue one :class:`~anpr_client.errors.AnprWarning` per warning (``W``) entry.

    ``stacklevel`` means what it means for :func:`warnings.warn` called by the caller of this
    function (2 = the caller's caller). Each warning carries ``.item`` and ``.operation``.
    Returns how many warnings were issued.
    """
    count = 0
    for item in items:
        if item.blocking:
            continue
        warning = AnprWarning(f"operation {operation}: ANPR warning {item}")
        warning.item = item
        warning.operation = operation
        warnings.warn(warning, stacklevel=max(stacklevel, 1) + 1)
        count += 1
    return count


def describe_item(item: ErrorItem) -> str:
    """Our explanation of one entry: group, meaning, what to do, exception class and retry."""
    cat = catalogue()
    info = cat.lookup(item.code)
    grp = cat.group_of(item.code)
    lines = [str(item)]
    if info is not None:
        meaning, action, retry = info.explanation, info.what_to_do, info.retry
    elif grp is not None:
        meaning, action, retry = grp.meaning, grp.action, grp.retry
        lines.append(f"    not in the catalogue; its prefix puts it in group {grp.key}")
    else:
        lines.append(
            "    unknown code: not in the catalogue and no known group; read ANPR's text "
            "(exception AnprRejected)"
        )
        return "\n".join(lines)
    group_name = f"{grp.key} ({grp.name})" if grp is not None else "-"
    lines += [
        f"    group: {group_name}; exception: {exception_for(item.code).__name__}; "
        f"retry: {retry.description}",
        f"    meaning: {meaning}",
        f"    what to do: {action}",
    ]
    if info is not None and info.informative:
        lines.append("    informative: does not decide the exception class")
    return "\n".join(lines)


def explain(exc: AnprRejected) -> str:
    """Every entry of a rejection with our explanation: group, meaning, what to do, class, retry.

    The first line is the rejection's own (operation and ids); one block per entry follows.
    """
    head = str(exc).split("\n", 1)[0]
    return "\n".join([head, *(describe_item(e) for e in exc.errors)])


# ``AnprRejected.explain()`` (deprecated) delegates here; the class tree never imports us.
AnprRejected._explainer = explain
