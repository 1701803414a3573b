"""4001–4004: extractions from the registry, elaborated asynchronously like ANPR does.

ANPR answers these requests with their criteria and an ``idOperazioneANPR`` only; it elaborates
them afterwards and the Comune downloads the result with **7002** giving that id
(italia/anpr#779, #1696, #2982; :mod:`.reference_tables`). The simulator elaborates at once,
inside the request's transaction, and the file is available ``extraction_delay`` seconds later
(:mod:`..files`); before, or when the elaboration found nothing, 7002 answers EN122
(italia/anpr#1696).

- **4001** (*estrazione dati cittadini*): the registered persons of the requesting Comune (its
  residents and its citizens abroad) matching the criteria. The file is, as ANPR's is, one 3002
  answer per person, one after the other (italia/anpr#2327), not compressed
  (italia/anpr#2138), with the parts of the record ``datiAnagraficiRichiesti`` asks for (the
  codes of 3002). Criteria the simulator applies: ``comuneRichiesta`` (only the requesting
  Comune, EN167), ``identificativiANPR`` (a range of ``idSchedaSoggettoANPR``), a period
  ``riferimentoRichiesta`` with ``registrazioni/codiceServizio`` (the persons that operations of
  that service changed in the period), and in ``ulterioriSelezioni``: ``ricercaChiaveParziale``
  (codice fiscale, surname, name — their beginning when ``ricercaCognomeNomeParziale`` is 1),
  ``sesso``, ``statoCivile``, ``codiceStato`` (the citizenship), ``fasciaEtaDa``/``fasciaEtaA``
  or ``etaMinimaAllaDataRiferimento`` at ``dataRiferimento`` (default today). The error table's
  rules: none of a period, ANPR ids, Comune ids or subject parameters → EHR45; a period that
  starts after today → EHR15, that ends before it starts or after today → EHR16, a period
  without an event, a service or an age band → EN168; both an age band and a minimum age →
  EHR29; a minimum age without ``dataRiferimento`` → EHR30; ``statoIstruttoria`` → EN177 (the
  selection is disabled, italia/anpr#1463). Other criteria are not simulated (EN379 naming
  them).
- **4002** (*rivestimento codici fiscali*): the persons of ``xmlFileCodiciFiscali`` found on
  ANPR, in the same form as 4001's file; persons not found are left out, as ANPR's bulk
  look-up does (italia/anpr#5303). No public source shows the input file: the simulator takes
  every codice fiscale it holds (one per line, or in XML elements).
- **4003** (statistical returns) and **4004** (support lists): accepted (``comune`` of another
  Comune → EN167; 4004's period as 4001's, EHR15/EHR16), their files are not simulated: 7002
  answers EN122 for them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from lxml import etree

from ...soap.codec import encode
from ...validation import codicefiscale
from .. import payloads
from ..files import pending_file, store_file
from ..household import Person
from .base import Context, OkAnswer, Rejected, Request, entry, parse_date
from .common import text

__all__ = [
    "extract_citizens",
    "extract_statistics",
    "extract_support_list",
    "recover_codici_fiscali",
]

_FORMAT: Final = ".xml"  # as 7002 names an extraction's file (italia/anpr#1302)
_TOKENS: Final = re.compile(rb"(?<![0-9A-Za-z])[0-9A-Za-z]{16}(?![0-9A-Za-z])")
_FURTHER: Final = frozenset(
    {
        "ricercaChiaveParziale",
        "sesso",
        "statoCivile",
        "codiceStato",
        "fasciaEtaDa",
        "fasciaEtaA",
        "dataRiferimento",
        "etaMinimaAllaDataRiferimento",
    }
)
_CRITERIA: Final = frozenset(
    {
        "comuneRichiesta",
        "datiAnagraficiRichiesti",
        "riferimentoRichiesta",
        "registrazioni",
        "identificativiANPR",
        "ulterioriSelezioni",
    }
)
_WHERE: Final = "criteriRicerca"


# ----------------------------------------------------------------------------- 4001


def extract_citizens(ctx: Context, req: Request) -> OkAnswer:
    """4001: the persons of the Comune matching ``criteriRicerca`` (module docstring)."""
    criteria = req.payload.get("criteriRicerca") or {}
    _own_comune(req, criteria.get("comuneRichiesta"), f"{_WHERE}/comuneRichiesta")
    further = criteria.get("ulterioriSelezioni") or {}
    if text(further.get("statoIstruttoria")):
        raise Rejected(
            entry(
                "EN177",
                "the selection by statoIstruttoria is not active",
                field=f"{_WHERE}/ulterioriSelezioni/statoIstruttoria",
            )
        )
    _not_simulated(
        [k for k in criteria if k not in _CRITERIA and criteria[k] not in (None, {}, [])]
        + [k for k in further if k not in _FURTHER and further[k] not in (None, "", {})],
    )
    period = criteria.get("riferimentoRichiesta")
    ids = criteria.get("identificativiANPR")
    if not (period or ids or further):
        raise Rejected(
            entry(
                "EHR45",
                "give a period (riferimentoRichiesta), a range of ANPR ids "
                "(identificativiANPR) or the parameters of the subjects (ulterioriSelezioni)",
                field=_WHERE,
            )
        )
    checks = [*_subject_checks(ctx, further), *_id_checks(ids)]
    if period:
        checks.append(_period_check(ctx, req, period, criteria.get("registrazioni"), further))
    persons = [p for p in _population(ctx, req.comune) if all(check(p) for check in checks)]
    parts = payloads.parts_requested(criteria.get("datiAnagraficiRichiesti"))
    _produce(ctx, req, persons, parts)
    return OkAnswer(
        "RispostaMultipla4001",
        {"criteriRicerca": criteria, "idOperazioneANPR": req.id_operazione_anpr},
    )


def _population(ctx: Context, istat: str) -> list[Person]:
    """The registered persons of a Comune: residents and citizens abroad, by id."""
    persons = [*ctx.registry.residents(istat), *ctx.registry.aire_citizens(istat)]
    return sorted(persons, key=lambda p: int(p.id) if p.id.isdigit() else 0)


def _not_simulated(criteria: Iterable[str]) -> None:
    names = sorted(set(criteria))
    if names:
        raise Rejected(
            *(
                entry("EN379", f"the selection by {name} is not simulated", field=name)
                for name in names
            )
        )


def _own_comune(req: Request, comune: Any, where: str) -> None:
    """A Comune extracts its own data only (EN167)."""
    istat = text(comune.get("codiceIstat")) if isinstance(comune, Mapping) else None
    if istat is not None and istat != req.comune:
        raise Rejected(
            entry(
                "EN167",
                f"Comune {req.comune} is not competent for Comune {istat}",
                field=f"{where}/codiceIstat",
                value=istat,
            )
        )


Check = Callable[[Person], bool]


def _subject_checks(ctx: Context, further: Mapping[str, Any]) -> list[Check]:
    where = f"{_WHERE}/ulterioriSelezioni"
    checks: list[Check] = []
    partial = further.get("ricercaChiaveParziale") or {}
    prefix = text(partial.get("ricercaCognomeNomeParziale")) == "1"
    for key, attribute in (("codiceFiscale", "codice_fiscale"), ("cognome", "surname"),
                           ("nome", "name")):  # fmt: skip
        wanted = text(partial.get(key))
        if wanted:
            checks.append(_matcher(attribute, wanted.upper(), prefix or key == "codiceFiscale"))
    for key, attribute in (("sesso", "sex"), ("statoCivile", "marital_status"),
                           ("codiceStato", "citizenship")):  # fmt: skip
        wanted = text(further.get(key))
        if wanted:
            checks.append(_matcher(attribute, wanted.upper(), False))
    low, high = text(further.get("fasciaEtaDa")), text(further.get("fasciaEtaA"))
    minimum = text(further.get("etaMinimaAllaDataRiferimento"))
    reference = further.get("dataRiferimento")
    if (low or high) and minimum:
        raise Rejected(
            entry("EHR29", "give either an age band or a minimum age, not both", field=where)
        )
    if minimum and not reference:
        raise Rejected(
            entry(
                "EHR30",
                "a minimum age needs dataRiferimento",
                field=f"{where}/dataRiferimento",
            )
        )
    day = parse_date(reference) if reference else ctx.clock.today()
    if low or high:
        band = (int(low or 0), int(high or 999))
        checks.append(lambda p: band[0] <= _age(p, day) <= band[1])
    if minimum:
        least = int(minimum)
        checks.append(lambda p: _age(p, day) >= least)
    return checks


def _matcher(attribute: str, wanted: str, prefix: bool) -> Check:
    def check(person: Person) -> bool:
        value = str(getattr(person, attribute) or "").upper()
        return value.startswith(wanted) if prefix else value == wanted

    return check


def _age(person: Person, day: dt.date) -> int:
    born = person.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _id_checks(ids: Any) -> list[Check]:
    if not isinstance(ids, Mapping):
        return []
    _not_simulated(k for k in ("tipoScheda", "identificativoANPRDa", "identificativoANPRA")
                   if text(ids.get(k)))  # fmt: skip
    low, high = text(ids.get("idSchedaSoggettoANPRDa")), text(ids.get("idSchedaSoggettoANPRA"))
    bounds = (int(low) if low else 0, int(high) if high else 10**16)
    return [lambda p: p.id.isdigit() and bounds[0] <= int(p.id) <= bounds[1]]


def _dates(ctx: Context, start: Any, end: Any, where: str) -> tuple[dt.date, dt.date]:
    """A period that starts by today (EHR15) and ends after its start and by today (EHR16)."""
    today = ctx.clock.today()
    first, last = parse_date(start), parse_date(end)
    if first > today:
        raise Rejected(
            entry(
                "EHR15",
                f"the initial date {first.isoformat()} is after today ({today.isoformat()})",
                field=where,
                value=first,
            )
        )
    if last < first or last > today:
        raise Rejected(
            entry(
                "EHR16",
                f"the final date {last.isoformat()} is before the initial date "
                f"{first.isoformat()} or after today ({today.isoformat()})",
                field=where,
                value=last,
            )
        )
    return first, last


def _period_check(
    ctx: Context, req: Request, period: Mapping[str, Any], registrations: Any, further: Any
) -> Check:
    where = f"{_WHERE}/riferimentoRichiesta"
    first, last = _dates(ctx, period.get("dataIniziale"), period.get("dataFinale"), where)
    service = (
        text(registrations.get("codiceServizio")) if isinstance(registrations, Mapping) else None
    )
    event = (
        text(registrations.get("eventoAnagrafico")) if isinstance(registrations, Mapping) else None
    )
    ages = isinstance(further, Mapping) and (
        further.get("fasciaEtaDa") or further.get("fasciaEtaA")
    )
    if not (service or event or ages):
        raise Rejected(
            entry(
                "EN168",
                "a period selects only with an event (eventoAnagrafico), a service "
                "(codiceServizio) or an age band",
                field=where,
            )
        )
    if event:
        _not_simulated(["registrazioni/eventoAnagrafico"])
    if not service:
        _not_simulated(["riferimentoRichiesta with an age band"])
    since = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    changed: set[str] = set()
    for record in ctx.ledger.operations(
        req.comune,
        service,
        since=since.isoformat(timespec="microseconds"),
        until=until.isoformat(timespec="microseconds"),
        outcome="ok",
    ):
        changed.update(
            c.key for c in ctx.registry.changes(record.id_operazione_anpr) if c.kind == "person"
        )
    return lambda p: p.id in changed


# ----------------------------------------------------------------------------- 4002


def recover_codici_fiscali(ctx: Context, req: Request) -> OkAnswer:
    """4002: the persons of the file of codici fiscali found on ANPR (module docstring)."""
    criteria = req.payload.get("criteriRicerca") or {}
    data = _base64(criteria.get("xmlFileCodiciFiscali"))
    tokens = (t.decode("ascii").upper() for t in _TOKENS.findall(data))
    codes = dict.fromkeys(t for t in tokens if codicefiscale.is_valid(t))
    persons = [p for p in (ctx.registry.person(cf) for cf in codes) if p is not None]
    parts = payloads.parts_requested(criteria.get("datiRichiesti"))
    _produce(ctx, req, persons, parts)
    echoed = {k: criteria[k] for k in ("dataRiferimento", "datiRichiesti") if criteria.get(k)}
    return OkAnswer(
        "RispostaMultipla4002",
        {"datiRichiesti": echoed, "idOperazioneANPR": req.id_operazione_anpr},
    )


def _base64(value: Any) -> bytes:
    """A decoded ``xs:base64Binary`` (the schema validated it: whitespace aside, it decodes)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    try:
        return base64.b64decode("".join(str(value or "").split()))
    except binascii.Error:
        return b""


# ----------------------------------------------------------------------------- 4003, 4004


def extract_statistics(ctx: Context, req: Request) -> OkAnswer:
    """4003: accepted; its statistical returns are not simulated (7002: EN122)."""
    return _accepted(ctx, req, "RispostaMultipla4003")


def extract_support_list(ctx: Context, req: Request) -> OkAnswer:
    """4004: accepted (its period checked as 4001's); its lists are not simulated (7002:
    EN122)."""
    dati = req.payload.get("datiRichiesta") or {}
    start, end = dati.get("dataRiferimentoIniziale"), dati.get("dataRiferimentoFinale")
    if start or end:
        _dates(ctx, start or end, end or start, "datiRichiesta/dataRiferimentoFinale")
    return _accepted(ctx, req, "RispostaMultipla4004")


def _accepted(ctx: Context, req: Request, branch: str) -> OkAnswer:
    dati = req.payload.get("datiRichiesta") or {}
    _own_comune(req, dati.get("comune"), "datiRichiesta/comune")
    store_file(
        ctx.db,
        id_anpr=req.id_operazione_anpr,
        comune=req.comune,
        service=req.operation.code,
        ready_at=_ready(ctx, req),
        format=_FORMAT,
        content=None,
    )
    return OkAnswer(branch, {"datiRichiesta": dati, "idOperazioneANPR": req.id_operazione_anpr})


# ----------------------------------------------------------------------------- the file


def _ready(ctx: Context, req: Request) -> dt.datetime:
    """When the elaboration of ``req`` is over; EN179 while another request of the same
    service by the Comune is still being elaborated (italia/anpr#2099, #2473)."""
    now = ctx.clock.now()
    busy = pending_file(ctx.db, req.comune, req.operation.code, now)
    if busy is not None:
        raise Rejected(
            entry(
                "EN179",
                f"Richiesta non effettuabile: the request {busy} of the same service is "
                "still being elaborated",
                field="operazioneRichiesta",
                value=req.operation.code,
            )
        )
    return now + dt.timedelta(seconds=ctx.config.extraction_delay)


def _produce(ctx: Context, req: Request, persons: list[Person], parts: frozenset[str]) -> None:
    """Store the file of ``persons``: one 3002 answer each, one after the other."""
    content = b"".join(_answer_3002(ctx, req, p, parts) for p in persons) if persons else None
    store_file(
        ctx.db,
        id_anpr=req.id_operazione_anpr,
        comune=req.comune,
        service=req.operation.code,
        ready_at=_ready(ctx, req),
        format=_FORMAT,
        content=content,
    )


def _answer_3002(ctx: Context, req: Request, person: Person, parts: frozenset[str]) -> bytes:
    assert ctx.bundle is not None  # the runtime always passes its bundle
    operation = ctx.bundle.operation("3002")
    header = req.header
    testata = {
        "idOperazioneComune": req.id_operazione_comune,
        "codMittente": req.comune,
        "codDestinatario": header.get("codDestinatario", ""),
        "operazioneRichiesta": header.get("operazioneRichiesta", ""),
        "dataOraRichiesta": header.get("dataOraRichiesta", ""),
        "idOperazioneANPR": req.id_operazione_anpr,
        "esitoOperazione": "0000",
    }
    record = payloads.person_record(ctx.registry, person, parts)
    value = {"Risposta3002_OK": {"testataRisposta": testata,
                                 "listaSoggetti": {"datiSoggetto": [record]}}}  # fmt: skip
    element, violations = encode(ctx.bundle.response_model(operation), value)
    if violations:
        raise ValueError(f"the 3002 answer of {person.id} does not encode: {violations}")
    return etree.tostring(element, encoding="UTF-8", xml_declaration=True) + b"\n"
