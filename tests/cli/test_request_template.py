"""``anpr request template``: a placeholder for every value, for any operation; filled in,
``anpr request build`` accepts it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from anpr_client.cli.main import cli
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.template import placeholder, template
from anpr_client.soap.xsdmodel import Facets, Node
from tests.samples import load_schema, sample_payload, sample_value

BUNDLE = get_bundle()
CODES = sorted(BUNDLE.operations)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "anpr.toml"
    path.write_text(
        'environment = "test"\ncodice_istat = "058091"\n'
        '[application]\nname = "GESTIONALE"\nversion = "1.0"\nvendor = "ACME SRL"\n',
        encoding="utf-8",
    )
    return path


def _children(xsd_type: Any) -> dict[str, Any]:
    content = xsd_type.content
    return (
        {e.local_name: e for e in content.iter_elements()}
        if hasattr(content, "iter_elements")
        else {}
    )


def fill(template_value: Any, xsd_element: Any) -> Any:
    """The template with a valid value for every placeholder, from the element's XSD type
    (the sample generator's shortest valid value)."""
    if isinstance(template_value, list):
        return [fill(item, xsd_element) for item in template_value]
    xsd_type = xsd_element.type
    if isinstance(template_value, str):
        assert template_value.startswith("<"), template_value
        assert template_value.endswith(">"), template_value
        simple = xsd_type if xsd_type.is_simple() else xsd_type.content
        return sample_value(simple)
    children = _children(xsd_type)
    return {name: fill(value, children[name]) for name, value in template_value.items()}


def filled(code: str, *, full: bool) -> dict[str, Any]:
    op = BUNDLE.operation(code)
    schema = load_schema(op.wsdl)
    root = next(e for k, e in schema.maps.elements.items() if k == op.request.text)
    children = _children(root.type)
    made = template(BUNDLE, code, full=full)
    return {name: fill(value, children[name]) for name, value in made.payload.items()}


def _without_optional_choices(payload: dict[str, Any], node: Node) -> dict[str, Any]:
    """``payload`` less the branches of choices that may be left out altogether (the sample
    generator always picks a first branch; the XSD requires none of them)."""
    out = {}
    for name, value in payload.items():
        child = node.children[name]
        if child.choice is not None and not child.choice.required:
            continue
        if isinstance(value, dict):
            value = _without_optional_choices(value, child)
        elif isinstance(value, list):
            value = [
                _without_optional_choices(v, child) if isinstance(v, dict) else v for v in value
            ]
        out[name] = value
    return out


def _shape(value: Any) -> Any:
    """A payload's keys and nesting, without its values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return "value"


@pytest.mark.parametrize("code", CODES)
def test_the_required_template_is_the_minimal_request(code: str) -> None:
    """The required template has exactly the elements of the minimal valid request (the
    sample generator's: required elements, the first branch of a required choice)."""
    op = BUNDLE.operation(code)
    minimal = sample_payload(op.wsdl, op.request)
    minimal.pop("testataRichiesta", None)
    minimal = _without_optional_choices(minimal, BUNDLE.request_model(op))
    assert _shape(template(BUNDLE, code).payload) == _shape(minimal)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("full", [False, True], ids=["required", "full"])
def test_a_filled_template_builds(code: str, full: bool, config: Path, tmp_path: Path) -> None:
    payload = tmp_path / "filled.json"
    payload.write_text(json.dumps(filled(code, full=full)), encoding="utf-8")
    status, out, err = run(
        "request", "build", code, "--input", str(payload), "--config", str(config), "--no-check"
    )
    assert status == 0, err
    body = etree.fromstring(out.encode()).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    assert etree.QName(body[0]).localname == BUNDLE.operation(code).request.localname


def test_the_full_template_has_every_element_but_the_other_branches() -> None:
    made = template(BUNDLE, "2001", full=True)
    person = made.payload["generalitaPerRicerca"]
    assert {"codiceFiscale", "cognome", "nome", "sesso", "luogoNascita", "note"} <= set(person)
    assert "senzaCognome" not in person  # the other branch of cognome's choice: a note
    assert "generalitaPerRicerca/cognome: one of cognome | senzaCognome" in " ".join(made.notes)
    assert made.payload["elencoSoggettiFamiglia"][0]["legameSoggetto"]["codiceLegame"]
    required = template(BUNDLE, "2001").payload["generalitaPerRicerca"]
    assert set(required) == {"cognome", "nome"}  # the required choices only


def test_the_command_prints_json_and_the_notes_apart() -> None:
    status, out, err = run("request", "template", "1001")
    assert status == 0
    payload = json.loads(out)
    assert payload["datiControllo"] == {"attribuzioneFamiglia": "<1 digit>"}
    assert payload["generalita1001"]["generalita"]["cognome"].startswith("<string 1..80 [")
    assert "testataRichiesta" not in payload
    assert "note: generalita1001/generalita/cognome: one of cognome | senzaCognome" in err
    status, out, _ = run("request", "template", "1001", "--full", "--json")
    assert status == 0
    document = json.loads(out)
    assert document["operation"] == "1001"
    assert "sesso" in document["payload"]["generalita1001"]["generalita"]
    assert document["payload"]["generalita1001"]["generalita"]["sesso"] == (
        "<one of: M | F | N (or lower case)>"
    )
    assert any("testataRichiesta" in n for n in document["notes"])


def test_an_unknown_operation_is_a_clear_error() -> None:
    status, _, err = run("request", "template", "9999")
    assert status == 2
    assert "unknown ANPR operation '9999'" in err


@pytest.mark.parametrize(
    ("facets", "expected"),
    [
        (Facets("date"), "<date YYYY-MM-DD>"),
        (Facets("dateTime"), "<dateTime YYYY-MM-DDThh:mm:ss+hh:mm>"),
        (Facets("string", enumeration=("S", "N", "s", "n")), "<one of: S | N (or lower case)>"),
        (Facets("string", enumeration=("ID", "TUTTO")), "<one of: ID | TUTTO>"),
        (Facets("string", patterns=((r"(\d)+",),), min_length=3, max_length=3), "<3 digits>"),
        (
            Facets("string", patterns=(("([A-Z' ])*",),), min_length=1, max_length=80),
            "<string 1..80 [A-Z' ]>",
        ),
        (Facets("string", patterns=(("[A-Z]{2}",),)), "<string [A-Z]{2}>"),
        (Facets("string", max_length=10), "<string ..10>"),
        (Facets("string", patterns=(("([\x8a-\x8c])*",),)), r"<string [\x8A-\x8C]>"),
    ],
)
def test_placeholders(facets: Facets, expected: str) -> None:
    assert placeholder(facets) == expected


def test_the_facets_are_read_along_the_derivation() -> None:
    generalita = BUNDLE.request_model(BUNDLE.operation("2001")).children["generalitaPerRicerca"]
    surname = generalita.children["cognome"].facets
    assert surname is not None
    assert (surname.base, surname.min_length, surname.max_length) == ("string", 1, 80)
    assert surname.patterns[-1][0].startswith("([")
    without = generalita.children["senzaCognome"].facets  # tipoSenza: numerico1, pattern 1
    assert without is not None
    assert (without.min_length, without.max_length, without.enumeration) == (1, 1, ("1",))
    assert without.patterns == ((r"(\d)+",), ("1",))  # the base's step first
    born = generalita.children["dataNascita"].facets
    assert born is not None
    assert (born.base, born.patterns, born.enumeration) == ("date", (), None)
    assert generalita.facets is None  # a complex element
