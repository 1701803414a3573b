"""Our WSDLs say the same about the wire as the official ones, and load offline and quickly.

Per official WSDL: target namespace, service, port, binding and port type names, SOAP 1.1
document/literal binding over HTTP, operation names and order, ``soapAction=""``, message and
part names and the elements they carry. Only the ``soap:address`` differs: ours is a placeholder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep import Settings
from zeep.transports import Transport
from zeep.wsdl import Document

from anpr_client.endpoints import FAMILY_PATHS

from .support import (
    OUR_BUNDLE,
    lxml_schema,
    official_wsdls,
    our_counterpart,
    our_wsdls,
    reference_dir,
    require_reference,
    wsdl_facts,
    wsdl_operations,
)

SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
PLACEHOLDER = "https://anpr.invalid"


def _without_addresses(facts: dict[str, Any]) -> dict[str, Any]:
    services = {
        name: {port: {**info, "address": None} for port, info in ports.items()}
        for name, ports in facts["services"].items()
    }
    return {**facts, "services": services}


def _official_params() -> list[Any]:
    wsdls = official_wsdls()
    if not wsdls:
        reason = f"official ANPR reference data not found in {reference_dir()}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-reference")]
    return [pytest.param(w, id=w.stem) for w in wsdls]


@pytest.mark.parametrize("official", _official_params())
def test_wsdl_facts_match_official(official: Path) -> None:
    first = wsdl_operations(official)[0]
    ours = our_counterpart(first).wsdl
    assert _without_addresses(wsdl_facts(ours)) == _without_addresses(wsdl_facts(official))


@pytest.mark.parametrize("wsdl", our_wsdls(), ids=lambda p: p.stem)
def test_our_wsdl_is_soap11_document_literal_with_a_placeholder_address(wsdl: Path) -> None:
    facts = wsdl_facts(wsdl)
    (binding,) = facts["bindings"].values()
    assert (binding["style"], binding["transport"]) == ("document", SOAP_HTTP)
    for _, soap_action, style, inp, out in binding["operations"]:
        assert soap_action == ""
        assert style is None
        assert inp == out == ["literal"]
    ((port,),) = [list(ports.values()) for ports in facts["services"].values()]
    assert port["address"] == PLACEHOLDER + FAMILY_PATHS[wsdl.stem]


class _OfflineTransport(Transport):
    """Fails the test if zeep tries to fetch anything that is not a local file."""

    def load(self, url: str) -> bytes:
        assert "://" not in url or url.startswith("file://"), f"network access to {url}"
        data: bytes = super().load(url)  # type: ignore[no-untyped-call]
        return data


@pytest.mark.parametrize("wsdl", our_wsdls(), ids=lambda p: p.stem)
def test_our_wsdl_loads_standalone_offline_without_warnings(wsdl: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transport: Any = _OfflineTransport()  # type: ignore[no-untyped-call]
        document = Document(str(wsdl), transport, settings=Settings(strict=True))
    facts = wsdl_facts(wsdl)
    (service,) = facts["services"]
    operations = document.services[service].ports
    (port,) = operations.values()
    assert [op for op, *_ in next(iter(facts["bindings"].values()))["operations"]] == list(
        port.binding._operations
    )
    schema = lxml_schema(wsdl)  # the message schema compiles with libxml2, offline
    assert isinstance(schema, etree.XMLSchema)


def test_every_file_of_our_bundle_is_well_formed_and_reachable() -> None:
    """No stray file: every schema is imported by some WSDL's closure, or by the schema of
    the notification contents (published beside the N000 WSDL, not imported by it)."""
    reached: set[Path] = set()
    todo = [*our_wsdls(), (OUR_BUNDLE / "N000-notifiche" / "payload.xsd").resolve()]
    while todo:
        path = todo.pop()
        if path in reached:
            continue
        reached.add(path)
        root = etree.parse(str(path)).getroot()
        for node in root.iter("{http://www.w3.org/2001/XMLSchema}import"):
            location = node.get("schemaLocation")
            assert location is not None, path
            assert "://" not in location, f"{path}: {location}"
            todo.append((path.parent / location).resolve())
    files = {p.resolve() for p in OUR_BUNDLE.rglob("*") if p.suffix in (".wsdl", ".xsd")}
    assert files == reached


def test_the_reference_is_the_expected_release() -> None:
    ref = require_reference()
    assert len(list((ref / "wsdl").glob("*.wsdl"))) == 16
    assert len(list((ref / "wsdl").rglob("*.xsd"))) == 33
