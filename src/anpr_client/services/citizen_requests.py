"""P000 Servizi al cittadino: the requests citizens file online (``client.citizen_requests``).

A citizen files some requests to the Comune through ANPR's online services (a change of
residence, for instance); P001…P003 let the Comune's software list them, read one and update
its state. The methods take the request model and return the typed answer; see
:mod:`anpr_client.services.registrations` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import cittadino as m
from ..results import Result
from ._typed import Face, call, operation

__all__ = ["CitizenRequests"]


class CitizenRequests(Face):
    """The P000 family, bound to a client (``client.citizen_requests``)."""

    FAMILY = "P000"

    @operation("P001")
    def list_requests(
        self, request: m.RichiestaP001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaOKP001]:
        """P001 ``elenco``: the citizens' requests of a period, type and state."""
        return call(self._client, "P001", request, header=header)

    @operation("P002")
    def get_request(
        self, request: m.RichiestaP002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaOKP002]:
        """P002 ``dettaglio``: one request in full (``codiceRichiesta``), with its
        attachments."""
        return call(self._client, "P002", request, header=header)

    @operation("P003")
    def update_request(
        self, request: m.RichiestaP003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaOKP003]:
        """P003 ``aggiorna``: update a request's state (accepted, refused, extended…)."""
        return call(self._client, "P003", request, header=header)
