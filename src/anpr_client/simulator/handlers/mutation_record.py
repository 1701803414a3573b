"""5008 (change of a person's record) and 5014 (rectification of data), on the registry.

Both name the person by ``generalitaPerRicerca`` (codice fiscale or idSchedaSoggettoANPR): not
on ANPR is ES003, a closed record (deceased, cancelled) ES102/ES101, a person of another Comune
EN117 (only the Comune of competence changes a record).

**5008** ``datiControllo/tipoMutazione`` (one or more, ``01``–``20`` without ``09``: ES096
otherwise):

- ``01`` the personal data: ``generalitaDaModificare/generalita`` (surname, name, sex, birth
  date, birth place; what is given replaces what is on record, the codice fiscale stays);
  without it ES068;
- ``02`` the citizenship: the first ``cittadinanza/codiceStato``; without it ES069;
- the others (civil status events, documents, lists…) are answered EN379, not simulated.

**5014** ``tipoRettifica``:

- ``richiestaRettifica101``: the date the residence began (``dataDecorrenzaResidenza`` of the
  person's household, and of each member's current residence), not in the future (EHR18) and
  not before the person's birth (ES008);
- ``richiestaRettifica105``: the birth place (a Comune or a foreign state);
- 102–104 (registration reason, registry dates) are answered EN379, not simulated.

5014's answer carries ``tipoRispostaRettifica`` with the corrected value, beside
``Risposta_Comune``. An annulment (5012) of a 5008 or 5014 that changed the data a codice fiscale
is computed from is refused with EN234 (see :mod:`.annulment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..household import Person
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import (
    born_by,
    changed_subject,
    locate_registered,
    not_in_future,
    read_birth_place,
    text,
)

__all__ = ["change_record", "correct_data"]

_VALID_5008: Final = frozenset(str(n) for n in range(1, 21)) - {"9"}
_PERSONAL_DATA, _CITIZENSHIP = "1", "2"


def _subject(ctx: Context, req: Request) -> Person:
    where = "generalitaPerRicerca"
    person = locate_registered(ctx, req.payload.get(where) or {}, where=where)
    if person.comune != req.comune:
        raise Rejected(
            entry(
                "EN117",
                f"{person.codice_fiscale} is of Comune {person.comune}: only that Comune can "
                "change the record",
                field=where,
                value=person.codice_fiscale,
            )
        )
    return person


def _place_columns(ctx: Context, luogo: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    place = read_birth_place(ctx, luogo, where=where)
    return {
        "birth_comune": place.comune,
        "birth_state": place.state,
        "birth_place_name": place.name,
        "birth_province": place.province,
    }


def _personal_data(ctx: Context, req: Request, person: Person) -> dict[str, Any]:
    where = "generalitaDaModificare/generalita"
    generalita = (req.payload.get("generalitaDaModificare") or {}).get("generalita")
    if not isinstance(generalita, Mapping):
        raise Rejected(entry("ES068", "tipoMutazione 01 needs the new personal data", field=where))
    columns: dict[str, Any] = {}
    for key, column in (("cognome", "surname"), ("nome", "name"), ("sesso", "sex")):
        value = text(generalita.get(key))
        if value is not None:
            columns[column] = value.upper()
    if generalita.get("dataNascita"):
        born = not_in_future(
            ctx, parse_date(generalita["dataNascita"]), field=f"{where}/dataNascita"
        )
        columns["birth_date"] = born
    if generalita.get("luogoNascita"):
        columns.update(_place_columns(ctx, generalita["luogoNascita"], where=where))
    return columns


def change_record(ctx: Context, req: Request) -> OkAnswer:
    """5008: the personal data (01) or the citizenship (02) of a person."""
    person = _subject(ctx, req)
    given = (req.payload.get("datiControllo") or {}).get("tipoMutazione") or []
    codes = [
        (text(c) or "").lstrip("0") or "0" for c in (given if isinstance(given, list) else [given])
    ]
    for code in codes:
        if code not in _VALID_5008:
            raise Rejected(
                entry(
                    "ES096",
                    f"tipoMutazione {code} is not a 5008 change (01 to 20, not 09)",
                    field="datiControllo/tipoMutazione",
                    value=code,
                )
            )
    other = [c for c in codes if c not in (_PERSONAL_DATA, _CITIZENSHIP)]
    if other or not codes:
        raise Rejected(
            entry(
                "EN379",
                f"tipoMutazione {', '.join(other)} of 5008 is not simulated (01 personal data, "
                "02 citizenship)",
                field="datiControllo/tipoMutazione",
                value=",".join(other),
            )
        )
    columns: dict[str, Any] = {}
    if _PERSONAL_DATA in codes:
        columns.update(_personal_data(ctx, req, person))
    if _CITIZENSHIP in codes:
        cittadinanze = req.payload.get("cittadinanza") or []
        first = cittadinanze[0] if isinstance(cittadinanze, list) and cittadinanze else None
        state = text(first.get("codiceStato")) if isinstance(first, Mapping) else None
        if state is None:
            raise Rejected(
                entry(
                    "ES069",
                    "tipoMutazione 02 needs the new citizenship (cittadinanza/codiceStato)",
                    field="cittadinanza",
                )
            )
        columns["citizenship"] = state
    changed = ctx.registry.amend_person(person, columns, operation=req.id_operazione_anpr)
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, changed)]}},
    )


def _residence_start(
    ctx: Context, req: Request, person: Person, request: Mapping[str, Any]
) -> tuple[Person, dict[str, Any]]:
    field = "tipoRettifica/richiestaRettifica101/dataDecorrenzaResidenza"
    since = not_in_future(ctx, parse_date(request["dataDecorrenzaResidenza"]), field=field)
    born_by(person.birth_date, since, field=field, who=person.codice_fiscale)
    ctx.registry.restart_residence(person, since, operation=req.id_operazione_anpr)
    corrected = ctx.registry.person_by_id(person.id)
    assert corrected is not None
    return corrected, {"idSchedaSoggettoANPR": person.id, "dataDecorrenzaResidenza": since}


def _birth_place(
    ctx: Context, req: Request, person: Person, request: Mapping[str, Any]
) -> tuple[Person, dict[str, Any]]:
    where = "tipoRettifica/richiestaRettifica105"
    columns = _place_columns(ctx, request.get("luogoNascita") or {}, where=where)
    corrected = ctx.registry.amend_person(person, columns, operation=req.id_operazione_anpr)
    return corrected, {
        "idSchedaSoggettoANPR": person.id,
        "luogoNascita": payloads.birth_place(corrected),
    }


_CORRECTIONS: Final = {"101": _residence_start, "105": _birth_place}


def correct_data(ctx: Context, req: Request) -> OkAnswer:
    """5014: correct the date the residence began (101) or the birth place (105)."""
    person = _subject(ctx, req)
    rettifica = req.payload.get("tipoRettifica") or {}
    ((name, request),) = rettifica.items() if len(rettifica) == 1 else (("", {}),)
    kind = name.removeprefix("richiestaRettifica")
    correct = _CORRECTIONS.get(kind)
    if correct is None or not isinstance(request, Mapping):
        raise Rejected(
            entry(
                "EN379",
                f"rectification {kind or '?'} is not simulated (101 residence date, 105 birth "
                "place)",
                field=f"tipoRettifica/{name}" if name else "tipoRettifica",
            )
        )
    corrected, answer = correct(ctx, req, person, request)
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, corrected)]}},
        beside={"tipoRispostaRettifica": {f"rispostaRettifica{kind}": answer}},
    )
