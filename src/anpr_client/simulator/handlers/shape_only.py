"""Shape-only answers: the operations the simulator keeps no state for (CIE, CONSOLATI, E00x,
P00x, S001).

These services belong to other parties' work (the Poligrafico's identity cards, the consulates,
other public bodies, the citizens' online requests, a Comune's take-over): the simulator answers
them **schema-valid and OK**, built from the operation's response model, so that a client can
exercise its encoding, signing, reading and typed faces offline. What the answer holds:

- what the request says again, where the answer has an element of the same name and type
  (``criteriRicerca``, ``datiRichiesta``, ``cartaIdentita``…);
- where the request names a person on ANPR (``generalita``: a codice fiscale or an
  ``idSchedaSoggettoANPR``; E002's ``criteriRicerca``), that person's data from the registry:
  ``generalita``, ``listaSoggetti``, ``residenza``, C010's ``isAire``; a person who is not on
  ANPR is answered KO EN122, as 3002 answers a search without a match (italia/anpr#1714);
- every other element the schema requires, with a placeholder value that its type allows
  (the first value of an enumeration, today's date, ``1``…): the shape, not a meaning.

Nothing is written to the registry; the ledger applies as to every operation (a repeated
``idOperazioneComune``/``idOperazioneClient`` gets the stored first answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ...soap.xsdmodel import Facets, Node
from .. import payloads
from ..household import Person
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import codice_fiscale_of, text

__all__ = ["shape_only"]

_NOT_ECHOED: Final = frozenset({"testataRisposta", "listaErrori", "listaAnomalie"})
_CANDIDATES: Final = ("1", "A", "S", "X", "0", "a", "-")
_NUMBERS: Final = frozenset(
    {"int", "integer", "long", "short", "decimal", "nonNegativeInteger", "positiveInteger"}
)


def shape_only(ctx: Context, req: Request) -> OkAnswer:
    """The OK answer of ``req.operation`` built from its response model (module docstring)."""
    assert ctx.bundle is not None  # the runtime always passes its bundle
    model = ctx.bundle.response_model(req.operation)
    branch = _ok_branch(model)
    person = _named_person(ctx, req)
    request_model = ctx.bundle.request_model(req.operation)
    content: dict[str, Any] = {}
    for name, child in branch.children.items():
        if name in _NOT_ECHOED:
            continue
        value = _fit(_from_registry(ctx, name, child, person), child)
        if value is None:
            value = _echoed(req.payload, request_model, name, child)
        if value is None and _required(name, child):
            value = _placeholder(ctx, child, ())
        if value is not None:
            content[name] = value
    return OkAnswer(branch.name, content)


def _ok_branch(model: Node) -> Node:
    """The response element's OK branch: the child that is not the KO one."""
    for name, child in model.children.items():
        if name != "rispostaKO" and not name.endswith("KO"):
            return child
    raise LookupError(f"{model.name} has no OK branch")


# ----------------------------------------------------------------------------- the registry


def _named_person(ctx: Context, req: Request) -> Person | None:
    """The person the request names by codice fiscale or ANPR id (``generalita``, or E002's
    ``criteriRicerca``); ``None`` when it names nobody; EN122 when it names someone not on
    ANPR."""
    where = None
    cf = person_id = None
    for key in ("generalita", "criteriRicerca"):
        block = req.payload.get(key)
        if not isinstance(block, Mapping):
            continue
        cf = codice_fiscale_of(block)
        person_id = text(block.get("idSchedaSoggettoANPR")) or text(block.get("idANPR"))
        if cf or person_id:
            where = key
            break
    if where is None:
        return None
    person = ctx.registry.person(cf) if cf else ctx.registry.person_by_id(person_id or "")
    if person is None:
        raise Rejected(
            entry(
                "EN122",
                f"no citizen matches the search criteria ({cf or person_id} is not on ANPR)",
                field=f"{where}/{'codiceFiscale' if cf else 'idSchedaSoggettoANPR'}",
                value=cf or person_id,
            )
        )
    return person


def _from_registry(ctx: Context, name: str, node: Node, person: Person | None) -> Any:
    if person is None:
        return None
    if name == "generalita":
        return payloads.personal_data(person)
    if name == "listaSoggetti":
        return {"datiSoggetto": [payloads.person_record(ctx.registry, person)]}
    if name == "isAire":
        return "true" if person.aire else "false"
    if name == "residenza" and node.repeated is False:
        household = ctx.registry.household_of(person)
        if household is not None and person.comune:
            return payloads.residence(household, payloads.comune_info(ctx.registry, person.comune))
    return None


def _fit(value: Any, node: Node) -> Any:
    """``value`` without the elements ``node``'s type does not have (the registry's record is
    ``tipoDatiRispostaEstrazioneSoggetti``; other answers hold a narrower type)."""
    if isinstance(value, list):
        fitted = [_fit(v, node) for v in value]
        return fitted if node.repeated else (fitted[0] if fitted else None)
    if value is None or node.is_simple or not isinstance(value, Mapping):
        return value
    children = node.children
    return {k: _fit(v, children[k]) for k, v in value.items() if k in children}


# ----------------------------------------------------------------------------- the request


def _echoed(payload: Mapping[str, Any], request: Node, name: str, node: Node) -> Any:
    """The request's element ``name``, when the request has one of the answer's type."""
    given = payload.get(name)
    counterpart = request.children.get(name)
    if given is None or counterpart is None:
        return None
    same = (counterpart.type_namespace, counterpart.type_name, counterpart.simple_type) == (
        node.type_namespace,
        node.type_name,
        node.simple_type,
    )
    return given if same and node.type_name is not None else None


# ----------------------------------------------------------------------------- placeholders


def _placeholder(ctx: Context, node: Node, seen: tuple[tuple[str, str | None], ...]) -> Any:
    """A value of ``node``'s type holding only what the schema requires."""
    if node.is_simple:
        facets = node.facets
        assert facets is not None
        value: Any = _simple(ctx, facets)
    else:
        key = (node.type_namespace, node.type_name)
        value = {}
        if key not in seen:
            for name, child in node.children.items():
                if _required(name, child):
                    value[name] = _placeholder(ctx, child, (*seen, key))
    return [value] if node.repeated else value


def _required(name: str, node: Node) -> bool:
    """Whether the schema requires ``node``: a required element, or the first branch of a
    required ``xs:choice`` (which stands for the choice)."""
    choice = node.choice
    if choice is not None and len(choice.branches) > 1:
        return choice.required and choice.branches[0] == name
    return node.required


def _simple(ctx: Context, facets: Facets) -> Any:
    if facets.enumeration:
        return facets.enumeration[0]
    base = facets.base
    if base == "date":
        return ctx.clock.today()
    if base == "dateTime":
        return ctx.clock.now()
    if base == "boolean":
        return "false"
    if base == "base64Binary":
        return b""
    if base in _NUMBERS:
        return "1"
    size = max(facets.min_length or 1, 1)
    for candidate in _CANDIDATES:
        value = candidate * size
        if _allowed(value, facets):
            return value
    return "1" * size


def _allowed(value: str, facets: Facets) -> bool:
    if facets.max_length is not None and len(value) > facets.max_length:
        return False
    return all(any(_matches(pattern, value) for pattern in step) for step in facets.patterns)


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:  # an XSD construct Python's re does not read: let the schema judge
        return True
