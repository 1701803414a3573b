"""Deprecated: :mod:`anpr_client.errors.faults` (moved in 0.2)."""

from ._compat import moved

moved(__name__, "anpr_client.errors.faults")

from .errors.faults import *  # noqa: E402, F403
from .errors.faults import __all__ as __all__  # noqa: E402
