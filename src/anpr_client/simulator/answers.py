"""What the simulator sends back: SOAP answers (plain or MTOM), gateway faults, HTTP errors.

An :class:`HttpAnswer` is what the WSGI application returns, plus an ``action`` for the server:
``close`` (drop the connection without answering) or a ``delay`` before answering — the
fault-injection knobs that only a real connection can express.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from .._wsgiserver import ConnectionAction
from ..safexml import NS
from ..soap.envelope import CONTENT_TYPE
from ..soap.mtom import build_related

__all__ = [
    "HttpAnswer",
    "envelope_bytes",
    "fault_answer",
    "plain_answer",
    "soap_answer",
]

_SOAP: Final = NS["soap"]
_XOP_INCLUDE: Final = f"{{{NS['xop']}}}Include"
_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>'
"""The XML declaration of ANPR's faults, as published (italia/anpr#192)."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    content_type: str = CONTENT_TYPE
    action: ConnectionAction = "answer"
    """``close``: drop the connection after reading the request, sending nothing;
    ``refuse``: the same, reported as a refused connection when there is no socket."""
    delay: float = 0.0
    """Seconds to wait before answering (``timeout_after_commit``)."""
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def reason(self) -> str:
        from http import HTTPStatus

        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"


def envelope_bytes(payload: etree._Element) -> bytes:
    """``soap:Envelope/soap:Body/payload`` serialised (UTF-8, with an XML declaration)."""
    envelope = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"soap": _SOAP})
    body = etree.SubElement(envelope, f"{{{_SOAP}}}Body")
    body.append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def soap_answer(
    payload: etree._Element,
    *,
    attachments: Iterable[tuple[etree._Element, str]] = (),
    status: int = 200,
) -> HttpAnswer:
    """A SOAP answer; each (element, content type) in ``attachments`` goes out as MTOM.

    The elements' base64 text is moved to a MIME part and replaced by ``xop:Include`` (what
    Apache CXF does for ANPR's MTOM-enabled services). ``payload`` is modified in place.
    """
    parts: dict[str, tuple[str, bytes]] = {}
    for number, (element, content_type) in enumerate(attachments, 1):
        data = base64.b64decode("".join((element.text or "").split()))
        cid = f"{number}-{etree.QName(element).localname}@anpr-simulator.invalid"
        element.text = None
        etree.SubElement(element, _XOP_INCLUDE, {"href": f"cid:{cid}"}, nsmap={"xop": NS["xop"]})
        parts[cid] = (content_type, data)
    data = envelope_bytes(payload)
    if not parts:
        return HttpAnswer(status, data)
    body, content_type = build_related(data, parts)
    return HttpAnswer(status, body, content_type=content_type)


def fault_answer(faultstring: str, *, server: bool = False) -> HttpAnswer:
    """A SOAP 1.1 fault as ANPR's gateway sends it: ``env:Client``/``env:Server``, the envelope
    on one line after the declaration, HTTP 500 with ``Content-Type: text/xml`` and no charset
    (italia/anpr#192, #988; tests/wire/answers/fault-1.1-rejected-by-policy.http)."""
    envelope = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"env": _SOAP})
    body = etree.SubElement(envelope, f"{{{_SOAP}}}Body")
    fault = etree.SubElement(body, f"{{{_SOAP}}}Fault")
    etree.SubElement(fault, "faultcode").text = "env:Server" if server else "env:Client"
    etree.SubElement(fault, "faultstring").text = faultstring
    data = _DECLARATION + b"\n" + etree.tostring(envelope, encoding="UTF-8")
    return HttpAnswer(500, data, content_type="text/xml")


def plain_answer(
    status: int,
    text: str = "",
    *,
    headers: Mapping[str, str] | None = None,
) -> HttpAnswer:
    """A non-SOAP HTTP answer (404, 405, 413, an injected 5xx…)."""
    body = (text + "\n").encode() if text else b""
    return HttpAnswer(
        status,
        body,
        content_type="text/plain; charset=utf-8",
        headers=tuple((headers or {}).items()),
    )
