"""6001 — certificates: a real PDF, sent as an MTOM attachment like ANPR's CXF stack does.

Any Comune on ANPR certifies any resident (that is what ANPR is for). ``soggettoIntestatario``
names the person (codice fiscale or idSchedaSoggettoANPR); ``listaTipiCertificati`` the
certificate types (ANPR's table of certificate types, 1-20). ``datiControllo/tipoRichiesta``
``1`` issues the certificate (``file/certificatoPdf``, rendered by :mod:`..pdf`) and records it
in the registry; ``2`` answers the data only. A death certificate (type 2) needs a deceased
person (EN061); every other type a living one (EN228); a person not on ANPR gets EN042.
Replaying the request with the same ``idOperazioneComune`` returns the very same PDF (the
ledger replays the stored answer), never a second certificate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from .. import payloads
from ..household import Person
from ..pdf import render_certificate
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import locate, text

__all__ = ["issue_certificate"]

#: Titles of the certificate types (ANPR's table of certificate types).
TITLES: Final = {
    "1": "Certificato anagrafico di nascita",
    "2": "Certificato anagrafico di morte",
    "3": "Certificato anagrafico di matrimonio",
    "4": "Certificato di cancellazione anagrafica",
    "5": "Certificato di cittadinanza",
    "6": "Certificato storico di cittadinanza",
    "7": "Certificato di esistenza in vita",
    "8": "Certificato di residenza",
    "9": "Certificato storico di residenza",
    "10": "Certificato di residenza AIRE",
    "11": "Certificato di stato civile",
    "12": "Certificato di stato di famiglia",
    "13": "Certificato di stato di famiglia e di stato civile",
    "14": "Certificato di residenza in convivenza",
    "15": "Certificato di stato di famiglia AIRE",
    "16": "Certificato di stato di famiglia con rapporti di parentela",
    "17": "Certificato di stato libero",
    "18": "Certificato anagrafico di unione civile",
    "19": "Certificato di contratto di convivenza",
    "20": "Certificato storico di residenza alla data",
}
_MARITAL: Final = {
    "1": "celibe/nubile",
    "2": "coniugato/a",
    "3": "vedovo/a",
    "4": "divorziato/a",
    "6": "unito/a civilmente",
}
_FAMILY_TYPES: Final = frozenset({"12", "13", "15", "16"})
_PARAMETERS: Final = (
    "tipoRichiedente",
    "tipoRichiesta",
    "paEstera",
    "emissione",
    "bollo",
    "bolloVirtuale",
    "esenzioneDiritti",
    "diritti",
    "esenzioneBollo",
    "descrizioneEsenzioneBollo",
    "forzaCertificazione",
)


def _types(req: Request) -> list[str]:
    lista = req.payload.get("listaTipiCertificati") or {}
    raw = lista.get("tipoCertificato") or []
    types = [str(t).lstrip("0") for t in (raw if isinstance(raw, list) else [raw])]
    unknown = [t for t in types if t not in TITLES]
    if not types or unknown:
        # EC070 (error table): a code missing from table 13, the certificate types (1-20).
        raise Rejected(
            entry(
                "EC070",
                f"certificate type {', '.join(repr(t) for t in unknown) or '(none)'} is not in "
                "the table of certificate types (1-20)",
                field="tipoCertificato",
                value=",".join(unknown) or None,
            )
        )
    return types


def _lines(ctx: Context, person: Person, types: list[str]) -> list[tuple[str, str]]:
    place = person.birth_place
    born_in = f"{place.name} ({place.province})" if place.province else place.name
    lines = [
        ("Cognome", person.surname),
        ("Nome", person.name),
        ("Codice fiscale", person.codice_fiscale),
        ("Sesso", person.sex),
        ("Data di nascita", person.birth_date.strftime("%d/%m/%Y")),
        ("Luogo di nascita", born_in),
        ("Cittadinanza", payloads.state_name(person.citizenship)),
    ]
    if person.marital_status:
        lines.append(("Stato civile", _MARITAL.get(person.marital_status, person.marital_status)))
    household = ctx.registry.household_of(person)
    if household is not None and person.comune:
        info = payloads.comune_info(ctx.registry, person.comune)
        address = household.address
        lines.append(
            (
                "Residenza",
                f"{address.street_kind} {address.street_name} "
                f"{address.house_number}, {address.cap} {info.name} ({info.province})",
            )
        )
        lines.append(("Residente dal", household.since.strftime("%d/%m/%Y")))
        if _FAMILY_TYPES & set(types):
            for member in ctx.registry.members(household.id):
                lines.append(
                    (
                        f"Componente (legame {member.relation})",
                        f"{member.surname} {member.name}, nato/a il "
                        f"{member.birth_date.strftime('%d/%m/%Y')}",
                    )
                )
    if person.death_date:
        lines.append(("Data di morte", person.death_date.strftime("%d/%m/%Y")))
    return lines


def issue_certificate(ctx: Context, req: Request) -> OkAnswer:
    types = _types(req)
    subject = (req.payload.get("soggettoIntestatario") or {}).get("generalita") or {}
    try:
        person = locate(ctx, subject, where="soggettoIntestatario")
    except Rejected:
        raise Rejected(
            entry("EN042", "the person to certify is not on ANPR", field="soggettoIntestatario")
        ) from None
    if person.status == "cancelled":
        raise Rejected(
            entry(
                "EN042",
                f"{person.codice_fiscale} is no longer registered on ANPR",
                field="soggettoIntestatario",
                value=person.codice_fiscale,
            )
        )
    if "2" in types and person.status != "deceased":
        raise Rejected(
            entry(
                "EN061",
                f"{person.codice_fiscale} is not deceased: no death certificate",
                field="tipoCertificato",
                value="2",
            )
        )
    if person.status == "deceased" and set(types) != {"2"}:
        raise Rejected(
            entry(
                "EN228",
                f"{person.codice_fiscale} is deceased: only a death certificate can be issued",
                field="soggettoIntestatario",
                value=person.codice_fiscale,
            )
        )
    controllo: Mapping[str, Any] = req.payload.get("datiControllo") or {}
    parametri = {k: controllo[k] for k in _PARAMETERS if controllo.get(k) not in (None, "")}
    household = ctx.registry.household_of(person)
    dati: dict[str, Any] = {"generalitaAttuali": payloads.personal_data(person)}
    if household is not None and person.comune:
        dati["residenza"] = [
            payloads.residence(household, payloads.comune_info(ctx.registry, person.comune))
        ]
    if person.marital_status:
        dati["statoCivile"] = {"statoCivile": person.marital_status}
    dati["cittadinanza"] = [payloads.citizenship(person.citizenship)]
    if person.comune:
        dati["comuneCompetente"] = payloads.comune_info(ctx.registry, person.comune).name
    content: dict[str, Any] = {
        "linguaCertificato": payloads.certificate_languages(req.payload),
        "listaTipiCertificato": {"tipoCertificato": types},
        "soggettoIntestatario": {"generalita": payloads.personal_data(person)},
        "protocolloANPR": {"numeroProtocolloANPR": req.id_operazione_anpr},
        "parametriRichiesta": parametri,
        "datiCertificato": dati,
    }
    mtom: tuple[tuple[str, str], ...] = ()
    if text(controllo.get("tipoRichiesta")) != "2":
        issuer = payloads.comune_info(ctx.registry, req.comune)
        issued = ctx.clock.local_now().replace(tzinfo=None, microsecond=0)
        pdf = render_certificate(
            title=" - ".join(TITLES[t] for t in types),
            comune=issuer.name,
            lines=_lines(ctx, person, types),
            issued_at=issued,
            certificate_id=req.id_operazione_anpr,
        )
        ctx.registry.add_certificate(
            person,
            comune=req.comune,
            kind=",".join(types),
            operation=req.id_operazione_anpr,
            issued_at=ctx.clock.now().isoformat(),
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
        )
        content["file"] = {"certificatoPdf": base64.b64encode(pdf).decode("ascii")}
        mtom = (("certificatoPdf", "application/pdf"),)
    return OkAnswer("Risposta6001OK", content, mtom=mtom)
