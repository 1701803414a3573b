"""Fixtures of the faces' tests: one simulator for the module, over TLS, extractions ready at
once (``extraction_delay`` 0), and clients of its two Comuni."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anpr_client.client import Client
from anpr_client.simulator import Simulator, SimulatorConfig

ROMA = "058091"
MILANO = "015146"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("faces-simulator")
    simulator = Simulator(SimulatorConfig(state_dir=state, extraction_delay=0.0)).start()
    try:
        yield simulator
    finally:
        assert simulator.internal_errors == ()
        simulator.close()


@pytest.fixture(scope="module")
def roma(sim: Simulator) -> Iterator[Client]:
    client = sim.client(ROMA, journal=None)
    yield client
    client.close()


@pytest.fixture(scope="module")
def milano(sim: Simulator) -> Iterator[Client]:
    client = sim.client(MILANO, journal=None)
    yield client
    client.close()
