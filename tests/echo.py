"""Make a canned answer echo the request it answers, as ANPR's ``testataRisposta`` does
(italia/anpr#1875): the client checks the echo and refuses an answer to another request.

Works on the bytes (plain SOAP or the root part of an MTOM answer alike): within each
``testataRisposta``, the echoed fields take the request's values.
"""

from __future__ import annotations

import re

from lxml import etree

_ECHOED = ("idOperazioneComune", "idOperazioneClient", "codMittente", "operazioneRichiesta")
_TESTATA = re.compile(rb"<(?:\w+:)?testataRisposta\b.*?</(?:\w+:)?testataRisposta>", re.S)


def echo_request(request_body: bytes, answer_body: bytes) -> bytes:
    """``answer_body`` with every ``testataRisposta`` echoing the request's testata."""
    asked = next(etree.fromstring(request_body).iter("testataRichiesta"), None)
    if asked is None:
        return answer_body
    values = {name: asked.findtext(name) for name in _ECHOED}

    def fix(match: re.Match[bytes]) -> bytes:
        testata = match.group(0)
        for name, value in values.items():
            if value is None:
                continue
            field = re.compile(rb"(<(?:\w+:)?" + name.encode() + rb">)[^<]*(</)")
            testata = field.sub(rb"\g<1>" + value.encode().replace(b"\\", b"") + rb"\g<2>", testata)
        return testata

    return _TESTATA.sub(fix, answer_body)
