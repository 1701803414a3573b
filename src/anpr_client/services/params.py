"""The plain values the convenience methods take: an address, a place, a member of a household.

The convenience methods of the faces (``client.registrations.register_newborn(...)``,
``client.changes.move_residence(...)``…) take what a registry clerk's software has at hand —
codici fiscali, names, dates, ISTAT codes — and build the request model themselves. A few
small frozen dataclasses carry what does not fit in one argument:

>>> home = Address(comune="015146", street="DANTE", number="5", cap="20121")
>>> home.street_kind
'VIA'
>>> Place(code="219", name="REGNO UNITO").abroad
True
>>> aldo = Subject(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO")
>>> Member(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO", relation="1").name
'ALDO'

A place is given as a code wherever one suffices: a six-digit ISTAT code names a Comune, a
three-digit ANPR state code a foreign state (``"219"``), and the client reads the names ANPR
also wants (``nomeComune``, ``siglaProvinciaIstat``, ``descrizioneStato``) from the reference
tables of its pre-transmission checks (``[validation] comuni`` in the settings, else the bundled
samples). A code those tables do not know raises a
:class:`~anpr_client.errors.ValidationError` naming the argument; give a :class:`Place` (or
``comune_name``/``province`` of an :class:`Address`) to spell the names yourself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from .._identifiers import STATE_CODE

__all__ = ["Address", "AddressAbroad", "Member", "Place", "Subject"]


@dataclass(frozen=True, kw_only=True)
class Address:
    """An Italian address in a Comune (ANPR's ``tipoIndirizzo``), as a residence needs it.

    ``comune`` is the ISTAT code; ``street`` the name of the street (``denominazioneToponimo``)
    and ``street_kind`` its species (``specie``: ``VIA``, ``PIAZZA``, ``VIALE``…); ``number``
    the house number (``numeroCivico/numero``). ``comune_name`` and ``province`` (the
    ``siglaProvinciaIstat``) are looked up from ``comune`` when left out.
    """

    comune: str
    street: str
    cap: str
    street_kind: str = "VIA"
    number: str | None = None
    comune_name: str | None = None
    province: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddressAbroad:
    """An address abroad of a citizen registered in AIRE (ANPR's ``tipoLocalitaEstera``).

    ``state`` is ANPR's three-digit state code (or a :class:`Place`); ``locality`` the town;
    ``consulate_code``/``consulate_name`` the Italian consular office the address belongs to
    (ANPR's table 40 of consulates); ``street``, ``number`` and ``postcode`` as the foreign
    address has them.
    """

    state: str | Place
    locality: str
    consulate_code: str
    consulate_name: str
    street: str | None = None
    number: str | None = None
    postcode: str | None = None


@dataclass(frozen=True, kw_only=True)
class Place:
    """A Comune or a foreign state, with the names ANPR wants beside the code.

    ``code`` is a six-digit ISTAT code (a Comune; ``province`` its abbreviation) or ANPR's
    three-digit state code (a foreign state; ``locality`` the town, optional).
    """

    code: str
    name: str
    province: str | None = None
    locality: str | None = None

    @property
    def abroad(self) -> bool:
        """Whether the place is a foreign state (a three-digit code)."""
        return STATE_CODE.fullmatch(self.code) is not None


@dataclass(frozen=True, kw_only=True)
class Subject:
    """A person already on ANPR, as a request names them (``tipoGeneralita``).

    ANPR finds the person by the codice fiscale and checks the names against its record (a
    parent whose surname differs is "not on ANPR", italia/anpr#2919). ``surname`` or ``name``
    ``None``: the person has none (``senzaCognome``/``senzaNome``).
    """

    codice_fiscale: str
    surname: str | None
    name: str | None
    sex: Literal["M", "F"] | None = None
    birth_date: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class Member(Subject):
    """A person on ANPR taking part in a change of household (``tipoSoggettoFamiglia``).

    ``relation`` is the ``codiceLegame`` of ANPR's table 5 (relazione di parentela): ``1`` the
    head of the household (intestatario scheda), ``2`` the spouse, ``3`` a child…
    """

    relation: str
