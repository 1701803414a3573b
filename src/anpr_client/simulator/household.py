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
  members, the head (``codiceLegame`` 1) first. A *famiglia AIRE* (citizens living abroad,
  registered in a Comune's AIRE) has a :class:`ForeignAddress`; a *convivenza* (an institution:
  a convent, a care home…) has a name and a species.
- :class:`AireRegistration` is the data of a person's registration in a Comune's AIRE, and
  :class:`Procedure` an administrative procedure a Comune opened (service 1014).

Codes are ANPR's: citizenship and foreign birth states by the three-digit state code (``100``
is Italy), ``codiceLegame`` of the relationship table (table 5), civil status of table 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

__all__ = [
    "COHABITATION",
    "FAMILY",
    "ITALY",
    "REGISTERED",
    "SCHEDA_AIRE",
    "SCHEDA_CONVIVENZA",
    "SCHEDA_FAMIGLIA",
    "Address",
    "AireRegistration",
    "BirthPlace",
    "ForeignAddress",
    "Household",
    "Person",
    "PersonalData",
    "Procedure",
    "anpr_id",
]

ITALY: Final = "100"
"""ANPR's state code of Italy (table 2, *stati esteri*)."""

REGISTERED: Final = frozenset({"resident", "aire"})
"""The :attr:`Person.status` values of a person who belongs to a household."""
FAMILY: Final = "1"
COHABITATION: Final = "2"
"""The registry's :attr:`Household.kind` of a convivenza (``1``: a family)."""
SCHEDA_FAMIGLIA: Final = "3"
SCHEDA_CONVIVENZA: Final = "4"
SCHEDA_AIRE: Final = "5"

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


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignAddress(Address):
    """A residence abroad (``tipoResidenza/localitaEstera``, ``tipoIndirizzo`` 4): the foreign
    street, number and postcode (``street_kind`` is empty abroad), the place, the state and the
    Italian consulate competent for it."""

    state: str
    """ANPR's three-digit state code (``215`` France)."""
    locality: str
    """``descrizioneLocalita``: the town (``PARIGI``)."""
    consulate: str
    """``codiceConsolato`` (ANPR's table of consulates)."""
    consulate_name: str
    """``descrizioneConsolato``: the consulate's seat (italia/anpr#309)."""
    province: str | None = None
    """``provinciaContea``: the foreign province or county, if any."""


@dataclass(frozen=True, slots=True)
class AireRegistration:
    """A registration in a Comune's AIRE (``tipoIscrizioneAIRE``), codes of ANPR's tables 19
    (reason, ``C01``…), 20 (initiative) and 21 (how the Comune was chosen)."""

    reason: str | None
    initiative: str | None
    criterion: str | None
    since: dt.date
    """The decorrenza of the registration."""
    notes: tuple[tuple[str, str], ...] = ()
    """The free-text notes that go with the ``9``/``C09`` (other) codes, by element name."""

    @property
    def complete(self) -> bool:
        """All three codes are known (an emigration recorded with A006 may carry none)."""
        return bool(self.reason and self.initiative and self.criterion)


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
    """``resident`` (in a Comune's APR), ``aire`` (abroad, in a Comune's AIRE), ``deceased`` or
    ``cancelled``."""
    comune: str | None
    """ISTAT code of the Comune of competence (of residence, or of AIRE registration); ``None``
    once the person is no longer registered anywhere on ANPR."""
    household_id: str | None
    relation: str | None
    """``codiceLegame`` in the household (1 head, 2 spouse, 3 child…)."""
    relation_since: dt.date | None
    death_date: dt.date | None = None
    registered_by: str | None = None
    """``idOperazioneANPR`` of the registration (``None`` for the seed population)."""

    @property
    def resident(self) -> bool:
        """Resident in Italy (in the APR of :attr:`comune`)."""
        return self.status == "resident"

    @property
    def aire(self) -> bool:
        """Living abroad, registered in the AIRE of :attr:`comune`."""
        return self.status == "aire"

    @property
    def registered(self) -> bool:
        """In a household of a Comune, in its APR or its AIRE (not deceased or cancelled)."""
        return self.status in REGISTERED


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
    """The registry's kind of scheda: ``1`` famiglia, ``2`` convivenza (ANPR's ``tipoScheda``
    on the wire is :attr:`scheda`)."""
    active: bool = True
    """``False`` once it has no members left, or (a convivenza) once archived (2009)."""
    members: tuple[Person, ...] = ()
    """The current members, the head first."""
    name: str | None = None
    """``denominazioneConvivenza`` of a convivenza."""
    species: str | None = None
    """``specieConvivenza`` of a convivenza (ANPR's table 27: 1 religious, 2 care…)."""
    responsible: str | None = None
    """The codice fiscale of the convivenza's *responsabile* (``tutoreIntestatario``)."""

    @property
    def head(self) -> Person:
        """The *intestatario della scheda* (the first member)."""
        return self.members[0]

    @property
    def cohabitation(self) -> bool:
        """A *convivenza* (an institution) rather than a family."""
        return self.kind == COHABITATION

    @property
    def abroad(self) -> bool:
        """A *famiglia AIRE*: its address is abroad."""
        return isinstance(self.address, ForeignAddress)

    @property
    def scheda(self) -> str:
        """ANPR's ``tipoScheda`` of the household: ``3`` a family in Italy, ``4`` a convivenza,
        ``5`` a family registered in the AIRE (italia/anpr#761, #1191, #574)."""
        if self.cohabitation:
            return SCHEDA_CONVIVENZA
        return SCHEDA_AIRE if self.abroad else SCHEDA_FAMIGLIA


@dataclass(frozen=True, slots=True)
class Procedure:
    """An administrative procedure (*procedimento amministrativo*, service 1014) of a Comune:
    while open, other Comuni cannot register or move its subjects (italia/anpr#2024)."""

    id: str
    """``numeroPraticaAnpr``, given by ANPR when the procedure is opened."""
    comune: str
    number: str
    """``numeroPraticaComune``, the Comune's own number."""
    trigger: str | None
    """``motivoAvvio``: the operation that started it (ANPR's table of procedure triggers)."""
    state: str
    """``statoProcedimento`` (ANPR's table: 1 opened, 2 closed, 3-7 the steps between)."""
    state_date: dt.date
    opened: dt.date
    closed: dt.date | None = None
    outcome: str | None = None
    """``esitoChiusura``."""
    subjects: tuple[str, ...] = ()
    """The ``idSchedaSoggettoANPR`` of the persons it concerns."""

    @property
    def open(self) -> bool:
        return self.closed is None
