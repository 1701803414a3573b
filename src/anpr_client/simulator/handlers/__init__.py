"""The operations the simulator implements, by ANPR operation code.

Each handler is ``(Context, Request) -> OkAnswer`` (see :mod:`.base`); operations not listed
here are answered KO EN379 "not simulated".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .base import Context, Entry, Handler, OkAnswer, Rejected, Request, entry
from .cancellation import cancellazione, decesso
from .certification import certificato
from .connection import test_connection
from .consultation import genitori, interrogazione, ricerca_operazione, ricerca_operazioni
from .extraction import richieste_asincrone
from .mutation import mutazione_residenza
from .reference_tables import scarico_tabelle
from .registration import iscrizione_altri_motivi, iscrizione_nascita

__all__ = [
    "HANDLERS",
    "Context",
    "Entry",
    "Handler",
    "OkAnswer",
    "Rejected",
    "Request",
    "entry",
]

HANDLERS: Final[Mapping[str, Handler]] = MappingProxyType(
    {
        "TestConn": test_connection,
        "1001": iscrizione_nascita,
        "1002": iscrizione_altri_motivi,
        "2001": decesso,
        "2003": cancellazione,
        "3001": genitori,
        "3002": interrogazione,
        "3003": ricerca_operazione,
        "3007": ricerca_operazioni,
        "4005": richieste_asincrone,
        "5005": mutazione_residenza,
        "6001": certificato,
        "7001": scarico_tabelle,
    }
)
