"""The quick path of :meth:`PersonChecker.check` against its full path: the same findings.

The quick path answers "no finding" for a record whose fields are all in their plain, valid
form, and says "not sure" otherwise (then the full path runs). Here a checker whose quick path
always says "not sure" is the reference: on valid records and on records broken in every way
the rules know, both checkers must give the same findings, in the same order, so the quick
path cannot drift from the rules. The quick path must also be taken, or this proves nothing.
"""

from __future__ import annotations

import random
from dataclasses import astuple
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anpr_client.errors.exceptions import ValidationError
from anpr_client.validation import codicefiscale as cf
from anpr_client.validation.comuni import ComuniTable
from anpr_client.validation.rules import BATCH_REQUIRED, PersonChecker
from anpr_client.validation.stati import StatiTable
from anpr_client.validation.toponyms import SpeciesTable

from .conftest import TODAY
from .people import World


class FullOnly(PersonChecker):
    """The reference: the full path for every record."""

    def _plain(self, *args: object) -> bool:
        return False


class Counting(PersonChecker):
    """The checker under test, counting the records its quick path cleared."""

    cleared = 0

    def _plain(self, *args: object) -> bool:
        clear = super()._plain(*args)  # type: ignore[arg-type]
        self.cleared += clear
        return clear


Tables = tuple[ComuniTable, StatiTable, SpeciesTable]


@pytest.fixture(scope="module", params=["samples", "official"])
def tables(request: pytest.FixtureRequest) -> Tables:
    if request.param == "samples":
        return ComuniTable.sample(), StatiTable.sample(), SpeciesTable.sample()
    comuni = request.getfixturevalue("official_comuni")
    stati = request.getfixturevalue("official_stati")
    species = request.getfixturevalue("official_species")
    return comuni, stati, species


def _pair(tables: Tables) -> tuple[Counting, FullOnly]:
    comuni, stati, species = tables
    return (
        Counting(comuni=comuni, stati=stati, species=species, today=TODAY),
        FullOnly(comuni=comuni, stati=stati, species=species, today=TODAY),
    )


_KWARGS: tuple[dict[str, object], ...] = (
    {},
    {"required": frozenset()},
    {"required": frozenset(), "cf_required": False, "precision": "month"},
    {"required": frozenset({"cognome", "nome"}), "paths": {"cognome": "g.cognome"}},
    {"required": BATCH_REQUIRED | {"indirizzo"}},
    {"reference_date": date(1990, 1, 1)},
)
# blanks XSD knows and those it does not, letters the name class refuses, digits of other scripts
_NOISE = " \t\u00a0\u2009'’-./,ÀàÒßŞș٣0123456789AZaz"
_BREAKS = {
    "codice_fiscale": (
        "lower",
        "space",
        "omocodia",
        "check",
        "short",
        "numeric",
        "sex",
        "place",
        "noise",
    ),
    "cognome": ("lower", "space", "blank", "other", "accent", "apostrophe", "long", "noise"),
    "nome": ("lower", "space", "blank", "other", "accent", "noise"),
    "sesso": ("lower", "space", "other", "noise"),
    "data_nascita": ("other", "outside", "future", "impossible", "space", "compact", "noise"),
    "luogo_nascita": ("other", "ceased", "cadastral", "state", "short", "space", "noise"),
    "cittadinanza": ("unknown", "space", "letters", "noise"),
    "indirizzo": (
        "two-word species",
        "species only",
        "double space",
        "trailing",
        "tab",
        "lower",
        "dash",
        "no species",
        "noise",
    ),
    "numero_civico": ("suffix", "lower", "space", "snc", "noise"),
    "comune_residenza": ("ceased", "unknown", "space", "noise"),
}


def _rechecked(first: str) -> str:
    """The first 15 characters with their check character, if they have one."""
    try:
        return first + cf.calc_check_digit(first.upper())
    except ValidationError:
        return first + "A"


def _break(record: dict[str, str], field: str, how: str, world: World, noise: str) -> None:
    value = record.get(field, "")
    rng = world.rng
    if how == "noise":
        record[field] = noise
    elif how == "lower":
        record[field] = value.lower()
    elif how == "space":
        record[field] = f" {value}" if rng.random() < 0.5 else f"{value} "
    elif how == "blank":  # missing, though the codice fiscale carries its XXX
        record[field] = "   "
        code = record.get("codice_fiscale", "")
        if len(code) == 16 and field in ("cognome", "nome"):
            start = 0 if field == "cognome" else 3
            code = code[:start] + "XXX" + code[start + 3 : 15]
            record["codice_fiscale"] = _rechecked(code)
    elif field == "codice_fiscale":
        base = value
        if how == "omocodia" and len(base) == 16:
            record[field] = list(cf.omocodic_variants(base))[rng.randrange(1, 128)]
        elif how == "check":
            record[field] = base[:15] + ("A" if base[15:] != "A" else "B")
        elif how == "short":
            record[field] = base[:15]
        elif how == "numeric":
            record[field] = "12345678903"
        elif how == "sex":
            record["sesso"] = "F" if record.get("sesso") == "M" else "M"
        elif how == "place" and world.periods:
            other = rng.choice(world.periods).cadastral
            record[field] = _rechecked(base[:11] + other)
    elif field in ("cognome", "nome"):
        record[field] = {
            "other": rng.choice(("BIANCHI", "VERDI", "FO", "LI")),
            "accent": value + "À",
            "apostrophe": value + "’S",
            "long": "A" * 81,
        }[how]
    elif field == "sesso":
        record[field] = rng.choice(("N", "X", "MF"))
    elif field == "data_nascita" and how == "outside":
        # a day the birth Comune did not exist (before, after or between its periods), with
        # the codice fiscale computed for it: only the Comune at the date is wrong
        code = record.get("luogo_nascita", "")
        periods = world.comuni.periods(code)
        outside = [
            day
            for c in periods
            for day in (c.valid_from, c.valid_to)
            if date(1900, 1, 1) < day < TODAY
            for day in (day - timedelta(days=1), day + timedelta(days=1))
            if not world.comuni.valid_on(code, day)
        ]
        if outside and len(record.get("codice_fiscale", "")) == 16:
            day = rng.choice(outside)
            record[field] = day.isoformat()
            sex = "F" if record["codice_fiscale"][9] in "4567" else "M"
            record["codice_fiscale"] = cf.calc(
                record["cognome"], record["nome"], sex, day, record["codice_fiscale"][11:15]
            )
    elif field == "data_nascita":
        try:
            born = date.fromisoformat(value)
        except ValueError:  # broken already
            born = TODAY
        record[field] = {
            "other": (born + timedelta(days=rng.randrange(1, 400))).isoformat(),
            "future": (TODAY + timedelta(days=rng.randrange(1, 400))).isoformat(),
            "impossible": rng.choice(("1985-02-30", "1900-02-29", "2023-13-01", "2000-00-10")),
            "compact": value.replace("-", ""),
        }[how]
    elif field == "luogo_nascita":
        if how == "other" and world.periods:
            record[field] = rng.choice(world.periods).istat
        elif how == "ceased" and world.ceased:
            record[field] = rng.choice(world.ceased).istat
        elif how == "cadastral":
            record[field] = record["codice_fiscale"][11:15]
        elif how == "state" and world.states:
            record[field] = rng.choice(world.states).code
        elif how == "short":
            record[field] = value.lstrip("0")
    elif field == "cittadinanza":
        record[field] = {"unknown": "999", "letters": "1OO"}[how]
    elif field == "indirizzo":
        rest = value.partition(" ")[2] or "ROMA"
        record[field] = {
            "two-word species": f"VIA NUOVA {rest}",
            "species only": rng.choice(("VIA", "CORSO -", "VIA -", "CORSO '", "VIA NUOVA")),
            "double space": f"CORSO  {rest}",
            "trailing": f"CORSO {rest} ",
            "tab": f"CORSO\t{rest}",
            "dash": f"CORSO - {rest}",
            "no species": f"XYZZY {rest}",
        }[how]
    elif field == "numero_civico":
        record[field] = {"suffix": "12/a", "snc": "S.N.C."}[how]
    elif field == "comune_residenza":
        if how == "ceased" and world.ceased:
            record[field] = rng.choice(world.ceased).istat
        elif how == "unknown":
            record[field] = "999999"


def _world(tables: Tables, seed: int) -> World:
    comuni, stati, _ = tables
    return World(comuni, stati, random.Random(seed), TODAY)


_WORLDS: dict[int, World] = {}


def _cached_world(tables: Tables) -> World:
    key = id(tables[0])
    if key not in _WORLDS:
        _WORLDS[key] = _world(tables, 0)
    return _WORLDS[key]


def _findings(
    checker: PersonChecker, record: dict[str, str], kwargs: dict[str, object]
) -> list[tuple[object, ...]]:
    return [astuple(f) for f in checker.check(record, **kwargs)]  # type: ignore[arg-type]


def test_valid_records_take_the_quick_path_and_agree(tables: Tables) -> None:
    quick, full = _pair(tables)
    world = _world(tables, 1)
    records = [world.person() for _ in range(600)]
    for record in records:  # first sight: the repeating values are not yet remembered
        assert _findings(quick, record, {}) == _findings(full, record, {})
    quick.cleared = 0
    for record in records:
        assert _findings(quick, record, {}) == _findings(full, record, {}) == []
    # the generator's foreign births (10 %) and its few names the name class refuses take the
    # full path; the rest must be cleared by the quick one
    assert quick.cleared >= len(records) // 2, quick.cleared


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    breaks=st.lists(
        st.sampled_from([(f, how) for f, hows in _BREAKS.items() for how in hows]),
        min_size=0,
        max_size=3,
    ),
    noise=st.text(alphabet=_NOISE, max_size=12),
    kwargs=st.sampled_from(_KWARGS),
    drop=st.sets(st.sampled_from(tuple(_BREAKS)), max_size=2),
    with_name=st.booleans(),
)
def test_broken_records_agree(
    tables: Tables,
    seed: int,
    breaks: list[tuple[str, str]],
    noise: str,
    kwargs: dict[str, object],
    drop: set[str],
    with_name: bool,
) -> None:
    world = _cached_world(tables)
    world.rng.seed(seed)
    record = world.person()
    for field, how in breaks:
        _break(record, field, how, world, noise)
    for field in drop:
        record.pop(field, None)
    if with_name:
        record["luogo_nascita_nome"] = "ROMA"
    quick, full = _quick_full(tables)
    expected = _findings(full, record, kwargs)
    assert _findings(quick, record, kwargs) == expected
    # again, now that the repeating values (citizenship, address, number…) are remembered
    assert _findings(quick, record, kwargs) == expected


_PAIRS: dict[int, tuple[Counting, FullOnly]] = {}


def _quick_full(tables: Tables) -> tuple[Counting, FullOnly]:
    key = id(tables[0])
    if key not in _PAIRS:
        _PAIRS[key] = _pair(tables)
    return _PAIRS[key]


@pytest.mark.parametrize("field", tuple(_BREAKS))
def test_each_break_alone_agrees(tables: Tables, field: str) -> None:
    # every way a field is broken, alone on records otherwise plain and already seen once
    # (so the quick path would clear them but for the break), under every set of arguments
    quick, full = _pair(tables)
    world = _world(tables, 7)
    for seed in range(12):
        for how in _BREAKS[field]:
            world.rng.seed(seed)
            record = world.person(foreign=False)
            for kwargs in _KWARGS:
                quick.check(record, **kwargs)  # type: ignore[arg-type]
            _break(record, field, how, world, "A\t ’" if seed % 2 else "٣٣٣")
            for kwargs in _KWARGS:
                assert _findings(quick, record, kwargs) == _findings(full, record, kwargs), (
                    field,
                    how,
                    seed,
                    kwargs,
                )
