"""Helpers shared by the registration services (1000, 2000, 5005, A000)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from ...validation import codicefiscale
from .. import payloads
from ..household import BirthPlace, Household, Person, PersonalData
from ..store import Registry
from .base import Context, Rejected, Request, entry, parse_date

__all__ = [
    "born_by",
    "changed_subject",
    "check_residence_date",
    "check_scheda_type",
    "codice_fiscale_of",
    "effective_date",
    "existing_household",
    "locate",
    "locate_registered",
    "new_household",
    "no_procedure_elsewhere",
    "not_in_future",
    "notify",
    "read_birth_place",
    "read_personal_data",
    "text",
    "text_at",
]


def text(value: Any) -> str | None:
    """A decoded value as stripped text; ``None`` when absent or blank."""
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def text_at(value: Any, *path: str) -> str | None:
    """The text at ``path`` in a decoded payload (nested mappings), ``None`` when a step is
    missing or not a mapping: ``text_at(provenienza, "comune", "codiceIstat")``."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return text(value)


def effective_date(req: Request, ctx: Context) -> dt.date:
    """``testataRichiesta/dataDecorrenza``: required by registrations, not in the future."""
    day = req.effective_date
    if day is None:
        raise Rejected(
            entry(
                "EHR97",
                "dataDecorrenza is required by registration services",
                field="dataDecorrenza",
            )
        )
    return not_in_future(ctx, day, field="dataDecorrenza")


def not_in_future(ctx: Context, day: dt.date, *, field: str) -> dt.date:
    """``day``, unless it is after today (EHR18; a day of tolerance for time zones)."""
    if day > ctx.clock.today() + dt.timedelta(days=1):
        raise Rejected(
            entry(
                "EHR18",
                f"{field.rsplit('/', 1)[-1]} {day.isoformat()} is in the future",
                field=field,
                value=day,
            )
        )
    return day


def born_by(born: dt.date | None, since: dt.date, *, field: str, who: str = "the person") -> None:
    """A person is born by the ``dataDecorrenza`` of an operation about them (ES008,
    italia/anpr#932)."""
    if born is not None and born > since:
        raise Rejected(
            entry(
                "ES008",
                f"{who} was born on {born.isoformat()}, after the dataDecorrenza "
                f"({since.isoformat()})",
                field=field,
                value=born,
            )
        )


_SCHEDA_CODES: Final = {"3": "EN341", "4": "EN342"}


def check_scheda_type(scheda: Mapping[str, Any], expected: str, *, where: str) -> None:
    """``tipoScheda`` of a ``tipoFamigliaConvivenza`` is ``expected``: 3 a family in Italy
    (EN341), 4 a convivenza (EN342, italia/anpr#761), 5 a famiglia AIRE (EF002, #574, #1191)."""
    given = text(scheda.get("tipoScheda"))
    if given != expected:
        raise Rejected(
            entry(
                _SCHEDA_CODES.get(expected, "EF002"),
                f"the scheda needs tipoScheda {expected} (got {given})",
                field=f"{where}/tipoScheda",
                value=given,
            )
        )


def notify(
    ctx: Context, req: Request, kind: str, *, recipient: str, person: Person, since: dt.date
) -> None:
    """Produce the ``kind`` notification ANPR sends ``recipient`` about ``person``, changed by
    this request of the requesting Comune (its push follows the commit: pair with
    ``after_commit=(ctx.notifier.kick,)``)."""
    requesting = ctx.registry.comune(req.comune)
    assert requesting is not None  # the gateway admits subentrati Comuni only
    ctx.notifier.residence_notice(
        kind,
        recipient=recipient,
        person=person,
        requesting=requesting,
        operation=req.id_operazione_anpr,
        effective_date=since,
    )


def check_residence_date(residence: Any, since: dt.date, *, where: str) -> None:
    """A new household's ``dataDecorrenzaResidenza``, when given, is the operation's
    ``dataDecorrenza`` (EF061, italia/anpr#932)."""
    given = residence.get("dataDecorrenzaResidenza") if isinstance(residence, Mapping) else None
    if given and parse_date(given) != since:
        raise Rejected(
            entry(
                "EF061",
                f"dataDecorrenzaResidenza {parse_date(given).isoformat()} is not the "
                f"dataDecorrenza of the operation ({since.isoformat()})",
                field=f"{where}/dataDecorrenzaResidenza",
                value=parse_date(given),
            )
        )


def existing_household(
    ctx: Context, req: Request, household_id: str | None, *, where: str, code: str
) -> Household:
    """The active household ``household_id`` of the requesting Comune, or KO ``code``."""
    household = ctx.registry.household(household_id) if household_id else None
    if household is None or not household.active or household.comune != req.comune:
        raise Rejected(
            entry(
                code,
                f"family {household_id} is not a family of Comune {req.comune}",
                field=where,
                value=household_id,
            )
        )
    return household


def new_household(
    ctx: Context,
    req: Request,
    key: str,
    *,
    since: dt.date,
    missing: str,
    verb: str,
    **details: Any,
) -> Household:
    """A new household of the requesting Comune at the first ``tipoResidenza`` of the request's
    ``key``: EF023 (``missing``) without an Italian address, EF042 when the address is in
    another Comune (only the Comune of a residence may ``verb`` it). ``details`` go to
    :meth:`~..store.Registry.create_household` (a convivenza's ``kind``, ``name``…)."""
    residences = req.payload.get(key) or []
    if isinstance(residences, Mapping):
        residences = [residences]
    residence = residences[0] if isinstance(residences, list) and residences else None
    address = payloads.address_of(residence)
    if address is None:
        raise Rejected(entry("EF023", missing, field=key))
    where = payloads.residence_comune(residence)
    if where != req.comune:
        raise Rejected(
            entry(
                "EF042",
                f"the residence is in Comune {where}: only that Comune can {verb} it",
                field=f"{key}/indirizzo/comune",
                value=where,
            )
        )
    return ctx.registry.create_household(
        req.comune, address, since=since, operation=req.id_operazione_anpr, **details
    )


def codice_fiscale_of(generalita: Mapping[str, Any]) -> str | None:
    cf = generalita.get("codiceFiscale")
    if isinstance(cf, Mapping):
        cf = cf.get("codFiscale")
    return text(cf)


def locate(ctx: Context, generalita: Mapping[str, Any], *, where: str) -> Person:
    """The registry person a ``tipoGeneralita`` names (codice fiscale or ANPR id)."""
    cf = codice_fiscale_of(generalita)
    person_id = text(generalita.get("idSchedaSoggettoANPR"))
    person = None
    if cf:
        person = ctx.registry.person(cf)
    elif person_id:
        person = ctx.registry.person_by_id(person_id)
    else:
        raise Rejected(
            entry(
                "ES004",
                "identify the person by codice fiscale or idSchedaSoggettoANPR",
                field=f"{where}/generalita",
            )
        )
    if person is None:
        raise Rejected(
            entry(
                "ES003",
                f"no person with {'codice fiscale ' + cf if cf else 'id ' + str(person_id)}"
                " is on ANPR",
                field=f"{where}/generalita",
                value=cf or person_id,
            )
        )
    return person


def locate_registered(ctx: Context, generalita: Mapping[str, Any], *, where: str) -> Person:
    """:func:`locate`, refusing a person who is no longer registered (deceased or cancelled:
    the *scheda archiviata* of ANPR's error table, ES102 by codice fiscale, ES101 by id)."""
    person = locate(ctx, generalita, where=where)
    if not person.registered:
        by_cf = codice_fiscale_of(generalita) is not None
        raise Rejected(
            entry(
                "ES102" if by_cf else "ES101",
                f"{person.codice_fiscale if by_cf else 'the person ' + person.id} is "
                f"{person.status}: the record is closed",
                field=f"{where}/generalita",
                value=person.codice_fiscale if by_cf else person.id,
            )
        )
    return person


def no_procedure_elsewhere(ctx: Context, req: Request, person: Person, *, where: str) -> None:
    """A person with a procedure still open in another Comune cannot be registered or moved by
    this one (EN531, italia/anpr#1967, #2024, #2305, #4757); a Comune's own procedures do not
    block it (italia/anpr#3229)."""
    for procedure in ctx.registry.open_procedures(person):
        if procedure.comune != req.comune:
            raise Rejected(
                entry(
                    "EN531",
                    f"{person.codice_fiscale} has a procedure open in Comune {procedure.comune} "
                    f"(numeroPraticaAnpr {procedure.id}): that Comune must close it first",
                    field=where,
                    value=procedure.id,
                )
            )


def read_birth_place(ctx: Context, luogo: Mapping[str, Any] | None, *, where: str) -> BirthPlace:
    """A :class:`BirthPlace` from a decoded ``tipoLuogoEvento``."""
    luogo = luogo or {}
    comune = luogo.get("comune")
    if isinstance(comune, Mapping):
        istat = text(comune.get("codiceIstat"))
        name = text(comune.get("nomeComune")) or "?"
        province = text(comune.get("siglaProvinciaIstat"))
        return BirthPlace(name=name.upper(), comune=istat, province=province)
    localita = luogo.get("localita")
    if isinstance(localita, Mapping):
        return BirthPlace(
            name=(text(localita.get("descrizioneStato")) or "?").upper(),
            state=text(localita.get("codiceStato")),
        )
    raise Rejected(
        entry(
            "EN132",
            "the birth place (a Comune or a state) is required",
            field=f"{where}/luogoNascita",
        )
    )


def _cadastral(ctx: Context, place: BirthPlace, born: dt.date) -> str | None:
    from ...validation.stati import StatiTable
    from ..seeding import comuni_table

    if place.comune:
        found = comuni_table().at(place.comune, born)
        return found.cadastral if found else None
    if place.state:
        state = StatiTable.sample().get(place.state)
        return state.cadastral if state and state.cadastral else None
    return None


def read_personal_data(
    ctx: Context,
    generalita: Mapping[str, Any],
    *,
    where: str,
    citizenship: str,
    marital_status: str | None,
    attribute_cf: bool,
) -> PersonalData:
    """The data of a person to register; with ``attribute_cf`` a missing codice fiscale is
    computed (as the Agenzia delle Entrate would attribute it), omocodia applied if taken."""
    surname = text(generalita.get("cognome"))
    name = text(generalita.get("nome"))
    sex = text(generalita.get("sesso"))
    born = generalita.get("dataNascita")
    missing = [
        k
        for k, v in (("cognome", surname), ("nome", name), ("sesso", sex), ("dataNascita", born))
        if not v
    ]
    if missing:
        raise Rejected(
            *(
                entry("EN132", f"{k} is required to register a person", field=f"{where}/{k}")
                for k in missing
            )
        )
    birth_date = parse_date(born)
    place = read_birth_place(ctx, generalita.get("luogoNascita"), where=where)
    assert surname is not None
    assert name is not None
    assert sex is not None
    cf = codice_fiscale_of(generalita)
    if cf is None:
        if not attribute_cf:
            raise Rejected(
                entry(
                    "EN146",
                    "without a codice fiscale ask for its attribution (gestioneCF 1)",
                    field=f"{where}/codiceFiscale",
                )
            )
        cadastral = _cadastral(ctx, place, birth_date)
        if cadastral is None:
            raise Rejected(
                entry(
                    "EC007",
                    "the birth place is not in the reference tables: "
                    "cannot attribute a codice fiscale",
                    field=f"{where}/luogoNascita",
                )
            )
        cf = _free_code(ctx.registry, codicefiscale.calc(surname, name, sex, birth_date, cadastral))
    else:
        cf = cf.upper()
        if not codicefiscale.is_valid(cf):
            raise Rejected(
                entry(
                    "EA001",
                    f"codice fiscale {cf} is not valid",
                    field=f"{where}/codiceFiscale",
                    value=cf,
                )
            )
    return PersonalData(
        codice_fiscale=cf,
        surname=surname.upper(),
        name=name.upper(),
        sex=sex,
        birth_date=birth_date,
        birth_place=place,
        citizenship=citizenship,
        marital_status=marital_status,
    )


def _free_code(registry: Registry, base: str) -> str:
    for candidate in codicefiscale.omocodic_variants(base):
        if registry.person(candidate) is None:
            return candidate
    raise Rejected(entry("EN125", "no omocodic variant of the codice fiscale is free"))


def changed_subject(
    ctx: Context,
    person: Person,
    *,
    previous_household: Household | None = None,
    provenance: str | None = None,
    cancellation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``listaSoggettiVariati/datiSoggetto`` entry for a person an operation changed."""
    record = payloads.person_record(ctx.registry, person)
    out: dict[str, Any] = {"identificativi": record.pop("identificativi")}
    if previous_household is not None:
        out["famigliaConvivenzaPrecedente"] = payloads.household_record(previous_household)
    out["generalitaAttuali"] = record.pop("generalita")
    out.update(record)
    if cancellation:
        out["datiCancellazione"] = dict(cancellation)
    if provenance is not None:
        out["provenienza"] = {"comune": payloads.comune_of(ctx.registry, provenance)}
    return out
