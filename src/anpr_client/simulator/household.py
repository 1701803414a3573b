"""The simulator's one model of its people: persons, their households and addresses.

The same types serve the fictitious population (:mod:`.population` generates
:class:`Household` values), the registry (:mod:`.store` stores and returns them) and the
operation handlers (:mod:`.handlers`), so nothing translates between two descriptions of one
household.

- :class:`PersonalData` is who a person is: what a registration carries (codice fiscale, names,
  sex, birth date and place, citizenship, civil status).
- :class:`Person` is a person on the registry: the personal data plus ANPR's ids, the Comune of
  residence, the household and the relationship to its head, the status.
- :class:`Household` is ANPR's *scheda famiglia/convivenza*: one address in one Comune and its
  members, the head (``codiceLegame`` 1) first.

Codes are ANPR's: citizenship and foreign birth states by the three-digit state code (``100``
is Italy), ``codiceLegame`` of the relationship table (table 5), civil status of table 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ITALY",
    "Address",
    "BirthPlace",
    "Household",
    "Person",
    "PersonalData",
    "anpr_id",
]

ITALY: Final = "100"
"""ANPR's state code of Italy (table 2, *stati esteri*)."""

_ID_ANPR_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVZ"


def anpr_id(number: int) -> str:
    """The ``identificativi/idANPR`` of the ``number``-th person the simulator numbers (from 0):
    two letters and seven digits (``AA0000000``, ``AA0000001``…)."""
    letters = _ID_ANPR_LETTERS
    prefix = letters[(number // 10_000_000) % len(letters)] + letters[(number // 200_000_000) % 20]
    return f"{prefix}{number % 10_000_000:07d}"


@dataclass(frozen=True, slots=True)
class BirthPlace:
    """Where a person was born: an Italian Comune (``comune``, its ISTAT code **on the birth
    date**) or a foreign state (``state``, ANPR's three-digit code)."""

    name: str
    comune: str | None = None
    province: str | None = None
    """Province abbreviation of a Comune (``RM``); ``None`` abroad."""
    state: str | None = None
    cadastral: str | None = None
    """The cadastral code on the birth date, as the codice fiscale holds it (``H501``; a state's
    ``Z`` code); known to the population generator, not kept by the registry."""

    @property
    def foreign(self) -> bool:
        """Whether the birth place is a foreign state."""
        return self.state is not None

    @property
    def code(self) -> str | None:
        """The ISTAT code of the Comune, or the state's code abroad."""
        return self.state if self.state is not None else self.comune


@dataclass(frozen=True, slots=True)
class Address:
    """A residence address in Italy (``tipoIndirizzo`` 1 = residence)."""

    street_kind: str
    """``specie`` of the toponym (table 4): ``VIA``, ``PIAZZA``…"""
    street_name: str
    house_number: str
    cap: str
    kind: str = "1"


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Who a person is: the data a registration carries."""

    codice_fiscale: str
    surname: str
    name: str
    sex: str
    """``M`` or ``F``."""
    birth_date: dt.date
    birth_place: BirthPlace
    citizenship: str = ITALY
    """ANPR's state code of the citizenship (``100`` Italian)."""
    marital_status: str | None = None
    """Code of ANPR's table 1 (``1`` celibe/nubile, ``2`` coniugato/a…)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Person(PersonalData):
    """A person on the registry."""

    id: str
    """``idSchedaSoggettoANPR`` (numeric)."""
    id_anpr: str
    """``identificativi/idANPR``."""
    status: str = "resident"
    """``resident``, ``deceased`` or ``cancelled``."""
    comune: str | None
    """ISTAT code of the Comune of residence; ``None`` when not resident anywhere on ANPR."""
    household_id: str | None
    relation: str | None
    """``codiceLegame`` in the household (1 head, 2 spouse, 3 child…)."""
    relation_since: dt.date | None
    death_date: dt.date | None = None
    registered_by: str | None = None
    """``idOperazioneANPR`` of the registration (``None`` for the seed population)."""

    @property
    def resident(self) -> bool:
        return self.status == "resident"


@dataclass(frozen=True, slots=True)
class Household:
    """ANPR's *scheda famiglia* (or *convivenza*): an address of one Comune and its members."""

    id: str
    """``idFamigliaConvivenzaANPR``."""
    comune: str
    """ISTAT code of the Comune of residence."""
    address: Address
    since: dt.date
    """``dataDecorrenzaResidenza``: since when the household lives at the address."""
    origin_date: dt.date | None = None
    """``dataOrigineFamigliaConvivenza``."""
    kind: str = "1"
    """``tipoScheda``: 1 famiglia, 2 convivenza."""
    active: bool = True
    members: tuple[Person, ...] = ()
    """The current members, the head first."""

    @property
    def head(self) -> Person:
        """The *intestatario della scheda* (the first member)."""
        return self.members[0]
