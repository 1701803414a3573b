"""4000 Estrazione: extractions of registry data (``client.extractions``).

>>> items = client.extractions.extract(                               # doctest: +SKIP
...     state="2", operation="5005",
...     since=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), until=dt.datetime.now(dt.UTC),
... )
>>> [item.idOperazioneANPR for item in items]                         # doctest: +SKIP

The model methods take the request model and return the typed answer. 4005 is
asynchronous (italia/anpr#1273, #1906): an ``elaborazione`` request returns the extraction's
``idOperazioneANPR`` and when it will be ready (``dataDisponibilita``); ``verificaStato`` then
answers ``statoRichiesta`` 1 (in progress, with a new ``dataDisponibilita``, #1396) or 2 (ready)
with one page of results (``progressivo``; ``datiFornitura`` says how many pages).
:meth:`Extractions.start_extraction` sends the first, :meth:`Extractions.collect_extraction`
waits (bounded) and gathers every page, :meth:`Extractions.extract` does both. The items are
returned as the model reads them (``contenutoRichiesta``/``contenutoRisposta`` as bytes, in
``formatoRisposta``); reading notifications out of them is the notification poller's job
(:mod:`anpr_client.notifications`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors.exceptions import ReadTimeout
from ..models import common as c
from ..models import estrazione as m
from ..results import Result
from ._typed import Face, call, convenience, operation

__all__ = ["Extractions"]

#: ``statoRichiesta`` of a 4005 extraction whose results are ready.
_READY = "2"


def _seconds_until(moment: object) -> float:
    """Seconds from now until ``moment`` (a ``dataDisponibilita``; naive: local time); 0 for
    a value that is no date and time (a tolerant read keeps such text as received)."""
    if not isinstance(moment, dt.datetime):
        return 0.0
    aware = moment if moment.tzinfo is not None else moment.astimezone()
    return (aware - dt.datetime.now(dt.UTC)).total_seconds()


def _number(text: object, default: int) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        return default


class Extractions(Face):
    """The 4000 family, bound to a client (``client.extractions``)."""

    FAMILY = "4000"

    @operation("4001")
    def extract_citizens(
        self, request: m.Richiesta4001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla4001]:
        """4001 ``estrazione_dati_cittadini``: residents' data by criteria (a date range,
        identifiers, a partial address…)."""
        return call(self._client, "4001", request, header=header)

    @operation("4002")
    def enrich_codici_fiscali(
        self, request: m.Richiesta4002, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla4002]:
        """4002 ``rivestimento_cf``: ANPR's data for a list of codici fiscali or ids."""
        return call(self._client, "4002", request, header=header)

    @operation("4003")
    def statistical_report(
        self, request: m.Richiesta4003, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla4003]:
        """4003 ``supporto_rilevazioni_statistiche``: the Comune's statistical reports."""
        return call(self._client, "4003", request, header=header)

    @operation("4004")
    def support_lists(
        self, request: m.Richiesta4004, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla4004]:
        """4004 ``elenchi_supporto``: lists in support of the Comune's offices."""
        return call(self._client, "4004", request, header=header)

    @operation("4005")
    def async_request(
        self, request: m.Richiesta4005, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.RispostaMultipla4005]:
        """4005 ``richieste_asincrone``: start an asynchronous extraction (``elaborazione``)
        or ask for its state and results (``verificaStato``)."""
        return call(self._client, "4005", request, header=header)

    # ------------------------------------------------------------------ with plain values

    @convenience("4005")
    def start_extraction(
        self,
        *,
        state: str,
        operation: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        detail: m.TipoDettaglioDati | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[m.RispostaMultipla4005]:
        """4005 ``elaborazione``: ask for the Comune's operations or notifications in
        ``statoLavorazione`` ``state`` (ANPR's table of processing states: ``1`` in progress,
        ``2`` done, ``3`` done with a KO…; for notifications ``7`` not taken in charge yet,
        ``8`` taken, ``9`` all), of ``operation`` (``operazioneRichiesta``: ``5005``,
        ``N010``…), between ``since`` and ``until`` (both or neither; at most 31 days, in the
        last 180, italia/anpr#1906). ``detail`` (``dettaglioDati``) asks for identifiers
        only (``ID``), with the requests, the answers or both (``TUTTO``, #1392).

        ``value.idOperazioneANPR`` names the extraction for :meth:`collect_extraction`.
        """
        period = None
        if since is not None or until is not None:
            if since is None or until is None:
                from ..validation._errors import error

                raise error("field.missing", "give both since and until, or neither", field="since")
            period = c.TipoPeriodoRiferimento(dataOraIniziale=since, dataOraFinale=until)
        request = m.Richiesta4005(
            elaborazione=m.TipoElaborazione4005(
                dettaglioDati=detail,
                ricercaElenchiRichieste=m.TipoRicercaElenchiRichieste(
                    statoLavorazione=state,
                    operazioneRichiesta=operation,
                    periodoRiferimentoRichieste=period,
                ),
            )
        )
        return self.async_request(request, header=header)

    @convenience("4005")
    def collect_extraction(
        self,
        extraction: str,
        *,
        ready_at: dt.datetime | None = None,
        timeout: float = 300.0,
        poll_interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        header: Mapping[str, Any] | None = None,
    ) -> list[m.TipodatiRisposta4005]:
        """4005 ``verificaStato``: every result item of the extraction ``extraction`` (its
        ``idOperazioneANPR``), all pages, once ready.

        Asks no sooner than ``ready_at`` (the ``dataDisponibilita`` of the ``elaborazione``
        answer, if given); while the extraction is in progress, waits until the new
        ``dataDisponibilita`` ANPR announces (at least ``poll_interval`` seconds between two
        checks), for at most ``timeout`` seconds in all: then raises
        :class:`~anpr_client.errors.ReadTimeout` (call again later: the extraction stays on
        ANPR's side). ``sleep`` is the waiting function (tests pass their own).
        """
        deadline = time.monotonic() + timeout
        first = _seconds_until(ready_at)
        if first > 0:
            if time.monotonic() + first > deadline:
                raise ReadTimeout(
                    f"the 4005 extraction {extraction} will not be ready within {timeout:g} s"
                )
            sleep(first)
        items: list[m.TipodatiRisposta4005] = []
        page = 1
        while True:
            request = m.Richiesta4005(
                verificaStato=m.TipoVerificaStato4005(
                    idOperazioneANPR=extraction, progressivo=str(page)
                )
            )
            value = self.async_request(request, header=header).value
            if value.statoRichiesta.strip() != _READY:
                wait = max(poll_interval, _seconds_until(value.dataDisponibilita))
                if time.monotonic() + wait > deadline:
                    raise ReadTimeout(
                        f"the 4005 extraction {extraction} is not ready within {timeout:g} s "
                        f"(ANPR announces {value.dataDisponibilita.isoformat()})"
                    )
                sleep(wait)
                continue
            items.extend(value.elencoRisposte)
            supply = value.datiFornitura
            if supply is None:
                return items
            current = _number(supply.progressivoCorrente, page)
            if current >= _number(supply.progressivoTotale, current):
                return items
            page = current + 1

    @convenience("4005")
    def extract(
        self,
        *,
        state: str,
        operation: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        detail: m.TipoDettaglioDati | None = None,
        timeout: float = 300.0,
        poll_interval: float = 5.0,
        header: Mapping[str, Any] | None = None,
    ) -> list[m.TipodatiRisposta4005]:
        """4005: :meth:`start_extraction` then :meth:`collect_extraction` (same arguments)."""
        started = self.start_extraction(
            state=state,
            operation=operation,
            since=since,
            until=until,
            detail=detail,
            header=header,
        )
        return self.collect_extraction(
            started.value.idOperazioneANPR,
            ready_at=started.value.dataDisponibilita,
            timeout=timeout,
            poll_interval=poll_interval,
            header=header,
        )
