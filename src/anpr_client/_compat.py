"""Old import paths, names and call forms kept working for a release, with a
:class:`DeprecationWarning`; names that moved where the old module must not import them from
say where they went."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["deprecated_names", "moved", "moved_names", "old_call", "renamed"]


def moved(old: str, new: str) -> None:
    """Warn that module ``old`` is now ``new`` (called by the alias module at import)."""
    warnings.warn(
        f"{old} moved to {new}: import from {new} (the old path will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=3,
    )


def renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that the name ``old`` is now ``new`` (called by the alias when it is used).

    The default ``stacklevel`` blames the caller of the function or property that calls this.
    """
    warnings.warn(
        f"{old} is deprecated: use {new} (the old name will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_names(
    module: str, aliases: Mapping[str, tuple[str, object]]
) -> Callable[[str], object]:
    """A module ``__getattr__`` serving old names: ``aliases`` maps each to (new name, object).

    ``from module import OldName`` and ``module.OldName`` keep working, with a warning naming
    the new name (a plain name is taken to be in ``module``; a dotted one is used as it is).
    """

    def __getattr__(name: str) -> object:
        try:
            new, value = aliases[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        renamed(f"{module}.{name}", new if "." in new else f"{module}.{new}")
        return value

    return __getattr__


def old_call(function: str, instead: str) -> None:
    """Warn that ``function`` was called in a form that changed; ``instead`` says the new one.

    Called by the function itself, so the warning points at its caller.
    """
    warnings.warn(
        f"{function}: {instead} (the old form will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=3,
    )


def moved_names(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for names that moved out of ``module`` to a place it must not
    import (ANPR's side of the protocol now lives in the simulator, and the client side never
    imports the simulator).

    Using such a name raises :class:`ImportError` naming its new home: an ``ImportError``
    (not an ``AttributeError``) because ``from module import name`` replaces the message of an
    ``AttributeError`` with its own and the new path would be lost.
    """

    def __getattr__(name: str) -> Any:
        new = names.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        raise ImportError(
            f"{module}.{name} moved to {new} in 0.2 (it is ANPR's side of the protocol, which "
            f"only the simulator plays): import it from {new.rpartition('.')[0]}",
            name=module,
        )

    return __getattr__
