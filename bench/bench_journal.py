"""Journal figures: overhead per call, and id allocation throughput.

    python bench/bench_journal.py [--calls N] [--server auto|simulator|canned]

Measures a **signed** 3002 round trip over TLS on loopback, three ways:

- ``no journal``: ``client.call`` straight (build, sign, send, read);
- ``journal, durable``: the default — the ``sending`` record with the exact envelope is flushed
  to disk (fsync) before every send;
- ``journal, no fsync``: ``Journal(durable=False)``: safe against a crash of the process, not of
  the machine.

The clock is the calling thread's CPU time (``time.thread_time``: the server's threads and the
machine's other load count for nothing), with the wall clock beside it, where the durable
variant's fsync waits show, and that CPU time split into user and system (the kernel's work on
the calling thread: the journal's ``write``/``fsync`` calls and the socket's), summed over each
variant's calls from ``getrusage(RUSAGE_THREAD)`` (Linux; zeros elsewhere). Variants are
interleaved round by round and the overhead is the median of the rounds' paired ratios. The
goal is a journal overhead of at most 10 % durable and 5 % without fsync.

The server is the ANPR simulator when it is available (``anpr_client.simulator``: it verifies
the frame, so the round trip is the realistic one); otherwise a minimal HTTPS server on
loopback that verifies nothing and answers a canned OK (a *shorter* round trip, so the
overhead percentage is pessimistic). The output says which was used. The journal lives in a
temporary directory on the same disk as ``/tmp``.

Then: ids per second from one process, and from four processes sharing one journal (wall
clock: a throughput of several processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]

PAYLOAD: dict[str, Any] = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}

_ANSWER = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<ns2:Risposta3002 xmlns:ns2="http://sogei.it/ANPR/3000consultazione">'
    "<ns2:Risposta3002_OK><testataRisposta><idOperazioneComune>{id}</idOperazioneComune>"
    "<codMittente>058091</codMittente><codDestinatario>ANPR05</codDestinatario>"
    "<operazioneRichiesta>3002</operazioneRichiesta>"
    "<dataOraRichiesta>2026-11-20T10:00:00.000+01:00</dataOraRichiesta>"
    "<idOperazioneANPR>4411002</idOperazioneANPR><esitoOperazione>0000</esitoOperazione>"
    "</testataRisposta></ns2:Risposta3002_OK></ns2:Risposta3002></soap:Body></soap:Envelope>"
)
_ID = re.compile(rb"<idOperazioneComune>([0-9A-Za-z]+)</idOperazioneComune>")


@contextmanager
def canned_server(workdir: Path) -> Iterator[tuple[Callable[..., Any], str]]:
    """A signing client factory and a description, against a canned HTTPS server."""
    from anpr_client.client import Client
    from anpr_client.security.frame import WsSecurity
    from anpr_client.settings import (
        KeySourceConfig,
        OperatorSettings,
        Settings,
        WorkstationSettings,
    )
    from anpr_client.simulator.pki import generate_test_pki

    pki = generate_test_pki("058091")
    files = pki.write(workdir / "pki", password="bench")  # noqa: S106 - throwaway test PKI

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            match = _ID.search(body)
            answer = _ANSWER.format(id=match.group(1).decode() if match else "X").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(files.server_cert_pem, files.server_key_pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = Settings(
        codice_istat="058091",
        base_url=f"https://127.0.0.1:{server.server_address[1]}",
        ca_bundle=files.ca_pem,
        comune_key=KeySourceConfig(
            "pem", pem_key=files.comune_key_pem, pem_cert=files.comune_cert_pem
        ),
        workstation=WorkstationSettings(
            pki.workstation_id,
            KeySourceConfig(
                "pem", pem_key=files.workstation_key_pem, pem_cert=files.workstation_cert_pem
            ),
        ),
        operator=OperatorSettings(codice_fiscale=pki.operator_cf),
    )
    wsse = WsSecurity.from_settings(settings)

    def make(journal: Any) -> Client:
        return Client(settings, wsse=wsse, journal=journal)

    try:
        yield make, "a canned HTTPS server on loopback (no verification: a short round trip)"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def simulator_server(workdir: Path) -> Iterator[tuple[Callable[..., Any], str]]:
    import importlib

    from anpr_client.client import Client

    simulator: Any = importlib.import_module("anpr_client.simulator")
    config = simulator.SimulatorConfig(state_dir=workdir / "sim")
    with simulator.running_simulator(config) as sim:
        settings = sim.settings("058091")
        base = Client(settings, journal=None)
        person = sim.store.residents("058091")[0]
        PAYLOAD["criteriRicerca"]["codiceFiscale"] = person.codice_fiscale
        PAYLOAD["datiRichiesta"]["dataRiferimentoRichiesta"] = dt.date.today().isoformat()

        def make(journal: Any) -> Client:
            return Client(settings, transport=base.transport, wsse=base.wsse, journal=journal)

        yield make, "the ANPR simulator over TLS on loopback (frame verified, registry lookup)"


_RUSAGE_THREAD: Final = getattr(resource, "RUSAGE_THREAD", None)


def _thread_usage() -> tuple[float, float]:
    """The calling thread's user and system CPU time so far (zeros where the OS cannot say)."""
    if _RUSAGE_THREAD is None:
        return 0.0, 0.0
    usage = resource.getrusage(_RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


def _timed(client: Any, n: int) -> tuple[list[float], list[float], tuple[float, float]]:
    """Thread CPU time and wall time of each of ``n`` calls, and the user and system time of
    all ``n`` (the kernel's tick-based split is only meaningful summed over many calls)."""
    cpu, wall = [], []
    user0, system0 = _thread_usage()
    for _ in range(n):
        c, t = time.thread_time(), time.perf_counter()
        client.call("3002", PAYLOAD)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    user1, system1 = _thread_usage()
    return cpu, wall, (user1 - user0, system1 - system0)


_ALLOC = """
import sys, time
from anpr_client.journal import Journal
j = Journal(sys.argv[1])
n = int(sys.argv[2])
t = time.perf_counter()
for _ in range(n):
    j.allocate_id("058091")
print(time.perf_counter() - t)
"""


def alloc_rate(path: Path, processes: int, per_process: int) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ALLOC, str(path), str(per_process)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.wait()
    return processes * per_process / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--server", choices=("auto", "simulator", "canned"), default="auto")
    args = parser.parse_args()
    from anpr_client.journal import Journal

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The ids' high-water marks (journal/marks.py) go with the journals, not in the
        # user's state directory; the allocating subprocesses inherit it.
        os.environ.setdefault("ANPR_ID_MARKS", str(work / "id-marks.sqlite"))
        try:
            import anpr_client.simulator as sim_module

            ready = hasattr(sim_module, "running_simulator")
        except ImportError:
            ready = False
        use_simulator = args.server == "simulator" or (args.server == "auto" and ready)
        server = simulator_server(work) if use_simulator else canned_server(work)
        with server as (make, what):
            print(f"server: {what}")
            print(f"calls per variant: {args.calls} (after 20 warm-up calls), ms per call\n")
            variants = {
                "no journal": make(None),
                "journal, durable": make(Journal(work / "durable.sqlite")),
                "journal, no fsync": make(Journal(work / "fast.sqlite", durable=False)),
            }
            for client in variants.values():
                _timed(client, 20)
            rounds = 7
            cpu: dict[str, list[float]] = {k: [] for k in variants}
            wall: dict[str, list[float]] = {k: [] for k in variants}
            ratios: dict[str, list[float]] = {k: [] for k in variants}
            split = dict.fromkeys(variants, (0.0, 0.0))  # user, system: sums over the calls
            for _ in range(rounds):  # interleave rounds so drift hits every variant alike
                medians = {}
                for name, client in variants.items():
                    c, w, (user, system) = _timed(client, max(args.calls // rounds, 5))
                    cpu[name] += c
                    wall[name] += w
                    split[name] = (split[name][0] + user, split[name][1] + system)
                    medians[name] = statistics.median(c)
                for name in variants:
                    ratios[name].append(medians[name] / medians["no journal"])
            base_wall = statistics.median(wall["no journal"])
            print(
                f"{'variant':<20} {'CPU med':>8} {'CPU p90':>8} {'overhead':>9}"
                f" {'wall med':>9} {'overhead':>9} {'user':>7} {'system':>7}"
            )
            for name in variants:
                med = statistics.median(cpu[name])
                p90 = statistics.quantiles(cpu[name], n=10)[-1]
                wmed = statistics.median(wall[name])
                extra = wextra = ""
                if name != "no journal":
                    extra = f"{(statistics.median(ratios[name]) - 1) * 100:+8.1f}%"
                    wextra = f"{(wmed - base_wall) / base_wall * 100:+8.1f}%"
                user, system = (t / len(cpu[name]) * 1000 for t in split[name])
                print(
                    f"{name:<20} {med * 1000:8.3f} {p90 * 1000:8.3f} {extra:>9}"
                    f" {wmed * 1000:9.3f} {wextra:>9} {user:7.3f} {system:7.3f}"
                )
            print(
                "\ngoal: journal overhead (client thread CPU, median of paired rounds) <= +10 %"
                " durable, <= +5 % without fsync; the wall column adds the fsync waits; user and"
                " system: the calling thread's CPU split, ms per call (means)"
            )

        print("\nid allocation (idOperazioneComune), one shared journal:")
        for processes in (1, 4):
            rate = alloc_rate(work / f"ids{processes}.sqlite", processes, 5000)
            print(f"  {processes} process(es): {rate:,.0f} ids/s")


if __name__ == "__main__":
    main()
