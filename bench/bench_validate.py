"""Pre-transmission checks: records per second, the ratio to xmlschema, memory vs file size.

    python bench/bench_validate.py [--records 100000] [--memory 100000,1000000] [--quick]

Prints:

1. records/s of ``validate_file`` (read CSV → every rule → JSON report) for the **full rule set**
   (ANPR's comuni archive, states and toponym tables when ``$ANPR_REFERENCE_DIR`` or
   ``<repo>/../shared/anpr`` has them, else the bundled samples), in one process pinned to one
   core, best of ``--repeat`` runs (the machine's other load only slows runs down). Goal:
   ≥ 50,000 records/s.
2. records/s of validating the same persons one by one with xmlschema against our bundle's
   ``tipoGeneralita`` (XSD rules only: no check character, no Comune at a date), and the ratio.
3. peak RSS of a fresh process validating 100k and 1M records (ru_maxrss), which must stay flat:
   records are streamed and findings spooled to disk.

Input: persons drawn from the tables (codice fiscale computed from the data, birth dates inside
the birth Comune's validity), ~3% with a planted defect so findings are written too. A pool of
20,000 distinct persons is cycled to write large files quickly.
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


def people(check: PersonChecker, n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    first, last = date(1920, 1, 1), date(2024, 12, 31)
    periods = [
        c
        for c in check.comuni
        if c.valid_to >= first and c.valid_from <= last and re.fullmatch(r"[A-Z]\d{3}", c.cadastral)
    ]
    active = [c for c in check.comuni if c.valid_on(TODAY)]
    out = []
    for i in range(n):
        comune = rng.choice(periods)
        start, end = max(comune.valid_from, first), min(comune.valid_to, last)
        born = start + timedelta(days=rng.randrange((end - start).days + 1))
        surname, name, sex = rng.choice(SURNAMES), rng.choice(NAMES), rng.choice("MF")
        person = {
            "codice_fiscale": cf.calc(surname, name, sex, born, comune.cadastral),
            "cognome": surname,
            "nome": name,
            "sesso": sex,
            "data_nascita": born.isoformat(),
            "luogo_nascita": comune.istat,
            "cittadinanza": "100",
            "indirizzo": rng.choice(STREETS),
            "numero_civico": str(rng.randrange(1, 300)),
            "comune_residenza": rng.choice(active).istat,
        }
        if i % 33 == 0:  # ~3% defects: a wrong check character or a wrong sex
            if i % 2:
                person["sesso"] = "F" if sex == "M" else "M"
            else:
                code = person["codice_fiscale"]
                person["codice_fiscale"] = code[:15] + ("A" if code[15] != "A" else "B")
        out.append(person)
    return out


def write_csv(path: Path, pool: list[dict[str, str]], n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        rows = [[p[c] for c in COLUMNS] for p in pool]
        for i in range(n):
            writer.writerow(rows[i % len(rows)])


def run_batch(path: Path) -> tuple[int, float, dict[str, int]]:
    check, _ = checker()
    with tempfile.TemporaryDirectory() as tmp:
        report = ReportWriter(json_path=Path(tmp) / "report.json", source=path.name)
        t0 = time.perf_counter()
        result = validate_file(path, checker=check, report=report)
        elapsed = time.perf_counter() - t0
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
    t0 = time.perf_counter()
    for doc in docs:
        schema.is_valid(doc)
    return len(docs) / (time.perf_counter() - t0)


def child(path: str) -> None:
    """Run in a fresh process: validate ``path``, print records, seconds and peak RSS."""
    _pin_one_core()
    records, elapsed, _ = run_batch(Path(path))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": records, "seconds": elapsed, "peak_kb": peak_kb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--memory", default="100000,1000000", help="sizes for the memory runs")
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
    pool = people(check, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.csv"
        write_csv(path, pool, args.records)
        run_batch(path)  # warm-up: lazy imports, XSD rules, caches
        runs = [run_batch(path) for _ in range(args.repeat)]
        records, _, summary = runs[0]
        rates = sorted(r[0] / r[1] for r in runs)
        ours, median = rates[-1], rates[len(rates) // 2]
        print(f"full rule set, one core: {records:,} records, best of {len(runs)} = "
              f"{ours:,.0f} records/s (median {median:,.0f}; goal >= 50,000)")  # fmt: skip
        print(f"  findings by code: {json.dumps(summary)}")
        theirs = max(xmlschema_rate(pool, 1_000) for _ in range(args.repeat))
        print(f"xmlschema, one record at a time (XSD rules only), best: {theirs:,.0f} records/s")
        print(f"  ratio: {ours / theirs:,.1f}x")
        sizes = [int(s) for s in args.memory.split(",")]
        peaks = []
        for size in sizes:
            big = Path(tmp) / f"registry-{size}.csv"
            write_csv(big, pool, size)
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
