"""Many Comuni in one process: memory and file descriptors of a registry serving 500 Comuni.

    python bench/bench_multi.py [--comuni N]

The simulator (in this process) is told of N Comuni, each with its own CO certificate and key
issued by the simulator's CA. A fresh process — the one measured — loads one multi-Comune
settings file (:func:`anpr_client.load_comuni`: shared keys on top, a ``[comuni.<ISTAT>]``
table per Comune naming its key files, one journal for all), opens every Comune (its key loaded,
its frame built, ``max_open`` = N) and makes one journaled TestConn over TLS for each. It
then reports, with every Comune open and no call in flight (idle), its resident memory and its
open file descriptors, and the same once the idle Comuni were released. Goals, with the 500
Comuni open and idle: under 300 MB and under 100 file descriptors.

Those are whole-process figures (the interpreter, the imports, the first TLS context and
journal). What one more Comune costs is measured as an increment: with N/2 Comuni served and
with N served, in the same measured process, the growth divided by N/2 — of the resident
memory (``/proc/self/statm``, in the run above) and of the Python heap (:mod:`tracemalloc`'s
traced bytes, tracing from the moment the settings are loaded, in a second run of the same
process: tracing costs memory of its own, which would inflate the resident figures). The heap
figure leaves out what C libraries (OpenSSL, SQLite) allocate themselves; the resident one
includes it. Goal: at most 100 KiB per extra Comune (issue #18). With ``max_open`` below N
the increment is what serving more Comuni leaves behind once the oldest are closed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[1]
GOAL_MB = 300
GOAL_FDS = 100
GOAL_KIB_PER_COMUNE = 100
OPERATOR = "RSSMRA80A01H501U"

_MEASURED = r"""
import json, os, sys, time, tracemalloc
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def fds():
    return len(os.listdir("/proc/self/fd"))

from anpr_client import ComuneRegistry, load_comuni
figures = {"start": (rss_mb(), fds())}
comuni = load_comuni(sys.argv[1])
now = [0.0]
max_open = int(sys.argv[2]) or len(comuni)
registry = ComuneRegistry(comuni, max_open=max_open, clock=lambda: now[0])
figures["loaded"] = (rss_mb(), fds())
codes = list(comuni)
half = len(codes) // 2
traced = sys.argv[3] == "heap"  # the Python heap, in a run of its own (tracing costs memory)
if traced:
    tracemalloc.start()
def point():
    return tracemalloc.get_traced_memory()[0] if traced else rss_mb() * 2**20
for code in codes[:half]:
    registry.call(code, "TestConn", {})
first = point()
for code in codes[half:]:
    registry.call(code, "TestConn", {})
figures["increment"] = (half, len(codes), (point() - first) / (len(codes) - half))
if traced:
    print(json.dumps(figures))
    sys.exit(0)
figures["open"] = (rss_mb(), fds())
figures["open_count"] = registry.open_count
figures["transports"] = registry.shared_transports
figures["journals"] = registry.shared_journals
now[0] += registry.idle_timeout
figures["released"] = registry.release_idle()
figures["after"] = (rss_mb(), fds())
registry.close()
print(json.dumps(figures))
"""


def _write_comuni(sim: object, count: int, folder: Path, *, own_journals: bool) -> Path:
    from anpr_client.simulator.pki import issue_certificate, name

    pki = sim.pki  # type: ignore[attr-defined]
    key = issue_certificate(pki.ca, name("key-source")).key  # one RSA key: keygen is not measured
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    lines = [
        'environment = "test"',
        f"base_url = {json.dumps(sim.url)}",  # type: ignore[attr-defined]
        f"ca_bundle = {json.dumps(str(pki.ca_pem))}",
        f"journal = {json.dumps(str(folder / 'journal.sqlite'))}",  # unless a Comune has its own
        "",
        "[application]",
        'name = "BENCH"',
        'version = "1.0"',
        'vendor = "ACME SRL"',
        "",
        "[operator]",
        f'codice_fiscale = "{OPERATOR}"',
        "",
    ]
    for i in range(count):
        code = f"{900000 + i:06d}"
        if not own_journals:
            sim.store.add_comune(code, f"COMUNE {i}", "RM", f"Z{i % 1000:03d}")  # type: ignore[attr-defined]
        identity = issue_certificate(pki.ca, name(f"{code}-CO-9999"), key=key)
        cert = folder / f"{code}.cert.pem"
        private = folder / f"{code}.key.pem"
        cert.write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
        private.write_bytes(key_pem)
        if own_journals:
            lines += [f"[comuni.{code}]", f'journal = "{folder / code}.sqlite"']
        lines += [
            f"[comuni.{code}.comune_key]",
            f'pem_key = "{private}"',
            f'pem_cert = "{cert}"',
            f"[comuni.{code}.workstation]",  # the CO key signs IdPostazioneFirmato
            f'id = "{code}-CO-9999"',
            "",
        ]
    path = folder / ("own-journals.toml" if own_journals else "comuni.toml")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comuni", type=int, default=500)
    args = parser.parse_args()

    from anpr_client.simulator import SimulatorConfig, running_simulator

    with tempfile.TemporaryDirectory(prefix="anpr-bench-multi-") as tmp:
        folder = Path(tmp)
        config = SimulatorConfig(state_dir=folder / "sim", comuni=("058091",), population=1)
        with running_simulator(config) as sim:
            shared = _write_comuni(sim, args.comuni, folder, own_journals=False)
            own = _write_comuni(sim, args.comuni, folder, own_journals=True)
            scenarios = [
                (
                    f"{args.comuni} Comuni, one journal, all open (max_open = {args.comuni})",
                    shared,
                    0,
                ),
                (f"{args.comuni} Comuni, a journal each, max_open = 64", own, 64),
            ]
            results = [
                (title, _measure(path, max_open, "rss"), _measure(path, max_open, "heap"))
                for title, path, max_open in scenarios
            ]
            assert sim.internal_errors == ()
    for title, figures, heap in results:
        _report(title, figures, heap["increment"][2])


def _measure(path: Path, max_open: int, what: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(path), str(max_open), what],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        sys.exit(f"the measured process failed:\n{out.stderr}")
    figures: dict[str, Any] = json.loads(out.stdout)
    return figures


def _report(title: str, figures: dict[str, Any], heap: float) -> None:
    print(title + " (TLS to the simulator, one TestConn each)")
    for label, key in (("after import", "start"), ("settings loaded", "loaded")):
        mb, fds = figures[key]
        print(f"  {label + ':':<34}{mb:7.1f} MB {fds:5d} fds")
    mb, fds = figures["open"]
    print(
        f"  {'idle, ' + str(figures['open_count']) + ' Comuni open:':<34}{mb:7.1f} MB {fds:5d} fds"
        f"   goal < {GOAL_MB} MB: {'met' if mb < GOAL_MB else 'MISSED'}, "
        f"< {GOAL_FDS} fds: {'met' if fds < GOAL_FDS else 'MISSED'}"
    )
    print(
        f"  {'':<34}shared: {figures['transports']} transport(s), "
        f"{figures['journals']} journal(s) open"
    )
    start, end, rss = figures["increment"]
    rss_kib, heap_kib = rss / 1024, heap / 1024
    print(
        f"  {'per extra Comune (' + str(start) + '->' + str(end) + ' served):':<34}"
        f"{rss_kib:7.1f} KiB RSS, {heap_kib:.1f} KiB Python heap"
        f"   goal <= {GOAL_KIB_PER_COMUNE} KiB: "
        f"{'met' if rss_kib <= GOAL_KIB_PER_COMUNE else 'MISSED'}"
    )
    mb, fds = figures["after"]
    print(
        f"  {'released when idle (' + str(figures['released']) + '):':<34}{mb:7.1f} MB {fds:5d} fds"
    )


if __name__ == "__main__":
    main()
