"""Request build + XSD check against a minimal builder; prints figures and ratios, asserts none.

    python bench/bench_build.py [--rounds N] [--repeat-3002 N] [--repeat-5001 N]

Issue 18's row "build + XSD": the library turning a request payload into XSD-checked request
XML, against the floor "minimal builder + validate". Two requests:

- **3002**, the lookup of ``bench_client.build_vs_zeep`` (goal ≤ 2×);
- **5001 with 1000 members**: a change of composition (``tipoMutazione`` 2) of a convivenza of
  1000 persons, each with codice fiscale, names, sex, birth date and ``legameSoggetto`` (the
  head ``1``, the others ``23`` *convivente*), the shape the simulator's 5001 tests send
  (goal ≤ 1.3×).

**Ours** is :meth:`Binding.build <anpr_client.soap.binding.Binding.build>`, the first half of
``prepare``: payload → ``testataRichiesta`` generated and fitted → encoded in schema order
(:mod:`anpr_client.soap.codec`) → XSD-validated. The **floor** is hand-written lxml of the same
element tree (``etree.Element``/``SubElement`` with the values, the same namespaces and
prefix), then the same compiled ``XMLSchema`` (``Bundle.schema``) validating it. Both sides
leave out the local checks, the envelope, serialisation and the security frame; a second pair
of rows puts the envelope and the bytes on both (ours: ``prepare(sign=False, check=False)``;
floor: the same tree, validated, wrapped in ``soap:Envelope/soap:Body`` and serialised as
``prepare`` does). The testata's id and time are given as header overrides, on both sides, so
the two write the same XML: at start-up the bench checks that the floor's element is ours
(exclusive c14n equal) and its envelope bytes ours, byte for byte.

The clock is this thread's CPU time; the variants run interleaved in rounds in one process and
each ratio is taken per round against the floor measured in the same round (median of rounds;
the range is printed too). ``--variant NAME --calls N`` runs only one function (``ours-3002``,
``floor-3002``, ``ours-5001``, ``floor-5001``) inside ``functools.reduce``, for instruction
counts the machine's load does not move::

    valgrind --tool=callgrind --toggle-collect=functools_reduce \\
        .venv/bin/python bench/bench_build.py --variant ours-5001 --calls 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import random
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from bench_security import cpu_ms  # thread CPU per call, as every bench here measures it
from lxml import etree

from anpr_client.safexml import NS
from anpr_client.settings import ApplicationIdentity, Settings
from anpr_client.soap.binding import Binding
from anpr_client.validation import codicefiscale as cf

APP = ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL")
SETTINGS = Settings(codice_istat="058091", application=APP)
ID = "20261202103000123456ABCD1234"
WHEN = "2026-12-02T10:30:00.123+01:00"
HEADER_3002 = {"idOperazioneComune": ID, "dataOraRichiesta": WHEN}
HEADER_5001 = {**HEADER_3002, "dataDecorrenza": "2026-12-02"}
PAYLOAD_3002 = {  # bench_client.build_vs_zeep's
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}
NS_3000 = "http://sogei.it/ANPR/3000consultazione"
NS_5000 = "http://sogei.it/ANPR/5000mutazione"
_SYLLABLES = ("RO", "MA", "BIAN", "CHI", "FER", "RA", "RI", "ES", "PO", "SI", "TO", "GAL",
              "LO", "CON", "TI", "DE", "LU", "CA", "MAR", "NO", "GRE", "CO", "BRU")  # fmt: skip
_PLACES = ("H501", "F205", "L219", "F839", "A662", "Z110", "Z129", "Z330")


def payload_5001(members: int, seed: int = 1) -> dict[str, Any]:
    """A 5001 composition change of a convivenza of ``members`` distinct persons."""
    rng = random.Random(seed)
    listed = []
    for i in range(members):
        surname = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        sex = rng.choice("MF")
        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30000))
        listed.append(
            {
                "generalita": {
                    "codiceFiscale": {
                        "codFiscale": cf.calc(surname, name, sex, born, rng.choice(_PLACES))
                    },
                    "cognome": surname,
                    "nome": name,
                    "sesso": sex,
                    "dataNascita": born.isoformat(),
                },
                "legameSoggetto": {
                    "dataDecorrenza": "2026-12-02",
                    "codiceLegame": "1" if i == 0 else "23",
                },
            }
        )
    return {
        "famigliaConvivenza": {"idFamigliaConvivenzaANPR": "123456789", "tipoScheda": "3"},
        "elencoSoggettiFamiglia": listed,
        "datiControllo": {"tipoMutazione": "2", "tipoScheda": "1"},
    }


def _testata(root: etree._Element, h: Mapping[str, str], code: str) -> None:
    """The floor's ``testataRichiesta``: the generated fields, in schema order."""
    sub = etree.SubElement
    t = sub(root, "testataRichiesta")
    sub(t, "idOperazioneComune").text = h["idOperazioneComune"]
    sub(t, "codMittente").text = SETTINGS.codice_istat
    sub(t, "codDestinatario").text = SETTINGS.cod_destinatario
    sub(t, "operazioneRichiesta").text = code
    sub(t, "dataOraRichiesta").text = h["dataOraRichiesta"]
    sub(t, "tipoOperazione").text = "C"
    sub(t, "tipoInvio").text = SETTINGS.tipo_invio
    if "dataDecorrenza" in h:
        sub(t, "dataDecorrenza").text = h["dataDecorrenza"]
    sub(t, "nomeApplicativo").text = APP.name
    sub(t, "versioneApplicativo").text = APP.version
    sub(t, "fornitoreApplicativo").text = APP.vendor


def floor_tree_3002(p: Mapping[str, Any]) -> etree._Element:
    sub = etree.SubElement
    root = etree.Element(f"{{{NS_3000}}}Richiesta3002", nsmap={"ns": NS_3000})
    _testata(root, HEADER_3002, "3002")
    sub(sub(root, "criteriRicerca"), "codiceFiscale").text = p["criteriRicerca"]["codiceFiscale"]
    dati, d = sub(root, "datiRichiesta"), p["datiRichiesta"]
    sub(dati, "schedaAnagraficaRichiesta").text = d["schedaAnagraficaRichiesta"]
    sub(dati, "dataRiferimentoRichiesta").text = d["dataRiferimentoRichiesta"]
    return root


def floor_tree_5001(p: Mapping[str, Any]) -> etree._Element:
    sub = etree.SubElement
    root = etree.Element(f"{{{NS_5000}}}Richiesta5001", nsmap={"ns": NS_5000})
    _testata(root, HEADER_5001, "5001")
    fam, f = sub(root, "famigliaConvivenza"), p["famigliaConvivenza"]
    sub(fam, "idFamigliaConvivenzaANPR").text = f["idFamigliaConvivenzaANPR"]
    sub(fam, "tipoScheda").text = f["tipoScheda"]
    for m in p["elencoSoggettiFamiglia"]:
        el = sub(root, "elencoSoggettiFamiglia")
        gen, g = sub(el, "generalita"), m["generalita"]
        sub(sub(gen, "codiceFiscale"), "codFiscale").text = g["codiceFiscale"]["codFiscale"]
        sub(gen, "cognome").text = g["cognome"]
        sub(gen, "nome").text = g["nome"]
        sub(gen, "sesso").text = g["sesso"]
        sub(gen, "dataNascita").text = g["dataNascita"]
        leg, legame = sub(el, "legameSoggetto"), m["legameSoggetto"]
        sub(leg, "dataDecorrenza").text = legame["dataDecorrenza"]
        sub(leg, "codiceLegame").text = legame["codiceLegame"]
    ctl, c = sub(root, "datiControllo"), p["datiControllo"]
    sub(ctl, "tipoMutazione").text = c["tipoMutazione"]
    sub(ctl, "tipoScheda").text = c["tipoScheda"]
    return root


def _validated(schema: etree.XMLSchema, root: etree._Element) -> etree._Element:
    if not schema.validate(root):
        raise ValueError(f"the floor's tree is not valid: {schema.error_log}")
    return root


def _envelope_bytes(root: etree._Element) -> bytes:
    """``soap:Envelope/soap:Body/root`` serialised as ``prepare`` does."""
    env = etree.Element(f"{{{NS['soap']}}}Envelope", nsmap={"soap": NS["soap"]})
    etree.SubElement(env, f"{{{NS['soap']}}}Body").append(root)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True)


Variants = dict[str, tuple[Callable[[], object], str | None]]


def variants(binding: Binding, members: int) -> Variants:
    """Each row's function and the floor it is compared with, checked equal at start-up."""
    big = payload_5001(members)
    out: Variants = {}
    cases = (
        ("3002", PAYLOAD_3002, HEADER_3002, floor_tree_3002),
        (f"5001 x {members}", big, HEADER_5001, floor_tree_5001),
    )
    for label, payload, header, tree in cases:
        code = label[:4]
        schema = binding.bundle.schema(binding.operation(code).family)

        def ours(c: str = code, p: Mapping[str, Any] = payload, h: Any = header) -> object:
            return binding.build(c, p, header=h)[0]

        def floor(
            s: etree.XMLSchema = schema, p: Mapping[str, Any] = payload, t: Any = tree
        ) -> object:
            return _validated(s, t(p))

        def ours_bytes(c: str = code, p: Mapping[str, Any] = payload, h: Any = header) -> object:
            return binding.prepare(c, p, header=h, sign=False, check=False).envelope

        def floor_bytes(
            s: etree.XMLSchema = schema, p: Mapping[str, Any] = payload, t: Any = tree
        ) -> object:
            return _envelope_bytes(_validated(s, t(p)))

        built, hand = binding.build(code, payload, header=header)[0], floor()
        assert isinstance(hand, etree._Element)
        if _c14n(built) != _c14n(hand):
            raise SystemExit(f"{label}: the floor does not build our XML:\n{_c14n(hand)!r}")
        if ours_bytes() != floor_bytes():
            raise SystemExit(f"{label}: the floor's envelope bytes are not ours")
        out[f"floor: {label} build + validate"] = (floor, None)
        out[f"ours:  {label} Binding.build"] = (ours, f"floor: {label} build + validate")
        out[f"floor: {label} + envelope, bytes"] = (floor_bytes, None)
        out[f"ours:  {label} prepare(sign=False)"] = (
            ours_bytes,
            f"floor: {label} + envelope, bytes",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat-3002", type=int, default=300)
    parser.add_argument("--repeat-5001", type=int, default=4)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--variant", help="ours-3002, floor-3002, ours-5001 or floor-5001")
    parser.add_argument("--calls", type=int, default=100, help="with --variant: how many calls")
    args = parser.parse_args()
    binding = Binding(SETTINGS)
    rows = variants(binding, args.members)
    print("checked: each floor builds our XML (exclusive c14n) and our envelope bytes")
    if args.variant:
        chosen = {
            f"{side}-{c}": fn
            for name, (fn, _) in rows.items()
            for side, c in [(name.split(":")[0], name.split()[1])]
            if name.endswith(("Binding.build", "build + validate"))
        }
        if args.variant not in chosen:
            print(f"--variant: one of {', '.join(chosen)}")
            return
        only = chosen[args.variant]
        for _ in range(3):
            only()  # warm-up, outside the counted calls
        functools.reduce(lambda _, __: only(), range(args.calls), None)
        return
    for fn, _ in rows.values():
        for _ in range(3):
            fn()  # warm-up: models, schemas, caches
    absolute: dict[str, list[float]] = {name: [] for name in rows}
    ratios: dict[str, list[float]] = {name: [] for name, (_, f) in rows.items() if f}
    for _ in range(args.rounds):
        measured = {}
        for name, (fn, _) in rows.items():
            repeat = args.repeat_3002 if " 3002 " in name else args.repeat_5001
            measured[name] = cpu_ms(fn, repeat)
            absolute[name].append(measured[name])
        for name, (_, floor) in rows.items():
            if floor is not None:
                ratios[name].append(measured[name] / measured[floor])
    print(f"thread CPU ms per call, median of {args.rounds} rounds:")
    width = max(len(name) for name in rows)
    for name, (_, floor) in rows.items():
        line = f"  {name:<{width}}  {statistics.median(absolute[name]):8.3f}"
        if floor is not None:
            r = ratios[name]
            line += f"  = {statistics.median(r):5.2f}x floor (rounds {min(r):.2f}-{max(r):.2f})"
        print(line)
    goals = {"3002": 2.0, "5001": 1.3}
    for name in ratios:
        if name.endswith("Binding.build"):
            code = name.split()[1]
            print(
                f"build + XSD, {name[7:-14]} / minimal builder + validate = "
                f"{statistics.median(ratios[name]):5.2f}x   (goal <= {goals[code]}x)"
            )


if __name__ == "__main__":
    main()
