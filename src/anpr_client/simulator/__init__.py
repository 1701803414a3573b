"""An offline ANPR: a stateful simulator that verifies the security frame like ANPR's gateway.

Since June 2022 there is no open ANPR sandbox. The simulator serves ANPR's operations over
SOAP 1.1 at ANPR's URL paths, on loopback with TLS, from anpr-client's own WSDL/XSD bundle:

- a **gateway** that runs the library's own verifier on the WS-Security frame and validates
  the body against the XSD, answering the gateway's SOAP faults (``Internal Error (from
  client)``, ``Rejected by policy. (from client)``, ``certificate revoked (from client)``);
- a **registry** in SQLite (Comuni, persons, households, residences), seeded with a fictitious
  population with valid codici fiscali;
- **operations** with real semantics: TestConn, the registrations 1001, 1002, 1010, 1013, 1014,
  the cancellations 2001, 2003, 2009, 2011, 2012, the AIRE's A001, A002, A006, 3001, 3002,
  3003, 3007, the extractions 4001-4005 (files downloaded with 7002), 5005, 6001 (a real PDF
  over MTOM), 7001, 7003, with ANPR's rules and codes; the services of other parties' work
  (CIE, CONSOLATI, E00x, P00x, S001) answer "shape only": schema-valid, filled from the
  registry where the request names a person; others answer "not simulated" (EN379);
- ANPR's **idempotency** rules for ``idOperazioneComune`` (replay, EN079, EN148);
- **notifications**: the N010 to the Comune a person leaves (5005, A006) and the N014 of a
  restored position (2003), pushed (N000, signed and encrypted) and pulled (4005);
- **fault injection** (latency, dropped connections, lost answers, 5xx, "from server" faults)
  and a clock offset.

::

    from anpr_client.simulator import SimulatorConfig, running_simulator, Fault

    with running_simulator(SimulatorConfig()) as sim:
        client = sim.client()                 # Comune 058091, signing, over TLS
        result = client.test_connection()

See ``docs/simulator.md`` for the command line (``anpr simulator serve``), the pytest plugin and
the fault knobs.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import SimulatorConfig
    from .faults import Fault, FaultInjector, FaultKnob
    from .household import Address, Household, Person
    from .ledger import LedgerEntry
    from .notifications import NotificationRecord, notification_document
    from .runtime import Simulator, running_simulator
    from .store import Registry

__all__ = [
    "Address",
    "Fault",
    "FaultInjector",
    "FaultKnob",
    "Household",
    "LedgerEntry",
    "NotificationRecord",
    "Person",
    "Registry",
    "Simulator",
    "SimulatorConfig",
    "notification_document",
    "running_simulator",
]

# Loaded on first use, so that importing the package (e.g. the pytest plugin) stays cheap.
_HOME = {
    "Address": "household",
    "Fault": "faults",
    "FaultInjector": "faults",
    "FaultKnob": "faults",
    "Household": "household",
    "LedgerEntry": "ledger",
    "NotificationRecord": "notifications",
    "Person": "household",
    "Registry": "store",
    "Simulator": "runtime",
    "SimulatorConfig": "config",
    "notification_document": "notifications",
    "running_simulator": "runtime",
}


# Names before 0.2, each of which meant something else elsewhere in the library ("family" is
# ANPR's service family, the journal has the OperationRecord, the client the FaultKind of a
# received fault): they warn and keep working.
_RENAMED = {
    "Family": "Household",
    "FaultKind": "FaultKnob",
    "OperationRecord": "LedgerEntry",
}


def __getattr__(name: str) -> Any:
    new = _RENAMED.get(name)
    if new is not None:
        warnings.warn(
            f"{__name__}.{name} was renamed {new}: use {__name__}.{new} "
            "(the old name will be removed in 1.0)",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__(new)
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
