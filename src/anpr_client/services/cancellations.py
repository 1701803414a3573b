"""2000 Cancellazione: taking a person off the registry (``client.cancellations``).

>>> client.cancellations.record_death_of(                             # doctest: +SKIP
...     Subject(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO"),
...     died_on=dt.date(2026, 11, 18), role="head",
... ).value.listaSoggettiVariati

The model methods take the operation's request model and return the typed OK branch (see
:mod:`anpr_client.services.registrations`); :meth:`Cancellations.record_death_of` and
:meth:`Cancellations.cancel_resident` build the request from plain values. A cancellation
takes effect at ``testataRichiesta/dataDecorrenza`` (EHR97 without it): the convenience
methods set it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from ..models import cancellazione as m
from ..models import common as c
from ..results import Result
from . import _fragments as f
from ._typed import Face, call, convenience, operation
from .params import Place, Subject

__all__ = ["Cancellations"]

#: ``ruoloSoggetto`` of ``datiControllo``: the person is the head of the household (1) or
#: another member (2), as ANPR's published XSD documents it (italia/anpr, src/wsdl/comuni,
#: vocabolario2000cancellazione.xsd).
_ROLE: Mapping[str, str] = {"head": "1", "member": "2"}

#: ``tipoMotivoCancellazione`` 1: a death established (ANPR's table 15).
_DEATH = "1"


class Cancellations(Face):
    """The 2000 family, bound to a client (``client.cancellations``)."""

    FAMILY = "2000"

    @operation("2001")
    def record_death(
        self, request: m.Richiesta2001, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """2001 ``decesso``: cancel a resident who died (or was declared presumed dead)."""
        return call(self._client, "2001", request, header=header)

    @operation("2003")
    def cancel_for_other_reasons(
        self, request: m.Richiesta2003, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """2003 ``cancellazione_AltriMotivi``: cancel a resident for the other reasons of
        ANPR's table 15 (a move to a Comune not on ANPR or abroad, untraceable…)."""
        return call(self._client, "2003", request, header=header)

    @operation("2009")
    def archive_cohabitation(
        self, request: m.Richiesta2009, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """2009 ``cancellazione_Archiviazione_Scheda_Convivenza``: archive the record of a
        cohabitation that ceased."""
        return call(self._client, "2009", request, header=header)

    @operation("2011")
    def annul_cancellation(
        self, request: m.Richiesta2011, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """2011 ``annullamento_Cancellazione``: annul a cancellation made in error."""
        return call(self._client, "2011", request, header=header)

    @operation("2012")
    def cancel_section(
        self, request: m.Richiesta2012, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """2012 ``cancellazione_sezione``: cancel an electoral section of the Comune."""
        return call(self._client, "2012", request, header=header)

    # ------------------------------------------------------------------ with plain values

    @convenience("2001")
    def record_death_of(
        self,
        person: Subject,
        *,
        died_on: dt.date,
        role: Literal["head", "member"],
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune]:
        """2001: record the death of ``person`` (a resident of this Comune) on ``died_on``.

        ``role`` says whether they were the head of their household (``ruoloSoggetto`` 1) or
        another member (2); a household that loses its head gets a new one from ANPR, or
        name it with the model method (``elencoSoggettiFamiglia``, italia/anpr#1822).
        ``effective_date`` (``dataDecorrenza``, the day the registry records it, which may
        follow the death, #1098) defaults to today.
        """
        request = m.Richiesta2001(
            motivoCancellazione=m.TipoMotivoCancellazione2001(tipoMotivoCancellazione=_DEATH),
            generalitaPerRicerca=f.subject(person),
            datiDecesso=c.TipoDatiEvento(dataEvento=died_on),
            datiControllo=m.TipoDatiControllo2001(ruoloSoggetto=_ROLE[role]),
        )
        since = effective_date or dt.date.today()
        return self.record_death(request, header=f.effective_header(since, header))

    @convenience("2003")
    def cancel_resident(
        self,
        person: Subject,
        *,
        reason: str,
        role: Literal["head", "member"],
        destination: str | Place | None = None,
        note: str | None = None,
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune]:
        """2003: cancel ``person`` from the registry for ``reason``, ANPR's table 15 code:
        ``3`` a move to a Comune not on ANPR, ``5`` a foreigner moving abroad, ``8`` a move
        abroad (AIRE registration), ``6`` untraceable, ``13`` other (with ``note``)….

        ``destination`` is where they went: a Comune's ISTAT code or a foreign state's code
        (or a :class:`~.params.Place`). A move to a Comune on ANPR is no cancellation: the
        destination records it (5001/5005). ``role``: see :meth:`record_death_of`.
        ``effective_date`` (the cancellation's date and ``dataDecorrenza``) defaults to today.
        """
        since = effective_date or dt.date.today()
        where = None
        if destination is not None:
            where = f.provenance(f.place(self._client, destination, since, field="destination"))
        request = m.Richiesta2003(
            datiCancellazione=c.TipoDatiCancellazione(
                motivoCancellazione=reason,
                notecancellazione=note,
                dataDecorrenzaCancellazione=since,
            ),
            generalitaPerRicerca=f.subject(person),
            destinazione=where,
            datiControllo=m.TipoDatiControllo2003(ruoloSoggetto=_ROLE[role]),
        )
        return self.cancel_for_other_reasons(request, header=f.effective_header(since, header))
