"""A state directory has one server: opening it elsewhere never rewrites what the server wrote.

``Simulator(state_dir=…)`` used to rewrite the settings files with port 0 when it was opened
(to read the registry, e.g. from a benchmark or a test), cutting every client of the server
already running on that state off its URL. The server now records itself in
``state_dir/server.json`` while it serves; an opener leaves the settings of a live server
alone, and a second server on the same state is refused.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.settings import load_settings
from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.simulator.runtime import SERVER_RECORD

from .conftest import COMUNI
from .support import serving


def _state(pki_template: Path, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(pki_template, state / "pki")
    return state


def _settings_files(state: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(state.rglob("anpr.toml"))}


def test_opening_a_served_state_keeps_the_servers_settings(
    pki_template: Path, tmp_path: Path
) -> None:
    state = _state(pki_template, tmp_path)
    server = Simulator(SimulatorConfig(state_dir=state, comuni=COMUNI)).start()
    try:
        written = _settings_files(state)
        assert f":{server.url.rsplit(':', 1)[1]}" in written[state / "anpr.toml"].decode()
        record = json.loads((state / SERVER_RECORD).read_text())
        assert record["url"] == server.url
        reader = Simulator(SimulatorConfig(state_dir=state, comuni=COMUNI))
        try:
            assert reader.url == server.url
            assert reader.running_server() is not None
            assert reader.store.residents(COMUNI[0])  # the registry is readable
            with pytest.raises(ConfigurationError, match="already served"):
                reader.start()  # a second server on the same state is refused
        finally:
            reader.close()
        assert _settings_files(state) == written
        assert (state / SERVER_RECORD).exists()  # the reader's close leaves the record alone
        client = Client(load_settings(state / "anpr.toml", env={}), journal=None)
        assert client.test_connection().esito_operazione == "0000"
        client.close()
    finally:
        server.close()
    assert not (state / SERVER_RECORD).exists()
    # Once the server is gone, a new one takes the state and writes its own port.
    again = Simulator(SimulatorConfig(state_dir=state, comuni=COMUNI)).start()
    try:
        assert again.url in (state / "anpr.toml").read_text()
    finally:
        again.close()


def test_a_stale_record_does_not_block_the_state(pki_template: Path, tmp_path: Path) -> None:
    state = _state(pki_template, tmp_path)
    state.mkdir(exist_ok=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owner = f"{socket.gethostname()}:{gone.pid}:0"
    (state / SERVER_RECORD).write_text(
        json.dumps({"owner": owner, "url": "https://127.0.0.1:1", "token": "x"})
    )
    sim = Simulator(SimulatorConfig(state_dir=state, comuni=COMUNI))
    try:
        assert sim.running_server() is None
        sim.start()
        assert json.loads((state / SERVER_RECORD).read_text())["url"] == sim.url
    finally:
        sim.close()


def test_opening_the_state_of_a_running_serve_process_keeps_it_reachable(
    pki_template: Path, tmp_path: Path
) -> None:
    """The reported case: ``anpr simulator serve`` in one process, the state opened in
    another; the server's clients keep working."""
    state = _state(pki_template, tmp_path)
    with serving(state) as served:
        before = _settings_files(state)
        opened = Simulator(SimulatorConfig(state_dir=state))
        opened.close()
        assert _settings_files(state) == before
        client = Client(load_settings(state / "anpr.toml", env={}), journal=None)
        assert client.test_connection().esito_operazione == "0000"
        client.close()
    assert served.process.returncode == 0
    assert not (state / SERVER_RECORD).exists()
