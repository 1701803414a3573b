"""Annulments: 1013 annuls a registration, 2011 a cancellation, 5012 a change, restoring the
position before.

ANPR's table of web services: 1013 annuls a registration (for a new person, the record goes,
italia/anpr#2257), 2011 a cancellation, "restoring the position that existed". The registry
restores every person and household the operation changed as they were before it (its change
log, :mod:`..changes`): after a death annulled the person is resident again, in the family,
with the relation they had, and the member who had become head is not any more.

The operation is named by ``datiOperazione`` (1013) or ``datiOperazioneDaAnnullare`` (2011):
its ``idOperazioneANPR``, with the ``operazioneRichiesta`` and ``idOperazioneComune`` it was
sent with; the person by ``datiSchedaSoggettoFamigliaConvivenza/soggetto``.

- an id that registered nothing on ANPR (unknown, or answered KO): EN078;
- an operation of another Comune: EN145;
- 1013 annuls 1001, 1002 and the AIRE registrations A001, A002 (italia/anpr#586); 2011 annuls
  2001 and 2003; 5012 annuls 5001 (italia/anpr#1022), 5005 (#3645, #1473) and 5008/5014
  (#1473); another service, a service or an ``idOperazioneComune`` that are not the
  operation's, a person it did not change: EN314;
- a 5008 or 5014 that changed the data a codice fiscale is computed from (names, sex, birth
  date and place: the Agenzia delle Entrate has them): EN234 (italia/anpr#650, #736); one that
  changed other data (civil status, citizenship) is annulled (#1473, #701);
- an operation that is not the last one on every person and household it changed, or that was
  annulled already: EN077 (italia/anpr#1766, #815, #1182, #585).

An annulment that gives a person back to another subentrato Comune (a 5005 transfer annulled)
produces for that Comune an N015, the restoration of the position (italia/anpr#3261: the
annulled moves "produced N015 notifications" for the Comune of provenance).

``datiControllo`` (1013's ``tiposcheda`` and ``annullamentoAttribuzione``, 2011's
``tipoScheda``) is read by the XSD only: no public source says what its codes change, and the
record is restored the same way whatever they are.
"""

from __future__ import annotations

from typing import Any, Final

from .. import payloads
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import changed_subject, effective_date, locate, notify, text

__all__ = ["annul_cancellation", "annul_change", "annul_registration"]

_ANNULS: Final = {
    "1013": frozenset({"1001", "1002", "A001", "A002"}),
    "2011": frozenset({"2001", "2003"}),
    "5012": frozenset({"5001", "5005", "5008", "5014"}),
}
_TAX_DATA: Final = frozenset(
    {
        "surname",
        "name",
        "sex",
        "birth_date",
        "birth_comune",
        "birth_state",
        "birth_place_name",
        "birth_province",
    }
)
"""The registry columns of the data a codice fiscale is computed from: a change of them goes
to the Agenzia delle Entrate, and ANPR does not annul it (EN234, italia/anpr#650, #736)."""


def _annul(ctx: Context, req: Request, key: str) -> OkAnswer:
    since = effective_date(req, ctx)
    dati = req.payload.get(key) or {}
    given = text(dati.get("idOperazioneANPR")) or ""
    id_anpr = str(int(given)) if given.isdigit() else given
    record = ctx.ledger.find(req.comune, id_operazione_anpr=id_anpr)
    changed = ctx.registry.changes(id_anpr)
    if record is None and changed:
        raise Rejected(
            entry(
                "EN145",
                f"operation {id_anpr} is another Comune's: only that Comune can annul it",
                field=f"{key}/idOperazioneANPR",
                value=id_anpr,
            )
        )
    if record is None or not record.ok or not changed:
        raise Rejected(
            entry(
                "EN078",
                f"operation {id_anpr} registered nothing on ANPR: there is nothing to annul",
                field=f"{key}/idOperazioneANPR",
                value=id_anpr,
            )
        )
    annuls = _ANNULS[req.operation.code]
    sent_as = text(dati.get("operazioneRichiesta"))
    id_comune = text(dati.get("idOperazioneComune"))
    if record.service not in annuls or sent_as != record.service:
        raise Rejected(
            entry(
                "EN314",
                f"operation {id_anpr} is a {record.service}: {req.operation.code} annuls "
                f"{', '.join(sorted(annuls))}, named with the service they were sent to "
                f"(got {sent_as})",
                field=f"{key}/operazioneRichiesta",
                value=sent_as,
            )
        )
    if id_comune != record.id_operazione_comune:
        raise Rejected(
            entry(
                "EN314",
                f"operation {id_anpr} was sent as idOperazioneComune "
                f"{record.id_operazione_comune}, not {id_comune}",
                field=f"{key}/idOperazioneComune",
                value=id_comune,
            )
        )
    where = "datiSchedaSoggettoFamigliaConvivenza/soggetto"
    soggetto = (req.payload.get("datiSchedaSoggettoFamigliaConvivenza") or {}).get("soggetto")
    subject = locate(ctx, soggetto or {}, where=where)
    persons = [c.key for c in changed if c.kind == "person"]
    if subject.id not in persons:
        raise Rejected(
            entry(
                "EN314",
                f"operation {id_anpr} did not change {subject.codice_fiscale}",
                field=where,
                value=subject.codice_fiscale,
            )
        )
    if record.service in ("5008", "5014"):
        tax_data = {
            column
            for person_id in persons
            for column in ctx.registry.changed_columns(id_anpr, person_id) & _TAX_DATA
        }
        if tax_data:
            raise Rejected(
                entry(
                    "EN234",
                    f"operation {id_anpr} changed personal data sent to the Agenzia delle "
                    "Entrate: it cannot be annulled, send a new change",
                    field=f"{key}/idOperazioneANPR",
                    value=id_anpr,
                )
            )
    if any(c.undone_by for c in changed):
        undone = next(c.undone_by for c in changed if c.undone_by)
        raise Rejected(
            entry(
                "EN077",
                f"operation {id_anpr} was annulled already (by {undone})",
                field=f"{key}/idOperazioneANPR",
                value=id_anpr,
            )
        )
    later = ctx.registry.later_changes(id_anpr)
    if later:
        raise Rejected(
            entry(
                "EN077",
                f"operation {id_anpr} is not the last one on the persons and families it "
                f"changed: annul {later[-1].operation} first",
                field=f"{key}/idOperazioneANPR",
                value=id_anpr,
            )
        )
    before = {p: ctx.registry.person_by_id(p) for p in persons}
    ctx.registry.annul(id_anpr, by=req.id_operazione_anpr)
    variati: list[dict[str, Any]] = []
    notified = False
    for person_id in dict.fromkeys([subject.id, *persons]):
        restored = ctx.registry.person_by_id(person_id)
        if restored is not None:
            variati.append(changed_subject(ctx, restored))
            was = before.get(person_id)
            back_to = restored.comune
            if (
                was is not None
                and was.comune == req.comune
                and back_to is not None
                and back_to != req.comune
                and ctx.registry.is_subentrato(back_to)
            ):
                notify(ctx, req, "N015", recipient=back_to, person=restored, since=since)
                notified = True
        elif person_id == subject.id:  # a registration annulled: the record is gone
            variati.append(
                {
                    "identificativi": {"idANPR": subject.id_anpr},
                    "generalitaAttuali": payloads.personal_data(subject),
                }
            )
    return OkAnswer(
        "Risposta_Comune",
        {"listaSoggettiVariati": {"datiSoggetto": variati}},
        after_commit=(ctx.notifier.kick,) if notified else (),
    )


def annul_registration(ctx: Context, req: Request) -> OkAnswer:
    """1013: annul a registration (1001, 1002, A001, A002)."""
    return _annul(ctx, req, "datiOperazione")


def annul_cancellation(ctx: Context, req: Request) -> OkAnswer:
    """2011: annul a cancellation (2001, 2003)."""
    return _annul(ctx, req, "datiOperazioneDaAnnullare")


def annul_change(ctx: Context, req: Request) -> OkAnswer:
    """5012: annul a change (5001, 5005, 5008, 5014)."""
    return _annul(ctx, req, "datiOperazioneDaAnnullare")
