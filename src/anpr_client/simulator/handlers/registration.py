"""1001 (birth), 1002 (other reasons) and 1010 (a convivenza): registrations in a Comune's APR.

1001 registers a newborn in the requesting Comune. ``datiControllo/attribuzioneFamiglia``
(our reading of its codes): ``1`` the mother's family, ``2`` the father's family (the parent
named in ``maternita``/``paternita``, resident in the requesting Comune: EN180; not on ANPR:
ES003), ``4``/``5`` the family or cohabitation ``famConv/idFamigliaConvivenzaANPR`` of the
Comune; ``3`` (a new family) is not simulated: 1001 carries no residence for it. Without a
codice fiscale, ``gestioneCF`` ``1`` has one attributed (omocodia applied). The birth is not
after ``dataDecorrenza`` (ES008).

1002 registers a person arriving in the requesting Comune for the reasons of ANPR's table 7:
``3`` immigration from a Comune **not** on ANPR (``provenienza/comune``; a Comune on ANPR must
record the move with 5005 instead), ``4`` immigration from abroad (``provenienza/localita``),
and the other reasons (``2``, ``5``-``10``) without a provenance check; ``1`` (birth) belongs to
1001. The person joins an existing household — a family through ``famiglia`` with
``tipoScheda`` 3, a convivenza through ``convivenza`` with ``tipoScheda`` 4 (EN341, EN342,
EN304, italia/anpr#761) — not before its residence began (EN237), with its
``legameSoggetto``; or founds a new family at ``residenza``, whose ``dataDecorrenzaResidenza``
is the ``dataDecorrenza`` (EF061). A codice fiscale already registered on ANPR, in Italy or in
an AIRE, or deceased, is refused (EN187); one that was cancelled (e.g. emigrated) is
registered again, from the end of its last residence on (EN240), unless another Comune has a
procedure open on it (EN531, see :mod:`.procedures`).

1010 registers a *scheda convivenza* (see :func:`register_cohabitation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..household import (
    COHABITATION,
    ITALY,
    SCHEDA_CONVIVENZA,
    SCHEDA_FAMIGLIA,
    Household,
    Person,
    PersonalData,
)
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import (
    born_by,
    changed_subject,
    check_residence_date,
    check_scheda_type,
    codice_fiscale_of,
    effective_date,
    existing_household,
    locate,
    new_household,
    no_procedure_elsewhere,
    read_personal_data,
    text,
    text_at,
)

__all__ = [
    "register_birth",
    "register_cohabitation",
    "register_for_other_reasons",
    "register_person",
]


def register_person(
    ctx: Context,
    req: Request,
    data: PersonalData,
    *,
    household: Household,
    relation: str,
    reason: str,
    status: str = "resident",
) -> Person:
    """Register ``data`` in ``household`` of the requesting Comune (its AIRE with ``status``
    ``aire``): refused if the codice fiscale is already registered or deceased (EN187,
    italia/anpr#2129, #4313); a cancelled person is registered again, from a date not before
    the end of their last residence (EN240, italia/anpr#1283) and unless another Comune has a
    procedure open on them (EN531)."""
    since = effective_date(req, ctx)
    existing = ctx.registry.person(data.codice_fiscale)
    if existing is not None and existing.status != "cancelled":
        raise Rejected(
            entry(
                "EN187",
                f"{existing.codice_fiscale} is already registered on ANPR ({existing.status})",
                field="codiceFiscale",
                value=existing.codice_fiscale,
            )
        )
    if existing is not None:
        no_procedure_elsewhere(ctx, req, existing, where="codiceFiscale")
        ended = [r.until for r in ctx.registry.residences(existing.codice_fiscale) if r.until]
        if ended and since < max(ended):
            raise Rejected(
                entry(
                    "EN240",
                    f"dataDecorrenza {since.isoformat()} is before the end of the last "
                    f"residence of {existing.codice_fiscale} ({max(ended).isoformat()})",
                    field="dataDecorrenza",
                    value=since,
                )
            )
    if household.since > since:
        raise Rejected(
            entry(
                "EN237",
                f"family {household.id} lives at its address since {household.since.isoformat()}"
                f": a member cannot join it from {since.isoformat()}",
                field="dataDecorrenza",
                value=since,
            )
        )
    return ctx.registry.register(
        data,
        comune=req.comune,
        household_id=household.id,
        relation=relation,
        since=since,
        reason=reason,
        operation=req.id_operazione_anpr,
        status=status,
    )


def register_birth(ctx: Context, req: Request) -> OkAnswer:
    """1001: register a birth."""
    since = effective_date(req, ctx)
    controllo = req.payload.get("datiControllo") or {}
    gen = (req.payload.get("generalita1001") or {}).get("generalita") or {}
    citizenship = text((req.payload.get("cittadinanza") or {}).get("codiceStato")) or ITALY
    data = read_personal_data(
        ctx,
        gen,
        where="generalita1001/generalita",
        citizenship=citizenship,
        marital_status="1",
        attribute_cf=text(controllo.get("gestioneCF")) == "1",
    )
    born_by(data.birth_date, since, field="generalita1001/generalita/dataNascita")
    attribution = text(controllo.get("attribuzioneFamiglia"))
    legame = req.payload.get("legameSoggetto") or {}
    relation = text(legame.get("codiceLegame")) or "3"
    if attribution in ("1", "2"):
        key = "maternita" if attribution == "1" else "paternita"
        parent_gen = (req.payload.get(key) or {}).get("generalita")
        if not isinstance(parent_gen, Mapping):
            raise Rejected(
                entry("EN140", f"attribuzioneFamiglia {attribution} needs {key}", field=key)
            )
        parent = locate(ctx, parent_gen, where=key)
        if not parent.resident or parent.comune != req.comune or parent.household_id is None:
            raise Rejected(
                entry(
                    "EN180",
                    f"the parent {parent.codice_fiscale} is not resident in Comune {req.comune}",
                    field=key,
                    value=parent.codice_fiscale,
                )
            )
        household = existing_household(ctx, req, parent.household_id, where=key, code="EN136")
    elif attribution in ("4", "5"):
        fam = req.payload.get("famConv") or {}
        if not fam or not legame:
            raise Rejected(
                entry(
                    "EF030",
                    "attribuzioneFamiglia 4 or 5 needs famConv and legameSoggetto",
                    field="famConv",
                )
            )
        household = existing_household(
            ctx,
            req,
            text(fam.get("idFamigliaConvivenzaANPR")),
            where="famConv/idFamigliaConvivenzaANPR",
            code="EN136",
        )
    elif attribution == "3":
        raise Rejected(
            entry(
                "EN379",
                "attribuzioneFamiglia 3 (a new family) is not simulated",
                field="datiControllo/attribuzioneFamiglia",
                value=attribution,
            )
        )
    else:
        raise Rejected(
            entry(
                "EF014",
                f"attribuzioneFamiglia {attribution} is not valid (1-5)",
                field="datiControllo/attribuzioneFamiglia",
                value=attribution,
            )
        )
    person = register_person(ctx, req, data, household=household, relation=relation, reason="birth")
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
    )


def _check_scheda(block: str, scheda: Mapping[str, Any], household: Household) -> None:
    """1002 joins a family through ``famiglia`` with ``tipoScheda`` 3 and a convivenza through
    ``convivenza`` with ``tipoScheda`` 4 (EN341/EN342, italia/anpr#761); the block must match
    the household (EN304); a famiglia AIRE is not a family in Italy (EF002, italia/anpr#1191)."""
    expected = SCHEDA_CONVIVENZA if block == "convivenza" else SCHEDA_FAMIGLIA
    check_scheda_type(scheda, expected, where=f"{block}/{block}")
    if household.abroad:
        raise Rejected(
            entry(
                "EF002",
                f"{household.id} is a famiglia AIRE (tipoScheda 5), not a family in Italy",
                field=f"{block}/{block}/idFamigliaConvivenzaANPR",
                value=household.id,
            )
        )
    if (household.kind == COHABITATION) != (block == "convivenza"):
        raise Rejected(
            entry(
                "EN304",
                f"{household.id} is a {'convivenza' if household.cohabitation else 'family'}: "
                f"name it in the {'convivenza' if household.cohabitation else 'famiglia'} block",
                field=f"{block}/{block}/idFamigliaConvivenzaANPR",
                value=household.id,
            )
        )


_IMMIGRATION_COMUNE = "3"
_IMMIGRATION_ABROAD = "4"
_ACCEPTED_REASONS = frozenset({"2", "3", "4", "5", "6", "7", "8", "9", "10"})


def _check_provenance(ctx: Context, reason: str, provenienza: Mapping[str, Any]) -> None:
    if reason == _IMMIGRATION_COMUNE:
        istat = text_at(provenienza, "comune", "codiceIstat")
        if istat is None:
            raise Rejected(
                entry(
                    "ES086",
                    "immigration from a Comune needs provenienza/comune with its codiceIstat",
                    field="provenienza/comune",
                )
            )
        from ..seeding import comuni_table

        if not comuni_table().knows(istat):
            raise Rejected(
                entry(
                    "EC179",
                    f"the Comune of provenance {istat} is unknown",
                    field="provenienza/comune/codiceIstat",
                    value=istat,
                )
            )
        if ctx.registry.is_subentrato(istat):
            raise Rejected(
                entry(
                    "ES086",
                    f"Comune {istat} is on ANPR: the move is a change of residence "
                    "(5005) recorded by the destination Comune, not an immigration",
                    field="provenienza/comune/codiceIstat",
                    value=istat,
                )
            )
    elif reason == _IMMIGRATION_ABROAD:
        state = text_at(provenienza, "localita", "codiceStato")
        if state is None:
            raise Rejected(
                entry(
                    "ES086",
                    "immigration from abroad needs provenienza/localita with its codiceStato",
                    field="provenienza/localita",
                )
            )
        if state == ITALY:
            raise Rejected(
                entry(
                    "EC182",
                    "the state of provenance cannot be Italy",
                    field="provenienza/localita/codiceStato",
                    value=state,
                )
            )


def register_for_other_reasons(ctx: Context, req: Request) -> OkAnswer:
    """1002: register a person for immigration or another reason."""
    since = effective_date(req, ctx)
    motivo = req.payload.get("motivoIscrizione") or {}
    reason = (text(motivo.get("idMotivoIscrizione")) or "").lstrip("0")
    if reason == "1":
        raise Rejected(
            entry(
                "EC006",
                "a birth is registered with service 1001",
                field="motivoIscrizione/idMotivoIscrizione",
                value=reason,
            )
        )
    if reason not in _ACCEPTED_REASONS:
        raise Rejected(
            entry(
                "EC006",
                f"idMotivoIscrizione {reason} is not in table 7",
                field="motivoIscrizione/idMotivoIscrizione",
                value=reason,
            )
        )
    _check_provenance(ctx, reason, req.payload.get("provenienza") or {})
    controllo = req.payload.get("datiControllo") or {}
    block = req.payload.get("generalita1002") or {}
    cittadinanze = req.payload.get("cittadinanza") or []
    citizenship = text(cittadinanze[0].get("codiceStato")) if cittadinanze else None
    marital = text((block.get("statoCivile") or {}).get("statoCivile"))
    if marital is None:
        raise Rejected(
            entry(
                "EN127",
                "the civil status is required to register a person",
                field="generalita1002/statoCivile",
            )
        )
    data = read_personal_data(
        ctx,
        block.get("generalita") or {},
        where="generalita1002/generalita",
        citizenship=citizenship or ITALY,
        marital_status=marital,
        attribute_cf=text(controllo.get("gestioneCF")) == "1",
    )
    block = "convivenza" if req.payload.get("convivenza") else "famiglia"
    joined = req.payload.get(block) or {}
    scheda = joined.get(block) or {}
    legame = joined.get("legameSoggetto") or {}
    household_id = text(scheda.get("idFamigliaConvivenzaANPR"))
    if household_id:
        household = existing_household(
            ctx, req, household_id, where=f"{block}/idFamigliaConvivenzaANPR", code="EN136"
        )
        _check_scheda(block, scheda, household)
        relation = text(legame.get("codiceLegame")) or "99"
    else:
        residences = req.payload.get("residenza") or []
        if residences:
            check_residence_date(residences[0], since, where="residenza")
        household = new_household(
            ctx,
            req,
            "residenza",
            since=since,
            missing="a person founding a new family needs its residence",
            verb="register",
        )
        relation = "1"
    person = register_person(
        ctx, req, data, household=household, relation=relation, reason="registration"
    )
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
    )


_SPECIES: Final = frozenset({"1", "2", "3", "4", "5", "6"})
"""The codes of ANPR's table 27, *specie della convivenza* (religious, care, assistance,
military, detention, other)."""


def register_cohabitation(ctx: Context, req: Request) -> OkAnswer:
    """1010: register a *scheda convivenza* (an institution: convent, care home, barracks…;
    affective cohabitations are families, italia/anpr#1768). Its members join it afterwards
    with 1002 (block ``convivenza``)."""
    since = effective_date(req, ctx)
    scheda = req.payload.get("generalitaSchedaConvivenza") or {}
    where = "generalitaSchedaConvivenza"
    check_scheda_type(scheda, SCHEDA_CONVIVENZA, where=where)
    species = (text(scheda.get("specieConvivenza")) or "").lstrip("0")
    if not species:
        raise Rejected(
            entry(
                "EN081",
                "specieConvivenza is required to register a convivenza",
                field=f"{where}/specieConvivenza",
            )
        )
    if species not in _SPECIES:
        raise Rejected(
            entry(
                "EC005",
                f"specieConvivenza {species} is not in ANPR's table 27",
                field=f"{where}/specieConvivenza",
                value=species,
            )
        )
    origin = scheda.get("dataOrigineFamigliaConvivenza")
    if origin and parse_date(origin) != since:
        raise Rejected(
            entry(
                "EF024",
                f"a new convivenza originates on the dataDecorrenza ({since.isoformat()})",
                field=f"{where}/dataOrigineFamigliaConvivenza",
                value=parse_date(origin),
            )
        )
    tutor = (req.payload.get("tutoreIntestatario") or {}).get("generalita") or {}
    responsible = codice_fiscale_of(tutor)
    known = ctx.registry.person(responsible) if responsible else None
    born = known.birth_date if known else None
    if born is None and tutor.get("dataNascita"):
        born = parse_date(tutor["dataNascita"])
    born_by(
        born,
        since,
        field="tutoreIntestatario/generalita/dataNascita",
        who="the responsible of the convivenza",
    )
    residence = req.payload.get("residenzaConvivneza")  # sic: ANPR's element name
    check_residence_date(residence, since, where="residenzaConvivneza")
    name = text(scheda.get("denominazioneConvivenza"))
    household = new_household(
        ctx,
        req,
        "residenzaConvivneza",
        since=since,
        missing="a convivenza needs its address (residenzaConvivneza/indirizzo)",
        verb="register",
        kind=COHABITATION,
        origin_date=since,
        name=name,
        species=species,
        responsible=responsible.upper() if responsible else None,
    )
    content: dict[str, Any] = {
        "listaSoggettiVariati": {
            "datiSoggetto": [{"famigliaConvivenza": payloads.household_record(household)}]
        }
    }
    if name is None:
        content["listaAnomalie"] = {
            "anomalie": [
                entry(
                    "EN480",
                    "the convivenza has no name (denominazioneConvivenza)",
                    field=f"{where}/denominazioneConvivenza",
                    severity="W",
                ).payload()
            ]
        }
    return OkAnswer("Risposta_Comune", content)
