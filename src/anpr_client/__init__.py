"""anpr-client: a typed, tested client for ANPR's web services.

Everything a user needs is importable from here; submodules hold the details (see
``docs/architecture.md`` for the map).
"""

from . import errors as _errors
from ._version import __version__
from .client import FROM_SETTINGS, Client, WsseHook, client_from_settings
from .endpoints import Environment
from .errors import *  # noqa: F403 - every exception is public API
from .multi import ComuneConfig, ComuneRegistry, Desk, load_comuni
from .results import PreparedRequest, Result
from .settings import ApplicationIdentity, Limits, Settings, Timeouts, load_settings
from .soap.bundle import Bundle, Operation, get_bundle
from .transport import (
    HttpRequest,
    HttpResponse,
    HttpTransport,
    MockTransport,
    Transport,
    WsgiTransport,
)

__all__ = [
    "FROM_SETTINGS",
    "ApplicationIdentity",
    "Bundle",
    "Client",
    "ComuneConfig",
    "ComuneRegistry",
    "Desk",
    "Environment",
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "Limits",
    "MockTransport",
    "Operation",
    "PreparedRequest",
    "Result",
    "Settings",
    "Timeouts",
    "Transport",
    "WsgiTransport",
    "WsseHook",
    "__version__",
    "client_from_settings",
    "get_bundle",
    "load_comuni",
    "load_settings",
]
__all__ += _errors.__all__
