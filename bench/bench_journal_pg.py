"""Journal figures on PostgreSQL: cost per call against no journal and against SQLite, and
throughput with 1, 4 and 16 workers.

    python bench/bench_journal_pg.py [--calls N] [--per-worker N] [--workers 1,4,16]

Everything runs against the ANPR simulator over TLS on loopback (a signed 3002: frame
verified, registry lookup) and a real PostgreSQL: an ephemeral cluster started for the run
(``tests/postgres.py``: ``initdb`` + ``pg_ctl`` in a temp folder, unix socket, default
durability settings).

1. **Per call**, in one process, variants interleaved in rounds so drift hits each alike:
   no journal, the SQLite journal (durable: fsync of the ``sending`` record) and the
   PostgreSQL journal (each commit durable on the server). Two clocks: the client process's
   **CPU time** per call (what the journal costs this process) and the wall time per call (what
   a caller waits, including the database server's work and its fsyncs). The ratios PostgreSQL
   / SQLite and journal / no journal are printed for both; the goal is PostgreSQL within 10 %
   of SQLite per call.
2. **Throughput**: N worker processes (each its own working directory and temp folder, as on
   separate machines), each a client journaling to the same PostgreSQL database, calling as
   fast as they can; operations per second over the whole run. On a small machine the
   simulator (one process) and the database share the cores with the workers: the figure
   stops growing where they saturate, which the output says.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/postgres.py: the ephemeral cluster

PAYLOAD: dict[str, Any] = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}

_WORKER = """
import json, os, sys, time
from anpr_client import Client
from anpr_client.settings import load_settings
settings = load_settings(sys.argv[1])
payload = json.loads(sys.argv[3])
n = int(sys.argv[2])
with Client(settings) as client:
    client.call("3002", payload)  # warm: connection, journal, keys
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        client.call("3002", payload)
    print(json.dumps({"calls": n, "cpu": time.process_time() - cpu,
                      "wall": time.perf_counter() - wall}))
"""


def _per_call(client: Any, n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call over ``n`` calls."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        client.call("3002", PAYLOAD)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def _throughput(
    settings_path: Path, url: str, workers: int, per_worker: int, work: Path
) -> tuple[float, float]:
    """(operations per second over the run, mean CPU ms per call in a worker)."""
    import json

    procs = []
    for i in range(workers):
        own = work / f"w{workers}-{i}"
        (own / "tmp").mkdir(parents=True)
        env = {
            **os.environ,
            "ANPR_JOURNAL": url,
            "TMPDIR": str(own / "tmp"),
            "ANPR_ID_MARKS": str(own / "marks.sqlite"),
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER,
                    str(settings_path),
                    str(per_worker),
                    json.dumps(PAYLOAD),
                ],
                cwd=own,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"a worker failed (exit {p.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    longest = max(r["wall"] for r in results)
    calls = sum(r["calls"] for r in results)
    cpu = sum(r["cpu"] for r in results) / calls
    return calls / longest, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="per variant, per-call figures")
    parser.add_argument("--per-worker", type=int, default=150, help="calls of each worker")
    parser.add_argument("--workers", default="1,4,16")
    args = parser.parse_args()

    from tests.postgres import start_cluster

    from anpr_client.client import Client
    from anpr_client.journal import Journal, PostgresJournal
    from anpr_client.simulator import SimulatorConfig, running_simulator

    cluster = start_cluster()
    if isinstance(cluster, str):
        raise SystemExit(f"no PostgreSQL: {cluster}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            os.environ["ANPR_ID_MARKS"] = str(work / "id-marks.sqlite")
            with running_simulator(SimulatorConfig(state_dir=work / "sim")) as sim:
                settings = sim.settings("058091")
                person = sim.store.residents("058091")[0]
                PAYLOAD["criteriRicerca"]["codiceFiscale"] = person.codice_fiscale
                PAYLOAD["datiRichiesta"]["dataRiferimentoRichiesta"] = time.strftime("%Y-%m-%d")
                base = Client(settings, journal=None)

                def make(journal: Any) -> Any:
                    return Client(
                        settings, transport=base.transport, wsse=base.wsse, journal=journal
                    )

                variants = {
                    "no journal": make(None),
                    "SQLite journal": make(Journal(work / "journal.sqlite")),
                    "PostgreSQL journal": make(PostgresJournal(cluster.fresh_url("bench"))),
                }
                for client in variants.values():
                    _per_call(client, 20)
                cpu: dict[str, list[float]] = {k: [] for k in variants}
                wall: dict[str, list[float]] = {k: [] for k in variants}
                rounds = 10
                for _ in range(rounds):
                    for name, client in variants.items():
                        c, w = _per_call(client, max(1, args.calls // rounds))
                        cpu[name].append(c)
                        wall[name].append(w)
                print("server: the ANPR simulator over TLS on loopback; PostgreSQL: ephemeral")
                print(f"per call ({args.calls} calls per variant, {rounds} interleaved rounds;")
                print("medians of the rounds, ms)\n")
                print(f"{'variant':<20} {'CPU/call':>9} {'wall/call':>10}")
                med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
                med_wall = {k: statistics.median(v) for k, v in wall.items()}
                for name in variants:
                    print(f"{name:<20} {med_cpu[name] * 1000:9.3f} {med_wall[name] * 1000:10.3f}")
                none, lite, pg = "no journal", "SQLite journal", "PostgreSQL journal"
                print("\nratios (CPU time | wall time):")
                for a, b in ((lite, none), (pg, none), (pg, lite)):
                    print(
                        f"  {a} / {b}: {med_cpu[a] / med_cpu[b]:.3f} | "
                        f"{med_wall[a] / med_wall[b]:.3f}"
                    )
                print(
                    "  journal overhead per call, CPU: SQLite "
                    f"{(med_cpu[lite] - med_cpu[none]) * 1000:+.3f} ms, PostgreSQL "
                    f"{(med_cpu[pg] - med_cpu[none]) * 1000:+.3f} ms"
                )
                print("goal: PostgreSQL within 10 % of SQLite per call (ratio <= 1.10)\n")

                url = cluster.fresh_url("throughput")
                PostgresJournal(url).close()  # the schema, before the workers race to it
                print(f"throughput, journal on PostgreSQL, {args.per_worker} calls per worker:")
                print(f"{'workers':>8} {'ops/s':>9} {'CPU ms/call':>12}")
                previous = 0.0
                for count in (int(w) for w in args.workers.split(",")):
                    rate, per = _throughput(
                        sim.settings_path("058091"), url, count, args.per_worker, work
                    )
                    note = "" if rate > previous * 1.1 else "  (saturated: simulator/CPU)"
                    print(f"{count:>8} {rate:>9.1f} {per:>12.3f}{note}")
                    previous = max(previous, rate)
                print(f"\n(this machine: {os.cpu_count()} CPUs shared by simulator, database and")
                print(" workers; with separate machines the workers' share grows)")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
