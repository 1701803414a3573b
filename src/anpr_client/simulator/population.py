"""A fictitious population for the ANPR simulator: households, persons, valid codici fiscali.

:func:`generate_population` builds, for each Comune asked, households of fictitious residents
(:class:`~.household.Household`, the registry's own model, stored as it is):
singles, couples (married, in a civil union or *conviventi*), couples and single parents with
children, a few households with an elderly parent, a few foreign households and some Italians
born abroad. It is deterministic: the same arguments (``seed`` included) give the same
households, ids and codes on every machine and Python version; each Comune draws from its own
random stream, so adding a Comune to the list does not change the others' people (only,
rarely, which of two colliding persons gets the omocodic code, and the ``idANPR`` of the
Comuni listed after it: those are numbered across the population, as the registry numbers
persons).

Every codice fiscale is computed by :mod:`anpr_client.validation.codicefiscale` from the
person's surname, name, sex, birth date and the cadastral code of the birth place **as it was on
the birth date** (a Comune born before 2018 in today's Corigliano-Rossano was born in Rossano or
Corigliano Calabro). Codes are unique in the population: when two persons would get the same
code, the later one gets the Agenzia delle Entrate's *omocodia* variant (the rightmost digit
replaced by its letter of ``LMNPQRSTUV``, then the two rightmost, and so on), check character
recomputed. ``homonyms`` plants that case on purpose: each Comune gets that many single adults
who share surname, name, sex, birth date and birth place with another resident, as happens in
real registries.

Codes used (ANPR's reference tables, see :mod:`.tables`): *stato civile* (table 1), *relazione
di parentela* (table 5), citizenship and foreign birth states by ANPR's three-digit state code
(table 2, ``100`` is Italy). Names, streets and postcodes are small lists written for anpr-client;
the people are invented and any resemblance to a real person's code is a coincidence of the
algorithm.

>>> households = generate_population(["058091"], 20, seed=7)
>>> sum(len(h.members) for h in households)
20
>>> head = households[0].head
>>> from anpr_client.validation import codicefiscale
>>> head.relation, codicefiscale.is_valid(head.codice_fiscale)
('1', True)
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Final, Literal

from ..errors.exceptions import ConfigurationError
from ..validation.codicefiscale import (
    DIGIT_POSITIONS,
    OMOCODIA_LETTERS,
    calc,
    calc_check_digit,
    omocodic_variants,
)
from ..validation.comuni import Comune, ComuniTable
from ..validation.stati import StatiTable, Stato
from .household import ITALY, Address, BirthPlace, Household, Person, anpr_id

__all__ = [
    "DEFAULT_AS_OF",
    "MAX_PERSONS_PER_COMUNE",
    "FiscalCodeAllocator",
    "Progress",
    "generate_population",
    "omocode",
]

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: how far a long piece of work has come (``phase`` names it,
``drawing``, ``coding``, ``storing``); called often, so it should only note the figures."""

Sex = Literal["M", "F"]

DEFAULT_AS_OF: Final = date(2025, 1, 1)
"""The "today" of a generated population: ages and residence dates are relative to it, so the
result does not depend on the day it is generated."""

MAX_PERSONS_PER_COMUNE: Final = 1_000_000
"""Upper bound of ``persons_per_comune`` (ids reserve seven digits per Comune)."""

# Codes of ANPR's table 1 (stato civile).
CELIBE: Final = "1"
CONIUGATO: Final = "2"
VEDOVO: Final = "3"
DIVORZIATO: Final = "4"
UNITO_CIVILMENTE: Final = "6"

# Codes of ANPR's table 5 (relazione di parentela con l'intestatario della scheda).
INTESTATARIO: Final = "1"
CONIUGE: Final = "2"
FIGLIO: Final = "3"
GENITORE: Final = "6"
CONVIVENTE: Final = "23"
UNITO: Final = "28"

_SETTING: Final = "simulator.population"


# --------------------------------------------------------------------------- codici fiscali


def omocode(code: str, level: int) -> str:
    """The ``level``-th omocodic variant of a code: its ``level`` rightmost digits replaced.

    Level 0 is the base code; 1 replaces the last digit of the birth place, 7 every digit. The
    check character is recomputed.

    >>> omocode("RSSMRA85T10H501O", 1)
    'RSSMRA85T10H50MG'
    """
    if not 0 <= level <= len(DIGIT_POSITIONS):
        raise ConfigurationError(
            f"omocodia level {level} is not between 0 and {len(DIGIT_POSITIONS)}",
            setting=_SETTING,
            rule="omocodia level",
        )
    chars = list(code[:15])
    for pos in DIGIT_POSITIONS[len(DIGIT_POSITIONS) - level :]:
        if chars[pos].isdigit():
            chars[pos] = OMOCODIA_LETTERS[int(chars[pos])]
    first = "".join(chars)
    return first + calc_check_digit(first)


class FiscalCodeAllocator:
    """Hands out codici fiscali unique among those it knows, applying omocodia on a collision.

    The first person with given data gets the base code; the next ones get the omocodic variants
    in the Agenzia delle Entrate's order (:func:`omocode` levels 1 to 7), then any other free
    variant. ``taken`` seeds the codes already in use (e.g. a registry's residents).
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(taken)

    def __contains__(self, code: object) -> bool:
        return code in self._taken

    def __len__(self) -> int:
        return len(self._taken)

    def allocate(self, surname: str, name: str, sex: Sex, birth_date: date, cadastral: str) -> str:
        """The code for this person, unique among the allocated ones (and now taken)."""
        base = calc(surname, name, sex, birth_date, cadastral)
        for candidate in self._candidates(base):
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise ConfigurationError(  # 128 persons with identical data: not a plausible population
            f"all 128 codici fiscali of {base} are taken", setting=_SETTING, rule="omocodia"
        )

    @staticmethod
    def _candidates(base: str) -> Iterator[str]:
        for level in range(len(DIGIT_POSITIONS) + 1):
            yield omocode(base, level)
        yield from omocodic_variants(base)


# --------------------------------------------------------------------------- authored lists

# Common Italian surnames (a few with an apostrophe, a space or only two letters).
_SURNAMES: Final = (
    "ROSSI", "RUSSO", "FERRARI", "ESPOSITO", "BIANCHI", "ROMANO", "COLOMBO", "RICCI", "MARINO",
    "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA", "GIORDANO", "RIZZO",
    "LOMBARDI", "MORETTI", "BARBIERI", "FONTANA", "SANTORO", "MARIANI", "RINALDI", "CARUSO",
    "FERRARA", "GALLI", "MARTINI", "LEONE", "LONGO", "GENTILE", "MARTINELLI", "VITALE",
    "LOMBARDO", "SERRA", "COPPOLA", "DE SANTIS", "D'ANGELO", "MARCHETTI", "PARISI", "VILLA",
    "CONTE", "FERRO", "FABBRI", "BIANCO", "MARINI", "GRASSO", "VALENTINI", "MESSINA", "SALA",
    "DE ANGELIS", "GATTI", "PELLEGRINI", "PALUMBO", "SANNA", "FARINA", "MONTI", "CATTANEO",
    "MORELLI", "AMATO", "SILVESTRI", "MAZZA", "TESTA", "DELL'ACQUA", "FO", "ORLANDO", "BASILE",
)  # fmt: skip

# First names: "classic" ones for people born before about 1975, "modern" ones after.
_MALE_CLASSIC: Final = (
    "GIUSEPPE", "GIOVANNI", "ANTONIO", "MARIO", "LUIGI", "FRANCESCO", "ANGELO", "VINCENZO",
    "PIETRO", "SALVATORE", "CARLO", "FRANCO", "DOMENICO", "BRUNO", "PAOLO", "MICHELE",
    "GIORGIO", "ALDO", "SERGIO", "LUCIANO", "ROBERTO", "UGO", "PIER PAOLO", "RENATO",
)  # fmt: skip
_MALE_MODERN: Final = (
    "ALESSANDRO", "LUCA", "MARCO", "ANDREA", "MATTEO", "LORENZO", "LEONARDO", "FRANCESCO",
    "TOMMASO", "RICCARDO", "EDOARDO", "GABRIELE", "DAVIDE", "FEDERICO", "NICOLÒ", "GIAN LUCA",
    "STEFANO", "SIMONE", "EMANUELE", "MATTIA", "DIEGO", "PIETRO", "ELIA", "SAMUELE",
)  # fmt: skip
_FEMALE_CLASSIC: Final = (
    "MARIA", "ANNA", "GIUSEPPINA", "ROSA", "ANGELA", "GIOVANNA", "TERESA", "LUCIA", "CARMELA",
    "CATERINA", "FRANCESCA", "ANNA MARIA", "LUISA", "PAOLA", "RITA", "FRANCA", "ADA",
    "MARIA GRAZIA", "GABRIELLA", "PATRIZIA", "ELENA", "LAURA", "DONATELLA", "ORNELLA",
)  # fmt: skip
_FEMALE_MODERN: Final = (
    "GIULIA", "CHIARA", "SARA", "FEDERICA", "VALENTINA", "SILVIA", "MARTINA", "SOFIA", "AURORA",
    "GINEVRA", "ALICE", "EMMA", "GIORGIA", "BEATRICE", "ILARIA", "EVA", "GRETA", "NOEMI",
    "ELISA", "FRANCESCA", "ANNA", "VITTORIA", "MATILDE", "BIANCA",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Origin:
    """A foreign community: its state (ANPR code) and a few of its usual names."""

    state: str
    surnames: tuple[str, ...]
    male: tuple[str, ...]
    female: tuple[str, ...]


_FOREIGN_ORIGINS: Final = (
    _Origin("235", ("POPESCU", "IONESCU", "POPA", "STAN", "DUMITRU"),
            ("ANDREI", "MIHAI", "ION", "ALEXANDRU"), ("ELENA", "IOANA", "ANDREEA", "MIHAELA")),
    _Origin("201", ("HOXHA", "SHEHU", "KOLA", "PRIFTI"),
            ("ARBEN", "ERION", "GENTI", "ILIR"), ("ELIRA", "BLERINA", "ANILA", "ERJONA")),
    _Origin("436", ("EL AMRANI", "BENALI", "EL IDRISSI", "BOUZID"),
            ("YOUSSEF", "MOHAMED", "KARIM", "HAMZA"), ("FATIMA", "KHADIJA", "NADIA", "SALMA")),
    _Origin("314", ("CHEN", "WANG", "LI", "ZHANG", "HU"),
            ("WEI", "JUN", "HAO", "MING"), ("LI", "MEI", "XIU", "YAN")),
)  # fmt: skip

# States where some Italian residents were born (emigrants' children who came back).
_ITALIAN_BIRTH_STATES: Final = ("241", "216", "215", "602", "536", "203")

_SPECIES: Final = (("VIA", 14), ("PIAZZA", 2), ("VIALE", 2), ("CORSO", 1), ("LARGO", 1),
                   ("VICOLO", 1))  # fmt: skip
_STREETS: Final = (
    "GIUSEPPE GARIBALDI", "ROMA", "DANTE ALIGHIERI", "GIUSEPPE MAZZINI", "CAMILLO CAVOUR",
    "XX SETTEMBRE", "DELLA REPUBBLICA", "VITTORIO EMANUELE II", "DEI MILLE", "GIACOMO MATTEOTTI",
    "GUGLIELMO MARCONI", "DELLA LIBERTA'", "SAN FRANCESCO", "DEL MERCATO", "DEGLI ALPINI",
    "ALESSANDRO MANZONI", "GIOSUE' CARDUCCI", "DELLE ROSE", "DEI PINI", "IV NOVEMBRE",
    "ANTONIO GRAMSCI", "ALDO MORO", "DELLA STAZIONE", "SANTA MARIA", "GIUSEPPE VERDI",
    "NAZIONALE", "DEL LAVORO", "DEI CADUTI", "LUIGI PIRANDELLO", "GALILEO GALILEI",
)  # fmt: skip

# Postcodes of the Comuni of the sample table (a few per city; one for smaller Comuni).
_CAP: Final = {
    "058091": ("00118", "00135", "00144", "00153", "00162", "00175", "00184", "00197"),
    "015146": ("20121", "20123", "20135", "20144", "20152", "20159"),
    "037006": ("40121", "40125", "40133", "40139"),
    "063049": ("80121", "80134", "80138", "80143"),
    "001272": ("10121", "10128", "10138", "10153"),
    "048017": ("50121", "50127", "50136", "50142"),
    "082053": ("90121", "90133", "90141", "90145"),
    "028001": ("35031",),
    "078157": ("87064", "87067"),
    "098001": ("26834",),
    "021008": ("39100",),
}
_SPACING: Final = 330
"""Days between the births of two siblings (twins aside)."""
_UNKNOWN_CAP: Final = "00000"
"""Postcode of a Comune missing from :data:`_CAP` (not a real CAP; the simulator accepts it)."""


# --------------------------------------------------------------------------- generation


@dataclass(slots=True)
class _Draft:
    """A person before the code is allocated (mutable while the household is built)."""

    surname: str
    name: str
    sex: Sex
    birth_date: date
    citizenship: str
    marital_status: str
    relation: str
    origin: _Origin | None = None
    birth_place: BirthPlace | None = None


@dataclass(slots=True)
class _HouseholdDraft:
    members: list[_Draft]
    since: date
    address: Address


@dataclass(slots=True)
class _Context:
    """Everything one Comune's generation needs (one random stream per Comune)."""

    rng: random.Random
    istat: str
    residence: Comune
    comuni: ComuniTable
    periods: Sequence[Comune]
    italian_born_abroad: Sequence[Stato]
    origins: Sequence[tuple[_Origin, Stato]]
    as_of: date
    adults: list[_Draft] = field(default_factory=list)


def generate_population(
    comuni: Sequence[str],
    persons_per_comune: int,
    *,
    seed: int = 42,
    as_of: date = DEFAULT_AS_OF,
    homonyms: int = 1,
    table: ComuniTable | None = None,
    stati: StatiTable | None = None,
    taken: Iterable[str] = (),
    progress: Progress | None = None,
) -> list[Household]:
    """Households of fictitious residents: exactly ``persons_per_comune`` persons per Comune.

    ``comuni`` are ISTAT codes of Comuni existing on ``as_of`` in ``table`` (default: the sample
    table shipped with anpr-client, which has Roma ``058091`` and Milano ``015146``); ``stati``
    gives the foreign states (default: the shipped sample). ``homonyms`` single adults per
    Comune copy another resident's personal data, so that omocodia is exercised; ``taken`` are
    codici fiscali already in use (they are avoided, omocodia applied). Households come in the
    order of ``comuni``; ids and codes are stable for the same arguments. ``progress`` is told
    ``(phase, persons done, persons in all)`` as households are drawn (``drawing``) and their
    members get their codici fiscali (``coding``).

    Raises :class:`~anpr_client.errors.ConfigurationError` for an unknown or ceased Comune
    or a count out of range.
    """
    if not 0 <= persons_per_comune <= MAX_PERSONS_PER_COMUNE:
        raise ConfigurationError(
            f"persons_per_comune must be between 0 and {MAX_PERSONS_PER_COMUNE}, "
            f"not {persons_per_comune}",
            setting=f"{_SETTING}.persons_per_comune",
            rule="range",
        )
    if homonyms < 0:
        raise ConfigurationError(
            f"homonyms must not be negative, not {homonyms}",
            setting=f"{_SETTING}.homonyms",
            rule="range",
        )
    if isinstance(comuni, str):
        raise ConfigurationError(
            f"comuni must be a list of ISTAT codes, not the string {comuni!r}",
            setting=f"{_SETTING}.comuni",
            rule="list",
        )
    if len(set(comuni)) != len(comuni):
        raise ConfigurationError(
            "a Comune is listed twice", setting=f"{_SETTING}.comuni", rule="unique"
        )
    table = table if table is not None else ComuniTable.sample()
    stati = stati if stati is not None else StatiTable.sample()
    periods = tuple(table)
    born_abroad = [s for code in _ITALIAN_BIRTH_STATES if (s := _birth_state(stati, code))]
    origins = [(o, s) for o in _FOREIGN_ORIGINS if (s := _birth_state(stati, o.state))]
    allocator = FiscalCodeAllocator(taken)
    households: list[Household] = []
    numbers = itertools.count()  # the persons' idANPR, numbered as the registry numbers them
    total = persons_per_comune * len(comuni)
    drawn, coded = _Ticker(progress, "drawing", total), _Ticker(progress, "coding", total)
    for istat in comuni:
        residence = table.at(istat, as_of)
        if residence is None:
            known = "ceased or not yet founded" if table.periods(istat) else "unknown"
            raise ConfigurationError(
                f"Comune {istat!r} is {known} on {as_of.isoformat()} in {table.source}",
                setting=f"{_SETTING}.comuni",
                rule="Comune existing on as_of",
            )
        ctx = _Context(
            rng=random.Random(f"anpr-client population {seed} {istat}"),  # noqa: S311 - test data
            istat=istat,
            residence=residence,
            comuni=table,
            periods=periods,
            italian_born_abroad=born_abroad,
            origins=origins,
            as_of=as_of,
        )
        drafts = _comune_drafts(ctx, persons_per_comune, homonyms, drawn)
        households.extend(_finish(ctx, drafts, allocator, numbers, coded))
    return households


class _Ticker:
    """Counts work done for a :data:`Progress` callback (nothing without one)."""

    __slots__ = ("count", "phase", "progress", "total")

    def __init__(self, progress: Progress | None, phase: str, total: int):
        self.progress, self.phase, self.total, self.count = progress, phase, total, 0

    def add(self, amount: int) -> None:
        if self.progress is not None:
            self.count += amount
            self.progress(self.phase, self.count, self.total)


def _birth_state(stati: StatiTable, code: str) -> Stato | None:
    state = stati.get(code)
    if state is None or not state.cadastral or not state.allows("birth"):
        return None
    return state


def _comune_drafts(
    ctx: _Context, budget: int, homonyms: int, tick: _Ticker
) -> list[_HouseholdDraft]:
    drafts: list[_HouseholdDraft] = []
    planted = 0
    remaining = budget
    while remaining > 0:
        if planted < homonyms and ctx.adults and remaining <= budget // 2:
            household = _homonym_single(ctx)
            planted += 1
        else:
            household = _household(ctx, remaining)
        drafts.append(household)
        remaining -= len(household.members)
        tick.add(len(household.members))
    return drafts


def _household(ctx: _Context, remaining: int) -> _HouseholdDraft:
    rng = ctx.rng
    kind = rng.choices(
        ("single", "couple", "children", "single_parent", "with_parent"),
        weights=(30, 20, 35, 10, 5),
    )[0]
    origin = rng.choice(ctx.origins)[0] if ctx.origins and rng.random() < 0.08 else None
    max_size = remaining
    if kind == "single" or max_size == 1:
        members = [_single(ctx, origin)]
    elif kind == "couple" or max_size == 2:
        members = _couple(ctx, origin, children=0)
    elif kind == "single_parent":
        members = _single_parent(ctx, origin, max_children=min(3, max_size - 1))
    elif kind == "with_parent":
        members = _couple(ctx, origin, children=0)
        if _age(members[0].birth_date, ctx.as_of) <= 70:  # the parent is at most 98
            members.append(_parent_of(ctx, members[0]))
    else:
        members = _couple(ctx, origin, children=min(rng.choice((1, 1, 2, 2, 2, 3, 4)),
                                                    max_size - 2))  # fmt: skip
    members = members[:max_size]
    since = _moved_in(ctx, members)
    for person in members:
        _place_of_birth(ctx, person, since)
        if _age(person.birth_date, ctx.as_of) >= 18:
            ctx.adults.append(person)
    return _HouseholdDraft(members, since, _address(ctx))


def _homonym_single(ctx: _Context) -> _HouseholdDraft:
    """A single adult with the same personal data as an earlier resident (omocodia)."""
    source = ctx.rng.choice(ctx.adults)
    person = replace(
        source,
        marital_status=_single_status(ctx, source.birth_date, source.sex),
        relation=INTESTATARIO,
    )
    return _HouseholdDraft([person], _moved_in(ctx, [person]), _address(ctx))


def _names(origin: _Origin | None, sex: Sex, born: date) -> tuple[str, ...]:
    if origin is not None:
        return origin.male if sex == "M" else origin.female
    if born.year < 1975:
        return _MALE_CLASSIC if sex == "M" else _FEMALE_CLASSIC
    if born.year >= 1985:
        return _MALE_MODERN if sex == "M" else _FEMALE_MODERN
    return (_MALE_CLASSIC + _MALE_MODERN) if sex == "M" else (_FEMALE_CLASSIC + _FEMALE_MODERN)


def _surname(ctx: _Context, origin: _Origin | None) -> str:
    return ctx.rng.choice(origin.surnames if origin is not None else _SURNAMES)


def _person(
    ctx: _Context,
    origin: _Origin | None,
    sex: Sex,
    born: date,
    *,
    surname: str | None = None,
    marital_status: str = CELIBE,
    relation: str = INTESTATARIO,
) -> _Draft:
    return _Draft(
        surname=surname or _surname(ctx, origin),
        name=ctx.rng.choice(_names(origin, sex, born)),
        sex=sex,
        birth_date=born,
        citizenship=ITALY,  # foreign citizenship is set with the birth place
        marital_status=marital_status,
        relation=relation,
        origin=origin,
    )


def _between(rng: random.Random, low: date, high: date) -> date:
    if high <= low:
        return low
    return low + timedelta(days=rng.randrange((high - low).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _single_status(ctx: _Context, born: date, sex: Sex) -> str:
    age = _age(born, ctx.as_of)
    if age < 32:
        return CELIBE
    if age < 65:
        return ctx.rng.choices((CELIBE, DIVORZIATO), weights=(3, 2))[0]
    return ctx.rng.choices((CELIBE, DIVORZIATO, VEDOVO), weights=(2, 1, 5))[0]


def _single(ctx: _Context, origin: _Origin | None) -> _Draft:
    sex: Sex = ctx.rng.choice(("M", "F"))
    born = _between(ctx.rng, _years_before(ctx.as_of, 92), _years_before(ctx.as_of, 19))
    return _person(ctx, origin, sex, born, marital_status=_single_status(ctx, born, sex))


def _couple(ctx: _Context, origin: _Origin | None, *, children: int) -> list[_Draft]:
    rng = ctx.rng
    union = rng.choices(("married", "cohabiting", "civil_union"), weights=(85, 10, 5))[0]
    if children:  # the mother is 20 to 44 at every birth
        youngest_mother = _years_before(ctx.as_of, 20 + 2 * (children - 1))
        woman_born = _between(rng, _years_before(ctx.as_of, 62), youngest_mother)
    else:
        woman_born = _between(rng, _years_before(ctx.as_of, 88), _years_before(ctx.as_of, 22))
    man_born = _between(
        rng, _years_before(woman_born, 6), min(woman_born + timedelta(days=730), ctx.as_of)
    )
    if _age(man_born, ctx.as_of) < 19:
        man_born = _years_before(ctx.as_of, 19)
    if union == "civil_union" and not children:
        sex: Sex = rng.choice(("M", "F"))
        head = _person(ctx, origin, sex, man_born, marital_status=UNITO_CIVILMENTE)
        partner = _person(
            ctx, origin, sex, woman_born, marital_status=UNITO_CIVILMENTE, relation=UNITO
        )
        return [head, partner]
    status = CONIUGATO
    if union == "cohabiting":
        status = rng.choice((CELIBE, DIVORZIATO)) if _age(woman_born, ctx.as_of) > 35 else CELIBE
    partner_rel = CONVIVENTE if union == "cohabiting" else CONIUGE
    man = _person(ctx, origin, "M", man_born, marital_status=status)
    woman = _person(ctx, origin, "F", woman_born, marital_status=status)
    head, partner = (man, woman) if rng.random() < 0.8 else (woman, man)
    partner.relation = partner_rel
    kids = _children(ctx, origin, mother_born=woman_born, surname=man.surname, count=children)
    return [head, partner, *kids]


def _children(
    ctx: _Context, origin: _Origin | None, *, mother_born: date, surname: str, count: int
) -> list[_Draft]:
    rng = ctx.rng
    first = max(_years_before(mother_born, -20), _years_before(ctx.as_of, 32))
    last = min(_years_before(mother_born, -44), ctx.as_of - timedelta(days=30))
    kids: list[_Draft] = []
    low = first
    for i in range(count):
        if low > last:
            break  # no room for another child: the household is smaller
        if kids and rng.random() < 0.05:
            born = kids[-1].birth_date  # twins
        else:  # leave room for the younger siblings, about 11 months apart
            born = _between(rng, low, max(low, last - timedelta(days=_SPACING * (count - i - 1))))
        low = born + timedelta(days=_SPACING)
        sex: Sex = rng.choice(("M", "F"))
        kid = _person(ctx, origin, sex, born, surname=surname, relation=FIGLIO)
        while any(k.name == kid.name for k in kids):  # siblings have different names
            kid.name = rng.choice(_names(origin, sex, born))
        kids.append(kid)
    return kids


def _single_parent(ctx: _Context, origin: _Origin | None, *, max_children: int) -> list[_Draft]:
    rng = ctx.rng
    sex: Sex = rng.choices(("F", "M"), weights=(4, 1))[0]
    count = max(1, min(max_children, rng.choice((1, 1, 2, 2, 3))))
    parent_born = _between(
        rng, _years_before(ctx.as_of, 62), _years_before(ctx.as_of, 20 + 2 * (count - 1))
    )
    status = rng.choices((DIVORZIATO, VEDOVO, CELIBE), weights=(6, 2, 2))[0]
    parent = _person(ctx, origin, sex, parent_born, marital_status=status)
    # Children carry the father's surname: the parent's if it is the father.
    father_surname = parent.surname if sex == "M" else _surname(ctx, origin)
    youngest_mother = _years_before(ctx.as_of, 20 + 2 * (count - 1))
    mother_born = parent_born
    if sex == "M":  # the (absent) mother was up to four years younger than the father
        mother_born = min(_years_before(parent_born, -rng.randrange(0, 5)), youngest_mother)
    kids = _children(ctx, origin, mother_born=mother_born, surname=father_surname, count=count)
    return [parent, *kids]


def _parent_of(ctx: _Context, head: _Draft) -> _Draft:
    """The widowed father or mother of ``head``, 22 to 40 years older, in the same household."""
    rng = ctx.rng
    sex: Sex = rng.choice(("M", "F"))
    born = _between(
        rng,
        max(_years_before(head.birth_date, 40), _years_before(ctx.as_of, 98)),
        _years_before(head.birth_date, 22),
    )
    surname = head.surname if sex == "M" else None
    return _person(
        ctx, head.origin, sex, born, surname=surname, marital_status=VEDOVO, relation=GENITORE
    )


def _moved_in(ctx: _Context, members: Sequence[_Draft]) -> date:
    """Since when the household lives here: after the head came of age and the Comune
    existed."""
    head = members[0]
    low = max(_years_before(head.birth_date, -18), ctx.residence.valid_from)
    if head.origin is not None:  # immigrants arrived in the last 25 years
        low = max(low, _years_before(ctx.as_of, 25))
    return _between(ctx.rng, low, ctx.as_of)


def _place_of_birth(ctx: _Context, person: _Draft, moved_in: date) -> None:
    """Set the birth place (and a foreign citizenship) coherently with the household's
    story."""
    rng = ctx.rng
    born = person.birth_date
    if person.origin is not None:
        state = next(s for o, s in ctx.origins if o is person.origin)
        person.citizenship = state.code
        if born < moved_in and state.valid_from <= born <= state.valid_to:
            person.birth_place = _state_place(state)
            return
    elif ctx.italian_born_abroad and person.relation != FIGLIO and rng.random() < 0.04:
        state = rng.choice(ctx.italian_born_abroad)
        if state.valid_from <= born <= state.valid_to:
            person.birth_place = _state_place(state)
            return
    if born >= moved_in or rng.random() < 0.65:
        # The residence Comune as it was then (same cadastral code, maybe another ISTAT code).
        here = ctx.comuni.by_cadastral(ctx.residence.cadastral, born)
        if here:
            person.birth_place = _comune_place(here[-1])
            return
    person.birth_place = _comune_place(_other_comune(ctx, born))


def _other_comune(ctx: _Context, born: date) -> Comune:
    """A Comune of the table valid on ``born`` (rejection sampling; the residence as fallback)."""
    for _ in range(64):
        candidate = ctx.rng.choice(ctx.periods)
        if candidate.valid_on(born):
            return candidate
    valid = [c for c in ctx.periods if c.valid_on(born)]
    if not valid:
        raise ConfigurationError(
            f"no Comune of {ctx.comuni.source} existed on {born.isoformat()}",
            setting=f"{_SETTING}.table",
            rule="a birth place at every birth date",
        )
    return ctx.rng.choice(valid)


def _comune_place(comune: Comune) -> BirthPlace:
    return BirthPlace(
        name=comune.name,
        comune=comune.istat,
        province=comune.province or None,
        cadastral=comune.cadastral,
    )


def _state_place(state: Stato) -> BirthPlace:
    return BirthPlace(name=state.name, state=state.code, cadastral=state.cadastral)


def _address(ctx: _Context) -> Address:
    rng = ctx.rng
    species = rng.choices([s for s, _ in _SPECIES], weights=[w for _, w in _SPECIES])[0]
    caps = _CAP.get(ctx.istat, (_UNKNOWN_CAP,))
    return Address(
        street_kind=species,
        street_name=rng.choice(_STREETS),
        house_number=str(rng.randrange(1, 220)),
        cap=rng.choice(caps),
    )


def _finish(
    ctx: _Context,
    drafts: Sequence[_HouseholdDraft],
    allocator: FiscalCodeAllocator,
    numbers: Iterator[int],
    tick: _Ticker,
) -> list[Household]:
    """Allocate codes and ids, in household order."""
    base = int(ctx.istat) * 10**7
    households: list[Household] = []
    person_seq = 0
    for household_seq, draft in enumerate(drafts, 1):
        household_id = str(2 * 10**15 + base + household_seq)
        members: list[Person] = []
        for d in draft.members:
            person_seq += 1
            place = d.birth_place
            assert place is not None  # set by _place_of_birth for every member
            assert place.cadastral is not None  # every place of the tables has one
            code = allocator.allocate(d.surname, d.name, d.sex, d.birth_date, place.cadastral)
            members.append(
                Person(
                    codice_fiscale=code,
                    surname=d.surname,
                    name=d.name,
                    sex=d.sex,
                    birth_date=d.birth_date,
                    birth_place=place,
                    citizenship=d.citizenship,
                    marital_status=d.marital_status,
                    id=str(10**15 + base + person_seq),
                    id_anpr=anpr_id(next(numbers)),
                    comune=ctx.istat,
                    household_id=household_id,
                    relation=d.relation,
                    relation_since=draft.since,
                )
            )
        households.append(
            Household(
                id=household_id,
                comune=ctx.istat,
                address=draft.address,
                since=draft.since,
                origin_date=draft.since,
                members=tuple(members),
            )
        )
        tick.add(len(members))
    return households
