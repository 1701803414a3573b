"""Deprecated: :mod:`anpr_client.errors.exceptions` (moved in 0.2)."""

from ._compat import moved

moved(__name__, "anpr_client.errors.exceptions")

from .errors.exceptions import *  # noqa: E402, F403
from .errors.exceptions import __all__ as __all__  # noqa: E402
