"""Deprecated: :class:`anpr_client.Client` is the one constructor (``client_from_settings``
moved to :mod:`anpr_client` in 0.2, as a deprecated alias of ``Client(settings, ...)``)."""

from ._compat import moved
from .client import client_from_settings

moved(__name__, "anpr_client")

__all__ = ["client_from_settings"]
