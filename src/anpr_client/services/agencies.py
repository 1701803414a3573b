"""E000 Enti: the services ANPR offers other public bodies (``client.agencies``).

Each of E001…E004 is a family of its own in the bundle (one WSDL each); one face serves them.
The methods take the request model and return the typed answer; see
:mod:`anpr_client.services.registrations` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import enti as m
from ..results import Result
from ._typed import Face, call, operation

__all__ = ["Agencies"]


class Agencies(Face):
    """The E000 services, bound to a client (``client.agencies``)."""

    FAMILY = "E000"

    @operation("E001")
    def download_tables(
        self, request: m.RichiestaE001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultiplaE001]:
        """E001 ``scarica_tabelle``: ANPR's reference tables, for a public body."""
        return call(self._client, "E001", request, header=header)

    @operation("E002")
    def find_persons(
        self, request: m.RichiestaE002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaE002OK]:
        """E002 ``consultazione_soggetti``: look persons up, for a public body."""
        return call(self._client, "E002", request, header=header)

    @operation("E003")
    def enrich_codici_fiscali(
        self, request: m.RichiestaE003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultiplaE003]:
        """E003 ``rivestimento_cf``: ANPR's data for a list of codici fiscali."""
        return call(self._client, "E003", request, header=header)

    @operation("E004")
    def download_file(
        self, request: m.RichiestaE004, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultiplaE004]:
        """E004 ``download_file``: download a file ANPR prepared for the body."""
        return call(self._client, "E004", request, header=header)
