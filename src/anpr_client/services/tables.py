"""7001 Scarico tabelle: ANPR's reference tables and files (``client.tables``).

>>> files = client.tables.download_table("001")                      # doctest: +SKIP
>>> ComuniTable.from_7001(files)                                      # doctest: +SKIP

The model methods take the request model and return the typed answer;
:meth:`Tables.download_table` takes a table id and returns the table's files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import scarico_tabelle as m
from ..results import Result
from ._typed import Face, call, convenience, operation

__all__ = ["Tables"]


class Tables(Face):
    """The 7001 family, bound to a client (``client.tables``)."""

    FAMILY = "7001"

    @operation("7001")
    def download_tables(
        self, request: m.Richiesta7001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla7001]:
        """7001 ``scarica_tabelle``: download one of ANPR's reference tables (``idTabella``)."""
        return call(self._client, "7001", request, header=header)

    @operation("7002")
    def download_file(
        self, request: m.Richiesta7002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla7002]:
        """7002 ``download_file``: download a file ANPR prepared (by its
        ``idOperazioneANPR``)."""
        return call(self._client, "7002", request, header=header)

    @operation("7003")
    def list_versions(
        self, request: m.Richiesta7003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla7003]:
        """7003 ``elenco_versioni``: the current and the supported versions of ANPR's
        interface."""
        return call(self._client, "7003", request, header=header)

    @convenience("7001")
    def download_table(
        self, table_id: str, *, header: Mapping[str, Any] | None = None
    ) -> tuple[bytes, ...]:
        """7001: the files of the reference table ``table_id`` (``idTabella``), decoded (the
        content of each ``xmlFile``; none when ANPR answers without a table). The Comuni
        archive's files load with :meth:`anpr_client.validation.ComuniTable.from_7001`."""
        request = m.Richiesta7001(datiRichiesta=m.TipoDatiRichiesta(idTabella=table_id))
        detail = self.download_tables(request, header=header).value.datiDettaglioRisposta
        return () if detail is None else tuple(detail.xmlFile)
