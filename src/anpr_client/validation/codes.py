"""The local checks and the ANPR error code each one predicts (one table, facts as data).

Every check the validators run has a *rule id* (``cf.checksum``) and predicts the ANPR error
code the same defect would produce once the request reached ANPR, with ANPR's severity:
``E`` blocks the operation, ``W`` is a warning. Codes come from ANPR's public error tables
(``tab_elenco_errori_anpr``, edition 2018-05-07, plus older editions for the Agenzia delle
Entrate codes); where a defect has no code of its own the choice is explained below. The
descriptions are our own words.

Two pseudo-codes are not ANPR codes:

``XSD``
    The value breaks the XSD (character class, length, date format, enumeration). ANPR's
    security gateway validates the body against the schema before the application sees it and
    refuses the **whole request** with the SOAP fault ``Internal Error (from client)``, with no
    error code (a maintainer's statement in italia/anpr#2343; also #2684, #2695).
``INPUT``
    A row of a batch file cannot be read at all (bad JSON, wrong number of CSV fields).

Predictions that are judgement calls:

- A malformed codice fiscale or one with a wrong check character: ANPR validates the code with
  the Agenzia delle Entrate and answers ``ENT02`` (the CF is inconsistent with the person's data).
- A CF whose surname or name part disagrees with the person: ``EAV21`` (the Agenzia's answer
  "personal data inconsistent with the CF"), as a **warning**: the CF the Agenzia issued stays
  valid when a name is later corrected, so a mismatch is a hint, not proof. Birth date and sex
  mismatches use ANPR's own codes ``EA038`` and ``EA042``, also warnings as in ANPR's table.
- The birth place in the CF against the declared one: ``EN339`` (Comune) and ``EN340`` (foreign
  state), blocking, as in ANPR's table.
- A Comune that exists but not on the birth date: ``EN338`` (warning); one that does not exist:
  ``EN332`` (blocking).

Severities can be changed per rule by passing ``severities={"cf.surname": "E"}`` to the record
checker (:class:`anpr_client.validation.rules.PersonChecker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["INPUT", "RULES", "XSD", "Rule", "rule"]

XSD: Final = "XSD"
"""Pseudo-code: the gateway would refuse the whole request (schema violation)."""

INPUT: Final = "INPUT"
"""Pseudo-code: a batch row that cannot be read."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One local check: its id, the predicted ANPR code and severity, what it means."""

    id: str
    code: str
    severity: str
    description: str


_RULES: Final = (
    # --- input and schema
    Rule("row.unreadable", INPUT, "E", "the row cannot be read (bad JSON or wrong field count)"),
    Rule("field.missing", "EN081", "E", "a mandatory field is missing"),
    Rule("field.charset", XSD, "E", "characters outside the field's ANPR character class"),
    Rule("field.length", XSD, "E", "too short or too long for the field"),
    Rule("field.format", XSD, "E", "not in the field's format (digits, date, enumeration)"),
    Rule("date.future", "ES008", "E", "birth date after the date of the operation"),
    # --- codice fiscale
    Rule("cf.missing", "ES070", "W", "no codice fiscale: gestioneCF must say how to get one"),
    Rule("cf.length", "EA001", "E", "the codice fiscale has a wrong length"),
    Rule("cf.format", "ENT02", "E", "the codice fiscale is malformed"),
    Rule("cf.checksum", "ENT02", "E", "the check character of the codice fiscale is wrong"),
    Rule("cf.date", "ENT02", "E", "the birth date encoded in the codice fiscale is impossible"),
    Rule("cf.surname", "EAV21", "W", "the surname does not match the codice fiscale"),
    Rule("cf.name", "EAV21", "W", "the name does not match the codice fiscale"),
    Rule("cf.birthdate", "EA038", "W", "the birth date does not match the codice fiscale"),
    Rule("cf.sex", "EA042", "W", "the sex does not match the codice fiscale"),
    Rule("cf.birthplace", "EN339", "E", "the birth Comune does not match the codice fiscale"),
    Rule("cf.birthstate", "EN340", "E", "the birth state does not match the codice fiscale"),
    # --- places
    Rule("birthplace.unknown", "EN332", "E", "the birth Comune does not exist"),
    Rule("birthplace.date", "EN338", "W", "the birth Comune was not in existence on that date"),
    Rule("birthplace.istat", "EC009", "E", "the ISTAT code does not match the Comune's name"),
    Rule("birthstate.unknown", "EC030", "E", "the birth state is not in the states table"),
    Rule("birthstate.name", "EC031", "E", "the birth state's code does not match its name"),
    Rule("citizenship.unknown", "EC036", "E", "the citizenship state is not in the table"),
    Rule("residence.comune", "EC056", "W", "the Comune of residence is unknown at that date"),
    Rule("toponym.species", "EC073", "E", "the toponym species is not in the species table"),
    # --- combinations (requirements.py)
    Rule("operation.decorrenza", "EHR97", "E", "registration services need dataDecorrenza"),
    Rule("cf.gestione", "ES090", "E", "gestioneCF must be 1, 2 or 3 or absent"),
    Rule("cf.gestione_missing", "ES070", "E", "no codice fiscale and no gestioneCF"),
    Rule("cf.with_attribution", "EN125", "E", "CF given while asking ANPR to attribute one"),
    Rule("subject.identifiers", "ES004", "E", "a name plus one identifier of the person needed"),
    Rule("search.criteria", "EN448", "E", "a search needs the CF or the five personal data"),
    Rule("civil_status.missing", "EN127", "E", "the civil status is mandatory here"),
    Rule("civil_status.note", "EC010", "E", "civil status 9 needs its note"),
    Rule("citizenship.note", "EC011", "E", "citizenship state 998 needs its note"),
    Rule("registration.note", "EC014", "E", "registration reason 9 (other) needs its note"),
    Rule("family.missing", "EF030", "E", "family data needed for attribuzioneFamiglia 4 or 5"),
)

RULES: Final = MappingProxyType({r.id: r for r in _RULES})
"""Every rule by id."""


def rule(rule_id: str) -> Rule:
    """The rule with this id (``KeyError`` for an unknown id: a programming mistake)."""
    return RULES[rule_id]
