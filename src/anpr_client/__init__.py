"""anpr-client: a typed, tested client for ANPR's web services.

Everything a user needs is importable from here; submodules hold the details (see
``docs/architecture.md`` for the map). The names are loaded on first use (PEP 562), so
``import anpr_client`` costs almost nothing and ``from anpr_client import Client`` loads
what a client needs, not the CLI, the simulator or any family's models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import errors as _errors
from ._version import __version__
from .errors import *  # noqa: F403 - every exception is public API
from .errors import catalogue as _catalogue  # noqa: F401 - registers exc.explain()'s explainer

if TYPE_CHECKING:
    from .client import FROM_SETTINGS, Client, WsseHook, client_from_settings
    from .endpoints import Environment
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

#: Where each name of ``__all__`` that is loaded on first use is defined.
_EXPORTS: dict[str, str] = {
    "FROM_SETTINGS": ".client",
    "Client": ".client",
    "WsseHook": ".client",
    "client_from_settings": ".client",
    "Environment": ".endpoints",
    "ComuneConfig": ".multi",
    "ComuneRegistry": ".multi",
    "Desk": ".multi",
    "load_comuni": ".multi",
    "PreparedRequest": ".results",
    "Result": ".results",
    "ApplicationIdentity": ".settings",
    "Limits": ".settings",
    "Settings": ".settings",
    "Timeouts": ".settings",
    "load_settings": ".settings",
    "Bundle": ".soap.bundle",
    "Operation": ".soap.bundle",
    "get_bundle": ".soap.bundle",
    "HttpRequest": ".transport",
    "HttpResponse": ".transport",
    "HttpTransport": ".transport",
    "MockTransport": ".transport",
    "Transport": ".transport",
    "WsgiTransport": ".transport",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(import_module(module, __name__), name)
    else:
        try:  # a submodule not imported yet, as ``import anpr_client.x`` would give
            value = import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
