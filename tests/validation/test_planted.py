"""A generated dataset with planted defects yields exactly the planted predicted codes.

Clean persons are drawn from ANPR's real comuni archive and states table (birth dates inside
the birth Comune's validity, codici fiscali computed from the data), so the clean rows also
prove the absence of false positives over real data.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from anpr_client.validation import codicefiscale as cf
from anpr_client.validation.batch import validate_file
from anpr_client.validation.report import ReportWriter
from anpr_client.validation.rules import PersonChecker

from .conftest import TODAY
from .people import COLUMNS, SURNAMES, World

Row = dict[str, str]
Expected = set[tuple[str, str]]
Plant = Callable[[World], tuple[Row | str, Expected]]


def _other_surname(world: World, surname: str) -> str:
    return next(
        s
        for s in world.rng.sample(SURNAMES, len(SURNAMES))
        if cf.surname_code(s) != cf.surname_code(surname)
    )


def cf_checksum(w: World) -> tuple[Row, Expected]:
    p = w.person()
    code = p["codice_fiscale"]
    p["codice_fiscale"] = code[:15] + ("A" if code[15] != "A" else "B")
    return p, {("codice_fiscale", "ENT02")}


def cf_length(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["codice_fiscale"] = p["codice_fiscale"][:14]
    return p, {("codice_fiscale", "EA001")}


def cf_charset(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["codice_fiscale"] = p["codice_fiscale"][:5] + "*" + p["codice_fiscale"][6:]
    return p, {("codice_fiscale", "XSD")}


def surname_mismatch(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["cognome"] = _other_surname(w, p["cognome"])
    return p, {("codice_fiscale", "EAV21")}


def sex_mismatch(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["sesso"] = "F" if p["sesso"] == "M" else "M"
    return p, {("codice_fiscale", "EA042")}


def birthdate_mismatch(w: World) -> tuple[Row, Expected]:
    while True:
        p = w.person(foreign=True)  # a state exists every day: no place finding
        born = date.fromisoformat(p["data_nascita"])
        if born < date(2024, 1, 1):
            p["data_nascita"] = (born + timedelta(days=1)).isoformat()
            return p, {("codice_fiscale", "EA038")}


def cf_of_another_comune(w: World) -> tuple[Row, Expected]:
    while True:
        p = w.person(foreign=False)
        born = date.fromisoformat(p["data_nascita"])
        mine = w.comuni.cadastral_codes(p["luogo_nascita"])
        other = w.rng.choice(w.periods)
        if other.valid_on(born) and not mine & w.comuni.cadastral_codes(other.istat):
            p["luogo_nascita"] = other.istat
            return p, {("codice_fiscale", "EN339")}


def unknown_comune(w: World) -> tuple[Row, Expected]:
    p = w.person(foreign=False)
    p["luogo_nascita"] = "999999"
    return p, {("luogo_nascita", "EN332")}


def comune_not_at_birth(w: World) -> tuple[Row, Expected]:
    comune = w.rng.choice(w.ceased)
    p = w.person(foreign=False)
    born = w.day_in(comune.valid_to + timedelta(days=1), date(2024, 12, 31))
    p.update(
        luogo_nascita=comune.istat,
        data_nascita=born.isoformat(),
        codice_fiscale=cf.calc(p["cognome"], p["nome"], p["sesso"], born, comune.cadastral),
    )
    return p, {("luogo_nascita", "EN338")}


def cf_of_another_state(w: World) -> tuple[Row, Expected]:
    p = w.person(foreign=True)
    state = w.stati.get(p["luogo_nascita"])
    other = next(s for s in w.states if state is not None and s.cadastral != state.cadastral)
    p["luogo_nascita"] = other.code
    return p, {("codice_fiscale", "EN340")}


def italy_as_birth_state(w: World) -> tuple[Row, Expected]:
    p = w.person(foreign=True)
    p["luogo_nascita"] = "100"
    return p, {("luogo_nascita", "EC030")}


def unknown_citizenship(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["cittadinanza"] = "000"
    return p, {("cittadinanza", "EC036")}


def unknown_species(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["indirizzo"] = "XYZ GARIBALDI"
    return p, {("indirizzo", "EC073")}


def name_charset(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["nome"] = "MAR1O"
    return p, {("nome", "XSD")}


def future_birth(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["data_nascita"] = (TODAY + timedelta(days=30)).isoformat()
    return p, {("data_nascita", "ES008")}


def missing_name(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["nome"] = ""
    return p, {("nome", "EN081")}


def bad_house_number(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["numero_civico"] = "dodici"
    return p, {("numero_civico", "XSD")}


def ceased_residence(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["comune_residenza"] = "078108"  # Rossano, merged in 2018
    return p, {("comune_residenza", "EC056")}


def missing_cf(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["codice_fiscale"] = ""
    return p, {("codice_fiscale", "ES070")}


def italian_date(w: World) -> tuple[Row, Expected]:
    p = w.person()
    y, m, d = p["data_nascita"].split("-")
    p["data_nascita"] = f"{d}/{m}/{y}"
    return p, {("data_nascita", "XSD")}


def bad_sex(w: World) -> tuple[Row, Expected]:
    p = w.person()
    p["sesso"] = "X"
    return p, {("sesso", "XSD")}


def unreadable_row(w: World) -> tuple[str, Expected]:
    return "RSSMRA85T10H501O,ROSSI", {("", "INPUT")}


PLANTS: tuple[Plant, ...] = (
    cf_checksum, cf_length, cf_charset, surname_mismatch, sex_mismatch, birthdate_mismatch,
    cf_of_another_comune, unknown_comune, comune_not_at_birth, cf_of_another_state,
    italy_as_birth_state, unknown_citizenship, unknown_species, name_charset, future_birth,
    missing_name, bad_house_number, ceased_residence, missing_cf, italian_date, bad_sex,
    unreadable_row,
)  # fmt: skip


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_planted_defects_give_exactly_the_planted_codes(
    tmp_path: Path, official_checker: PersonChecker, seed: int
) -> None:
    assert official_checker.stati.get("000") is None
    assert official_checker.species.get("XYZ") is None
    world = World(official_checker.comuni, official_checker.stati, random.Random(seed), TODAY)
    expected: dict[int, Expected] = {}
    source = tmp_path / "registry.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        row = 0
        for round_ in range(3):
            for plant in PLANTS:
                for _ in range(4):  # clean rows in between
                    row += 1
                    writer.writerow(world.person())
                row += 1
                planted, codes = plant(world)
                if isinstance(planted, str):
                    fh.write(planted + "\n")
                else:
                    writer.writerow(planted)
                expected[row] = codes
            assert round_ < 3
    report = tmp_path / "report.json"
    result = validate_file(
        source,
        checker=official_checker,
        report=ReportWriter(json_path=report, source=source.name),
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    found: dict[int, Expected] = {}
    for f in data["findings"]:
        found.setdefault(f["row"], set()).add((f["field"], f["code"]))
    assert found == expected
    assert data["records"] == row == result.records
    planted_codes: dict[str, int] = {}
    for codes in expected.values():
        for _, code in codes:
            planted_codes[code] = planted_codes.get(code, 0) + 1
    assert data["summary"] == dict(sorted(planted_codes.items()))
