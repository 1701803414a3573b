"""Synthetic persons drawn from ANPR's real tables (for the planted-defect and batch tests)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

from anpr_client.validation import codicefiscale as cf
from anpr_client.validation.comuni import Comune, ComuniTable
from anpr_client.validation.stati import StatiTable, Stato

COLUMNS = (
    "codice_fiscale",
    "cognome",
    "nome",
    "sesso",
    "data_nascita",
    "luogo_nascita",
    "cittadinanza",
    "indirizzo",
    "numero_civico",
    "comune_residenza",
)
SURNAMES = ("ROSSI", "RUSSO", "FERRARI", "ESPOSITO", "BIANCHI", "ROMANO", "COLOMBO", "RICCI",
            "D'AMICO", "DE LUCA", "LO BIANCO", "DELL'ORTO", "NICOLÒ", "FO", "MÜLLER")  # fmt: skip
NAMES = ("MARIO", "GIUSEPPE", "MARIA GRAZIA", "ANNA", "LUCA", "FRANCESCA", "NICOLÒ", "ELENA",
         "GIANFRANCO", "IDA", "JEAN-PIERRE", "ZOË")  # fmt: skip
SPECIES = ("VIA", "VIALE", "PIAZZA", "CORSO", "LARGO", "VICOLO", "LOCALITA'", "STRADA STATALE")
STREETS = ("GIUSEPPE GARIBALDI", "ROMA", "DEI MILLE", "XX SETTEMBRE", "SANT'ANNA", "DEL CORSO")
_CADASTRAL = re.compile(r"[A-Z][0-9]{3}")
FIRST: date = date(1900, 1, 1)
LAST: date = date(2024, 12, 31)


@dataclass
class World:
    """What the generator draws from: the official tables and a random source."""

    comuni: ComuniTable
    stati: StatiTable
    rng: random.Random
    today: date

    def __post_init__(self) -> None:
        self.periods: list[Comune] = [
            c
            for c in self.comuni
            if c.valid_to >= FIRST and c.valid_from <= LAST and _CADASTRAL.fullmatch(c.cadastral)
        ]  # the archive has a few placeholder cadastral codes ("ND"): no CF can carry them
        self.ceased: list[Comune] = [  # codes that never come back (ISTAT reuses some)
            c
            for c in self.periods
            if c.valid_to < LAST
            and max(p.valid_to for p in self.comuni.periods(c.istat)) == c.valid_to
        ]
        self.active: list[Comune] = [c for c in self.comuni if c.valid_on(self.today)]
        self.states: list[Stato] = [s for s in self.stati if s.birth and s.cadastral]

    def day_in(self, start: date, end: date) -> date:
        start, end = max(start, FIRST), min(end, LAST)
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def person(self, *, foreign: bool | None = None) -> dict[str, str]:
        rng = self.rng
        surname, name, sex = rng.choice(SURNAMES), rng.choice(NAMES), rng.choice("MF")
        foreign = rng.random() < 0.1 if foreign is None else foreign
        if foreign:
            state = rng.choice(self.states)
            born = self.day_in(FIRST, LAST)
            place, cadastral, citizenship = state.code, state.cadastral, state.code
        else:
            comune = rng.choice(self.periods)
            born = self.day_in(comune.valid_from, comune.valid_to)
            place, cadastral, citizenship = comune.istat, comune.cadastral, "100"
        return {
            "codice_fiscale": cf.calc(surname, name, sex, born, cadastral),
            "cognome": surname,
            "nome": name,
            "sesso": sex,
            "data_nascita": born.isoformat(),
            "luogo_nascita": place,
            "cittadinanza": citizenship,
            "indirizzo": f"{rng.choice(SPECIES)} {rng.choice(STREETS)}",
            "numero_civico": rng.choice(("1", "12", "7/B", "120 A", "SNC")),
            "comune_residenza": rng.choice(self.active).istat,
        }
