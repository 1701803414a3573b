"""Our XSD model agrees with zeep's reading of the same bundle, for every operation."""

from __future__ import annotations

from typing import Any

import pytest

from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.xsdmodel import Node

BUNDLE = get_bundle()
OPERATIONS = sorted(BUNDLE.operations)


def _zeep_builtin(zeep_type: Any) -> str:
    for cls in type(zeep_type).__mro__:
        qname = getattr(cls, "_default_qname", None)
        if qname is not None and "XMLSchema" in str(qname):
            return str(qname).rsplit("}", 1)[-1]
    return "string"


def _zeep_children(element: Any) -> list[tuple[str, Any]]:
    return [] if not hasattr(element.type, "elements") else list(element.type.elements)


def _compare(ours: Node, theirs: Any, path: str, depth: int, seen: set[str]) -> None:
    qname = theirs.qname.text if hasattr(theirs.qname, "text") else str(theirs.qname)
    assert ours.qname == qname, path
    z_max = -1 if theirs.max_occurs == "unbounded" else int(theirs.max_occurs)
    assert (ours.min_occurs, ours.max_occurs) == (int(theirs.min_occurs), z_max), path
    kids = _zeep_children(theirs)
    if len(kids) == 1 and kids[0][0] == "_value_1":  # zeep's simpleContent
        assert ours.simple_type == _zeep_builtin(kids[0][1].type), path
        return
    if not hasattr(theirs.type, "elements"):
        assert ours.simple_type == _zeep_builtin(theirs.type), path
        return
    assert [n for n, _ in kids] == list(ours.children), path
    key = f"{ours.type_name}:{ours.qname}"
    if depth == 0 or (ours.type_name and key in seen):
        return
    seen.add(key)
    for (name, z_child), o_child in zip(kids, ours.children.values(), strict=True):
        _compare(o_child, z_child, f"{path}/{name}", depth - 1, seen)


@pytest.mark.parametrize("code", OPERATIONS)
def test_model_matches_zeep(code: str) -> None:
    op = BUNDLE.operation(code)
    types = BUNDLE.document(op.family).types
    for qname, ours in (
        (op.request, BUNDLE.request_model(op)),
        (op.response, BUNDLE.response_model(op)),
    ):
        _compare(ours, types.get_element(qname.text), qname.localname, 12, set())


# ----------------------------------------------------------------------------- for the generator


def _child(node: Node, *path: str) -> Node:
    for name in path:
        node = node.children[name]
    return node


def test_choice_branches_know_their_choice() -> None:
    answer = BUNDLE.response_model(BUNDLE.operation("3002"))
    ok, ko = answer.children["Risposta3002_OK"], answer.children["rispostaKO"]
    choice = ok.choice
    assert choice is not None
    assert ko.choice is choice
    assert choice.branches == ("Risposta3002_OK", "rispostaKO")
    assert not choice.required  # both branches have minOccurs 0
    person = _child(ok, "listaSoggetti", "datiSoggetto", "generalita")
    cognome, senza, nome = (person.children[n] for n in ("cognome", "senzaCognome", "nome"))
    surname = cognome.choice
    assert surname is not None
    assert senza.choice is surname
    assert surname.required  # exactly one of cognome | senzaCognome
    assert nome.choice is not None
    assert nome.choice is not surname
    assert person.children["sesso"].choice is None


def test_enumerations_come_from_facets_and_plain_alternative_patterns() -> None:
    person = _child(
        BUNDLE.response_model(BUNDLE.operation("3002")),
        "Risposta3002_OK",
        "listaSoggetti",
        "datiSoggetto",
        "generalita",
    )
    assert person.children["sesso"].enumeration == ("M", "F", "N", "m", "f", "n")
    assert person.children["senzaCognome"].enumeration == ("1",)
    assert person.children["cognome"].enumeration is None  # a character class, no list
    assert person.children["dataNascita"].enumeration is None
    infos = _child(
        BUNDLE.response_model(BUNDLE.operation("E002")),
        "RispostaE002_OK",
    )
    assert infos.enumeration is None  # complex content: no values at all


def test_extends_tells_an_extension_that_adds_nothing_from_one_that_adds() -> None:
    request = BUNDLE.request_model(BUNDLE.operation("3002"))
    testata = request.children["testataRichiesta"]
    assert testata.type_name == "tipoTestataRichiesta"
    assert testata.type_namespace == "http://sogei.it/ANPR/vocabolario3000consultazione"
    derived = testata.extends
    assert derived is not None
    base, adds = derived
    assert not adds
    assert (base.type_name, base.type_namespace) == (
        "tipoDatoTestataRichiesta",
        "http://sogei.it/ANPR/tipoDato",
    )
    assert list(base.children) == list(testata.children)
    assert request.extends is None  # an anonymous type derives from nothing
