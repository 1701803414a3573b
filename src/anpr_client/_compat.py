"""Old import paths kept working for a release, with a :class:`DeprecationWarning`."""

from __future__ import annotations

import warnings

__all__ = ["moved"]


def moved(old: str, new: str) -> None:
    """Warn that module ``old`` is now ``new`` (called by the alias module at import)."""
    warnings.warn(
        f"{old} moved to {new}: import from {new} (the old path will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=3,
    )
