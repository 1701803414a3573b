"""Calls from Celery (issue 17 point 4): a real worker, a real Redis broker, the simulator.

Redis and the worker are started by the test itself. A task delivered twice sends one
operation; a worker killed (SIGKILL) while its call waits for ANPR's answer is replaced, the
task is delivered again, and the simulator still sees one operation, answered once.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="the Celery tests need celery[redis] (the test extra)")

from anpr_client.simulator import Simulator, SimulatorConfig, running_simulator
from anpr_client.simulator.faults import Fault
from tests.contrib.celery_worker import VISIBILITY_TIMEOUT, make_app

pytestmark = pytest.mark.slow

A = "058091"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/apt-packages lists it)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        _wait(up, 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    config = SimulatorConfig(state_dir=tmp_path / "anpr", comuni=(A,), population=4)
    with running_simulator(config) as running:
        yield running


@pytest.fixture
def folder(sim: Simulator, tmp_path: Path) -> Path:
    path = tmp_path / "served"
    path.mkdir()
    (path / f"{A}.toml").symlink_to(sim.settings_path(A))
    return path


@contextmanager
def worker(
    broker: str, folder: Path, log: Path, name: str = "w1"
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.contrib.celery_worker", broker, str(folder), name],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _operations(sim: Simulator, ident: str) -> list[Any]:
    return [e for e in sim.ledger.operations(comune=A) if e.id_operazione_comune == ident]


def test_a_task_delivered_twice_sends_one_operation(
    broker: str, folder: Path, sim: Simulator, tmp_path: Path
) -> None:
    from anpr_client.contrib.celery import enqueue

    app, call, registry = make_app(broker, folder)
    try:
        first = enqueue(call, registry, A, "TestConn", {})
        ident = first.id_operazione_comune
        with worker(broker, folder, tmp_path / "worker.log"):
            summary = first.result.get(timeout=60)
            assert summary["idOperazioneComune"] == ident
            # The same task again (a broker redelivering it): same id, nothing sent.
            again = call.apply_async(args=(A, "TestConn", {}, ident))
            assert again.get(timeout=60) == summary
    finally:
        registry.close()
        app.close()
    (entry,) = _operations(sim, ident)
    assert entry.times_applied == 1
    assert summary["idOperazioneANPR"] == entry.id_operazione_anpr
    assert sim.internal_errors == ()


def test_two_deliveries_at_once_send_one_operation(
    broker: str, folder: Path, sim: Simulator, tmp_path: Path
) -> None:
    """The same task taken by two workers at once: the second finds the operation held by
    the first (a live process), retries, and returns the answer the first one recorded."""
    from anpr_client.contrib.celery import enqueue

    log = tmp_path / "workers.log"
    sim.faults.inject(Fault("latency", operation="TestConn", seconds=3, times=1))
    app, call, registry = make_app(broker, folder)
    try:
        with worker(broker, folder, log, "w1"), worker(broker, folder, log, "w2"):
            first = enqueue(call, registry, A, "TestConn", {})
            ident = first.id_operazione_comune
            second = call.apply_async(args=(A, "TestConn", {}, ident))
            summaries = [first.result.get(timeout=90), second.get(timeout=90)]
    finally:
        registry.close()
        app.close()
    assert summaries[0] == summaries[1]
    (entry,) = _operations(sim, ident)
    assert entry.times_applied == 1
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "is being sent by another process" in text  # the second delivery did wait
    assert sim.internal_errors == ()


def test_a_worker_killed_mid_call_is_replaced_and_the_operation_is_sent_once(
    broker: str, folder: Path, sim: Simulator, tmp_path: Path
) -> None:
    from anpr_client.contrib.celery import enqueue

    log = tmp_path / "worker.log"
    # ANPR applies the operation and is slow to answer: the worker dies while it waits.
    sim.faults.inject(Fault("timeout_after_commit", operation="TestConn", seconds=60, times=1))
    app, call, registry = make_app(broker, folder)
    try:
        pending = enqueue(call, registry, A, "TestConn", {})
        ident = pending.id_operazione_comune
        with worker(broker, folder, log) as first:
            _wait(lambda: bool(_operations(sim, ident)), 60, "ANPR to apply the operation")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert pending.result.state == "PENDING"
        time.sleep(VISIBILITY_TIMEOUT)
        with worker(broker, folder, log):
            summary = pending.result.get(timeout=90)
    finally:
        registry.close()
        app.close()
    assert summary["idOperazioneComune"] == ident
    (entry,) = _operations(sim, ident)  # one operation, applied once, answered by its replay
    assert entry.times_applied == 1
    assert summary["idOperazioneANPR"] == entry.id_operazione_anpr
    assert sim.internal_errors == ()
