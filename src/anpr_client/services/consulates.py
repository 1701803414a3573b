"""CONSOLATI: the services for Italian consular offices (``client.consulates``).

The methods take the request model and return the typed answer; see
:mod:`anpr_client.services.registrations` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import consolati as m
from ..results import Result
from ._typed import Face, call, operation

__all__ = ["Consulates"]


class Consulates(Face):
    """The CONSOLATI family, bound to a client (``client.consulates``)."""

    FAMILY = "CONSOLATI"

    @operation("C001")
    def find_person(
        self, request: m.RichiestaC001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaC001]:
        """C001 ``interrogazioneDatiAnagrafici``: a citizen's data, for a consular office."""
        return call(self._client, "C001", request, header=header)

    @operation("C002")
    def request_alignment(
        self, request: m.RichiestaC002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaC002]:
        """C002 ``richiestaAllineamento``: ask to align a consulate's record with ANPR's."""
        return call(self._client, "C002", request, header=header)

    @operation("C003")
    def request_revenue_agency_alignment(
        self, request: m.RichiestaC003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaC003]:
        """C003 ``richiestaAllineamentoAE``: the same alignment, with the Agenzia delle
        Entrate's data."""
        return call(self._client, "C003", request, header=header)

    @operation("C010")
    def find_aire_registration(
        self, request: m.RichiestaC010, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaC010]:
        """C010 ``consultazioneAire``: a citizen's AIRE registration."""
        return call(self._client, "C010", request, header=header)
