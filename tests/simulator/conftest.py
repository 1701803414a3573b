"""Simulator test fixtures.

The PKI (eight RSA keys) is generated once per session and copied into each test's state
directory, so a fresh simulator costs a few milliseconds of seeding instead of a second of key
generation. ``anpr_simulator``/``anpr_client`` come from the pytest plugin (imported here so
the tests run before the plugin's entry point is installed).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.simulator.identities import SimulatorPki
from anpr_client.simulator.pytest_plugin import (
    anpr_client,
    anpr_faults,
    anpr_simulator,
    anpr_simulator_config,
)

__all__ = [
    "anpr_client",
    "anpr_faults",
    "anpr_simulator",
    "anpr_simulator_config",
    "make_simulator",
    "pki_template",
]

COMUNI = ("058091", "015146")


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("simulator-pki") / "pki"
    SimulatorPki.open(directory, COMUNI, host="127.0.0.1")
    return directory


MakeSimulator = Callable[..., Simulator]


@pytest.fixture
def make_simulator(pki_template: Path, tmp_path: Path) -> Iterator[MakeSimulator]:
    """``make_simulator(start=True, **config)``: a fresh simulator with the session's PKI."""
    made: list[Simulator] = []

    def make(*, start: bool = True, **options: Any) -> Simulator:
        state = tmp_path / f"state{len(made)}"
        shutil.copytree(pki_template, state / "pki")
        options.setdefault("comuni", COMUNI)
        sim = Simulator(SimulatorConfig(state_dir=state, **options))
        made.append(sim)
        return sim.start() if start else sim

    try:
        yield make
    finally:
        for sim in made:
            assert sim.internal_errors == ()
            sim.close()
