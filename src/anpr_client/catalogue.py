"""Deprecated: :mod:`anpr_client.errors.catalogue` (moved in 0.2)."""

from ._compat import moved

moved(__name__, "anpr_client.errors.catalogue")

from .errors.catalogue import *  # noqa: E402, F403
from .errors.catalogue import __all__ as __all__  # noqa: E402
