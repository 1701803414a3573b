"""SOAP 1.1 envelopes: wrap a request body, read an answer (MTOM or plain), detect faults.

Faults are detected before anything else looks at an answer (ANPR's gateway faults are not
signed), and become the typed exceptions of :mod:`anpr_client.errors.faults`. ANPR's services
are SOAP 1.1, yet a SOAP 1.2 fault (``env:Code/env:Value`` ``env:Receiver``,
``env:Reason/env:Text`` ``Internal Error (from server)``) came back from 6001 in test
(italia/anpr#2653): it is read and classified exactly as its SOAP 1.1 twin, so an outcome
that is unknown stays unknown. Any other SOAP 1.2 answer is a
:class:`~anpr_client.errors.ProtocolError`.

Elements are matched on ``{namespace}localname``, never on prefixes (ANPR's vary: ``env:``,
``soapenv:``, ``SOAP-ENV:``, italia/anpr#192, #1903, #4140); fault texts are trimmed (the
SOAP 1.2 fault of #2653 wraps them in whitespace). An ``xop:Include`` whose MIME part is
missing, or that comes in an answer that is not MTOM at all, is a
:class:`~anpr_client.errors.ProtocolError`: the data it stands for is not there.

An answer is bounded before it is parsed, whatever transport brought it: its size by
``[limits] max_answer_bytes``, its MTOM parts by ``max_mtom_parts``
(:class:`~anpr_client.errors.AnswerTooLarge`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from ..errors.exceptions import (
    AnprError,
    AnswerTooLarge,
    HTTPStatusError,
    ProtocolError,
    ServerUnavailable,
)
from ..errors.faults import fault_exception
from ..safexml import NS, parse_xml
from ..settings import Limits
from ..transport import HttpResponse
from .mtom import Attachment, inline_attachments, is_related, parse_related

__all__ = [
    "CONTENT_TYPE",
    "SoapAnswer",
    "build_envelope",
    "read_answer",
]

CONTENT_TYPE: Final = "text/xml; charset=utf-8"
_ENV = f"{{{NS['soap']}}}Envelope"
_BODY = f"{{{NS['soap']}}}Body"
_HEADER = f"{{{NS['soap']}}}Header"
_FAULT = f"{{{NS['soap']}}}Fault"
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XOP_INCLUDE = f"{{{NS['xop']}}}Include"
_ENV12 = f"{{{_SOAP12}}}Envelope"
_BODY12 = f"{{{_SOAP12}}}Body"
_FAULT12 = f"{{{_SOAP12}}}Fault"


def build_envelope(body_child: etree._Element) -> etree._Element:
    """``soap:Envelope/soap:Body/<body_child>`` (no Header: the security frame adds one)."""
    env = etree.Element(_ENV, nsmap={"soap": NS["soap"]})
    body = etree.SubElement(env, _BODY)
    body.append(body_child)
    return env


@dataclass(frozen=True)
class SoapAnswer:
    envelope: etree._Element
    payload: etree._Element
    """The first element of ``soap:Body``."""
    root_bytes: bytes
    """The SOAP part as received (the root part of an MTOM message)."""
    attachments: dict[str, Attachment] = field(default_factory=dict)


def _text(el: etree._Element | None) -> str:
    return "" if el is None else "".join(str(t) for t in el.itertext()).strip()


def _fault_part(fault: etree._Element, name: str) -> etree._Element | None:
    """A SOAP 1.1 fault's ``faultcode``/``faultstring``/``detail``: unqualified, as the
    specification and ANPR's gateway write them (italia/anpr#192), or in the envelope's
    namespace, as some stacks do."""
    found = fault.find(name)
    return found if found is not None else fault.find(f"{{{NS['soap']}}}{name}")


def _soap12_fault(root: etree._Element, response: HttpResponse, operation: str | None) -> AnprError:
    """The exception for a SOAP 1.2 answer: its fault classified like a SOAP 1.1 one."""
    body = root.find(_BODY12)
    fault = None if body is None else next((c for c in body if isinstance(c.tag, str)), None)
    if fault is None or fault.tag != _FAULT12:
        if response.status >= 400:
            return _status_error(response, "a SOAP 1.2 answer that is not a fault")
        return ProtocolError("the answer is a SOAP 1.2 envelope; ANPR speaks SOAP 1.1")
    reason = fault.find(f"{{{_SOAP12}}}Reason")
    texts = [] if reason is None else reason.findall(f"{{{_SOAP12}}}Text")
    return fault_exception(
        _text(texts[0]) if texts else "",
        faultcode=_text(fault.find(f"{{{_SOAP12}}}Code/{{{_SOAP12}}}Value")),
        detail=_text(fault.find(f"{{{_SOAP12}}}Detail")) or None,
        http_status=response.status,
        operation=operation,
    )


_DEFAULT_LIMITS: Final = Limits()


def read_answer(
    response: HttpResponse, *, operation: str | None = None, limits: Limits = _DEFAULT_LIMITS
) -> SoapAnswer:
    """Parse an HTTP answer into its SOAP payload, raising typed errors for faults."""
    body = response.body
    if len(body) > limits.max_answer_bytes:
        raise AnswerTooLarge(
            f"the answer to {operation or 'the request'} has {len(body)} bytes, more than "
            f"{limits.max_answer_bytes} (limits.max_answer_bytes); the operation may have "
            "been applied",
            limit="limits.max_answer_bytes",
        )
    attachments: dict[str, Attachment] = {}
    multipart = is_related(response.content_type)
    if multipart:
        related = parse_related(body, response.content_type, max_parts=limits.max_mtom_parts)
        body = related.root
        attachments = dict(related.attachments)
    if not body.strip():
        if response.status >= 400:
            raise _status_error(response, "an empty answer")
        raise ProtocolError(f"the answer to {operation or 'the request'} is empty")
    try:
        root = parse_xml(body)
    except ProtocolError as exc:
        if response.status >= 400:
            raise _status_error(response, "a non-SOAP answer") from None
        raise ProtocolError(
            f"the answer to {operation or 'the request'} is not XML: {exc}"
        ) from None
    if root.tag == _ENV12:
        raise _soap12_fault(root, response, operation)
    if root.tag != _ENV:
        if response.status >= 400:
            raise _status_error(response, "a non-SOAP answer")
        raise ProtocolError(f"the answer's root is {root.tag}, not a SOAP 1.1 Envelope")
    soap_body = root.find(_BODY)
    if soap_body is None:
        raise ProtocolError("the SOAP answer has no Body")
    payload = next((c for c in soap_body if isinstance(c.tag, str)), None)
    if payload is None:
        raise ProtocolError("the SOAP answer's Body is empty")
    if payload.tag == _FAULT:
        raise fault_exception(
            _text(_fault_part(payload, "faultstring")),
            faultcode=_text(_fault_part(payload, "faultcode")),
            detail=_text(_fault_part(payload, "detail")) or None,
            http_status=response.status,
            operation=operation,
        )
    if response.status >= 400:
        raise _status_error(response, "a SOAP answer that is not a fault")
    if attachments:
        inline_attachments(payload, attachments)  # an Include without its part: ProtocolError
    else:
        include = next(payload.iter(_XOP_INCLUDE), None)
        if include is not None:
            framing = "carries no MIME part" if multipart else "is not MTOM (multipart/related)"
            raise ProtocolError(
                f"the answer to {operation or 'the request'} refers to an MTOM attachment "
                f"{include.get('href', '')!r} but {framing}: the data is missing"
            )
    return SoapAnswer(root, payload, body, attachments)


def _status_error(response: HttpResponse, what: str) -> HTTPStatusError:
    message = f"HTTP {response.status} with {what}"
    if response.status >= 500:
        return ServerUnavailable(
            message + "; the operation may have been applied",
            status=response.status,
            body=response.body[:2048],
        )
    return HTTPStatusError(message, status=response.status, body=response.body[:2048])
