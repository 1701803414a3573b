"""A000 AIRE: the registry of Italians resident abroad (``client.aire``).

>>> client.aire.register_citizen(                                      # doctest: +SKIP
...     "ROSSI", "ANNA", "F", dt.date(1990, 2, 12), "058091",
...     address=AddressAbroad(state="215", locality="PARIGI",
...                           consulate_code="...", consulate_name="PARIGI"),
...     reason="C01", initiative="1", criterion="1",
... )

The model methods take the request model and return the typed answer (``RispostaComune``, or
``RispostaMultipla1001``/``1002`` when ANPR asks to choose among candidates: check with
``isinstance``). From plain values: :meth:`Aire.register_newborn` (A001) and
:meth:`Aire.register_citizen` (A002). An AIRE household's record has ``tipoScheda`` 5
(italia/anpr#2685, #2981); ``attribuzioneFamigliaAIRE`` 2 puts the person in a new household
(#1852, #1962), 1 in the existing one named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from ..models import aire as m
from ..models import common as c
from ..results import Result
from . import _fragments as f
from ._typed import Face, call, convenience, operation
from .params import AddressAbroad, Place, Subject

__all__ = ["Aire"]

_AIRE_RECORD = "5"
_EXISTING, _NEW = "1", "2"
#: ``motivoIscrizione`` C02 of ANPR's table 19: a birth, child of a citizen in AIRE.
_BIRTH = "C02"


def _registration(
    reason: str, initiative: str, criterion: str, note: str | None, arrived: dt.date | None
) -> c.TipoIscrizioneAIRE:
    return c.TipoIscrizioneAIRE(
        motivoIscrizione=reason,
        noteMotivoIscrizione=note,
        iniziativaIscrizione=initiative,
        individuazioneComuneIscrizione=criterion,
        dataArrivoConsolato=arrived,
    )


class Aire(Face):
    """The A000 family, bound to a client (``client.aire``)."""

    FAMILY = "A000"

    @operation("A001")
    def register_birth(
        self, request: m.RichiestaA001, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune | c.RispostaMultipla1001]:
        """A001 ``AIRE_iscrizione_nascita``: register in AIRE a child born abroad."""
        return call(self._client, "A001", request, header=header)

    @operation("A002")
    def register_for_other_reasons(
        self, request: m.RichiestaA002, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune | c.RispostaMultipla1002]:
        """A002 ``AIRE_iscrizione_altriMotivi``: register in AIRE for the other reasons of
        ANPR's table 19 (moving abroad, from another Comune's AIRE, citizenship…)."""
        return call(self._client, "A002", request, header=header)

    @operation("A006")
    def change_record(
        self, request: m.RichiestaA006, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """A006 ``AIRE_mutazione``: change an AIRE record (address abroad, household,
        Comune of registration…)."""
        return call(self._client, "A006", request, header=header)

    # ------------------------------------------------------------------ with plain values

    @convenience("A001")
    def register_newborn(
        self,
        surname: str | None,
        name: str | None,
        sex: Literal["M", "F"],
        birth_date: dt.date,
        birth_place: str | Place,
        *,
        household: str,
        initiative: str,
        criterion: str,
        mother: Subject | None = None,
        father: Subject | None = None,
        relation: str = "3",
        reason: str = _BIRTH,
        codice_fiscale: str | None = None,
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune | c.RispostaMultipla1001]:
        """A001: register in AIRE a child born abroad into the AIRE household ``household``
        (its ``idFamigliaConvivenzaANPR``) as ``relation`` (``codiceLegame``, ANPR's table 5:
        ``3``, a child).

        ``reason``, ``initiative`` and ``criterion`` are the codes of ANPR's tables 19
        (reason: ``C02``, a birth), 20 (initiative: ``1`` on a legitimate request, ``3`` on
        a civil-status office's communication…) and 21 (how the Comune was chosen). Without
        ``codice_fiscale`` ANPR attributes one (``gestioneCF`` 1). ``effective_date``
        (``dataDecorrenza``) defaults to the birth date.
        """
        since = effective_date or birth_date
        request = m.RichiestaA001(
            generalitaA001=m.TipoGeneralitaIscrizioneA001(
                generalita=f.newcomer(
                    self._client, codice_fiscale, surname, name, sex, birth_date, birth_place
                )
            ),
            maternita=f.parent(mother),
            paternita=f.parent(father),
            famiglia=c.TipoFamigliaConvivenza(
                idFamigliaConvivenzaANPR=household, tipoScheda=_AIRE_RECORD
            ),
            legameSoggetto=c.TipoLegameSoggetto(dataDecorrenza=since, codiceLegame=relation),
            iscrizioneAire=_registration(reason, initiative, criterion, None, None),
            datiControllo=m.TipoDatiControlloA001(
                attribuzioneFamigliaAIRE=_EXISTING,
                gestioneCF=f.cf_management(codice_fiscale),
            ),
        )
        return self.register_birth(request, header=f.effective_header(since, header))

    @convenience("A002")
    def register_citizen(
        self,
        surname: str | None,
        name: str | None,
        sex: Literal["M", "F"],
        birth_date: dt.date,
        birth_place: str | Place,
        *,
        address: AddressAbroad,
        reason: str,
        initiative: str,
        criterion: str,
        note: str | None = None,
        household: str | None = None,
        relation: str = "1",
        marital_status: str | None = None,
        arrived: dt.date | None = None,
        codice_fiscale: str | None = None,
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune | c.RispostaMultipla1002]:
        """A002: register in AIRE an Italian citizen living at ``address`` abroad, as the
        head of a new AIRE household, or in the existing one ``household`` as ``relation``.

        ``reason`` is ANPR's table 19 code (``C01`` moving abroad, ``C03`` from another
        Comune's AIRE, ``C05`` citizenship acquired abroad, ``C09`` other: with ``note``,
        EC013, italia/anpr#587); ``initiative`` and ``criterion`` those of tables 20 and 21
        (see :meth:`register_newborn`). ``marital_status`` is ANPR's table 1 code;
        ``arrived`` the date of arrival at the consulate. ``effective_date``
        (``dataDecorrenza``, and the residence abroad's start) defaults to today.
        """
        since = effective_date or dt.date.today()
        status = None if marital_status is None else c.TipoStatoCivile(statoCivile=marital_status)
        request = m.RichiestaA002(
            generalitaA002=m.TipoGeneralitaIscrizioneA002(
                generalita=f.newcomer(
                    self._client, codice_fiscale, surname, name, sex, birth_date, birth_place
                ),
                statoCivile=status,
            ),
            famiglia=m.TipoFamigliaA002(
                famiglia=c.TipoFamigliaConvivenza(
                    idFamigliaConvivenzaANPR=household, tipoScheda=_AIRE_RECORD
                ),
                legameSoggetto=c.TipoLegameSoggetto(
                    dataDecorrenza=since, codiceLegame="1" if household is None else relation
                ),
            ),
            iscrizioneAire=_registration(reason, initiative, criterion, note, arrived),
            residenzaEstera=f.residence_abroad(self._client, address, since),
            datiControllo=m.TipoDatiControlloA002(
                attribuzioneFamigliaAIRE=_NEW if household is None else _EXISTING,
                gestioneCF=f.cf_management(codice_fiscale),
            ),
        )
        return self.register_for_other_reasons(request, header=f.effective_header(since, header))
