"""Answers shaped like ANPR's for the operations the simulator does not serve, and the
requests a client sent.

ANPR's recorded answers for every operation are being collected in ``tests/wire/``; until
then the answers here are made by the schema-valid sample generator (:mod:`tests.samples`)
from our bundle — their shape is the XSD's, their values the generator's shortest valid ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lxml import etree

from anpr_client import Client, HttpRequest, HttpResponse, MockTransport, Settings
from anpr_client.models import from_payload, ok_types, request_type, response_type
from anpr_client.settings import ValidationSettings
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import encode
from anpr_client.soap.envelope import build_envelope
from tests.echo import echo_request
from tests.samples import sample_payload

BUNDLE = get_bundle()
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


def sample_answer(
    code: str, branch: str, edit: Callable[[dict[str, Any]], None] | None = None
) -> bytes:
    """A schema-valid answer to ``code`` that the client reads as ``branch``: that child
    message alone, or, for the answer element itself, with what else it may hold (5014's
    ``tipoRispostaRettifica``). ``edit`` may change the branch's payload before encoding."""
    op = BUNDLE.operation(code)
    include = {branch}
    if branch == op.response.localname:
        fields = {f.name for f in dataclasses.fields(response_type(code))}
        include = {n for n in fields - set(ok_types(code)) if not n.endswith("KO")}
    payload = sample_payload(op.wsdl, op.response, include=include)
    if edit is not None:
        edit(payload if branch == op.response.localname else payload[branch])
    root, problems = encode(BUNDLE.response_model(op), payload)
    assert problems == []
    return etree.tostring(build_envelope(root))


def sample_request(code: str) -> Any:
    """The minimal valid request of ``code`` as its model, testata left to the client."""
    op = BUNDLE.operation(code)
    payload = sample_payload(op.wsdl, op.request)
    payload.pop("testataRichiesta", None)
    return from_payload(request_type(code), payload, strict=True)


class Recorder:
    """A transport answering every request with ``answers`` in turn (the last one again once
    they run out), keeping what was sent."""

    def __init__(self, *answers: bytes):
        self.answers = list(answers)
        self.sent: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return HttpResponse(200, {"content-type": "text/xml"}, echo_request(request.body, body))

    def body(self, index: int = -1) -> etree._Element:
        """The request message (the Body's child) of a request sent."""
        found = etree.fromstring(self.sent[index].body).find(SOAP_BODY)
        assert found is not None
        return found[0]


def recorded_client(recorder: Recorder, *, check: bool = False) -> Client:
    """A client of Roma answered by ``recorder`` (local checks on with ``check``)."""
    settings = Settings(codice_istat="058091", validation=ValidationSettings(before_send=check))
    return Client(settings, transport=MockTransport(recorder), journal=None)
