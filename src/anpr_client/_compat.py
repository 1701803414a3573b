"""Old import paths and call forms kept working for a release, with a DeprecationWarning."""

from __future__ import annotations

import warnings

__all__ = ["moved", "old_call"]


def moved(old: str, new: str) -> None:
    """Warn that module ``old`` is now ``new`` (called by the alias module at import)."""
    warnings.warn(
        f"{old} moved to {new}: import from {new} (the old path will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=3,
    )


def old_call(function: str, instead: str) -> None:
    """Warn that ``function`` was called in a form that changed; ``instead`` says the new one.

    Called by the function itself, so the warning points at its caller.
    """
    warnings.warn(
        f"{function}: {instead} (the old form will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=3,
    )
