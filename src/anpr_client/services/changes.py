"""5000 Mutazione: changes to a person's or a household's record (``client.changes``).

>>> client.changes.move_residence(                                    # doctest: +SKIP
...     [Member(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO", relation="1")],
...     Address(comune="058091", street="APPIA", number="7", cap="00179"),
... ).value

The model methods take the operation's request model and return the typed OK branch (see
:mod:`anpr_client.services.registrations`). From plain values: :meth:`Changes.move_residence`
(5005: some persons move into a new household, or join an existing one),
:meth:`Changes.move_household` (5001: a whole household moves),
:meth:`Changes.change_household_composition` (5001: relations within a household), and the
5014 corrections :meth:`Changes.correct_birth_place`, :meth:`Changes.correct_residence_start`
and :meth:`Changes.correct_registration_reason`.

Which service a move is, in ANPR's words (italia/anpr#1824, #2398, #2965): a whole household
moving keeps its record (5001, ``tipoMutazione`` 4); some of its members moving into a new
household, or anyone joining an existing household, is a 5005; a person arriving from a Comune
not on ANPR or from abroad is a registration (1002). The Comune of destination records a move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..models import common as c
from ..models import mutazione as m
from ..results import Result
from . import _fragments as f
from ._typed import Face, call, convenience, operation
from .params import Address, Member, Place, Subject

__all__ = ["Changes"]

#: ``tipoScheda`` of a household record: a family (3; 4 is a cohabitation, italia/anpr#761,
#: #1545).
_FAMILY_RECORD = "3"
#: 5005's ``datiControllo``: ``tipoMutazione`` 02, residence (ANPR's table of residence
#: changes; the code as sent in italia/anpr#1920), and ``tipoScheda`` 1 an existing household,
#: 2 a new one (#1920, #2965).
_RESIDENCE, _EXISTING, _NEW = "02", "1", "2"
#: 5001's ``datiControllo``: ``tipoMutazione`` 2 the composition of the record, 4 its residence
#: (ANPR's table of household changes; #707, #2380, #3460), on a family record (``tipoScheda``
#: 1, #707).
_COMPOSITION, _HOUSEHOLD_RESIDENCE, _FAMILY_CHANGE = "2", "4", "1"
#: ``listaControlli`` entry that forces a change to the same address (italia/anpr#281, #2454).
_FORCE = c.TipoControllo(codice="FO", valore="S")


def _controls(force: bool) -> c.TipoListaControlli | None:
    return c.TipoListaControlli(controllo=[_FORCE]) if force else None


class Changes(Face):
    """The 5000 family, bound to a client (``client.changes``)."""

    FAMILY = "5000"

    @operation("5001")
    def change_household(
        self, request: m.Richiesta5001, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5001 ``mutazione_famiglia_convivenza``: change a household's record as a whole
        (its head or guardian, its composition, its residence, its general data…:
        ``datiControllo/tipoMutazione``)."""
        return call(self._client, "5001", request, header=header)

    @operation("5005")
    def change_residence(
        self, request: m.Richiesta5005, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5005 ``mutazione_residenza``: persons take up residence in a new household or join
        an existing one (recorded by the Comune of destination)."""
        return call(self._client, "5005", request, header=header)

    @operation("5008")
    def change_record(
        self, request: m.Richiesta5008, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5008 ``mutazione_scheda``: change a person's record (personal data, civil status,
        citizenship, marriage…: ``datiControllo/tipoMutazione``)."""
        return call(self._client, "5008", request, header=header)

    @operation("5010")
    def change_electoral_lists(
        self, request: m.Richiesta5010, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5010 ``mutazione_liste_elettorali``: a person's electoral-list data."""
        return call(self._client, "5010", request, header=header)

    @operation("5011")
    def change_section_lists(
        self, request: m.Richiesta5011, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5011 ``mutazione_liste_sezioni``: the Comune's electoral sections."""
        return call(self._client, "5011", request, header=header)

    @operation("5012")
    def annul_change(
        self, request: m.Richiesta5012, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5012 ``annullamento_mutazione``: annul a change made in error."""
        return call(self._client, "5012", request, header=header)

    @operation("5013")
    def revoke_data(
        self, request: m.Richiesta5013, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune]:
        """5013 ``revoca_dato``: revoke a datum of a person's or a household's record."""
        return call(self._client, "5013", request, header=header)

    @operation("5014")
    def correct_data(
        self, request: m.Richiesta5014, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune | m.Risposta5014]:
        """5014 ``rettifica_dati``: correct a person's data (the start of residence, the
        registration reason, dates of the record, the birth place)."""
        return call(self._client, "5014", request, header=header)

    @operation("5021")
    def manage_polygamy(
        self, request: m.Richiesta5021, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta5021]:
        """5021 ``gestione_poligamia``: record the further marriages of a polygamous person."""
        return call(self._client, "5021", request, header=header)

    # ------------------------------------------------------------------ with plain values

    @convenience("5005")
    def move_residence(
        self,
        members: Sequence[Member],
        to: Address,
        *,
        household: str | None = None,
        effective_date: dt.date | None = None,
        force: bool = False,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune]:
        """5005: ``members`` (of one household, italia/anpr#327) take up residence at ``to``
        in a new household (one of them its head: ``relation`` 1), or join the existing
        household ``household`` there (its ``idFamigliaConvivenzaANPR``) — a change of address
        within the Comune, or an arrival from another Comune on ANPR, which loses them.

        ``force`` sends ANPR's flag for a new household at the address the persons already
        have (#281, #2454). ``effective_date`` (``dataDecorrenza``, and the new residence's
        start) defaults to today.
        """
        since = effective_date or dt.date.today()
        moving = f.members(members, field="members")
        request = m.Richiesta5005(
            generalitaSchedaFamiglia=c.TipoFamigliaConvivenza(
                idFamigliaConvivenzaANPR=household, tipoScheda=_FAMILY_RECORD
            ),
            residenzaFamiglia=[f.residence(self._client, to, since)],
            elencoSoggettiFamiglia=[f.soggetto_famiglia(p, since) for p in moving],
            datiControllo=m.TipoDatiControllo5005(
                tipoMutazione=_RESIDENCE,
                tipoScheda=_NEW if household is None else _EXISTING,
                listaControlli=_controls(force),
            ),
        )
        return self.change_residence(request, header=f.effective_header(since, header))

    @convenience("5001")
    def move_household(
        self,
        household: str,
        *,
        to: Address,
        effective_date: dt.date | None = None,
        force: bool = False,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune]:
        """5001 (``tipoMutazione`` 4, the household's residence): the whole household
        ``household`` (its ``idFamigliaConvivenzaANPR``) moves to ``to`` — within the Comune,
        or from another Comune on ANPR (italia/anpr#2398, #2965). ``force``: see
        :meth:`move_residence`. ``effective_date`` defaults to today."""
        since = effective_date or dt.date.today()
        request = m.Richiesta5001(
            famigliaConvivenza=c.TipoFamigliaConvivenza(
                idFamigliaConvivenzaANPR=household, tipoScheda=_FAMILY_RECORD
            ),
            residenzaFamigliaConvivenza=f.residence(self._client, to, since),
            datiControllo=m.TipoDatiControllo5001(
                tipoMutazione=_HOUSEHOLD_RESIDENCE,
                tipoScheda=_FAMILY_CHANGE,
                listaControlli=_controls(force),
            ),
        )
        return self.change_household(request, header=f.effective_header(since, header))

    @convenience("5001")
    def change_household_composition(
        self,
        household: str,
        members: Sequence[Member],
        *,
        effective_date: dt.date | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune]:
        """5001 (``tipoMutazione`` 2, the composition): the relations of ``members`` to the
        head of ``household`` (its ``idFamigliaConvivenzaANPR``) change, from
        ``effective_date`` (default: today). List the head too, even when only another
        member's relation changes (italia/anpr#707); a new head is named this way (#2380)."""
        since = effective_date or dt.date.today()
        changed = f.members(members, field="members")
        request = m.Richiesta5001(
            famigliaConvivenza=c.TipoFamigliaConvivenza(
                idFamigliaConvivenzaANPR=household, tipoScheda=_FAMILY_RECORD
            ),
            elencoSoggettiFamiglia=[f.soggetto_famiglia(p, since) for p in changed],
            datiControllo=m.TipoDatiControllo5001(
                tipoMutazione=_COMPOSITION, tipoScheda=_FAMILY_CHANGE
            ),
        )
        return self.change_household(request, header=f.effective_header(since, header))

    @convenience("5014")
    def correct_birth_place(
        self,
        person: Subject,
        birth_place: str | Place,
        *,
        born_on: dt.date,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune | m.Risposta5014]:
        """5014 (``richiestaRettifica105``): correct the birth place of ``person`` to
        ``birth_place`` (an ISTAT code or a foreign state's code, read at ``born_on``, the
        birth date, or a :class:`~.params.Place`)."""
        where = f.place(self._client, birth_place, born_on, field="birth_place")
        return self._correct(
            person,
            m.TipoRichiestaRettifica(
                richiestaRettifica105=m.TipoRichiestaRettifica105(luogoNascita=f.birth_place(where))
            ),
            header,
        )

    @convenience("5014")
    def correct_residence_start(
        self, person: Subject, since: dt.date, *, header: Mapping[str, Any] | None = None
    ) -> Result[c.RispostaComune | m.Risposta5014]:
        """5014 (``richiestaRettifica101``): correct the date ``person``'s residence began."""
        return self._correct(
            person,
            m.TipoRichiestaRettifica(
                richiestaRettifica101=m.TipoRichiestaRettifica101(dataDecorrenzaResidenza=since)
            ),
            header,
        )

    @convenience("5014")
    def correct_registration_reason(
        self,
        person: Subject,
        reason: str,
        *,
        note: str | None = None,
        coming_from: str | Place | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> Result[c.RispostaComune | m.Risposta5014]:
        """5014 (``richiestaRettifica102``): correct the reason ``person`` was registered for
        (``idMotivoIscrizione``, ANPR's table 7; ``9``, other, with ``note``) and, for an
        immigration, where they came from (an ISTAT or state code, or a Place)."""
        origin = None
        if coming_from is not None:
            today = dt.date.today()
            origin = f.provenance(f.place(self._client, coming_from, today, field="coming_from"))
        return self._correct(
            person,
            m.TipoRichiestaRettifica(
                richiestaRettifica102=m.TipoRichiestaRettifica102(
                    idMotivoIscrizione=reason, note=note, provenienza=origin
                )
            ),
            header,
        )

    def _correct(
        self,
        person: Subject,
        correction: m.TipoRichiestaRettifica,
        header: Mapping[str, Any] | None,
    ) -> Result[c.RispostaComune | m.Risposta5014]:
        request = m.Richiesta5014(generalitaPerRicerca=f.subject(person), tipoRettifica=correction)
        return self.correct_data(request, header=header)
