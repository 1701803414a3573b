"""Deprecated: :mod:`anpr_client.simulator.pki` (moved in 0.2)."""

from ._compat import moved

moved(__name__, "anpr_client.simulator.pki")

from .simulator.pki import *  # noqa: E402, F403
from .simulator.pki import __all__ as __all__  # noqa: E402
