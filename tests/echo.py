"""Make a canned answer echo the request it answers, as ANPR's ``testataRisposta`` does
(italia/anpr#1875): the client checks the echo and refuses an answer to another request."""

from __future__ import annotations

from lxml import etree

_ECHOED = ("idOperazioneComune", "idOperazioneClient", "codMittente", "operazioneRichiesta")


def echo_request(request_body: bytes, answer_body: bytes) -> bytes:
    """``answer_body`` with every ``testataRisposta`` echoing the request's testata."""
    request = etree.fromstring(request_body)
    asked = next(request.iter("testataRichiesta"), None)
    if asked is None:
        return answer_body
    answer = etree.fromstring(answer_body)
    for testata in answer.iter("testataRisposta"):
        for name in _ECHOED:
            value = asked.findtext(name)
            target = testata.find(name)
            if value is not None and target is not None:
                target.text = value
    return etree.tostring(answer, xml_declaration=True, encoding="UTF-8")
