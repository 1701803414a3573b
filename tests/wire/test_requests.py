"""Requests ANPR accepted, as published: our bundle's schema accepts each, and our decoder
(the one the simulator reads requests with) reads each whatever its prefixes, default
namespace, ``xmlns=""``, comments, tabs, CRLF or blank lines."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from anpr_client.safexml import NS, parse_xml
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import decode

from .corpus import fixture


def request_of(path: str) -> tuple[etree._Element, dict[str, Any]]:
    entry = fixture(path)
    root = parse_xml(entry.data())
    if root.tag == f"{{{NS['soap']}}}Body":  # published as the Body only (#988)
        root = next(c for c in root if isinstance(c.tag, str))
    bundle = get_bundle()
    operation = bundle.operation(entry.operation)
    assert etree.QName(root).text == operation.request.text
    value, unknown = decode(bundle.request_model(operation), root)
    assert unknown == []
    schema = bundle.schema(operation.family)
    assert schema.validate(root), schema.error_log  # what ANPR accepted, our XSD accepts
    return root, value


def test_the_sample_clients_testconn() -> None:
    _, value = request_of("requests/testconn-ace.xml")
    testata = value["testataRichiesta"]
    assert (testata["codMittente"], testata["codDestinatario"], testata["operazioneRichiesta"]) == (
        "bbbbbb",
        "mario1",
        "OP01",
    )
    assert testata["dataProtocolloComune"] == "2017-03-23+01:00"  # a date with an offset
    assert testata["tipoInvio"] == "FREE"


def test_a_dotnet_request_in_the_default_namespace() -> None:
    """italia/anpr#988: ``RichiestaConnessione xmlns="…"``, ``testataRichiesta xmlns=""``."""
    root, value = request_of("requests/testconn-dotnet.xml")
    assert etree.QName(root).namespace == "http://sogei.it/ANPR/connessione"
    assert None in root.nsmap  # the default namespace, no prefix
    testata = value["testataRichiesta"]
    assert testata["dataOraRichiesta"] == "2018-12-06T14:53:47.577179Z"
    assert (testata["codDestinatario"], testata["operazioneRichiesta"]) == ("111111", "3001")
    assert testata["protocolloComune"] == "22299"


@pytest.mark.parametrize("path", ["requests/3002-ace.xml", "requests/3002-ace-stub.xml"])
def test_the_sample_clients_3002(path: str) -> None:
    _, value = request_of(path)
    assert value["testataRichiesta"]["codDestinatario"] == "ANPR00"
    assert value["criteriRicerca"]["cognome"] == "ROSSI"
    assert value["criteriRicerca"]["nome"] == "MARIO"  # the tab after its closing tag is a tail
    if path.endswith("stub.xml"):  # the comment holding markup is not read as elements
        assert value["criteriRicerca"]["tipoScheda"] == "1"
        assert "idSchedaSoggettoANPR" not in value["criteriRicerca"]
    else:
        assert value["datiRichiesta"]["dataRiferimentoRichiesta"] == "2017-03-27+02:00"


def test_the_sample_clients_6001_with_blank_lines() -> None:
    _, value = request_of("requests/6001-ace.xml")
    assert value["listaTipiCertificati"] == {"tipoCertificato": ["8"]}
    assert value["datiControllo"]["bollo"] == "2"
    assert value["datiControllo"]["diritti"] == "2"
    assert value["testataRichiesta"]["fornitoreApplicativo"] == "ACME SRL"
