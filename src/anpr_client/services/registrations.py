"""1000 Iscrizione: registering a person in the Comune's registry (``client.registrations``).

>>> client.registrations.register_newborn(                            # doctest: +SKIP
...     "ROSSI", "LUCA", "M", dt.date(2026, 11, 18), "058091",
...     mother=Subject(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA"),
... ).value

Each method named after the act takes the operation's request model (``testataRichiesta`` may
be left out: the client fills it) and returns a :class:`~anpr_client.results.Result` whose
``value`` is the answer's OK branch; a KO answer raises the matching
:class:`~anpr_client.errors.AnprRejected` subclass. :meth:`Registrations.register_newborn` and
:meth:`Registrations.register_arrival` build the request from plain values (see
:mod:`.params`). A registration takes effect at ``testataRichiesta/dataDecorrenza``: give it in
``header=`` to the model methods (ANPR refuses a registration without it, EHR97); the
convenience methods set it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..models import common as c
from ..models import iscrizione as m
from ..results import Result
from . import _fragments as f
from ._typed import Face, call, convenience, operation
from .params import Address, Place, Subject

__all__ = ["Registrations"]

Registered = Result[c.RispostaComune | c.RispostaMultipla1001]

#: ``attribuzioneFamiglia`` of a newborn: the parents' family (1) or the mother's (3), the
#: codes ANPR's answers name (italia/anpr#1026, #2045, #2598).
_NEWBORN_HOUSEHOLD: Mapping[str, str] = {"parents": "1", "mother": "3"}

#: ``idMotivoIscrizione`` (ANPR's table 7): immigration from a Comune not on ANPR, from abroad.
_FROM_A_COMUNE, _FROM_ABROAD = "3", "4"

#: 1002's ``attribuzioneFamiglia`` (see :meth:`Registrations.register_arrival`), and the
#: ``tipoScheda`` of a family record (3; 4 is a cohabitation, italia/anpr#761).
_EXISTING_FAMILY, _NEW_FAMILY, _FAMILY_RECORD = "1", "2", "3"


class Registrations(Face):
    """The 1000 family, bound to a client (``client.registrations``)."""

    FAMILY = "1000"

    @operation("1001")
    def register_birth(
        self, request: m.Richiesta1001, *, header: Mapping[str, Any] | None = None
    ) -> Registered:
        """1001 ``iscrizione_nascita``: register a birth (the newborn joins a household)."""
        return call(self._client, "1001", request, header=header)

    @operation("1002")
    def register_for_other_reasons(
        self, request: m.Richiesta1002, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune | c.RispostaMultipla1002]:
        """1002 ``iscrizione_altriMotivi``: register a person for the reasons of ANPR's table 7
        (immigration from abroad or from a Comune not on ANPR, reappearance, return from
        AIRE…)."""
        return call(self._client, "1002", request, header=header)

    @operation("1010")
    def register_cohabitation(
        self, request: m.Richiesta1010, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """1010 ``iscrizione_schedaConvivenza``: open the record of a cohabitation (an
        institution: a care home, a convent…)."""
        return call(self._client, "1010", request, header=header)

    @operation("1013")
    def annul_registration(
        self, request: m.Richiesta1013, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """1013 ``annullamento_iscrizione``: annul a registration made in error."""
        return call(self._client, "1013", request, header=header)

    @operation("1014")
    def record_procedure(
        self, request: m.Richiesta1014, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """1014 ``procedimento_amministrativo``: record the administrative procedure of a
        registration (opened, its steps, closed)."""
        return call(self._client, "1014", request, header=header)

    # ------------------------------------------------------------------ with plain values

    @convenience("1001")
    def register_newborn(
        self,
        surname: str | None,
        name: str | None,
        sex: Literal["M", "F"],
        birth_date: dt.date,
        birth_place: str | Place,
        *,
        mother: Subject,
        father: Subject | None = None,
        household: Literal["parents", "mother"] = "parents",
        citizenship: str | Place = "100",
        codice_fiscale: str | None = None,
        relation: str = "3",
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Registered:
        """1001: register a child born on ``birth_date`` in ``birth_place`` (an ISTAT code or
        a foreign state's code, or a :class:`~.params.Place`).

        The child joins the family of the parents (``household="parents"``) or the mother's
        (``"mother"``); ANPR needs the mother's data in both cases (ES043, italia/anpr#2045)
        and checks them against its record (#2919). Without ``codice_fiscale`` ANPR attributes
        one (``gestioneCF`` 1, #186); it comes back in the answer's ``listaSoggettiVariati``.
        ``relation`` is the child's ``codiceLegame`` to the head of that household (ANPR's
        table 5: ``3``, a child). ``citizenship`` is a state code (``100``: Italy).
        ``effective_date`` (``dataDecorrenza``) defaults to the birth date.
        """
        since = effective_date or birth_date
        nationality = f.place(self._client, citizenship, birth_date, field="citizenship")
        request = m.Richiesta1001(
            generalita1001=m.TipoGeneralitaIscrizione1001(
                generalita=f.newcomer(
                    self._client, codice_fiscale, surname, name, sex, birth_date, birth_place
                )
            ),
            cittadinanza=f.citizenship(nationality),
            maternita=f.parent(mother),
            paternita=f.parent(father),
            legameSoggetto=c.TipoLegameSoggetto(dataDecorrenza=since, codiceLegame=relation),
            datiControllo=m.TipoDatiControllo1001(
                attribuzioneFamiglia=_NEWBORN_HOUSEHOLD[household],
                gestioneCF=f.cf_management(codice_fiscale),
            ),
        )
        return self.register_birth(request, header=f.effective_header(since, header))

    @convenience("1002")
    def register_arrival(
        self,
        surname: str | None,
        name: str | None,
        sex: Literal["M", "F"],
        birth_date: dt.date,
        birth_place: str | Place,
        *,
        coming_from: str | Place,
        address: Address,
        marital_status: str,
        citizenship: str | Place | Sequence[str | Place],
        household: str | None = None,
        relation: str = "1",
        codice_fiscale: str | None = None,
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune | c.RispostaMultipla1002]:
        """1002: register a person arriving from abroad or from a Comune not on ANPR, resident
        at ``address``.

        ``coming_from`` is a foreign state's code (``idMotivoIscrizione`` 4, immigration from
        abroad, ANPR's table 7) or a Comune's ISTAT code (3, from a Comune not on ANPR; from
        a Comune on ANPR the arrival is a change of residence, 5001 or 5005: ANPR answers
        ES086). The person founds a household (the head of it), or joins the existing family
        ``household`` (its ``idFamigliaConvivenzaANPR``) as ``relation`` (``codiceLegame``,
        ANPR's table 5). ``marital_status`` is ANPR's table 1 code (``1`` single, ``2``
        married…), mandatory for a registration (EN127). Without ``codice_fiscale`` ANPR
        attributes one (``gestioneCF`` 1). ``effective_date`` (``dataDecorrenza``, and the
        residence's start) defaults to today.

        ``attribuzioneFamiglia`` is ``1`` for an existing family (italia/anpr#761) and ``2``
        for a new one, the code ANPR's AIRE twin of this service (A002) takes for a new
        family (#1852, #1962).
        """
        since = effective_date or dt.date.today()
        origin = f.place(self._client, coming_from, since, field="coming_from")
        given = [citizenship] if isinstance(citizenship, str | Place) else list(citizenship)
        states = [f.place(self._client, s, since, field="citizenship") for s in given]
        family = None
        if household is not None:
            family = m.TipoFamiglia1002(
                famiglia=c.TipoFamigliaConvivenza(
                    idFamigliaConvivenzaANPR=household, tipoScheda=_FAMILY_RECORD
                ),
                legameSoggetto=c.TipoLegameSoggetto(dataDecorrenza=since, codiceLegame=relation),
            )
        request = m.Richiesta1002(
            motivoIscrizione=m.TipoMotivoIscrizione1002(
                idMotivoIscrizione=_FROM_ABROAD if origin.abroad else _FROM_A_COMUNE
            ),
            generalita1002=m.TipoGeneralitaIscrAltriMot1002(
                generalita=f.newcomer(
                    self._client, codice_fiscale, surname, name, sex, birth_date, birth_place
                ),
                statoCivile=c.TipoStatoCivile(statoCivile=marital_status),
            ),
            cittadinanza=[f.citizenship(s) for s in states],
            provenienza=f.provenance(origin),
            residenza=[f.residence(self._client, address, since)],
            famiglia=family,
            datiControllo=m.TipoDatiControllo1002(
                attribuzioneFamiglia=_EXISTING_FAMILY if family else _NEW_FAMILY,
                gestioneCF=f.cf_management(codice_fiscale),
            ),
        )
        return self.register_for_other_reasons(request, header=f.effective_header(since, header))
