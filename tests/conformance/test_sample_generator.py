"""The sample generator: values satisfy every pattern ANPR uses, payloads are minimal or varied
on request, and failures are :class:`~anpr_client.errors.SampleError`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from anpr_client.errors.exceptions import AnprError, SampleError
from tests.samples import load_schema, sample_payload, sample_value

from .support import OUR_BUNDLE, reference_dir

XS = "http://www.w3.org/2001/XMLSchema"
WSDL_3000 = OUR_BUNDLE / "3000-consultazione" / "3000.wsdl"


def _patterns() -> list[str]:
    """Every distinct pattern of our bundle and of the official data (if present)."""
    roots = [OUR_BUNDLE, reference_dir()]
    found: dict[str, None] = {}
    for root in roots:
        for path in sorted(root.rglob("*.xsd")) if root.is_dir() else []:
            for node in etree.parse(str(path)).iter(f"{{{XS}}}pattern"):
                found[node.get("value", "")] = None
    return list(found)


def _schema(restriction: str) -> tuple[xmlschema.XMLSchemaBase, etree.XMLSchema]:
    text = (
        f'<xs:schema xmlns:xs="{XS}"><xs:element name="v"><xs:simpleType>'
        f'<xs:restriction base="xs:string">{restriction}</xs:restriction>'
        "</xs:simpleType></xs:element></xs:schema>"
    )
    return xmlschema.XMLSchema(text), etree.XMLSchema(etree.fromstring(text))


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@pytest.mark.parametrize("pattern", _patterns())
def test_generated_values_match_every_anpr_pattern(pattern: str) -> None:
    restriction = f'<xs:pattern value="{_attr(pattern)}"/><xs:maxLength value="40"/>'
    model, libxml2 = _schema(restriction)
    xsd_type = model.elements["v"].type
    values = [sample_value(xsd_type)] + [
        sample_value(xsd_type, rng=random.Random(seed)) for seed in range(8)
    ]
    for value in values:
        node = etree.Element("v")
        node.text = value
        assert libxml2.validate(node), f"{value!r} breaks {pattern!r}"


def test_minimal_values_are_the_shortest_non_empty_ones() -> None:
    model, _ = _schema('<xs:pattern value="([0-9a-zA-Z])*"/><xs:minLength value="3"/>')
    assert sample_value(model.elements["v"].type) == "AAA"
    model, _ = _schema('<xs:pattern value="SI|NO|s|n"/>')
    assert sample_value(model.elements["v"].type) == "s"
    model, _ = _schema('<xs:enumeration value="S"/><xs:enumeration value="N"/>')
    assert sample_value(model.elements["v"].type) == "S"
    model, _ = _schema('<xs:length value="4"/>')
    assert sample_value(model.elements["v"].type) == "AAAA"


def test_anchors_are_literal_characters_in_xsd_patterns() -> None:
    # XSD has no anchors: ANPR's tipoOperazioneComune only accepts values like "^7$".
    model, libxml2 = _schema(r'<xs:pattern value="^\d*[1-9]\d*$"/>')
    value = sample_value(model.elements["v"].type)
    assert value.startswith("^")
    assert value.endswith("$")
    node = etree.Element("v")
    node.text = value
    assert libxml2.validate(node)


def test_unsatisfiable_facets_raise_sample_error() -> None:
    model, _ = _schema('<xs:pattern value="SI|NO"/><xs:length value="3"/>')
    with pytest.raises(SampleError, match="cannot generate"):
        sample_value(model.elements["v"].type)


def test_unsupported_pattern_syntax_raises_sample_error() -> None:
    model, _ = _schema(r'<xs:pattern value="\p{Lu}+"/>')
    with pytest.raises(SampleError, match="unsupported XSD pattern"):
        sample_value(model.elements["v"].type)


def test_minimal_payload_has_only_required_elements() -> None:
    payload = sample_payload(WSDL_3000, "Richiesta3002")
    assert list(payload) == ["testataRichiesta", "criteriRicerca", "datiRichiesta"]
    header = payload["testataRichiesta"]
    assert list(header) == [
        "idOperazioneComune",
        "codMittente",
        "codDestinatario",
        "operazioneRichiesta",
        "dataOraRichiesta",
        "tipoOperazione",
        "tipoInvio",
    ]
    assert all(isinstance(v, str) for v in header.values())


def test_include_forces_optional_elements_and_picks_choices() -> None:
    payload = sample_payload(WSDL_3000, "Richiesta3002", include={"datiNascita"})
    assert "datiNascita" in payload
    response = sample_payload(WSDL_3000, "Risposta3002")
    assert list(response) == ["Risposta3002_OK"]
    ko = sample_payload(
        WSDL_3000, "{http://sogei.it/ANPR/3000consultazione}Risposta3002", include={"rispostaKO"}
    )
    assert list(ko) == ["rispostaKO"]
    assert isinstance(ko["rispostaKO"]["listaErrori"]["errore"], list)


def test_random_payloads_are_reproducible_and_varied() -> None:
    first = sample_payload(WSDL_3000, "Richiesta3002", rng=random.Random(7))
    again = sample_payload(WSDL_3000, "Richiesta3002", rng=random.Random(7))
    assert first == again
    others = [sample_payload(WSDL_3000, "Richiesta3002", rng=random.Random(s)) for s in range(5)]
    assert len({repr(p) for p in others}) == 5


def test_repeatable_elements_are_lists() -> None:
    payload = sample_payload(WSDL_3000, "Risposta3002", include={"rispostaKO"})
    assert isinstance(payload["rispostaKO"]["listaErrori"]["errore"], list)


def test_a_loaded_schema_or_an_xsd_path_works_too() -> None:
    messages = OUR_BUNDLE / "3000-consultazione" / "messages.xsd"
    by_xsd = sample_payload(messages, "Richiesta3002")
    by_model = sample_payload(
        load_schema(WSDL_3000),
        etree.QName("http://sogei.it/ANPR/3000consultazione", "Richiesta3002"),
    )
    assert by_xsd == by_model == sample_payload(WSDL_3000, "Richiesta3002")


def test_unknown_elements_and_files_raise_sample_error(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="no global element"):
        sample_payload(WSDL_3000, "Richiesta9999")
    with pytest.raises(SampleError, match="cannot load"):
        sample_payload(tmp_path / "missing.wsdl", "Richiesta3002")
    broken = tmp_path / "broken.xsd"
    broken.write_text("<not-a-schema", encoding="utf-8")
    with pytest.raises(AnprError):
        sample_payload(broken, "x")


def test_ambiguous_local_names_need_the_qualified_name(tmp_path: Path) -> None:
    # rispostaKO exists in the messages namespace of 3000 only; Risposta_Comune-style clashes
    # are built here with two namespaces declaring the same name.
    a = tmp_path / "a.xsd"
    b = tmp_path / "b.xsd"
    a.write_text(
        f'<xs:schema xmlns:xs="{XS}" targetNamespace="urn:a"><xs:import namespace="urn:b" '
        'schemaLocation="b.xsd"/><xs:element name="e"><xs:complexType/></xs:element></xs:schema>',
        encoding="utf-8",
    )
    b.write_text(
        f'<xs:schema xmlns:xs="{XS}" targetNamespace="urn:b">'
        '<xs:element name="e"><xs:complexType/></xs:element></xs:schema>',
        encoding="utf-8",
    )
    with pytest.raises(SampleError, match="ambiguous"):
        sample_payload(a, "e")
    assert sample_payload(a, "{urn:b}e") == {}
