"""Signed round trips per second against the simulator, and its verification cost per request.

Two figures (goal: ≥ 300 signed round trips per second on 2 cores, loopback TLS):

1. **Throughput.** The simulator runs as its own process (``anpr simulator serve``, as users
   run it); this process drives it with several client threads, each a signing client of the
   library over HTTPS with keep-alive. Every call is built, XSD-validated, signed (Timestamp,
   SAML assertion, message signature), sent, verified by the gateway (the library's verifier,
   IdPostazioneFirmato CMS included), XSD-validated, executed, recorded in the ledger (SQLite,
   WAL) and answered. The operation journal is off (see bench_journal for its overhead).
2. **Verification cost**, in process, medians over many runs: the library verifier alone on one
   signed request (a plain trust store: every certificate path and the IdPostazioneFirmato CMS
   verified from scratch), and the simulator's gateway stage (the same verifier, plus identity
   policy and XSD, with the signer paths and the per-workstation IdPostazioneFirmato it has
   already verified remembered, as a long-running gateway would).

Usage: ``python bench/bench_simulator.py [--seconds 5] [--threads 1,4,8] [--operation 3002]``.
Prints figures; asserts nothing (the goal is a target, not a test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lxml import etree

from anpr_client.client import Client
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.settings import load_settings
from anpr_client.simulator import Simulator, SimulatorConfig

_MAIN = "from anpr_client.cli.main import main; main()"


def _payload(operation: str, cf: str) -> dict[str, Any]:
    if operation == "TestConn":
        return {}
    return {
        "criteriRicerca": {"codiceFiscale": cf},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": dt.date.today(),
        },
    }


def _start_server(state: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen(
        [sys.executable, "-c", _MAIN, "simulator", "serve", "--state", str(state), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator did not start")
        if line.startswith("settings:"):
            return process, Path(line.split()[1])


def _run(clients: list[Client], operation: str, payload: dict[str, Any], seconds: float) -> None:
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[BaseException] = []
    start = threading.Barrier(len(clients) + 1)
    deadline = 0.0

    def worker(index: int, client: Client) -> None:
        start.wait()
        mine = latencies[index]
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                client.call(operation, payload)
                mine.append(time.perf_counter() - began)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    all_latencies = sorted(x for mine in latencies for x in mine)
    if errors:
        print(f"  {len(clients):>2} threads: FAILED: {errors[0]!r}")
        return
    count = len(all_latencies)
    p50 = all_latencies[count // 2] * 1000
    p95 = all_latencies[int(count * 0.95)] * 1000
    print(
        f"  {len(clients):>2} client threads: {count / elapsed:7.1f} signed round trips/s "
        f"({count} in {elapsed:.1f} s; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms)"
    )


def throughput(operation: str, seconds: float, thread_counts: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-simulator-") as tmp:
        process, settings_path = _start_server(Path(tmp) / "state")
        try:
            settings = load_settings(settings_path, env={})
            warm = Client(settings, journal=None)
            simulator_state = Simulator(SimulatorConfig(state_dir=Path(tmp) / "state"))
            cf = simulator_state.store.residents(settings.codice_istat)[0].codice_fiscale
            simulator_state.close()
            payload = _payload(operation, cf)
            for _ in range(20):
                warm.call(operation, payload)
            print(
                f"throughput: {operation} against `anpr simulator serve` (separate process), "
                f"{seconds:.0f} s per run, {os.cpu_count()} CPUs"
            )
            for count in thread_counts:
                clients = [Client(settings, journal=None) for _ in range(count)]
                for client in clients:
                    client.call(operation, payload)  # open its connection
                _run(clients, operation, payload, seconds)
                for client in clients:
                    client.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


def _median_ms(func: Any, runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        func()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def verification_cost(operation: str, runs: int) -> None:
    sim = Simulator()
    try:
        client = sim.wsgi_client(journal=None)
        cf = sim.store.residents(sim.comuni[0])[0].codice_fiscale
        payload = _payload(operation, cf)
        prepared = client.prepare(operation, payload)
        envelope = etree.fromstring(prepared.envelope)
        family = client.operation(operation).family
        policy = sim.gateway.policy
        plain = TrustStore([sim.pki.ca.certificate])
        verify = _median_ms(lambda: verify_envelope(envelope, trust=plain, policy=policy), runs)
        gateway = _median_ms(lambda: sim.gateway.check(envelope, family), runs)
        in_process = _median_ms(
            lambda: client.transmit(client.prepare(operation, payload)), max(runs // 4, 50)
        )
        sign = _median_ms(lambda: client.prepare(operation, payload), runs)
        print(f"verification cost per {operation} request (median of {runs}):")
        print(f"  library verifier, from scratch (frame, SAML, CMS, paths): {verify:.2f} ms")
        print(f"  simulator gateway stage (verifier + policy + XSD, warm):  {gateway:.2f} ms")
        print(f"  whole request in process (build+sign+serve, no TLS):      {in_process:.2f} ms")
        print(f"  client side alone (build + XSD + sign):                   {sign:.2f} ms")
    finally:
        sim.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,4,8")
    parser.add_argument("--operation", default="3002", choices=["3002", "TestConn"])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    verification_cost(args.operation, args.runs)
    throughput(args.operation, args.seconds, [int(t) for t in args.threads.split(",")])


if __name__ == "__main__":
    main()
