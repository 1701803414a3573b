"""The A000 family: AIRE, the register of a Comune's citizens living abroad.

An AIRE citizen is a person of the Comune (its competence) with status ``aire``, a member of
a *famiglia AIRE* (``tipoScheda`` 5) whose residence is abroad (``localitaEstera``: the foreign
address and the competent consulate), with the data of the registration (``iscrizioneAire``:
the reason of ANPR's table 19, the initiative of table 20, how the Comune was chosen, table 21,
and their notes). 3002 finds them (``soggettoAIRE``, ``residenzaIscrizioneAIRE``).

- **A001** registers a birth abroad (``motivoIscrizione`` ``C02``, ES071) of a new person.
- **A002** registers a person for the other reasons (not ``C02``, ES072): an Italian living
  abroad who is not on ANPR yet, or was cancelled. A person already on ANPR (resident in a
  Comune, or in another Comune's AIRE) is not registered again (EN187): a resident who moves
  abroad, or a change of AIRE Comune, is an A006 (italia/anpr#2129, #4313).
- **A006** changes an AIRE position, by ``datiControllo/tipoMutazione`` (1 to 4, ES094):
  ``1`` a resident of any Comune on ANPR moves abroad into the requesting Comune's AIRE
  (italia/anpr#1997, #2012, #2129); ``2`` a citizen abroad of the Comune moves to another
  famiglia AIRE, new or existing (a whole family moving is a 5001, italia/anpr#437, #2597,
  #2312); ``3`` and ``4`` need the registration data (ES098): ``3`` updates them, ``4`` the
  requesting Comune takes over the registration from another Comune (italia/anpr#243). That
  3 is "other registration data" and 4 "the Comune of reference" is our reading of ES098 and
  of the three uses of A006 in ANPR's table of web services (other data, Comune of reference,
  residence abroad); 1 and 2 are stated in the threads cited.

``datiControllo/attribuzioneFamigliaAIRE`` (EF015: 1 or 2 in the AIRE services): ``1`` the
existing famiglia AIRE ``famiglia/idFamigliaConvivenzaANPR`` of the requesting Comune
(``tipoScheda`` 5; another kind of scheda or an unknown id is EF002, italia/anpr#1191, #574;
another Comune's is EN236), joining it not before its residence began (EN237, italia/anpr#3453),
with a relation other than head if it has one (EF007, italia/anpr#2555); ``2`` a new famiglia
AIRE at ``residenzaEstera`` (italia/anpr#1962), whose head is the person (EF008 otherwise).
A residence abroad needs ``localitaEstera`` (ES022) with the place's name (ES027), in a state
other than Italy (EC053). An AIRE registration starts on 1 July 1990 at the earliest (ES078).

When a change takes a person out of another Comune's competence (A006 ``1`` of a resident of
another Comune, ``4``), that Comune gets an N010, as for a 5005.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

from .. import payloads
from ..household import ITALY, SCHEDA_AIRE, AireRegistration, ForeignAddress, Household, Person
from .base import Context, Entry, OkAnswer, Rejected, Request, entry
from .common import (
    born_by,
    changed_subject,
    check_residence_date,
    check_scheda_type,
    effective_date,
    locate_registered,
    no_procedure_elsewhere,
    notify,
    read_personal_data,
    text,
)
from .registration import register_person

__all__ = ["change_aire", "register_aire_birth", "register_aire_other"]

_REASONS: Final = frozenset({"C01", "C02", "C03", "C04", "C05", "C06", "C07", "C09"})
"""The codes of ANPR's table 19, *motivi di iscrizione AIRE*."""
_INITIATIVES: Final = frozenset({"1", "2", "3", "4", "5", "9"})
"""Table 20, *iniziativa dell'iscrizione AIRE*."""
_CRITERIA: Final = frozenset({"1", "2", "3", "4", "5", "6", "9"})
"""Table 21, *individuazione del comune di iscrizione AIRE*."""
_CODED: Final = (
    # element, ANPR's table, its codes, the "other" code, the code of a wrong value, of a
    # missing note
    ("motivoIscrizione", "19", _REASONS, "C09", "EC060", "EC013"),
    ("iniziativaIscrizione", "20", _INITIATIVES, "9", "EC061", "EC016"),
    ("individuazioneComuneIscrizione", "21", _CRITERIA, "9", "EC062", "EC017"),
)
_NOTE_OF: Final = {
    "motivoIscrizione": "noteMotivoIscrizione",
    "iniziativaIscrizione": "noteIniziativaIscrizione",
    "individuazioneComuneIscrizione": "noteIndividuazioneComuneIscrizione",
}
_BIRTH: Final = "C02"
_EXISTING_FAMILY: Final = "1"
_NEW_FAMILY: Final = "2"
_FIRST_DAY: Final = dt.date(1990, 7, 1)
_ABROAD_KIND: Final = "4"
"""``tipoIndirizzo`` 4, *residenza estera*."""
_TO_AIRE: Final = "1"
_MOVE_ABROAD: Final = "2"
_DATA: Final = "3"
_TAKE_OVER: Final = "4"


def _first_day(since: dt.date) -> None:
    if since < _FIRST_DAY:
        raise Rejected(
            entry(
                "ES078",
                f"an AIRE registration starts on {_FIRST_DAY.isoformat()} at the earliest "
                f"(dataDecorrenza {since.isoformat()})",
                field="dataDecorrenza",
                value=since,
            )
        )


def _registration(req: Request, since: dt.date, *, required: str | None) -> AireRegistration:
    """``iscrizioneAire`` as an :class:`AireRegistration`: the codes of tables 19-21 (EC060,
    EC061, EC062) and the note each "other" code needs (EC013, EC016, EC017). Without the
    block: ``required`` is the code to answer (or the registration has no codes)."""
    block = req.payload.get("iscrizioneAire")
    if not isinstance(block, Mapping):
        if required is not None:
            raise Rejected(
                entry(
                    required,
                    "give the data of the AIRE registration (iscrizioneAire: motivoIscrizione, "
                    "iniziativaIscrizione, individuazioneComuneIscrizione)",
                    field="iscrizioneAire",
                )
            )
        return AireRegistration(None, None, None, since)
    codes: dict[str, str] = {}
    notes: dict[str, str] = {}
    for key, table, allowed, other, code, note_code in _CODED:
        note = _NOTE_OF[key]
        value = (text(block.get(key)) or "").upper()
        value = value if value.startswith("C") else value.lstrip("0")
        if value not in allowed:
            raise Rejected(
                entry(
                    code,
                    f"{key} {value or '(missing)'} is not in ANPR's table {table}",
                    field=f"iscrizioneAire/{key}",
                    value=value or None,
                )
            )
        codes[key] = value
        if value == other:
            written = text(block.get(note))
            if written is None:
                raise Rejected(
                    entry(
                        note_code,
                        f"{key} {value} (other) needs {note}",
                        field=f"iscrizioneAire/{note}",
                    )
                )
            notes[note] = written
    return AireRegistration(
        reason=codes["motivoIscrizione"],
        initiative=codes["iniziativaIscrizione"],
        criterion=codes["individuazioneComuneIscrizione"],
        since=since,
        notes=tuple(sorted(notes.items())),
    )


def _foreign_address(req: Request, since: dt.date) -> ForeignAddress:
    residence = req.payload.get("residenzaEstera")
    address = payloads.foreign_address_of(residence)
    if address is None:
        raise Rejected(
            entry(
                "ES022",
                "a new famiglia AIRE needs its residence abroad "
                f"(residenzaEstera with tipoIndirizzo {_ABROAD_KIND} and localitaEstera)",
                field="residenzaEstera/localitaEstera",
            )
        )
    if not address.locality:
        raise Rejected(
            entry(
                "ES027",
                "a residence abroad needs the name of its place",
                field="residenzaEstera/localitaEstera/indirizzoEstero/localita/descrizioneLocalita",
            )
        )
    if address.state == ITALY:
        raise Rejected(
            entry(
                "EC053",
                "a residence abroad is in a foreign state, not in Italy (100)",
                field="residenzaEstera/localitaEstera/indirizzoEstero/localita/codiceStato",
                value=address.state,
            )
        )
    check_residence_date(residence, since, where="residenzaEstera")
    return address


def _aire_family(ctx: Context, req: Request, scheda: Mapping[str, Any]) -> Household:
    where = "famiglia/idFamigliaConvivenzaANPR"
    check_scheda_type(scheda, SCHEDA_AIRE, where="famiglia")
    household_id = text(scheda.get("idFamigliaConvivenzaANPR"))
    household = ctx.registry.household(household_id) if household_id else None
    if household is None or not household.active or not household.abroad:
        raise Rejected(
            entry(
                "EF002",
                f"{household_id} is not an active famiglia AIRE",
                field=where,
                value=household_id,
            )
        )
    if household.comune != req.comune:
        raise Rejected(
            entry(
                "EN236",
                f"famiglia AIRE {household.id} is of Comune {household.comune}: a change of "
                "AIRE Comune is an A006",
                field=where,
                value=household.id,
            )
        )
    return household


def _target(
    ctx: Context,
    req: Request,
    scheda: Mapping[str, Any],
    legame: Mapping[str, Any],
    since: dt.date,
    *,
    keep: ForeignAddress | None = None,
) -> tuple[Household, str]:
    """The famiglia AIRE to join and the relation in it (see the module docstring); ``keep``:
    the address of a new family when the request gives none (a change of AIRE Comune)."""
    attribution = text((req.payload.get("datiControllo") or {}).get("attribuzioneFamigliaAIRE"))
    relation = text(legame.get("codiceLegame")) or "1"
    field = "legameSoggetto/codiceLegame"
    if attribution == _EXISTING_FAMILY:
        household = _aire_family(ctx, req, scheda)
        if relation == "1" and household.members:
            raise Rejected(
                entry(
                    "EF007",
                    f"famiglia AIRE {household.id} has a head: give the relation to it",
                    field=field,
                    value=relation,
                )
            )
        if since < household.since:
            raise Rejected(
                entry(
                    "EN237",
                    f"famiglia AIRE {household.id} lives at its address since "
                    f"{household.since.isoformat()}: nobody joins it from {since.isoformat()}",
                    field="dataDecorrenza",
                    value=since,
                )
            )
        return household, relation
    if attribution != _NEW_FAMILY:
        raise Rejected(
            entry(
                "EF015",
                f"attribuzioneFamigliaAIRE {attribution} is not valid: 1 an existing famiglia "
                "AIRE, 2 a new one",
                field="datiControllo/attribuzioneFamigliaAIRE",
                value=attribution,
            )
        )
    if relation != "1":
        raise Rejected(
            entry(
                "EF008",
                f"a new famiglia AIRE needs its head: the person's relation is 1 (got {relation})",
                field=field,
                value=relation,
            )
        )
    if keep is not None and not req.payload.get("residenzaEstera"):
        address = keep
    else:
        address = _foreign_address(req, since)
    household = ctx.registry.create_household(
        req.comune, address, since=since, origin_date=since, operation=req.id_operazione_anpr
    )
    return household, relation


def _scheda(req: Request, key: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(``tipoFamigliaConvivenza``, ``legameSoggetto``) of A001/A006 (``famiglia`` and
    ``legameSoggetto`` side by side) or A002 (both inside ``famiglia``)."""
    famiglia = req.payload.get("famiglia") or {}
    if key == "nested":
        return famiglia.get("famiglia") or {}, famiglia.get("legameSoggetto") or {}
    return famiglia, req.payload.get("legameSoggetto") or {}


def _register(ctx: Context, req: Request, *, birth: bool, block: str, scheda: str) -> OkAnswer:
    since = effective_date(req, ctx)
    _first_day(since)
    registration = _registration(req, since, required="EN081")
    if birth and registration.reason != _BIRTH:
        raise Rejected(
            entry(
                "ES071",
                f"an AIRE registration of a birth has motivoIscrizione {_BIRTH} "
                f"(got {registration.reason})",
                field="iscrizioneAire/motivoIscrizione",
                value=registration.reason,
            )
        )
    if not birth and registration.reason == _BIRTH:
        raise Rejected(
            entry(
                "ES072",
                f"a birth abroad ({_BIRTH}) is registered with A001",
                field="iscrizioneAire/motivoIscrizione",
                value=registration.reason,
            )
        )
    generalita = req.payload.get(block) or {}
    controllo = req.payload.get("datiControllo") or {}
    marital = text((generalita.get("statoCivile") or {}).get("statoCivile"))
    data = read_personal_data(
        ctx,
        generalita.get("generalita") or {},
        where=f"{block}/generalita",
        citizenship=ITALY,  # AIRE is the register of Italian citizens abroad
        marital_status="1" if birth else marital,
        attribute_cf=text(controllo.get("gestioneCF")) == "1",
    )
    born_by(data.birth_date, since, field=f"{block}/generalita/dataNascita")
    family, legame = _scheda(req, scheda)
    household, relation = _target(ctx, req, family, legame, since)
    person = register_person(
        ctx, req, data, household=household, relation=relation, reason="aire", status="aire"
    )
    ctx.registry.set_aire_registration(person, registration, operation=req.id_operazione_anpr)
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
    )


def register_aire_birth(ctx: Context, req: Request) -> OkAnswer:
    """A001: register in the AIRE a child born abroad."""
    return _register(ctx, req, birth=True, block="generalitaA001", scheda="flat")


def register_aire_other(ctx: Context, req: Request) -> OkAnswer:
    """A002: register in the AIRE a citizen abroad not on ANPR (or cancelled)."""
    return _register(ctx, req, birth=False, block="generalitaA002", scheda="nested")


def _own_aire(req: Request, person: Person, tipo: str) -> None:
    if not person.aire:
        raise Rejected(
            entry(
                "ES077",
                f"{person.codice_fiscale} is not in the AIRE: tipoMutazione {tipo} changes "
                "an AIRE position (a resident moving abroad is tipoMutazione 1)",
                field="generalita",
                value=person.codice_fiscale,
            )
        )
    if person.comune != req.comune and tipo != _TAKE_OVER:
        raise Rejected(
            entry(
                "EN117",
                f"{person.codice_fiscale} is in the AIRE of Comune {person.comune}, not of "
                f"Comune {req.comune}",
                field="generalita",
                value=person.codice_fiscale,
            )
        )


def _not_before_last(ctx: Context, person: Person, since: dt.date) -> None:
    current = [r for r in ctx.registry.residences(person.codice_fiscale) if r.until is None]
    if current and since < current[-1].since:
        raise Rejected(
            entry(
                "EN240",
                f"dataDecorrenza {since.isoformat()} is before the current residence of "
                f"{person.codice_fiscale} ({current[-1].since.isoformat()})",
                field="dataDecorrenza",
                value=since,
            )
        )


def change_aire(ctx: Context, req: Request) -> OkAnswer:
    """A006: change an AIRE position (see the module docstring)."""
    since = effective_date(req, ctx)
    tipo = (text((req.payload.get("datiControllo") or {}).get("tipoMutazione")) or "").lstrip("0")
    if tipo not in (_TO_AIRE, _MOVE_ABROAD, _DATA, _TAKE_OVER):
        raise Rejected(
            entry(
                "ES094",
                f"tipoMutazione {tipo or '(missing)'} is not valid for A006 (1 to 4)",
                field="datiControllo/tipoMutazione",
                value=tipo or None,
            )
        )
    person = locate_registered(ctx, req.payload.get("generalita") or {}, where="generalita")
    if person.comune != req.comune:
        no_procedure_elsewhere(ctx, req, person, where="generalita")
    if tipo == _TO_AIRE:
        if person.aire:
            raise Rejected(
                entry(
                    "EN428",
                    f"{person.codice_fiscale} is in the AIRE already: tipoMutazione 1 moves a "
                    "resident abroad",
                    field="datiControllo/tipoMutazione",
                    value=tipo,
                )
            )
        _first_day(since)
        registration = _registration(req, since, required=None)
    else:
        _own_aire(req, person, tipo)
        registration = _registration(req, since, required=None if tipo == _MOVE_ABROAD else "ES098")
    if tipo == _DATA:
        ctx.registry.set_aire_registration(person, registration, operation=req.id_operazione_anpr)
        updated = ctx.registry.person_by_id(person.id)
        assert updated is not None
        return OkAnswer(
            "Risposta_Comune",
            {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, updated)]}},
        )
    _not_before_last(ctx, person, since)
    previous = ctx.registry.household_of(person)
    keep = previous.address if tipo == _TAKE_OVER and previous is not None else None
    family, legame = _scheda(req, "flat")
    household, relation = _target(
        ctx, req, family, legame, since, keep=keep if isinstance(keep, ForeignAddress) else None
    )
    if previous is not None and previous.id == household.id:
        raise Rejected(
            entry(
                "EN388",
                f"{person.codice_fiscale} is in famiglia AIRE {household.id} already",
                field="famiglia/idFamigliaConvivenzaANPR",
                value=household.id,
            )
        )
    origin = person.comune
    moved = ctx.registry.move(
        person,
        comune=req.comune,
        household_id=household.id,
        relation=relation,
        since=since,
        reason="change" if origin == req.comune else "transfer",
        operation=req.id_operazione_anpr,
        status="aire",
    )
    if tipo != _MOVE_ABROAD or req.payload.get("iscrizioneAire"):
        ctx.registry.set_aire_registration(moved, registration, operation=req.id_operazione_anpr)
    warnings: list[Entry] = []
    if previous is not None:
        remaining = ctx.registry.members(previous.id)
        if remaining:
            ctx.registry.promote_head(previous.id, since=since, operation=req.id_operazione_anpr)
            warnings.append(
                entry(
                    "EN226",
                    f"family {previous.id} keeps {len(remaining)} member(s): update its "
                    "relationships if needed",
                    severity="W",
                )
            )
    after: tuple[Callable[[], None], ...] = ()
    if origin is not None and origin != req.comune:
        notify(ctx, req, "N010", recipient=origin, person=moved, since=since)
        after = (ctx.notifier.kick,)
    content: dict[str, Any] = {
        "listaSoggettiVariati": {
            "datiSoggetto": [
                changed_subject(
                    ctx,
                    moved,
                    previous_household=previous,
                    provenance=origin if origin != req.comune else None,
                )
            ]
        }
    }
    if warnings:
        content["listaAnomalie"] = {"anomalie": [w.payload() for w in warnings]}
    return OkAnswer("Risposta_Comune", content, after_commit=after)
