"""Fill a fresh registry: the subentrati Comuni and their fictitious population.

The people come from :func:`~anpr_client.simulator.population.generate_population`
(deterministic for a seed), already in the registry's model (:mod:`.household`): this module
adds the Comuni, as named in the comuni table, and hands the households to
:meth:`~.store.Registry.seed` as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..errors.exceptions import ConfigurationError
from ..validation.comuni import ComuniTable
from .population import Progress, generate_population
from .store import Registry

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


def seed_registry(
    registry: Registry,
    comuni: Sequence[str],
    *,
    persons_per_comune: int,
    seed: int,
    table: ComuniTable | None = None,
    progress: Progress | None = None,
) -> int:
    """Add ``comuni`` and, if the registry holds nobody yet, their population.

    Returns the number of persons added (0 when the registry was already seeded).
    ``progress`` hears of the ``drawing``, ``coding`` and ``storing`` phases.
    """
    table = table or comuni_table()
    add_comuni(registry, comuni, table=table)
    if registry.count_persons():
        return 0
    households = generate_population(
        list(comuni), persons_per_comune, seed=seed, table=table, progress=progress
    )
    return registry.seed(households, progress=progress)
