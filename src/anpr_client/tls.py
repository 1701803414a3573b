"""Deprecated: :mod:`anpr_client.transport.tls` (moved in 0.2)."""

from ._compat import moved

moved(__name__, "anpr_client.transport.tls")

from .transport.tls import *  # noqa: E402, F403
from .transport.tls import __all__ as __all__  # noqa: E402
