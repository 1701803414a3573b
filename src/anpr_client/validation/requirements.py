"""What each operation requires beyond the XSD: combinations of fields ANPR checks itself.

The XSD makes most of a request's content optional; ANPR's application then refuses requests
that lack what the operation needs, with its own codes (``EN081`` mandatory field missing,
``EHR97`` registration without ``dataDecorrenza``, ``ES004``/``EN448`` no way to identify the
person…). The rules are data: :data:`REQUIREMENTS` maps an operation code to its rules, and
:func:`check` applies them to a payload shaped like the XSD (nested dicts and lists, keys named
after the elements, as :mod:`anpr_client.soap.codec` takes them).

Paths are dotted element names; a path through a repeated element means *every* element
(``elencoSoggettiFamiglia.generalita``).

>>> [f.code for f in check("3002", {"criteriRicerca": {"cognome": "ROSSI"}})]
['EN448']
>>> check("3002", {"criteriRicerca": {"codiceFiscale": "RSSMRA85T10A562S"}})
[]
>>> [f.code for f in check("1002", {"testataRichiesta": {"tipoInvio": "TEST"},
...     "motivoIscrizione": {"idMotivoIscrizione": "9"}})][:3]
['EHR97', 'EC014', 'EN081']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..errors.exceptions import Finding
from ..soap.codec import render_value
from . import codes

__all__ = ["REQUIREMENTS", "Forbid", "Need", "OneOf", "Requirement", "check", "values_at"]


def values_at(payload: object, path: str) -> list[tuple[str, object]]:
    """``(concrete path, value)`` for every value at the dotted ``path`` (lists fan out)."""
    if type(payload) is dict and path.partition(".")[0] not in payload:
        return []  # the common case: the first element is absent
    found: list[tuple[str, object]] = [("", payload)]
    for part in path.split("."):
        if not found:
            return []  # nothing left to descend into (most paths are absent from a payload)
        nxt: list[tuple[str, object]] = []
        for where, node in found:
            # a dict first: the ABC check of Mapping costs more than the rest of the step
            if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
                continue
            value = node[part]
            here = f"{where}.{part}" if where else part
            if isinstance(value, list | tuple):
                nxt.extend((f"{here}[{i}]", v) for i, v in enumerate(value))
            else:
                nxt.append((here, value))
        found = nxt
    return [(p, v) for p, v in found if v is not None and v != "" and v != [] and v != {}]


def _text(value: object) -> str:
    if type(value) is str:  # what payloads hold; render_value for the rest
        return value.strip()
    if value is None:  # an absent element: render_value would raise, and raising is slow
        return ""
    try:
        return render_value(value).strip()
    except TypeError:
        return ""


@dataclass(frozen=True)
class Need:
    """At least one of ``any_of`` must be present (under every ``scope`` element, if given).

    With ``when=(path, values)`` the rule applies only when the value at ``path`` is one of
    ``values``; with ``unless`` it is skipped when that path is present.
    """

    rule: str
    any_of: tuple[str, ...]
    message: str
    scope: str = ""
    when: tuple[str, frozenset[str]] | None = None
    unless: tuple[str, ...] = ()
    only_if_present: str | None = None


@dataclass(frozen=True)
class Forbid:
    """``path`` must be absent when the value at ``when[0]`` is one of ``when[1]``."""

    rule: str
    path: str
    when: tuple[str, frozenset[str]]
    message: str


@dataclass(frozen=True)
class OneOf:
    """The value at ``path``, when present, must be one of ``allowed``."""

    rule: str
    path: str
    allowed: frozenset[str]
    message: str


Requirement = Need | Forbid | OneOf

_ID_PERSON: Final = ("codiceFiscale", "idSchedaSoggettoComune", "idSchedaSoggettoANPR")


def _subject(base: str) -> tuple[Requirement, ...]:
    """What the main subject's generalita needs in a registration."""
    return (
        Need("field.missing", (f"{base}.sesso",), "the sex is mandatory"),
        Need("field.missing", (f"{base}.dataNascita",), "the birth date is mandatory"),
        Need("field.missing", (f"{base}.luogoNascita",), "the birth place is mandatory"),
    )


def _cf_control(base: str) -> tuple[Requirement, ...]:
    gestione = "datiControllo.gestioneCF"
    return (
        Need(
            "cf.gestione_missing",
            (f"{base}.codiceFiscale", gestione),
            "without a codice fiscale, datiControllo.gestioneCF must say how to get one",
        ),
        OneOf("cf.gestione", gestione, frozenset({"1", "2", "3"}), "gestioneCF is 1, 2 or 3"),
        Forbid(
            "cf.with_attribution",
            f"{base}.codiceFiscale",
            (gestione, frozenset({"1", "2"})),
            "gestioneCF 1/2 asks ANPR for a codice fiscale: do not send one",
        ),
    )


_SEARCH_IDS: Final = (
    "criteriRicerca.codiceFiscale",
    "criteriRicerca.idSchedaSoggettoComune",
    "criteriRicerca.idSchedaSoggettoANPR",
    "criteriRicerca.identificativoANPR",
    "criteriRicerca.idANPR",
    "criteriRicerca.idFamigliaConvivenzaComune",
    "criteriRicerca.cartaIdentita3000",
    "criteriRicerca.permessoDiSoggiorno3000",
)
_DECORRENZA: Final = Need(
    "operation.decorrenza",
    ("testataRichiesta.dataDecorrenza",),
    "registration services need testataRichiesta.dataDecorrenza",
    only_if_present="testataRichiesta",
)
_FAMILY_4_5: Final = frozenset({"4", "5"})

#: The rules of each operation (operation code → rules).
REQUIREMENTS: Final[Mapping[str, tuple[Requirement, ...]]] = MappingProxyType(
    {
        "1001": (
            _DECORRENZA,
            *_subject("generalita1001.generalita"),
            *_cf_control("generalita1001.generalita"),
            Need(
                "family.missing",
                ("famConv",),
                "attribuzioneFamiglia 4/5 needs famConv",
                when=("datiControllo.attribuzioneFamiglia", _FAMILY_4_5),
            ),
            Need(
                "family.missing",
                ("legameSoggetto",),
                "attribuzioneFamiglia 4/5 needs legameSoggetto",
                when=("datiControllo.attribuzioneFamiglia", _FAMILY_4_5),
            ),
        ),
        "1002": (
            _DECORRENZA,
            Need(
                "registration.note",
                ("motivoIscrizione.note",),
                "registration reason 9 (other) needs motivoIscrizione.note",
                when=("motivoIscrizione.idMotivoIscrizione", frozenset({"9", "09"})),
            ),
            *_subject("generalita1002.generalita"),
            *_cf_control("generalita1002.generalita"),
            Need(
                "civil_status.missing",
                ("generalita1002.statoCivile.statoCivile",),
                "the civil status is mandatory for a registration",
            ),
            Need(
                "civil_status.note",
                ("generalita1002.statoCivile.noteStatoCivile",),
                "civil status 9 needs noteStatoCivile",
                when=("generalita1002.statoCivile.statoCivile", frozenset({"9", "09"})),
            ),
            Need(
                "citizenship.note",
                ("noteStato",),
                "citizenship 998 needs noteStato",
                scope="cittadinanza",
                when=("codiceStato", frozenset({"998"})),
            ),
            Need("field.missing", ("residenza",), "a registration needs the residence"),
            Need(
                "family.missing",
                ("famiglia", "convivenza"),
                "attribuzioneFamiglia 4/5 needs famiglia or convivenza",
                when=("datiControllo.attribuzioneFamiglia", _FAMILY_4_5),
            ),
        ),
        "2001": (
            _DECORRENZA,
            Need("field.missing", ("datiDecesso",), "a death registration needs datiDecesso"),
            Need(
                "subject.identifiers",
                ("cognome", "nome"),
                "the person needs a surname or a name",
                scope="generalitaPerRicerca",
            ),
            Need(
                "subject.identifiers",
                _ID_PERSON,
                "the person needs a codice fiscale or an identifier",
                scope="generalitaPerRicerca",
            ),
        ),
        "5005": (
            _DECORRENZA,
            Need("field.missing", ("residenzaFamiglia",), "a change of residence needs it"),
            Need(
                "subject.identifiers",
                _ID_PERSON,
                "each person needs a codice fiscale or an identifier",
                scope="elencoSoggettiFamiglia.generalita",
            ),
        ),
        "3002": (
            Need(
                "search.criteria",
                (*_SEARCH_IDS, "datiNascita.dataEvento"),  # personal data: see below
                "search by codice fiscale, by an identifier, or by the five personal data",
            ),
            *(
                Need(
                    "search.criteria",
                    alternatives,
                    "a search by personal data needs surname, name, sex, birth date and place",
                    unless=_SEARCH_IDS,
                    only_if_present="datiNascita",
                )
                for alternatives in (
                    ("criteriRicerca.cognome", "criteriRicerca.senzaCognome"),
                    ("criteriRicerca.nome", "criteriRicerca.senzaNome"),
                    ("criteriRicerca.sesso",),
                    ("datiNascita.luogoNascita",),
                )
            ),
        ),
    }
)


def _scopes(payload: Mapping[str, object], scope: str) -> Iterator[tuple[str, object]]:
    if not scope:
        yield "", payload
    else:
        yield from values_at(payload, scope)


def _join(base: str, path: str) -> str:
    return f"{base}.{path}" if base else path


def check(operation: str, payload: Mapping[str, object]) -> list[Finding]:
    """The findings of the rules of ``operation`` (none for an operation without rules)."""
    out: list[Finding] = []
    plan = _PLANS.get(operation)
    if plan is None:
        return out
    direct = type(payload) is dict  # what the client passes: the shortcuts read it directly
    for gates, rules in plan:
        # a rule is passed over when it surely finds nothing: a top-level element it needs is
        # absent (rules in a row with the same gates are passed over together), or it is a
        # plain Need and one of its paths is present (loops inline, no generator nor call:
        # this runs for every rule of every request)
        if direct:
            for key in gates:
                if key not in payload:
                    break
            else:
                for requirement, any_of in rules:
                    for parts in any_of:
                        if _present(payload, parts):
                            break
                    else:
                        out.extend(_apply(requirement, payload))
            continue
        for requirement, _ in rules:
            out.extend(_apply(requirement, payload))
    return out


def _present(node: object, parts: tuple[str, ...]) -> bool:
    """``bool(values_at(node, ".".join(parts)))``, without building the paths on the way."""
    for i, part in enumerate(parts):
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return False
        node = node[part]
        if isinstance(node, list | tuple):  # values_at fans a list out: any item will do
            rest = parts[i + 1 :]
            return any(_present(item, rest) if rest else _kept(item) for item in node)
    return _kept(node)


def _kept(value: object) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _gates(req: Requirement) -> tuple[str, ...]:
    """The top-level elements without which ``req`` finds nothing (:func:`_apply` would
    return no finding when any of them is absent from a dict payload)."""

    def first(path: str) -> str:
        return path.partition(".")[0]

    if isinstance(req, OneOf):
        return (first(req.path),)
    if isinstance(req, Forbid):
        return (first(req.when[0]), first(req.path))
    gates = []
    if req.only_if_present:
        gates.append(first(req.only_if_present))
    if req.scope:
        gates.append(first(req.scope))
    elif req.when is not None:
        gates.append(first(req.when[0]))
    return tuple(gates)


def _plain_need(req: Requirement) -> tuple[tuple[str, ...], ...]:
    """The paths of a Need on the payload itself with no condition (met when any of them is
    present), split into their elements; empty for every other rule."""
    if not isinstance(req, Need) or req.scope or req.when or req.unless or req.only_if_present:
        return ()
    return tuple(tuple(path.split(".")) for path in req.any_of)


_Group = tuple[tuple[str, ...], tuple[tuple[Requirement, tuple[tuple[str, ...], ...]], ...]]


def _plan(rules: Sequence[Requirement]) -> tuple[_Group, ...]:
    """The rules in their order, those in a row with the same gates in one group."""
    groups: list[tuple[tuple[str, ...], list[tuple[Requirement, tuple[tuple[str, ...], ...]]]]] = []
    for req in rules:
        gates = _gates(req)
        if not groups or groups[-1][0] != gates:
            groups.append((gates, []))
        groups[-1][1].append((req, _plain_need(req)))
    return tuple((gates, tuple(members)) for gates, members in groups)


_PLANS: Final = {operation: _plan(rules) for operation, rules in REQUIREMENTS.items()}
"""Each operation's rules, with what lets :func:`check` pass over a rule without applying it:
its gates (:func:`_gates`) and, for a plain Need, its paths (:func:`_plain_need`)."""


def _finding(rule_id: str, path: str, message: str) -> Finding:
    rule = codes.RULES[rule_id]
    return Finding(path, rule.id, message, rule.code, rule.severity)


def _apply(req: Requirement, payload: Mapping[str, object]) -> Sequence[Finding]:
    if isinstance(req, OneOf):
        return [
            _finding(req.rule, where, f"{req.message} (got {_text(value)!r})")
            for where, value in values_at(payload, req.path)
            if _text(value) not in req.allowed
        ]
    if isinstance(req, Forbid):
        trigger = {_text(v) for _, v in values_at(payload, req.when[0])}
        if not trigger & req.when[1]:
            return []
        return [_finding(req.rule, where, req.message) for where, _ in values_at(payload, req.path)]
    out: list[Finding] = []
    if req.only_if_present and not values_at(payload, req.only_if_present):
        return out
    if req.unless and any(values_at(payload, path) for path in req.unless):
        return out
    scopes = _scopes(payload, req.scope) if req.scope else (("", payload),)
    for base, node in scopes:
        if req.when is not None:
            current = {_text(v) for _, v in values_at(node, req.when[0])}
            if not current & req.when[1]:
                continue
        if not any(values_at(node, path) for path in req.any_of):
            where = _join(base, req.any_of[0]) if len(req.any_of) == 1 else base or req.any_of[0]
            out.append(_finding(req.rule, where, req.message))
    return out
