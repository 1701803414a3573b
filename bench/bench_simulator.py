"""The simulator: signed round trips per second over loopback TLS, where the CPU goes, start-up.

    python bench/bench_simulator.py [--seconds 5] [--processes 2] [--threads 4]
                                    [--operation 3002] [--runs 200] [--skip-startup]

Goal (issue 18): ≥ 500 signed round trips per second on the 2 cores here, client and simulator
on the same machine; start-up with the default population under 2 s (issue 14, 16).

1. **Throughput.** ``anpr simulator serve`` runs as its own process (as users run it);
   ``--processes`` client processes, each with ``--threads`` threads, each thread a signing
   :class:`~anpr_client.Client` over HTTPS with keep-alive, call for ``--seconds``. Every call is
   built, XSD-validated, signed, sent, verified by the gateway, XSD-validated, executed,
   recorded in the ledger (SQLite, WAL) and answered; the operation journal is off (see
   bench_journal for its cost). Printed: round trips per second (wall clock), and — since the
   machine is shared and wall clocks lie — the **CPU time per round trip** of the server
   process and of the clients, in milliseconds and as a multiple of one RSA-2048 signature
   measured in the same run, and the capacity they imply on this machine's cores
   (cores ÷ CPU per round trip).
2. **Where the CPU goes**, in process, thread CPU time per request (median of ``--runs``): the
   client's stages (build + XSD + sign; read) and the simulator's (parse, frame verification,
   the rest of the gateway, the operation with its ledger write and answer); the server's HTTP
   and TLS share is the server's CPU per round trip (1) minus its in-process stages.
3. **Start-up**: ``anpr simulator serve`` from launch to "listening" with a new state directory
   (the test PKI is generated: eight RSA keys) and with an existing one, for the default
   population; then the phases inside the simulator (``Simulator.timings``), and the progress
   lines a large ``--population`` prints.

Prints figures; asserts nothing (the goals are targets, not tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_MAIN = "from anpr_client.cli.main import main; main()"
_SERVE = (sys.executable, "-c", _MAIN, "simulator", "serve")


def _payload(operation: str, cf: str) -> dict[str, Any]:
    if operation == "TestConn":
        return {}
    return {
        "criteriRicerca": {"codiceFiscale": cf},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": dt.date.today().isoformat(),
        },
    }


def _rsa_sign_ms(runs: int = 300) -> float:
    """Median thread CPU time of one RSA-2048 PKCS#1 v1.5 SHA-256 signature (the floor)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    samples = []
    for _ in range(runs):
        began = time.thread_time()
        key.sign(b"floor", padding.PKCS1v15(), hashes.SHA256())
        samples.append(time.thread_time() - began)
    return statistics.median(samples) * 1000


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, where the platform says (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_server(
    state: Path, *extra: str, stderr: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], Path, float]:
    began = time.perf_counter()
    process = subprocess.Popen(
        [*_SERVE, "--state", str(state), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator did not start")
        if line.startswith("settings:"):
            return process, Path(line.split()[1]), time.perf_counter() - began


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)


# ----------------------------------------------------------------------------- 1. throughput


def client_worker(
    settings_path: str, operation: str, cf: str, threads: int, start: float, seconds: float
) -> None:
    """A client process: ``threads`` signing clients call from ``start`` for ``seconds``;
    prints one JSON line with its count, CPU time and latencies."""
    from anpr_client.client import Client
    from anpr_client.settings import load_settings

    settings = load_settings(Path(settings_path), env={})
    payload = _payload(operation, cf)
    clients = [Client(settings, journal=None) for _ in range(threads)]
    for client in clients:
        client.call(operation, payload)  # opens its kept-alive connection
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(client: Client) -> None:
        mine = []
        try:
            while time.time() < start:
                time.sleep(0.001)
            while time.time() < start + seconds:
                began = time.perf_counter()
                client.call(operation, payload)
                mine.append(time.perf_counter() - began)
        except Exception as exc:  # reported, not raised: the bench prints what failed
            errors.append(repr(exc))
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=run, args=(c,)) for c in clients]
    while time.time() < start:
        time.sleep(0.001)
    cpu = time.process_time()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    cpu = time.process_time() - cpu
    latencies.sort()
    print(
        json.dumps(
            {
                "count": len(latencies),
                "cpu": cpu,
                "errors": errors[:3],
                "p50": latencies[len(latencies) // 2] if latencies else 0.0,
                "p95": latencies[int(len(latencies) * 0.95)] if latencies else 0.0,
            }
        )
    )
    for client in clients:
        client.close()


def throughput(
    operation: str, seconds: float, processes: int, threads: int, floor_ms: float
) -> None:
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="bench-simulator-") as tmp:
        state = Path(tmp) / "state"
        server, settings_path, _ = _start_server(state)
        try:
            from anpr_client.settings import load_settings

            comune = load_settings(settings_path, env={}).codice_istat
            with sqlite3.connect(state / "registry.sqlite") as db:
                (cf,) = db.execute(
                    "SELECT cf FROM persons WHERE status = 'resident' AND comune = ? "
                    "ORDER BY id LIMIT 1",
                    (comune,),
                ).fetchone()
            start = time.time() + 3.0 + 0.5 * processes  # time to load and connect
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--client-worker",
                        json.dumps([str(settings_path), operation, cf, threads, start, seconds]),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "PYTHONWARNINGS": "ignore"},
                )
                for _ in range(processes)
            ]
            while time.time() < start:
                time.sleep(0.001)
            server_cpu = _process_cpu(server.pid)
            wall = time.perf_counter()
            time.sleep(seconds)
            server_cpu = (
                None
                if server_cpu is None
                else (_process_cpu(server.pid) or server_cpu) - server_cpu
            )
            wall = time.perf_counter() - wall
            reports = []
            for worker in workers:
                out, _ = worker.communicate(timeout=120)
                reports.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            _stop(server)
    count = sum(r["count"] for r in reports)
    errors = [e for r in reports for e in r["errors"]]
    print(
        f"1. throughput: {operation} against `anpr simulator serve`, {processes} client "
        f"processes x {threads} threads, {seconds:.0f} s, {os.cpu_count()} CPUs"
    )
    if errors or not count:
        print(f"   FAILED: {errors[:1] or 'no round trip'}")
        return
    client_ms = sum(r["cpu"] for r in reports) / count * 1000
    print(
        f"   {count / wall:7.1f} signed round trips/s (wall clock; {count} in {wall:.1f} s; "
        f"latency p50 {statistics.median(r['p50'] for r in reports) * 1000:.1f} ms, "
        f"p95 {max(r['p95'] for r in reports) * 1000:.1f} ms)"
    )
    print(f"   CPU per round trip (one RSA-2048 signature here: {floor_ms:.3f} ms):")
    print(f"     clients  {client_ms:6.2f} ms = {client_ms / floor_ms:5.1f} signatures")
    if server_cpu is None:
        print("     server   (not measurable on this platform)")
        return
    server_ms = server_cpu / count * 1000
    total = client_ms + server_ms
    cores = os.cpu_count() or 1
    print(f"     server   {server_ms:6.2f} ms = {server_ms / floor_ms:5.1f} signatures")
    print(f"     total    {total:6.2f} ms = {total / floor_ms:5.1f} signatures")
    print(
        f"   capacity on {cores} cores at this CPU speed: {cores * 1000 / total:6.0f} round "
        f"trips/s; server process alone (one core): {1000 / server_ms:6.0f}/s"
    )


# ----------------------------------------------------------------------------- 2. stages


def _median_cpu_ms(func: Callable[[Any], Any], items: list[Any]) -> float:
    samples = []
    for item in items:
        began = time.thread_time()
        func(item)
        samples.append(time.thread_time() - began)
    return statistics.median(samples) * 1000


def stages(operation: str, runs: int, floor_ms: float) -> float:
    """Print the in-process split; return the simulator's in-process CPU per request (ms)."""
    import io

    from anpr_client.endpoints import FAMILY_PATHS
    from anpr_client.safexml import parse_xml
    from anpr_client.simulator import Simulator
    from anpr_client.transport import HttpResponse

    sim = Simulator()
    try:
        client = sim.wsgi_client(journal=None)
        cf = sim.store.residents(sim.comuni[0])[0].codice_fiscale
        payload = _payload(operation, cf)
        for _ in range(30):
            client.call(operation, payload)
        family = client.operation(operation).family
        path = FAMILY_PATHS[family]

        def environ(body: bytes) -> dict[str, Any]:
            return {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": path,
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }

        def fresh() -> list[bytes]:
            return [client.prepare(operation, payload).envelope for _ in range(runs)]

        prepare = _median_cpu_ms(lambda _: client.prepare(operation, payload), list(range(runs)))
        answers = [sim.app.handle(environ(b)) for b in fresh()]
        read = _median_cpu_ms(
            lambda a: client.read(
                operation,
                HttpResponse(a.status, {"content-type": a.content_type}, a.body),
            ),
            answers,
        )
        whole = _median_cpu_ms(lambda b: sim.app.handle(environ(b)), fresh())
        bodies = fresh()
        parse = _median_cpu_ms(parse_xml, bodies)
        envelopes = [(parse_xml(b), b) for b in bodies]
        verify = _median_cpu_ms(
            lambda e: sim.gateway._verify(e[1]),  # the frame, as the gateway runs it
            envelopes,
        )
        gateway = _median_cpu_ms(lambda e: sim.gateway.check(e[0], family, raw=e[1]), envelopes)
        passed = [sim.gateway.check(e[0], family, raw=e[1]) for e in envelopes]
        operation_ms = _median_cpu_ms(
            lambda p: sim.app._operation(p.operation, p.payload, p.operator), passed
        )
    finally:
        sim.close()
    rows = [
        ("client: build + XSD + sign (prepare)", prepare),
        ("client: read the answer", read),
        ("simulator: parse the request", parse),
        ("simulator: the gateway (frame, WSS4J rules, identity, XSD)", gateway),
        ("simulator:   of which the verifier (frame + IdPostazioneFirmato)", verify),
        ("simulator: operation (ledger, handler, answer, commit)", operation_ms),
        ("simulator: whole request in process", whole),
    ]
    print(f"2. CPU per {operation} request in process (median of {runs}; thread CPU time):")
    for label, value in rows:
        print(f"   {label:<66} {value:6.3f} ms = {value / floor_ms:4.1f} signatures")
    return whole


# ----------------------------------------------------------------------------- 3. start-up


def startup(runs: int = 3) -> None:
    print("3. start-up of `anpr simulator serve` to 'listening' (wall clock):")
    for label, reuse in (("new state (test PKI generated)", False), ("existing state", True)):
        samples = []
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            state = Path(tmp) / "state"
            if reuse:
                _stop(_start_server(state)[0])
            for i in range(runs):
                target = state if reuse else Path(tmp) / f"new{i}"
                process, _, elapsed = _start_server(target)
                _stop(process)
                samples.append(elapsed)
        print(
            f"   {label:<34} median {statistics.median(samples):5.2f} s "
            f"(min {min(samples):.2f}, max {max(samples):.2f}; goal < 2 s)"
        )
    imports = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import anpr_client.cli.main, anpr_client.simulator.runtime"],
            check=True,
        )
        imports.append(time.perf_counter() - began)
    print(
        f"   of which starting Python and importing the command and the simulator: "
        f"median {statistics.median(imports):.2f} s"
    )
    from anpr_client.simulator import Simulator, SimulatorConfig

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        sim = Simulator(SimulatorConfig(state_dir=Path(tmp) / "state"))
        sim.start()
        phases = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sim.timings.items())
        sim.close()
    print(f"   phases in process, new state: {phases}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        server, _, elapsed = _start_server(
            Path(tmp) / "s", "--population", "5000", stderr=subprocess.PIPE
        )
        _stop(server)
        assert server.stderr is not None
        lines = [line.rstrip() for line in server.stderr if line.startswith("population:")]
    print(f"   --population 5000 (2 Comuni, new state): {elapsed:.2f} s, progress on stderr:")
    for line in lines[:2] + (["…"] if len(lines) > 3 else []) + lines[-1:]:
        print(f"     {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--operation", default="3002", choices=["3002", "TestConn"])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--client-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_worker:
        client_worker(*json.loads(args.client_worker))
        return
    floor_ms = _rsa_sign_ms()
    print(f"one RSA-2048 signature (the floor): {floor_ms:.3f} ms of CPU")
    stages(args.operation, args.runs, floor_ms)
    throughput(args.operation, args.seconds, args.processes, args.threads, floor_ms)
    if not args.skip_startup:
        startup()


if __name__ == "__main__":
    main()
