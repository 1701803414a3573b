"""Client figures: cold construction per family, and request build time vs zeep.

    python bench/bench_client.py

Prints, for each service family, the cold cost in a fresh process of what a first call needs
(operation table scan, the family's element models, its compiled schema, a ``Client``) — goal
≤ 25 ms per family, bundle parsed once per process — then the median time to build a 3002
request (payload → testata → XML → XSD validation → envelope bytes) beside zeep's own
``create_message`` for the same payload; then what the typed models cost: ``import
anpr_client`` (which imports no family's models), the first import of the 3000 models, and a
typed 3002 call and a typed 5005 family move against ``client.call`` with the same canned
answer (the answer the simulator gave) — goal: at most 10 % more.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_COLD = r"""
import json, sys, time
t0 = time.perf_counter()
from anpr_client.soap.bundle import get_bundle
from anpr_client.client import Client
from anpr_client.settings import Settings
t1 = time.perf_counter()
fam = sys.argv[1]
bundle = get_bundle()
bundle.operations
t2 = time.perf_counter()
op = next(o for o in bundle if o.family == fam)
bundle.request_model(op).children; bundle.response_model(op).children
t3 = time.perf_counter()
bundle.schema(fam)
t4 = time.perf_counter()
Client(Settings(codice_istat="058091"), journal=None)
t5 = time.perf_counter()
bundle.request_model(op); bundle.schema(fam)
t6 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "scan": t2 - t1, "model": t3 - t2, "schema": t4 - t3,
                  "client": t5 - t4, "again": t6 - t5}))
"""

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


def cold(family: str, runs: int = 5) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD, family], capture_output=True, text=True, check=True
        )
        samples.append(json.loads(out.stdout))
    return {k: statistics.median(s[k] for s in samples) * 1000 for k in samples[0]}


_ZEEP_COLD = r"""
import json, time
t0 = time.perf_counter()
import zeep.wsdl, zeep.transports, zeep.settings
t1 = time.perf_counter()
from anpr_client.soap.bundle import get_bundle
b = get_bundle(); b.operations
t2 = time.perf_counter()
b.document("3000")
t3 = time.perf_counter()
print(json.dumps([t1 - t0, t3 - t2]))
"""


def zeep_cold(runs: int = 5) -> tuple[float, float]:
    samples = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _ZEEP_COLD], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return (
        statistics.median(s[0] for s in samples) * 1000,
        statistics.median(s[1] for s in samples) * 1000,
    )


def build_vs_zeep(n: int = 2000) -> tuple[float, float]:
    from zeep import Client as ZeepClient
    from zeep.transports import Transport

    from anpr_client.client import Client
    from anpr_client.settings import ApplicationIdentity, Settings
    from anpr_client.soap.bundle import get_bundle
    from anpr_client.soap.testata import build_header

    settings = Settings(
        codice_istat="058091", application=ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL")
    )
    client = Client(settings, journal=None)
    client.prepare("3002", PAYLOAD)  # warm
    ours = []
    for _ in range(n):
        t = time.perf_counter()
        client.prepare("3002", PAYLOAD)
        ours.append(time.perf_counter() - t)

    op = get_bundle().operation("3002")
    zc = ZeepClient(str(op.wsdl), transport=Transport())  # type: ignore[no-untyped-call]
    header = build_header(settings, "3002")
    theirs = []
    for _ in range(n):
        t = time.perf_counter()
        zc.create_message(  # type: ignore[no-untyped-call]
            zc.service, op.name, testataRichiesta=header, **PAYLOAD
        )
        theirs.append(time.perf_counter() - t)
    return statistics.median(ours) * 1000, statistics.median(theirs) * 1000


_IMPORTS = r"""
import json, sys, time
t0 = time.perf_counter()
import anpr_client
t1 = time.perf_counter()
families = [m for m in sys.modules if m.startswith("anpr_client.models.")
            and m.rpartition(".")[2] not in ("_base", "_index")]
from anpr_client.models import consultazione
t2 = time.perf_counter()
print(json.dumps({"anpr_client": t1 - t0, "models_3000": t2 - t1, "loaded": families}))
"""


def import_costs(runs: int = 5) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORTS], capture_output=True, text=True, check=True
        )
        sample = json.loads(out.stdout)
        assert sample.pop("loaded") == [], "import anpr_client imported a family's models"
        samples.append(sample)
    return {k: statistics.median(s[k] for s in samples) * 1000 for k in samples[0]}


def _request_3002(cf: str) -> tuple[dict[str, Any], Any]:
    """The same 3002 lookup as a payload and as a request model."""
    from anpr_client.models.consultazione import (
        Richiesta3002,
        TipoCriteriRicerca,
        TipoDatiRichiesta,
    )

    payload = {**PAYLOAD, "criteriRicerca": {"codiceFiscale": cf}}
    request = Richiesta3002(
        criteriRicerca=TipoCriteriRicerca(codiceFiscale=cf),
        datiRichiesta=TipoDatiRichiesta(
            schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date(2026, 11, 20)
        ),
    )
    return payload, request


def _cpu_per_call(
    client: Any,
    code: str,
    payload: dict[str, Any],
    request: Any,
    rounds: int = 30,
    n: int = 100,
    header: dict[str, Any] | None = None,
) -> tuple[float, float, float]:
    """CPU time of this thread per ``client.call`` and per ``client.typed_call`` of ``code``
    (ms), the best of alternating blocks, and the median of the rounds' paired ratios
    (typed / plain): other processes' noise, and a server's threads, count for neither."""

    def block(call: Callable[[], object]) -> float:
        start = time.thread_time()
        for _ in range(n):
            call()
        return (time.thread_time() - start) / n

    client.call(code, payload, header=header)  # warm: schemas, checker, the reading plans
    client.typed_call(code, request, header=header)
    plain, typed = [], []
    for i in range(rounds):  # which goes first alternates, so neither always follows the other
        if i % 2:
            typed.append(block(lambda: client.typed_call(code, request, header=header)))
            plain.append(block(lambda: client.call(code, payload, header=header)))
        else:
            plain.append(block(lambda: client.call(code, payload, header=header)))
            typed.append(block(lambda: client.typed_call(code, request, header=header)))
    paired = statistics.median(t / p for p, t in zip(plain, typed, strict=True))
    return min(plain) * 1000, min(typed) * 1000, paired


def _canned(answer: bytes, istat: str, *, journal: bool = False) -> Any:
    """A client answered ``answer`` from memory; without a journal unless ``journal`` (then
    the default one, as ``Client(settings)`` opens it)."""
    from anpr_client.client import FROM_SETTINGS, Client
    from anpr_client.settings import Settings
    from anpr_client.transport import HttpResponse, MockTransport

    sys.path.insert(0, str(ROOT))
    from tests.echo import echo_request  # the answer echoes each request, as ANPR's does

    canned = MockTransport(
        lambda request: HttpResponse(
            200, {"content-type": "text/xml"}, echo_request(request.body, answer)
        )
    )
    chosen = FROM_SETTINGS if journal else None
    return Client(Settings(codice_istat=istat), transport=canned, journal=chosen)


def typed_vs_call() -> dict[str, tuple[float, float, float]]:
    """typed_call against client.call: 3002 with an answer the simulator gave, served from
    memory (the client's own cost, the worst case for the ratio), and against the simulator
    over TLS with a signing client (a real call); 5005, a family of Roma moving to Milano,
    with the simulator's answer served from memory, without and with the journal (what
    ``Client(settings)`` has by default)."""
    from anpr_client.models import from_payload
    from anpr_client.models.mutazione import Richiesta5005
    from anpr_client.simulator import SimulatorConfig, running_simulator
    from anpr_client.simulator.payloads import change_of_residence

    out = {}
    today = {"dataDecorrenza": dt.date.today()}
    with running_simulator(SimulatorConfig()) as sim:
        roma, milano = sim.comuni[0], sim.comuni[1]
        cf = sim.store.residents(roma)[0].codice_fiscale
        payload, request = _request_3002(cf)
        client = sim.client(journal=None)
        answer = client.call("3002", payload).raw
        out["3002, simulator over TLS, signed"] = _cpu_per_call(
            client, "3002", payload, request, 10, 20
        )
        client.close()
        family = next(h for h in sim.store.households(roma) if len(h.members) >= 3)
        destination = sim.store.comune(milano)
        assert destination is not None
        move = change_of_residence(list(family.members), destination)
        mover = sim.client(milano, journal=None)
        moved = mover.call("5005", move, header=today).raw
        mover.close()
    out["3002, canned answer, no TLS"] = _cpu_per_call(
        _canned(answer, roma), "3002", payload, request
    )
    model = from_payload(Richiesta5005, move, strict=True)
    label = f"5005, {len(family.members)} persons, canned"
    out[label] = _cpu_per_call(_canned(moved, milano), "5005", move, model, header=today)
    out[f"{label}, journal"] = _cpu_per_call(
        _canned(moved, milano, journal=True), "5005", move, model, 10, 50, header=today
    )
    return out


def child_cpu_ms(argv: list[str]) -> float:
    """CPU time (user + system) of one child process running ``argv``, in ms."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def import_cpu(runs: int = 7) -> dict[str, float]:
    """Best of ``runs`` child CPU times, the variants interleaved: ``import anpr_client``,
    ``from anpr_client import Client``, ``anpr --help``, ``import zeep`` and an empty
    interpreter."""
    py = sys.executable
    variants = {
        "python -c pass": [py, "-c", "pass"],
        "import anpr_client": [py, "-c", "import anpr_client"],
        "from anpr_client import Client": [py, "-c", "from anpr_client import Client"],
        "anpr --help": [py, "-c", "from anpr_client.cli.main import main; main()", "--help"],
        "import zeep": [py, "-c", "import zeep"],
    }
    best = {name: float("inf") for name in variants}
    for _ in range(runs):
        for name, argv in variants.items():
            best[name] = min(best[name], child_cpu_ms(argv))
    return best


def precheck_overhead(rounds: int = 15, n: int = 200) -> tuple[float, float]:
    """Thread CPU ms per unsigned ``prepare`` of 3002 without and with the pre-send local
    checks (``check=False`` / ``check=True``), the best of alternating blocks (as
    :func:`_cpu_per_call`: other processes' noise counts for neither)."""
    from anpr_client.client import Client
    from anpr_client.settings import ApplicationIdentity, Settings

    settings = Settings(
        codice_istat="058091", application=ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL")
    )
    client = Client(settings, journal=None)
    plain: list[float] = []
    checked: list[float] = []
    for flag in (False, True):
        client.prepare("3002", PAYLOAD, sign=False, check=flag)  # warm: schema, checker
    for _ in range(rounds):
        for flag, into in ((False, plain), (True, checked)):
            start = time.thread_time()
            for _ in range(n):
                client.prepare("3002", PAYLOAD, sign=False, check=flag)
            into.append((time.thread_time() - start) / n * 1000)
    return min(plain), min(checked)


def construction_per_comune(rounds: int = 7, repeat: int = 5) -> dict[str, float]:
    """Thread CPU ms of ``Client(settings)`` for one more Comune whose keys are files the
    settings name (Comune key and workstation key), PEM and PKCS#12, beside one RSA key
    self-check (what loading a key of unknown origin costs): medians of interleaved rounds."""
    import os
    import tempfile

    from cryptography.hazmat.primitives import serialization

    from anpr_client.client import Client
    from anpr_client.settings import (
        KeySourceConfig,
        OperatorSettings,
        Settings,
        WorkstationSettings,
    )
    from anpr_client.simulator.pki import generate_test_pki

    pki = generate_test_pki("058091")
    directory = Path(tempfile.mkdtemp(prefix="bench-client-"))
    password = os.urandom(8).hex()
    files = pki.write(directory, password=password)
    env = "BENCH_P12_PASSWORD"
    os.environ[env] = password
    pem_key = pki.comune.key_pem()

    def settings(kind: str) -> Settings:
        if kind == "pem":
            comune = KeySourceConfig(
                "pem", pem_key=files.comune_key_pem, pem_cert=files.comune_cert_pem
            )
            workstation = KeySourceConfig(
                "pem", pem_key=files.workstation_key_pem, pem_cert=files.workstation_cert_pem
            )
        else:
            comune = KeySourceConfig("pkcs12", path=files.comune_p12, password_env=env)
            workstation = KeySourceConfig("pkcs12", path=files.workstation_p12, password_env=env)
        return Settings(
            codice_istat="058091",
            comune_key=comune,
            workstation=WorkstationSettings(id=pki.workstation_id, key=workstation),
            operator=OperatorSettings(codice_fiscale="RSSMRA80A01H501U"),
        )

    pem, p12 = settings("pem"), settings("pkcs12")
    variants: dict[str, Callable[[], object]] = {
        "PEM keys": lambda: Client(pem, journal=None),
        "PKCS#12 keys": lambda: Client(p12, journal=None),
        "one RSA key self-check": lambda: serialization.load_pem_private_key(pem_key, None),
    }
    for work in variants.values():
        work()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, work in variants.items():
            start = time.thread_time()
            for _ in range(repeat):
                work()
            samples[name].append((time.thread_time() - start) / repeat * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from anpr_client.soap.bundle import get_bundle

    plain, checked = precheck_overhead()
    print(
        f"prepare 3002 (unsigned), thread CPU: {plain:.3f} ms without the pre-send checks, "
        f"{checked:.3f} ms with them: +{(checked / plain - 1) * 100:.0f} % (goal <= +30 %)"
    )
    cpu = import_cpu()
    print("start-up, child CPU ms (user + system, best of 7, interleaved):")
    for name, value in cpu.items():
        print(f"  {name:<32} {value:7.1f}")
    print(
        f"  import anpr_client / import zeep = {cpu['import anpr_client'] / cpu['import zeep']:.2f}"
        f" (goal <= 0.7); anpr --help / import anpr_client = "
        f"{cpu['anpr --help'] / cpu['import anpr_client']:.2f} (goal <= 1.2)"
    )
    built = construction_per_comune()
    check = built["one RSA key self-check"]
    print("client construction per Comune, keys from files the settings name (thread CPU ms):")
    for name in ("PEM keys", "PKCS#12 keys"):
        print(
            f"  {name:<14} {built[name]:7.2f} ms = {built[name] / check:5.2f}x one RSA key "
            f"self-check ({check:.1f} ms; goal <= 5 ms)"
        )
    families = sorted(get_bundle().families)
    print("cold first use per family (ms, median of 5 fresh processes; imports excluded)")
    print(
        f"{'family':<10}{'scan':>8}{'model':>8}{'schema':>8}{'client':>8}{'total':>8}{'again':>8}"
    )
    worst = 0.0
    for fam in families:
        r = cold(fam)
        total = r["scan"] + r["model"] + r["schema"] + r["client"]
        worst = max(worst, total)
        print(
            f"{fam:<10}{r['scan']:>8.1f}{r['model']:>8.1f}{r['schema']:>8.1f}"
            f"{r['client']:>8.2f}{total:>8.1f}{r['again']:>8.3f}"
        )
    print(f"worst family: {worst:.1f} ms (goal <= 25 ms)")
    z = zeep_cold()
    print(f"for comparison, zeep: import {z[0]:.0f} ms, then Document of family 3000 {z[1]:.1f} ms")
    ours, zeep = build_vs_zeep()
    print(
        f"3002 request build, median: ours {ours:.3f} ms (incl. XSD validation) | "
        f"zeep create_message {zeep:.3f} ms | ratio {zeep / ours:.2f}x"
    )
    imports = import_costs()
    print(
        f"import anpr_client {imports['anpr_client']:.0f} ms (no family's models); then the "
        f"3000 models (with the shared ones) {imports['models_3000']:.0f} ms, once per process"
    )
    print("typed_call against client.call, client CPU per call (best of alternating blocks)")
    for label, (plain, typed, paired) in typed_vs_call().items():
        print(
            f"  {label:<34} client.call {plain:.3f} ms | typed_call {typed:.3f} ms | "
            f"ratio of the bests {typed / plain:.3f}, median of paired rounds {paired:.3f} "
            "(goal <= 1.10)"
        )


if __name__ == "__main__":
    main()
