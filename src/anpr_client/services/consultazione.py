"""3000 Consultazione: typed methods for the eight consultation operations.

>>> from anpr_client.models.consultazione import (
...     Richiesta3002, TipoCriteriRicerca, TipoDatiRichiesta)
>>> client.consultazione.find_person(                                  # doctest: +SKIP
...     Richiesta3002(
...         criteriRicerca=TipoCriteriRicerca(codiceFiscale="RSSMRA80A01H501U"),
...         datiRichiesta=TipoDatiRichiesta(
...             schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date.today()),
...     )
... ).value.listaSoggetti

Each method takes the request model (``testataRichiesta`` may be left out: it is filled) and
returns a :class:`~anpr_client.results.Result` whose ``value`` is the typed OK branch; a KO
answer raises the matching :class:`~anpr_client.errors.AnprRejected` subclass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..models import consultazione as m
from ..results import Result
from ._typed import Face, call, convenience, operation

__all__ = ["Consultazione"]


class Consultazione(Face):
    """The 3000 family, bound to a client (``client.consultazione``)."""

    FAMILY = "3000"

    @operation("3001")
    def find_parents(
        self, request: m.Richiesta3001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3001OK]:
        """3001 ``richiesta_paternita_maternita``: look up a person's father and mother."""
        return call(self._client, "3001", request, header=header)

    @operation("3002")
    def find_person(
        self, request: m.Richiesta3002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3002OK]:
        """3002 ``interrogazioneCittadino_famiglia_convivenza``: a citizen and their family."""
        return call(self._client, "3002", request, header=header)

    @convenience("3002")
    def find_by_codice_fiscale(
        self,
        codice_fiscale: str,
        *,
        reference_date: dt.date | None = None,
        scheda: str = "1",
        header: Mapping[str, Any] | None = None,
    ) -> Result[m.Risposta3002OK]:
        """3002 by codice fiscale, as of ``reference_date`` (default: today).

        ``scheda`` is ``schedaAnagraficaRichiesta`` (``1``: the person's record).
        """
        request = m.Richiesta3002(
            criteriRicerca=m.TipoCriteriRicerca(codiceFiscale=codice_fiscale),
            datiRichiesta=m.TipoDatiRichiesta(
                schedaAnagraficaRichiesta=scheda,
                dataRiferimentoRichiesta=reference_date or dt.date.today(),
            ),
        )
        return self.find_person(request, header=header)

    @operation("3003")
    def find_request(
        self, request: m.Richiesta3003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3003OK]:
        """3003 ``gestione_richieste``: look up past operations (by idOperazioneComune,
        idOperazioneANPR, protocol…); the way to learn the outcome of an unanswered request."""
        return call(self._client, "3003", request, header=header)

    @operation("3004")
    def find_procedures(
        self, request: m.Richiesta3004, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3004OK]:
        """3004 ``consultazione_procedimento_amministrativo``: administrative procedures."""
        return call(self._client, "3004", request, header=header)

    @operation("3005")
    def list_processed_files(
        self, request: m.Richiesta3005, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3005OK]:
        """3005 ``visualizzazione_eleaborati`` (so spelled in ANPR's WSDL): files ANPR produced
        for the Comune."""
        return call(self._client, "3005", request, header=header)

    @operation("3006")
    def find_person_for_agency(
        self, request: m.Richiesta3006, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3006OK]:
        """3006 ``interrogazioneCittadino_enti``: the citizen query made for other bodies."""
        return call(self._client, "3006", request, header=header)

    @operation("3007")
    def find_anpr_ids(
        self, request: m.Richiesta3007, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3007OK]:
        """3007 ``ricerca_identificativi_anpr``: ANPR identifiers of past operations."""
        return call(self._client, "3007", request, header=header)

    @operation("3008")
    def find_sections(
        self, request: m.Richiesta3008, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta3008OK]:
        """3008 ``consultazione_sezione``: electoral sections."""
        return call(self._client, "3008", request, header=header)
