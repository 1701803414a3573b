"""Our bundle's message models equal the official ones, operation by operation.

Both sides are read with :mod:`xmlschema` and walked recursively: element names and namespaces,
global-element references, order, occurrences, choices, type names and derivations, and every
simple-type facet (patterns, lengths, enumerations, whiteSpace, base types). The first difference
fails the test with its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from .support import (
    OUR_BUNDLE,
    Mismatch,
    Op,
    compare_elements,
    global_element,
    official_operations,
    operation_params,
    our_counterpart,
    our_operations_by_request,
    require_reference,
)


def test_the_official_interface_has_55_operations() -> None:
    require_reference()
    ops = official_operations()
    assert len(ops) == 55
    assert len({op.request for op in ops}) == 55


def test_our_bundle_has_every_official_operation_and_testconn() -> None:
    require_reference()
    official = {op.request: (op.name, op.response) for op in official_operations()}
    ours = {op.request: (op.name, op.response) for op in our_operations_by_request().values()}
    extra = {request for request in ours if request not in official}
    assert extra == {"{http://sogei.it/ANPR/connessione}RichiestaConnessione"}
    assert {request: ours[request] for request in official} == official


@pytest.mark.parametrize("side", ["request", "response"])
@pytest.mark.parametrize("op", operation_params())
def test_message_model_matches_official(op: Op, side: str) -> None:
    mine = our_counterpart(op)
    qname = getattr(op, side)
    compare_elements(global_element(mine.wsdl, qname), global_element(op.wsdl, qname))


def test_the_comparison_reports_a_difference_with_its_path() -> None:
    # The comparer must be able to fail: compare two different official messages.
    require_reference()
    ops = {op.code: op for op in official_operations()}
    first, second = ops["3001"], ops["3002"]
    with pytest.raises(Mismatch, match=r"Richiesta3001: element name differs"):
        compare_elements(
            global_element(first.wsdl, first.request), global_element(second.wsdl, second.request)
        )
    ours = our_counterpart(second)
    ko = global_element(ours.wsdl, ours.response)
    ok_request = global_element(second.wsdl, second.request)
    with pytest.raises(Mismatch):
        compare_elements(ko, ok_request)


_TESTATA_ID = (
    'name="tipoIdOperazioneComune">\n    <xs:restriction base="xs:string">\n'
    '      <xs:pattern value="([0-9a-zA-Z])*"/>\n      <xs:minLength value="1"/>\n'
    '      <xs:maxLength value="30"/>'
)
_CRITERI = (
    '<xs:complexType name="tipoCriteriRicerca">\n    <xs:sequence>\n'
    '      <xs:element name="codiceFiscale" type="td:tipoDominioCodiceFiscale" minOccurs="0"/>\n'
    '      <xs:element name="cognome" type="td:alfabeticoNomiCognomi" minOccurs="0"/>\n'
)
_RISPOSTA = (
    '<xs:element name="Risposta3002">\n    <xs:complexType>\n      <xs:sequence>\n'
    "        <xs:choice>\n"
    '          <xs:element ref="tns:Risposta3002_OK" minOccurs="0"/>\n'
    '          <xs:element ref="tns:rispostaKO" minOccurs="0"/>\n'
    "        </xs:choice>"
)
_MUTATIONS = {
    "pattern": (
        "common/tipo-dato.xsd",
        _TESTATA_ID,
        _TESTATA_ID.replace("a-zA-Z])*", "a-zA-Z_])*"),
        "request",
        "facets differs",
    ),
    "maxLength": (
        "common/tipo-dato.xsd",
        _TESTATA_ID,
        _TESTATA_ID.replace('"30"', '"31"'),
        "request",
        "facets differs",
    ),
    "whiteSpace": (
        "common/tipo-dato.xsd",
        'name="numerico">\n    <xs:restriction base="xs:string">\n'
        '      <xs:whiteSpace value="collapse"/>',
        'name="numerico">\n    <xs:restriction base="xs:string">\n'
        '      <xs:whiteSpace value="preserve"/>',
        "request",
        "differs",
    ),
    "minOccurs": (
        "3000-consultazione/vocabulary.xsd",
        _CRITERI,
        _CRITERI.replace('Cognomi" minOccurs="0"', 'Cognomi"'),
        "request",
        "occurrences",
    ),
    "order": (
        "3000-consultazione/vocabulary.xsd",
        _CRITERI,
        _CRITERI.replace(
            _CRITERI.split("\n", 2)[2], "".join(reversed(_CRITERI.splitlines(True)[2:]))
        ),
        "request",
        "sequence particles differs",
    ),
    "type name": (
        "3000-consultazione/vocabulary.xsd",
        '<xs:complexType name="tipoCriteriRicerca">',
        '<xs:complexType name="tipoCriteriRicerca2">',
        "request",
        "type name differs",
    ),
    "choice": (
        "3000-consultazione/messages.xsd",
        _RISPOSTA,
        _RISPOSTA.replace("xs:choice>", "xs:sequence>"),
        "response",
        "particles differs",
    ),
}


@pytest.mark.parametrize("mutation", sorted(_MUTATIONS))
def test_a_changed_bundle_is_caught(mutation: str, tmp_path: Path) -> None:
    """Each kind of unfaithful edit to our bundle makes the comparison fail, naming the path."""
    require_reference()
    relative, old, new, side, message = _MUTATIONS[mutation]
    copy = tmp_path / "wsdl"
    shutil.copytree(OUR_BUNDLE, copy)
    target = copy / relative
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the mutation no longer applies to {relative}"
    if mutation == "type name":
        messages = copy / "3000-consultazione" / "messages.xsd"
        refs = messages.read_text(encoding="utf-8").replace(
            '"voc:tipoCriteriRicerca"', '"voc:tipoCriteriRicerca2"'
        )
        messages.write_text(refs, encoding="utf-8")
    target.write_text(text.replace(old, new), encoding="utf-8")
    official = {op.code: op for op in official_operations()}["3002"]
    qname = getattr(official, side)
    mutated = global_element(copy / "3000-consultazione" / "3000.wsdl", qname)
    with pytest.raises(Mismatch, match=message) as caught:
        compare_elements(mutated, global_element(official.wsdl, qname))
    assert str(caught.value).startswith(etree.QName(qname).localname)
