"""Where ANPR lives: environments, hosts and the URL path of each service family.

One table, read by the client (to address requests) and by the simulator (to serve the same
paths). Evidence for each value: the official Java sample's ``WSTypeHandler``
(italia/anpr-client-example), a published gateway configuration (link-it/govway's ANPR
govlet) and the hosts named in italia/anpr#2118, #2158 and #1471; the paths marked *inferred*
come from the ``soap:address`` of the official WSDLs and have not been seen in a working request.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .errors.exceptions import ConfigurationError

__all__ = [
    "ENVIRONMENTS",
    "FAMILY_PATHS",
    "Environment",
    "EnvironmentInfo",
    "family_path",
]


class Environment(StrEnum):
    """An ANPR environment; the value is the name used in settings files."""

    PRODUZIONE = "produzione"
    TEST = "test"
    PRESUBENTRO = "presubentro"


@dataclass(frozen=True)
class EnvironmentInfo:
    host: str
    """Scheme and host of the web services, no trailing slash."""
    tipo_invio: str
    """Value of ``testataRichiesta/tipoInvio`` this environment expects."""


ENVIRONMENTS: Final = MappingProxyType(
    {
        Environment.PRODUZIONE: EnvironmentInfo("https://ws.anpr.interno.it", "PROD"),
        Environment.TEST: EnvironmentInfo("https://wstest.anpr.interno.it", "TEST"),
        Environment.PRESUBENTRO: EnvironmentInfo("https://wspre.anpr.interno.it", "PRE_SUB"),
    }
)

#: URL path of each service family, keyed by family code (see ``bundle.Operation.family``).
FAMILY_PATHS: Final = MappingProxyType(
    {
        "TestConn": "/ANPRTestConn/TestConn",
        "1000": "/ANPR1000ServiziIscrizione/AnprService1000",
        "2000": "/ANPR2000ServiziCancellazione/AnprService2000",
        "3000": "/ANPR3000ServiziConsultazione/AnprService3000",
        "4000": "/ANPR4000ServiziEstrazione/AnprService4000",
        "5000": "/ANPR5000ServiziMutazione/AnprService5000",
        "6001": "/ANPR6001ServizioCertificazione/AnprService6001",
        "7001": "/ANPR7001ServizioScaricoTabelle/AnprService7001",
        "A000": "/ANPRA000ServiziAire/AnprServiceA000",
        "S001": "/ANPRS001ServizioSubentro/AnprServiceS001",
        "CIE": "/ANPRCIE/AnprServiziCIE",
        "P000": "/anpr-wsP000/AnprServiceP000",
        # inferred from the soap:address of the official WSDLs
        "CONSOLATI": "/anpr-ws-CONSOLATI-webapp/AnprServiceCONSOLATI",
        "E001": "/anpr-wsE000/AnprServiceE001",
        "E002": "/anpr-wsE000/AnprServiceE002",
        "E003": "/anpr-wsE000/AnprServiceE003",
        "E004": "/anpr-wsE000/AnprServiceE004",
        # N000 is served by the Comune, not by ANPR; this is the path our receiver uses.
        "N000": "/ANPRN000ServizioNotifiche/AnprServiceN000",
    }
)

# Paths that differ by environment (P000's path case differs in production:
# italia/anpr#2765, #3574).
_PATH_OVERRIDES: Final = MappingProxyType(
    {(Environment.PRODUZIONE, "P000"): "/ANPR-WSP000/AnprServiceP000"}
)


def family_path(family: str, environment: Environment = Environment.TEST) -> str:
    """The URL path of ``family`` in ``environment``.

    A service family this table does not know (one of a bundle given with ``wsdl_dir``, say)
    raises :class:`~anpr_client.errors.ConfigurationError` naming the family and the setting.

    >>> family_path("3000")
    '/ANPR3000ServiziConsultazione/AnprService3000'
    """
    path = None
    if isinstance(family, str):
        path = _PATH_OVERRIDES.get((environment, family)) or FAMILY_PATHS.get(family)
    if path is None:
        raise ConfigurationError(
            f"ANPR service family {family!r} has no known URL path: the bundle of setting "
            f"'wsdl_dir' holds a family anpr-client does not know; the known families are "
            + ", ".join(FAMILY_PATHS),
            setting="wsdl_dir",
            rule="a service family of anpr_client.endpoints.FAMILY_PATHS",
        )
    return path
