"""The N000 messages on the wire: ANPR's ``RichiestaN000`` and the Comune's ``RispostaN000``.

``inoltroNotificaANPR`` is SOAP 1.1 document/literal (its WSDL is ANPR's
``N000serviziNotifiche.wsdl``; italia/anpr#1543, #1582). ANPR sends::

    soap:Envelope
      soap:Header/wsse:Security     ANPR's signature over the Body (and a Timestamp, if any)
      soap:Body
        n:RichiestaN000             n = http://sogei.it/ANPR/N000AnprService
          testataNotifica           tipoNotifica, codMittente, codDestinatario,
                                    dataOraRichiesta, idOperazioneANPR (the notification's id)
          contenuto                 base64 CMS EnvelopedData for the Comune's CO-9999/CO-9998

and the Comune answers ``RispostaN000`` {``codiceEsito``, ``esito``} with a :class:`ReplyCode`:
``1`` acquired, ``5`` not conforming, ``6`` no data, ``7`` communication error (the codes of
ANPR's specification, quoted in italia/anpr#322). ANPR reads the code from ``esito``
(italia/anpr#322), so both fields carry it.

:func:`read_request` is the receiver's first step after verification; :func:`build_response`
writes the reply and :func:`read_response` reads it back. Building and signing the request is
ANPR's side: :func:`anpr_client.simulator.push.build_request` (moved there in 0.2).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from lxml import etree

from .._compat import moved_names
from ..errors.exceptions import NotificationError, ProtocolError
from ..safexml import NS, parse_xml
from .events import parse_datetime

__all__ = [
    "N000_NS",
    "Outcome",
    "ReplyCode",
    "RichiestaN000",
    "build_response",
    "read_request",
    "read_response",
]

N000_NS: Final = "http://sogei.it/ANPR/N000AnprService"
_SOAP: Final = NS["soap"]


class ReplyCode(enum.StrEnum):
    """The codes a Comune answers in ``RispostaN000`` (italia/anpr#322)."""

    ACQUIRED = "1"
    NOT_CONFORMING = "5"
    NO_DATA = "6"
    COMMUNICATION_ERROR = "7"


Outcome = ReplyCode
"""The name of :class:`ReplyCode` before 0.2, kept exported (the journal's ``Outcome`` is
another thing)."""


@dataclass(frozen=True)
class RichiestaN000:
    """A ``RichiestaN000`` as read from a verified Body."""

    tipo_notifica: str
    cod_mittente: str
    cod_destinatario: str
    data_ora_richiesta: dt.datetime | None
    id_notifica: str
    """``testataNotifica/idOperazioneANPR``: the notification's own id."""
    contenuto: bytes
    """The decoded base64 (a CMS EnvelopedData), possibly empty."""


def read_response(data: bytes) -> tuple[str, str]:
    """``(codiceEsito, esito)`` of a ``RispostaN000`` envelope (what ANPR reads of the reply)."""
    root = parse_xml(data)
    found = root.find(f"{{{_SOAP}}}Body/{{{N000_NS}}}RispostaN000")
    if found is None:
        raise ProtocolError("the answer is not a SOAP RispostaN000")
    return (found.findtext("codiceEsito") or "", found.findtext("esito") or "")


def build_response(code: ReplyCode | str) -> bytes:
    """The ``RispostaN000`` envelope answering ``code`` (in both fields)."""
    return _response(ReplyCode(code).value)


@functools.cache  # a few codes, each answered with the same bytes: built once each
def _response(code: str) -> bytes:
    envelope = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"soap": _SOAP})
    body = etree.SubElement(envelope, f"{{{_SOAP}}}Body")
    response = etree.SubElement(body, f"{{{N000_NS}}}RispostaN000", nsmap={"n": N000_NS})
    etree.SubElement(response, "codiceEsito").text = code
    etree.SubElement(response, "esito").text = code
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _nonconforming(message: str, field: str, rule: str) -> NotificationError:
    return NotificationError(message, outcome="5", field=field, rule=rule)


def read_request(payload: etree._Element | None) -> RichiestaN000:
    """Read the ``RichiestaN000`` of a *verified* Body (its first element).

    Raises :class:`~anpr_client.errors.NotificationError` with outcome ``5`` naming the
    element at fault. An empty ``contenuto`` is returned as ``b""`` (the caller answers 6).
    """
    if payload is None or payload.tag != f"{{{N000_NS}}}RichiestaN000":
        found = "nothing" if payload is None else etree.QName(payload).localname
        raise _nonconforming(
            f"the Body must hold RichiestaN000, not {found}", "RichiestaN000", "root element"
        )
    testata = payload.find("testataNotifica")
    if testata is None:
        raise _nonconforming("testataNotifica is missing", "testataNotifica", "required")

    def text(name: str, *, required: bool = True) -> str:
        value = (testata.findtext(name) or "").strip()
        if required and not value:
            raise _nonconforming(
                f"testataNotifica/{name} is missing or empty", f"testataNotifica/{name}", "required"
            )
        return value

    id_notifica = text("idOperazioneANPR")
    if not id_notifica.isascii() or not id_notifica.isdigit() or len(id_notifica) > 30:
        raise _nonconforming(
            f"testataNotifica/idOperazioneANPR {id_notifica[:40]!r} must be 1-30 digits",
            "testataNotifica/idOperazioneANPR",
            "1-30 digits",
        )
    sent = text("dataOraRichiesta", required=False)
    sent_at = parse_datetime(sent) if sent else None
    if sent and sent_at is None:
        raise _nonconforming(
            f"testataNotifica/dataOraRichiesta {sent[:40]!r} is not a dateTime",
            "testataNotifica/dataOraRichiesta",
            "xs:dateTime",
        )
    contenuto_el = payload.find("contenuto")
    if contenuto_el is None:
        raise _nonconforming("contenuto is missing", "contenuto", "required")
    try:
        contenuto = base64.b64decode("".join((contenuto_el.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise _nonconforming("contenuto is not base64", "contenuto", "xs:base64Binary") from None
    return RichiestaN000(
        tipo_notifica=text("tipoNotifica"),
        cod_mittente=text("codMittente", required=False),
        cod_destinatario=text("codDestinatario"),
        data_ora_richiesta=sent_at,
        id_notifica=id_notifica,
        contenuto=contenuto,
    )


if not TYPE_CHECKING:  # hidden from type checkers, which keep flagging unknown names
    __getattr__ = moved_names(
        __name__, {"build_request": "anpr_client.simulator.push.build_request"}
    )
