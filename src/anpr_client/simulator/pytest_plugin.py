"""pytest plugin: an offline ANPR for your own tests.

Registered through the ``pytest11`` entry point of anpr-client, so installing the package is
enough (disable with ``-p no:anpr_simulator``). Fixtures:

``anpr_simulator_config`` (session)
    The :class:`~anpr_client.simulator.SimulatorConfig` used; override it in your
    ``conftest.py`` to change Comuni, population, seed, fault-free defaults…
``anpr_simulator`` (session)
    A running :class:`~anpr_client.simulator.Simulator`: TLS on loopback, a fictitious
    population, ready settings files (``anpr_simulator.settings_path()``).
``anpr_client`` (function)
    A configured, signing :class:`~anpr_client.client.Client` of the first Comune, talking to
    ``anpr_simulator`` over TLS (operation journal off); closed after the test.
``anpr_faults`` (function)
    ``anpr_simulator.faults``, cleared after the test, so an injected fault never leaks into
    the next one.

::

    def test_lookup(anpr_client, anpr_simulator):
        person = anpr_simulator.store.residents("058091")[0]
        result = anpr_client.call("3002", {...})

    def test_retry(anpr_client, anpr_faults):
        anpr_faults.inject(Fault("http_5xx", operation="3002"))
        ...

The session simulator is shared: tests that change the registry should not rely on the state
another test left, or should start their own with :func:`~anpr_client.simulator.running_simulator`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily: loading the plugin costs nothing until a fixture is used
    from ..client import Client
    from .config import SimulatorConfig
    from .faults import FaultInjector
    from .runtime import Simulator

__all__ = ["anpr_client", "anpr_faults", "anpr_simulator", "anpr_simulator_config"]


@pytest.fixture(scope="session")
def anpr_simulator_config() -> SimulatorConfig:
    """The configuration of the session's simulator (override to customise)."""
    from .config import SimulatorConfig

    return SimulatorConfig()


@pytest.fixture(scope="session")
def anpr_simulator(anpr_simulator_config: SimulatorConfig) -> Iterator[Simulator]:
    """A running ANPR simulator shared by the test session."""
    from .runtime import running_simulator

    with running_simulator(anpr_simulator_config) as sim:
        yield sim


@pytest.fixture
def anpr_client(anpr_simulator: Simulator) -> Iterator[Client]:
    """A signing client of the simulator's first Comune, over TLS."""
    client = anpr_simulator.client(journal=None)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def anpr_faults(anpr_simulator: Simulator) -> Iterator[FaultInjector]:
    """The simulator's fault injector, cleared after the test."""
    try:
        yield anpr_simulator.faults
    finally:
        anpr_simulator.faults.clear()
