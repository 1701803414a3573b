"""Fill a fresh registry: the subentrati Comuni and their fictitious population.

The people come from :func:`~anpr_client.simulator.population.generate_population`
(deterministic for a seed); this module only adds the Comuni, as named in the comuni table, and
copies families and persons into the :class:`~.store.Registry`, keeping their ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..errors.exceptions import ConfigurationError
from ..validation.comuni import ComuniTable
from . import population
from .store import Address, BirthPlace, NewPerson, Registry

__all__ = ["comuni_table", "seed_registry"]


def comuni_table() -> ComuniTable:
    """The comuni table the simulator uses (the sample shipped with anpr-client)."""
    return ComuniTable.sample()


def add_comuni(registry: Registry, comuni: Sequence[str], *, table: ComuniTable) -> None:
    """Register ``comuni`` as subentrati, with their names from ``table``."""
    today = date.today()
    for istat in comuni:
        info = table.at(istat, today) or (table.periods(istat) or (None,))[-1]
        if info is None:
            raise ConfigurationError(
                f"Comune {istat!r} is not in the comuni table {table.source}",
                setting="simulator.comuni",
                rule="a Comune of the table",
            )
        registry.add_comune(istat, info.name, info.province, info.cadastral, subentrato=True)


def _birth_place(place: population.BirthPlace) -> BirthPlace:
    if place.foreign:
        return BirthPlace(name=place.name, state=place.code)
    return BirthPlace(name=place.name, comune=place.code, province=place.province or None)


def _new_person(person: population.Person) -> NewPerson:
    return NewPerson(
        codice_fiscale=person.codice_fiscale,
        cognome=person.cognome,
        nome=person.nome,
        sesso=person.sesso,
        data_nascita=person.data_nascita,
        luogo_nascita=_birth_place(person.luogo_nascita),
        cittadinanza=person.cittadinanza,
        stato_civile=person.stato_civile,
    )


def seed_registry(
    registry: Registry,
    comuni: Sequence[str],
    *,
    persons_per_comune: int,
    seed: int,
    table: ComuniTable | None = None,
) -> int:
    """Add ``comuni`` and, if the registry holds nobody yet, their population.

    Returns the number of persons added (0 when the registry was already seeded).
    """
    table = table or comuni_table()
    add_comuni(registry, comuni, table=table)
    if registry.count_persons():
        return 0
    families = population.generate_population(
        list(comuni), persons_per_comune, seed=seed, table=table
    )
    added = 0
    for family in families:
        registry.seed_family(
            family.comune,
            Address(
                street_kind=family.address.specie,
                street_name=family.address.denominazione,
                house_number=family.address.numero_civico,
                cap=family.address.cap,
            ),
            [(_new_person(p), p.relazione_parentela, p.id_scheda) for p in family.members],
            since=family.data_decorrenza_residenza,
            family_id=family.id,
        )
        added += len(family.members)
    return added
