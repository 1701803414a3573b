"""S001 Subentro: a Comune's takeover of its registry by ANPR (``client.takeover``).

The method takes the request model and returns the typed answer; see
:mod:`anpr_client.services.registrations` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import subentro as m
from ..results import Result
from ._typed import Face, call, operation

__all__ = ["Takeover"]


class Takeover(Face):
    """The S001 service, bound to a client (``client.takeover``)."""

    FAMILY = "S001"

    @operation("S001")
    def send_file(
        self, request: m.RichiestaS001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaOK]:
        """S001 ``subentroS001``: send one file of the takeover (``nomeFile``, ``fileXml``)."""
        return call(self._client, "S001", request, header=header)
