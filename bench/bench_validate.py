"""Pre-transmission checks: records per second, the ratio to xmlschema, memory vs file size.

    python bench/bench_validate.py [--records 100000] [--memory 100000,1000000] [--quick]

Prints:

1. records/s of ``validate_file`` (read CSV → every rule → JSON report) for the **full rule set**
   (ANPR's comuni archive, states and toponym tables when ``$ANPR_REFERENCE_DIR`` or
   ``<repo>/../shared/anpr`` has them, else the bundled samples), in one process pinned to one
   core, best of ``--repeat`` runs, process CPU time as the clock. Goal (issue 18):
   ≥ 100,000 records/s.
2. records/s of validating the same persons one by one with xmlschema against our bundle's
   ``tipoGeneralita`` (XSD rules only: no check character, no Comune at a date), and the ratio.
3. the peak RSS of a fresh process validating 100k, 1M and 3M records, which must stay flat:
   records are streamed and findings spooled to disk. The figure is the child's own high-water
   mark (``VmHWM`` of /proc/self/status, reset at exec): ``ru_maxrss`` of a process started by
   ``subprocess`` carries the parent's peak over the exec (Linux keeps the larger of the two),
   which is what this bench used to print.

Input: every record drawn afresh (no pool cycled: caches would see the same few thousand
persons again and again, which real registries do not offer): surnames and names composed from
syllables, a birth Comune and a date inside its validity, the codice fiscale computed from the
data, addresses and civic numbers varied, ~3% with a planted defect so findings are written.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from anpr_client.validation import codicefiscale as cf
from anpr_client.validation.batch import validate_file
from anpr_client.validation.comuni import ComuniTable
from anpr_client.validation.report import ReportWriter
from anpr_client.validation.rules import PersonChecker
from anpr_client.validation.stati import StatiTable
from anpr_client.validation.toponyms import SpeciesTable

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 1, 15)
COLUMNS = ("codice_fiscale", "cognome", "nome", "sesso", "data_nascita", "luogo_nascita",
           "cittadinanza", "indirizzo", "numero_civico", "comune_residenza")  # fmt: skip
SURNAMES = ("ROSSI", "RUSSO", "FERRARI", "ESPOSITO", "BIANCHI", "ROMANO", "COLOMBO", "RICCI",
            "MARINO", "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "D'AMICO")  # fmt: skip
NAMES = ("MARIO", "GIUSEPPE", "MARIA GRAZIA", "ANNA", "LUCA", "FRANCESCA", "NICOLÒ", "ELENA",
         "GIANFRANCO", "IDA", "PAOLO", "CHIARA")  # fmt: skip
STREETS = ("VIA GIUSEPPE GARIBALDI", "VIA ROMA", "PIAZZA DEL POPOLO", "CORSO ITALIA",
           "VIALE DEI MILLE", "LARGO XX SETTEMBRE", "VICOLO STRETTO")  # fmt: skip


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _reference() -> Path | None:
    base = Path(os.environ.get("ANPR_REFERENCE_DIR", ROOT.parent / "shared" / "anpr"))
    return base if (base / "tables" / "ANPR_archivio_comuni.csv").is_file() else None


def checker() -> tuple[PersonChecker, str]:
    """The checker with ANPR's tables if the reference files are here, else the samples."""
    ref = _reference()
    if ref is None:
        return PersonChecker(today=TODAY), "bundled samples (set ANPR_REFERENCE_DIR)"
    tables = ref / "tables"
    species = tables / "xlsx" / "tab_tabella_04___specie_toponimo.xlsx"
    return (
        PersonChecker(
            comuni=ComuniTable.from_file(tables / "ANPR_archivio_comuni.csv"),
            stati=StatiTable.from_file(tables / "xlsx" / "tab_Stati_Esteri.xlsx"),
            species=SpeciesTable.from_file(species),
            today=TODAY,
        ),
        f"ANPR's tables from {tables}",
    )


_SYLLABLES = ("RO", "MA", "BIAN", "CHI", "FER", "RA", "RI", "ES", "PO", "SI", "TO", "GAL",
              "LO", "CON", "TI", "DE", "LU", "CA", "MAR", "TI", "NO", "GRE", "CO", "BRU",
              "ZAN", "NEL", "LI", "PAS", "QUA", "LE", "VIT", "TO", "RIA")  # fmt: skip
_PARTICLES = ("", "", "", "", "", "", "DE ", "DI ", "D'", "LA ", "DEL ")


class People:
    """An endless stream of distinct, realistic persons (see the module docstring)."""

    def __init__(self, check: PersonChecker, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.first, self.last = date(1920, 1, 1), date(2024, 12, 31)
        self.periods = [
            c
            for c in check.comuni
            if c.valid_to >= self.first
            and c.valid_from <= self.last
            and re.fullmatch(r"[A-Z]\d{3}", c.cadastral)
        ]
        self.active = [c for c in check.comuni if c.valid_on(TODAY)]
        self.count = 0

    def _word(self, low: int, high: int) -> str:
        rng = self.rng
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(low, high)))

    def __next__(self) -> dict[str, str]:
        rng, i = self.rng, self.count
        self.count += 1
        comune = rng.choice(self.periods)
        start, end = max(comune.valid_from, self.first), min(comune.valid_to, self.last)
        born = start + timedelta(days=rng.randrange((end - start).days + 1))
        surname = rng.choice(_PARTICLES) + self._word(2, 4)
        name = self._word(2, 3) + (" " + self._word(2, 3) if rng.random() < 0.15 else "")
        sex = rng.choice("MF")
        street = rng.choice(STREETS).rsplit(" ", 1)[0] + " " + self._word(2, 4)
        person = {
            "codice_fiscale": cf.calc(surname, name, sex, born, comune.cadastral),
            "cognome": surname,
            "nome": name,
            "sesso": sex,
            "data_nascita": born.isoformat(),
            "luogo_nascita": comune.istat,
            "cittadinanza": "100",
            "indirizzo": street,
            "numero_civico": str(rng.randrange(1, 300)) + rng.choice(("", "", "", "/A", " BIS")),
            "comune_residenza": rng.choice(self.active).istat,
        }
        if i % 33 == 0:  # ~3% defects: a wrong check character or a wrong sex
            if i % 2:
                person["sesso"] = "F" if sex == "M" else "M"
            else:
                code = person["codice_fiscale"]
                person["codice_fiscale"] = code[:15] + ("A" if code[15] != "A" else "B")
        return person

    def __iter__(self) -> People:
        return self


def people(check: PersonChecker, n: int, seed: int = 1) -> list[dict[str, str]]:
    stream = People(check, seed)
    return [next(stream) for _ in range(n)]


def write_csv(path: Path, check: PersonChecker, n: int, seed: int = 1) -> None:
    """``n`` distinct persons, generated as they are written (memory stays small)."""
    stream = People(check, seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for _ in range(n):
            person = next(stream)
            writer.writerow([person[c] for c in COLUMNS])


def _own_peak_kb() -> int:
    """This process's own peak RSS since its exec (KiB): VmHWM, else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_batch(path: Path) -> tuple[int, float, dict[str, int]]:
    check, _ = checker()
    with tempfile.TemporaryDirectory() as tmp:
        report = ReportWriter(json_path=Path(tmp) / "report.json", source=path.name)
        t0 = time.process_time()  # CPU time: the machine's other load does not count
        result = validate_file(path, checker=check, report=report)
        elapsed = time.process_time() - t0
    return result.records, elapsed, result.summary


_WRAPPER = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:t="http://sogei.it/ANPR/tipoDato" targetNamespace="urn:bench"
  elementFormDefault="unqualified">
  <xs:import namespace="http://sogei.it/ANPR/tipoDato" schemaLocation="{location}"/>
  <xs:element name="persona" type="t:tipoGeneralita"/>
</xs:schema>"""


def xmlschema_rate(pool: list[dict[str, str]], n: int) -> float:
    import xmlschema

    from anpr_client.validation.fields import tipo_dato_path

    with tempfile.TemporaryDirectory() as tmp:
        wrapper = Path(tmp) / "wrapper.xsd"
        wrapper.write_text(_WRAPPER.format(location=tipo_dato_path().as_uri()), encoding="utf-8")
        schema = xmlschema.XMLSchema(str(wrapper))
    docs = []
    for p in pool[:n]:
        e = {k: escape(v) for k, v in p.items()}
        docs.append(
            '<b:persona xmlns:b="urn:bench">'
            f"<codiceFiscale><codFiscale>{e['codice_fiscale']}</codFiscale></codiceFiscale>"
            f"<cognome>{e['cognome']}</cognome><nome>{e['nome']}</nome><sesso>{e['sesso']}</sesso>"
            f"<dataNascita>{e['data_nascita']}</dataNascita><luogoNascita><comune>"
            f"<nomeComune>X</nomeComune><codiceIstat>{e['luogo_nascita']}</codiceIstat>"
            "<siglaProvinciaIstat>XX</siglaProvinciaIstat></comune></luogoNascita>"
            "</b:persona>"
        )
    t0 = time.process_time()
    for doc in docs:
        schema.is_valid(doc)
    return len(docs) / (time.process_time() - t0)


def child(path: str) -> None:
    """Run in a fresh process: validate ``path``, print records, seconds and peak RSS."""
    _pin_one_core()
    records, elapsed, _ = run_batch(Path(path))
    peak_kb = _own_peak_kb()
    print(json.dumps({"records": records, "seconds": elapsed, "peak_kb": peak_kb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--memory", default="100000,1000000,3000000", help="sizes for the memory runs"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is reported)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.quick:
        args.records, args.memory = 20_000, "20000,100000"
    _pin_one_core()
    check, source = checker()
    print(f"tables: {source}")
    pool = people(check, 1_000, seed=2)  # for the xmlschema comparison
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.csv"
        write_csv(path, check, args.records)
        run_batch(path)  # warm-up: lazy imports, XSD rules, caches
        runs = [run_batch(path) for _ in range(args.repeat)]
        records, _, summary = runs[0]
        rates = sorted(r[0] / r[1] for r in runs)
        ours, median = rates[-1], rates[len(rates) // 2]
        print(f"full rule set, one core: {records:,} records, best of {len(runs)} = "
              f"{ours:,.0f} records/s (median {median:,.0f}; goal >= 100,000)")  # fmt: skip
        print(f"  findings by code: {json.dumps(summary)}")
        theirs = max(xmlschema_rate(pool, 1_000) for _ in range(args.repeat))
        print(f"xmlschema, one record at a time (XSD rules only), best: {theirs:,.0f} records/s")
        print(f"  ratio: {ours / theirs:,.1f}x")
        sizes = [int(s) for s in args.memory.split(",")]
        peaks = []
        for size in sizes:
            big = Path(tmp) / f"registry-{size}.csv"
            write_csv(big, check, size, seed=3)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(big)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            peaks.append(figures["peak_kb"])
            big.unlink()
            rate = figures["records"] / figures["seconds"]
            print(
                f"memory: {figures['records']:>9,} records -> peak RSS "
                f"{figures['peak_kb'] / 1024:,.1f} MiB ({rate:,.0f} records/s, no warm-up)"
            )
        if len(peaks) > 1:
            print(f"  peak RSS ratio largest/smallest: {peaks[-1] / peaks[0]:.2f} (flat = ~1.0)")


if __name__ == "__main__":
    main()
