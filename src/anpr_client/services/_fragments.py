"""Plain values → the shared model fragments the convenience methods build requests from.

Internal. Each builder is named after what it describes and returns the class of
:mod:`anpr_client.models.common` for it (``tipoGeneralita``, ``tipoLuogoEvento``,
``tipoResidenza``…). Names ANPR wants beside a code (the Comune's name and province, a
state's name) come from the reference tables of the client's pre-transmission checks, so a
request the client builds passes the same checks it is then put through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._identifiers import ISTAT_CODE, STATE_CODE
from ..models import common as c
from ..validation._errors import error
from .params import Address, AddressAbroad, Member, Place, Subject

if TYPE_CHECKING:
    from ..client import Client
    from ..validation.rules import PersonChecker

__all__ = [
    "birth_place",
    "cf_management",
    "citizenship",
    "comune",
    "effective_header",
    "members",
    "newcomer",
    "parent",
    "person",
    "place",
    "provenance",
    "residence",
    "residence_abroad",
    "soggetto_famiglia",
    "subject",
]


def _tables(client: Client) -> PersonChecker:
    from ..validation import shared_checker

    return shared_checker(client.settings.validation.comuni)


def place(client: Client, value: str | Place, day: dt.date, *, field: str) -> Place:
    """``value`` as a :class:`Place`: a six-digit ISTAT code is looked up in the Comuni table at
    ``day``, a three-digit code in the states table."""
    if isinstance(value, Place):
        return value
    code = value.strip()
    tables = _tables(client)
    if ISTAT_CODE.fullmatch(code):
        found = tables.comuni.at(code, day)
        if found is None:
            raise error(
                "birthplace.unknown",
                f"the Comune {code} is not in the Comuni table at {day.isoformat()}: give a "
                "Place with its name and province, or configure [validation] comuni",
                field=field,
            )
        return Place(code=code, name=found.name, province=found.province)
    if STATE_CODE.fullmatch(code):
        state = tables.stati.get(code)
        if state is None:
            raise error(
                "birthstate.unknown",
                f"the state {code} is not in the states table: give a Place with its name",
                field=field,
            )
        return Place(code=code, name=state.name)
    raise error(
        "field.format",
        f"{value!r} is neither an ISTAT code (6 digits) nor an ANPR state code (3 digits)",
        field=field,
    )


def comune(found: Place) -> c.TipoComune:
    """``tipoComune`` of a Comune."""
    return c.TipoComune(
        nomeComune=found.name, codiceIstat=found.code, siglaProvinciaIstat=found.province or ""
    )


def _localita(found: Place) -> c.TipoLocalita:
    return c.TipoLocalita(
        descrizioneLocalita=found.locality, descrizioneStato=found.name, codiceStato=found.code
    )


def birth_place(found: Place) -> c.TipoLuogoEvento:
    """``tipoLuogoEvento``: a Comune, or a foreign state (and town)."""
    if found.abroad:
        return c.TipoLuogoEvento(localita=_localita(found))
    return c.TipoLuogoEvento(comune=comune(found))


def provenance(found: Place) -> c.TipoProvenienzaDestinazione:
    """``tipoProvenienzaDestinazione``: where a person comes from or goes to."""
    if found.abroad:
        return c.TipoProvenienzaDestinazione(localita=_localita(found))
    return c.TipoProvenienzaDestinazione(comune=comune(found))


def citizenship(found: Place) -> c.TipoCittadinanza:
    """``tipoCittadinanza`` of a state (``100`` is Italy)."""
    return c.TipoCittadinanza(descrizioneStato=found.name, codiceStato=found.code)


def person(
    codice_fiscale: str | None,
    surname: str | None,
    name: str | None,
    *,
    sex: c.TipoSesso | None = None,
    birth_date: dt.date | None = None,
    born_in: c.TipoLuogoEvento | None = None,
) -> c.TipoGeneralita:
    """``tipoGeneralita``; a surname or name left out (``None``) is ``senzaCognome``/
    ``senzaNome`` (a person without one)."""
    fields: dict[str, Any] = {
        "sesso": sex,
        "dataNascita": birth_date,
        "luogoNascita": born_in,
    }
    if codice_fiscale is not None:
        fields["codiceFiscale"] = c.TipoCodiceFiscale(codFiscale=codice_fiscale)
    if surname is None:
        fields["senzaCognome"] = "1"
    else:
        fields["cognome"] = surname
    if name is None:
        fields["senzaNome"] = "1"
    else:
        fields["nome"] = name
    generalita: c.TipoGeneralita = c.TipoGeneralita(**fields)
    return generalita


def newcomer(
    client: Client,
    codice_fiscale: str | None,
    surname: str | None,
    name: str | None,
    sex: c.TipoSesso,
    birth_date: dt.date,
    born_in: str | Place,
) -> c.TipoGeneralita:
    """``tipoGeneralita`` of a person a registration brings onto ANPR: names, sex, birth date
    and place (``born_in`` read at the birth date), and the codice fiscale if they have one."""
    where = place(client, born_in, birth_date, field="birth_place")
    return person(
        codice_fiscale, surname, name, sex=sex, birth_date=birth_date, born_in=birth_place(where)
    )


def cf_management(codice_fiscale: str | None) -> str | None:
    """``gestioneCF`` of a registration: 1 asks ANPR to attribute a codice fiscale (a person
    who has none yet, italia/anpr#186); none when the request gives one."""
    return "1" if codice_fiscale is None else None


def parent(who: Subject | None) -> c.TipoGenitore | None:
    """``tipoGenitore`` (``maternita``/``paternita``) of a parent on ANPR, if given."""
    return None if who is None else c.TipoGenitore(generalita=subject(who))


def residence(client: Client, address: Address, since: dt.date) -> c.TipoResidenza:
    """``tipoResidenza`` of an Italian address from ``since`` (``tipoIndirizzo`` 1, a
    residence, ANPR's table 25)."""
    if address.comune_name is not None and address.province is not None:
        where = Place(code=address.comune, name=address.comune_name, province=address.province)
    else:
        where = place(client, address.comune, since, field="address.comune")
    numero = None if address.number is None else c.TipoNumeroCivico(numero=address.number)
    return c.TipoResidenza(
        tipoIndirizzo="1",
        indirizzo=c.TipoIndirizzo(
            cap=address.cap,
            comune=comune(where),
            toponimo=c.TipoToponimo(
                specie=address.street_kind, denominazioneToponimo=address.street
            ),
            numeroCivico=numero,
        ),
        dataDecorrenzaResidenza=since,
    )


def subject(who: Subject) -> c.TipoGeneralita:
    """``tipoGeneralita`` of a person on ANPR."""
    return person(who.codice_fiscale, who.surname, who.name, sex=who.sex, birth_date=who.birth_date)


def residence_abroad(client: Client, address: AddressAbroad, since: dt.date) -> c.TipoResidenza:
    """``tipoResidenza`` of an address abroad from ``since`` (``tipoIndirizzo`` 4, a residence
    abroad, ANPR's table 25)."""
    state = place(client, address.state, since, field="address.state")
    street = None
    if address.street is not None:
        street = c.TipoToponimoEstero(denominazione=address.street, numeroCivico=address.number)
    return c.TipoResidenza(
        tipoIndirizzo="4",
        localitaEstera=c.TipoLocalitaEstera(
            indirizzoEstero=c.TipoIndirizzoEstero(
                cap=address.postcode,
                localita=c.TipoDatoLocalitaEstera(
                    descrizioneLocalita=address.locality,
                    descrizioneStato=state.name,
                    codiceStato=state.code,
                ),
                toponimo=street,
            ),
            consolato=c.TipoConsolato(
                codiceConsolato=address.consulate_code,
                descrizioneConsolato=address.consulate_name,
            ),
        ),
        dataDecorrenzaResidenza=since,
    )


def soggetto_famiglia(member: Member, since: dt.date) -> c.TipoSoggettoFamiglia:
    """``tipoSoggettoFamiglia``: a member and their relation to the head from ``since``."""
    return c.TipoSoggettoFamiglia(
        generalita=subject(member),
        legameSoggetto=c.TipoLegameSoggetto(dataDecorrenza=since, codiceLegame=member.relation),
    )


def members(given: Sequence[Member], *, field: str) -> tuple[Member, ...]:
    """The members of a change, refused when there are none."""
    if not given:
        raise error("field.missing", "name at least one person", field=field)
    return tuple(given)


def effective_header(effective_date: dt.date, header: Mapping[str, Any] | None) -> dict[str, Any]:
    """``testataRichiesta`` overrides with ``dataDecorrenza``, the date a registration takes
    effect (ANPR refuses a registration without it: EHR97); ``header`` wins."""
    return {"dataDecorrenza": effective_date, **(header or {})}
