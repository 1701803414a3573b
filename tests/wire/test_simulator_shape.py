"""Our simulator answers the way ANPR does: for every operation of the corpus it can answer,
the element paths of its answer are those of the published one (namespaces in, prefixes out,
``tests/wire/shapes.py``).

KO answers, which the simulator gives for every operation (a testata it refuses), must match
exactly; the OK fixtures are excerpts (the head of a 6001 answer, italia/anpr#2437), so each of
their paths must be in the simulator's answer. One allowance, stated: the simulator fills the
optional ``oggettoErroreAnomalia``/``campoErroreAnomalia``/``valoreErroreAnomalia`` of an
``errore`` to name the field at fault, which no published ANPR error carries (tests/wire/README.md);
they are left out of the comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.safexml import NS, parse_xml
from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.simulator.answers import fault_answer
from anpr_client.simulator.push import build_request
from anpr_client.soap.mtom import is_related, parse_related
from anpr_client.transport import HttpResponse
from tests.samples import sample_payload
from tests.security.support import shared_pki
from tests.simulator.support import certificate_payload

from .corpus import CORPUS, Fixture, fixture
from .shapes import element_paths

A = "058091"
SOAP_BODY = f"{{{NS['soap']}}}Body"
ERRORE_AIDS = ("oggettoErroreAnomalia", "campoErroreAnomalia", "valoreErroreAnomalia")
OPTIONAL_TESTATA = ("protocolloComune", "dataProtocolloComune", "dataDecorrenza")
NOT_REPRODUCED = {
    "answers/ko-3003-empty-lista-errori.xml": "an empty listaErrori was a 2019 bug (#1282)",
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(state_dir=tmp_path_factory.mktemp("shape-simulator"), comuni=(A,))
    )
    yield simulator
    simulator.close()


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[Client]:
    with sim.wsgi_client(A, journal=None) as made:
        yield made


def root_part(response: HttpResponse) -> etree._Element:
    body = response.body
    if is_related(response.content_type):
        body = parse_related(body, response.content_type).root
    return parse_xml(body)


def answer_paths(root: etree._Element) -> set[str]:
    """The paths below the SOAP Body (the answer element and what it holds)."""
    body = root.find(SOAP_BODY)
    assert body is not None
    (answer,) = [c for c in body if isinstance(c.tag, str)]
    return element_paths(answer)


def without_aids(paths: set[str]) -> set[str]:
    return {p for p in paths if not p.endswith(ERRORE_AIDS)}


def sent_header(entry: Fixture) -> dict[str, Any]:
    """The optional testata fields the fixture echoes, so the simulator echoes them too."""
    testata = next(root_part(entry.response()).iter("testataRisposta"))
    return {
        name: testata.findtext(name) for name in OPTIONAL_TESTATA if testata.find(name) is not None
    }


KO_FIXTURES = sorted(p for p in CORPUS if p.startswith("answers/ko-") and p not in NOT_REPRODUCED)


@pytest.mark.parametrize("path", KO_FIXTURES)
def test_the_simulators_ko_answers_have_the_published_shape(client: Client, path: str) -> None:
    entry = fixture(path)
    op = client.bundle.operation(entry.operation)
    payload = sample_payload(op.wsdl, op.request)
    payload.pop("testataRichiesta", None)
    header = {"codDestinatario": "ANPR04", **sent_header(entry)}  # a version ANPR refuses
    prepared = client.prepare(op.code, payload, header=header, check=False)
    response = client.transmit(prepared)
    assert response.status == 200
    simulated = without_aids(answer_paths(root_part(response)))
    published = answer_paths(root_part(entry.response()))
    assert simulated == published


def test_the_simulators_6001_answer_holds_the_published_head(
    sim: Simulator, client: Client
) -> None:
    person = sim.store.residents(A)[0]
    payload = certificate_payload(person, kind="1")
    payload["linguaCertificato"] = {"tipoLinguaCertificato": ["IT"]}  # echoed in #2437
    entry = fixture("answers/ok-6001-mtom.mime")
    prepared = client.prepare("6001", payload, header=sent_header(entry), check=False)
    response = client.transmit(prepared)
    assert is_related(response.content_type)  # MTOM, as ANPR's CXF answers 6001
    simulated = answer_paths(root_part(response))
    published = answer_paths(root_part(entry.response()))
    assert published - simulated == set()
    without_pdf = answer_paths(root_part(fixture("answers/ok-6001-without-file.xml").response()))
    assert without_pdf - simulated == set()


def test_the_simulators_7001_answer_sends_the_table_as_mtom(client: Client) -> None:
    entry = fixture("answers/ok-7001-mtom.mime")
    prepared = client.prepare("7001", {"datiRichiesta": {"idTabella": "001"}}, check=False)
    response = client.transmit(prepared)
    assert is_related(response.content_type)
    simulated = answer_paths(root_part(response))
    published = answer_paths(root_part(entry.response()))
    assert published - simulated == set()


def test_the_simulators_push_has_the_published_shape() -> None:
    pki = shared_pki()
    pushed = build_request(
        b"fictitious",
        tipo_notifica="N031",
        id_notifica="99999901",
        cod_destinatario=A,
        recipient=None,
        signer=pki.comune.key_source(),
        sent_at=dt.datetime(2018, 11, 7, 16, 18, 46, 904000, dt.UTC),
    )
    published = fixture("n000/push-richiesta-n000.xml").data()
    assert answer_paths(parse_xml(pushed)) == answer_paths(parse_xml(published))


def test_the_simulators_gateway_fault_has_the_published_shape() -> None:
    """italia/anpr#192, #988: one line, env:Client, HTTP 500, Content-Type text/xml."""
    answer = fault_answer("Rejected by policy. (from client)")
    published = fixture("answers/fault-1.1-rejected-by-policy.http").response()
    assert answer.status == published.status == 500
    assert answer.content_type == published.content_type == "text/xml"
    assert element_paths(parse_xml(answer.body)) == element_paths(root_part(published))
    for body in (answer.body, published.body.split(b"<!--")[0]):  # declaration, LF, one line
        declaration, envelope = body.rstrip(b"\n").split(b"\n")
        assert declaration == b'<?xml version="1.0" encoding="UTF-8"?>'
        assert envelope.startswith(b"<env:Envelope ")
