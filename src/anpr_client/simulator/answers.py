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
from xml.sax.saxutils import escape

from lxml import etree

from .._wsgiserver import ConnectionAction
from ..safexml import NS
from ..soap.envelope import CONTENT_TYPE
from ..soap.mtom import build_related

__all__ = [
    "FAULT_CONTENT_TYPE",
    "HttpAnswer",
    "envelope_bytes",
    "fault_answer",
    "plain_answer",
    "soap_answer",
]

_SOAP: Final = NS["soap"]
#: The Content-Type of the gateway's faults, as published (italia/anpr#988): no charset.
FAULT_CONTENT_TYPE: Final = "text/xml"
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


def fault_answer(
    faultstring: str, *, server: bool = False, faultcode: str | None = None
) -> HttpAnswer:
    """A SOAP 1.1 fault in the form ANPR's gateway sends it (italia/anpr#192, #988, #2594).

    HTTP 500 with ``Content-Type: text/xml`` (no charset, #988); an XML declaration and a line
    feed, then the envelope on one line with the prefix ``env``; unqualified ``faultcode``
    (``env:Client``, ``env:Server`` with ``server``, or ``env:<faultcode>``) and
    ``faultstring``; no ``detail``.
    """
    code = faultcode or ("Server" if server else "Client")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<env:Envelope xmlns:env="{_SOAP}"><env:Body><env:Fault>'
        f"<faultcode>env:{code}</faultcode><faultstring>{escape(faultstring)}</faultstring>"
        "</env:Fault></env:Body></env:Envelope>"
    )
    return HttpAnswer(500, body.encode("utf-8"), content_type=FAULT_CONTENT_TYPE)


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
