"""CIE Carta d'identità: the services for the electronic identity card (``client.identity_cards``).

The methods take the request model and return the typed answer; see
:mod:`anpr_client.services.registrations` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import carta_identita as m
from ..results import Result
from ._typed import Face, call, operation

__all__ = ["IdentityCards"]


class IdentityCards(Face):
    """The CIE family, bound to a client (``client.identity_cards``)."""

    FAMILY = "CIE"

    @operation("CIE2")
    def find_person(
        self, request: m.RichiestaCIE2, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaCIE2]:
        """CIE2 ``interrogazioneDatiAnagrafici``: the personal data an identity card needs."""
        return call(self._client, "CIE2", request, header=header)

    @operation("CIE7")
    def report_cancelled_card(
        self, request: m.RichiestaCIE7, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaCIE7]:
        """CIE7 ``comunicazioneAnnullamentoCIE``: report that an identity card was cancelled."""
        return call(self._client, "CIE7", request, header=header)

    @operation("CIE8")
    def report_issued_card(
        self, request: m.RichiestaCIE8, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaCIE8]:
        """CIE8 ``comunicazioneEmissioneCIE``: report that an identity card was issued."""
        return call(self._client, "CIE8", request, header=header)
