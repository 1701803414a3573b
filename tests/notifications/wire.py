"""The 4005 wire fixtures (``tests/wire/4005/``) and a stub ANPR serving them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from anpr_client.transport import HttpRequest, HttpResponse

WIRE = Path(__file__).resolve().parents[1] / "wire" / "4005"
XML = "text/xml; charset=utf-8"
Handler = Callable[[HttpRequest], HttpResponse]


def fixture(name: str) -> bytes:
    return (WIRE / name).read_bytes()


def echo(answer: bytes, request: bytes) -> bytes:
    """The fixture with its testataRisposta echoing the request's testata, as ANPR does."""
    testata = etree.fromstring(request).find(".//testataRichiesta")
    assert testata is not None
    for name in ("idOperazioneComune", "codMittente", "codDestinatario", "dataOraRichiesta"):
        value = (testata.findtext(name) or "").encode()
        pattern = (
            rb"(<testataRisposta\b[^>]*>(?:(?!</testataRisposta>).)*?<" + name.encode() + rb">)"
            rb"[^<]*(</" + name.encode() + rb">)"
        )
        replacement = rb"\g<1>" + value.replace(b"\\", b"\\\\") + rb"\g<2>"
        answer = re.sub(pattern, replacement, answer, count=1, flags=re.S)
    return answer


def answer_of(name: str, request: bytes, *replace: tuple[bytes, bytes]) -> bytes:
    body = echo(fixture(name), request)
    for old, new in replace:
        body = body.replace(old, new)
    return body


def serve(name: str, *replace: tuple[bytes, bytes]) -> Handler:
    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": XML}, answer_of(name, request.body, *replace))

    return handler


def stub_anpr(ready: Handler, extraction: bytes = b"165300000") -> Handler:
    """elaborazione → ex_001 (with ``extraction`` as its id); verificaStato → ``ready``."""

    def handler(request: HttpRequest) -> HttpResponse:
        if b"<elaborazione>" in request.body:
            return serve("ex001-elaborazione.answer.xml", (b"303104", extraction))(request)
        assert b"<idOperazioneANPR>" + extraction + b"</idOperazioneANPR>" in request.body
        return ready(request)

    return handler
