"""1001 (registration of a birth) and 1002 (registration for other reasons).

1001 registers a newborn in the requesting Comune. ``datiControllo/attribuzioneFamiglia``
(our reading of its codes): ``1`` the mother's family, ``2`` the father's family (the parent
named in ``maternita``/``paternita``, resident in the requesting Comune), ``4``/``5`` the family
or cohabitation ``famConv/idFamigliaConvivenzaANPR`` of the Comune; ``3`` (a new family) is not
simulated. Without a codice fiscale, ``gestioneCF`` ``1`` has one attributed (omocodia applied).

1002 registers a person arriving in the requesting Comune for the reasons of ANPR's table 7:
``3`` immigration from a Comune **not** on ANPR (``provenienza/comune``; a Comune on ANPR must
record the move with 5005 instead), ``4`` immigration from abroad (``provenienza/localita``),
and the other reasons (``2``, ``5``-``10``) without a provenance check; ``1`` (birth) belongs to
1001. The person joins ``famiglia/famiglia/idFamigliaConvivenzaANPR`` of the Comune with its
``legameSoggetto``, or founds a new family at ``residenza``. A codice fiscale already resident
on ANPR is refused (EN187); one that was cancelled (e.g. emigrated) is registered again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..household import ITALY, Household, Person
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import (
    changed_subject,
    effective_date,
    existing_household,
    locate,
    new_household,
    read_personal_data,
    text,
    text_at,
)

__all__ = ["register_birth", "register_for_other_reasons"]


def _register(
    ctx: Context,
    req: Request,
    data: Any,
    *,
    household: Household,
    relation: str,
    reason: str,
) -> Person:
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
    return ctx.registry.register(
        data,
        comune=req.comune,
        household_id=household.id,
        relation=relation,
        since=since,
        reason=reason,
        operation=req.id_operazione_anpr,
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
    if data.birth_date > since:
        raise Rejected(
            entry(
                "ES008",
                "the birth date is after dataDecorrenza",
                field="generalita1001/generalita/dataNascita",
            )
        )
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
    person = _register(ctx, req, data, household=household, relation=relation, reason="birth")
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
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
    famiglia = req.payload.get("famiglia") or req.payload.get("convivenza") or {}
    scheda = famiglia.get("famiglia") or famiglia.get("convivenza") or {}
    legame = famiglia.get("legameSoggetto") or {}
    household_id = text(scheda.get("idFamigliaConvivenzaANPR"))
    if household_id:
        household = existing_household(
            ctx, req, household_id, where="famiglia/idFamigliaConvivenzaANPR", code="EN136"
        )
        relation = text(legame.get("codiceLegame")) or "99"
    else:
        household = new_household(
            ctx,
            req,
            "residenza",
            since=since,
            missing="a person founding a new family needs its residence",
            verb="register",
        )
        relation = "1"
    person = _register(
        ctx, req, data, household=household, relation=relation, reason="registration"
    )
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": [changed_subject(ctx, person)]}},
    )
