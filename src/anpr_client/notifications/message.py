"""The N000 messages on the wire: ANPR's ``RichiestaN000`` and the Comune's ``RispostaN000``.

``inoltroNotificaANPR`` (ANPR-FACTS §5.3) is SOAP 1.1 document/literal. ANPR sends::

    soap:Envelope
      soap:Header/wsse:Security     ANPR's signature over the Body (and a Timestamp, if any)
      soap:Body
        n:RichiestaN000             n = http://sogei.it/ANPR/N000AnprService
          testataNotifica           tipoNotifica, codMittente, codDestinatario,
                                    dataOraRichiesta, idOperazioneANPR (the notification's id)
          contenuto                 base64 CMS EnvelopedData for the Comune's CO-9999/CO-9998

and the Comune answers ``RispostaN000`` {``codiceEsito``, ``esito``}: ``1`` acquired, ``5`` not
conforming, ``6`` no data, ``7`` communication error. ANPR reads the code from ``esito`` (#322),
so both fields carry it.

:func:`build_request` is ANPR's side (the simulator, tests, benchmarks): it encrypts the payload
for the Comune's certificate and signs the Body with ANPR's key. :func:`read_request` is the
receiver's first step after verification; :func:`build_response` and :func:`read_response` are
the reply.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Final, Literal

from cryptography import x509
from lxml import etree

from ..credentials.base import KeySource
from ..errors.exceptions import NotificationError, ProtocolError
from ..safexml import NS, parse_xml
from ..security.algorithms import SignatureMethod
from ..security.cms import encrypt_enveloped
from ..security.frame import BASE64_BINARY, X509V3
from ..security.saml import certificate_b64, format_instant
from ..security.xmldsig import Reference, create_signature
from .events import parse_datetime

__all__ = [
    "N000_NS",
    "Outcome",
    "RichiestaN000",
    "build_request",
    "build_response",
    "read_request",
    "read_response",
]

N000_NS: Final = "http://sogei.it/ANPR/N000AnprService"
_SOAP: Final = NS["soap"]
_WSSE: Final = NS["wsse"]
_WSU: Final = NS["wsu"]
_WSU_ID: Final = f"{{{_WSU}}}Id"


class Outcome(enum.StrEnum):
    """The codes a Comune answers in ``RispostaN000`` (ANPR-FACTS §5.3)."""

    ACQUIRED = "1"
    NOT_CONFORMING = "5"
    NO_DATA = "6"
    COMMUNICATION_ERROR = "7"


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


# ----------------------------------------------------------------------------- ANPR's side


def build_request(
    payload: bytes,
    *,
    tipo_notifica: str,
    id_notifica: str,
    cod_destinatario: str,
    recipient: x509.Certificate | None,
    signer: KeySource,
    cod_mittente: str = "ANPR",
    sent_at: dt.datetime | None = None,
    algorithm: Literal["rsa-sha256", "rsa-sha1"] = "rsa-sha256",
    timestamp_ttl: int | None = 300,
) -> bytes:
    """A signed ``RichiestaN000`` carrying ``payload`` encrypted for ``recipient``.

    ``recipient`` ``None`` sends ``payload`` as is (already encrypted, or empty for a
    "no data" test). The Body (and the Timestamp, unless ``timestamp_ttl`` is ``None``) is
    signed with ``signer``, whose certificate travels in a BinarySecurityToken.
    """
    sent_at = sent_at or dt.datetime.now(dt.UTC)
    contenuto = encrypt_enveloped(payload, recipient) if recipient is not None else payload
    envelope = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"soap": _SOAP})
    header = etree.SubElement(envelope, f"{{{_SOAP}}}Header")
    body = etree.SubElement(
        envelope,
        f"{{{_SOAP}}}Body",
        {_WSU_ID: f"id-{uuid.uuid4().hex}"},
        nsmap={"wsu": _WSU},
    )
    request = etree.SubElement(body, f"{{{N000_NS}}}RichiestaN000", nsmap={"n": N000_NS})
    testata = etree.SubElement(request, "testataNotifica")
    for name, value in (
        ("tipoNotifica", tipo_notifica),
        ("codMittente", cod_mittente),
        ("codDestinatario", cod_destinatario),
        ("dataOraRichiesta", sent_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")),
        ("idOperazioneANPR", id_notifica),
    ):
        etree.SubElement(testata, name).text = value
    etree.SubElement(request, "contenuto").text = base64.b64encode(contenuto).decode("ascii")

    security = etree.SubElement(header, f"{{{_WSSE}}}Security", nsmap={"wsse": _WSSE, "wsu": _WSU})
    security.set(f"{{{_SOAP}}}mustUnderstand", "1")
    references = [Reference(f"#{body.get(_WSU_ID)}", body)]
    if timestamp_ttl is not None:
        ts = etree.SubElement(security, f"{{{_WSU}}}Timestamp", {_WSU_ID: f"TS-{uuid.uuid4().hex}"})
        etree.SubElement(ts, f"{{{_WSU}}}Created").text = format_instant(sent_at)
        etree.SubElement(ts, f"{{{_WSU}}}Expires").text = format_instant(
            sent_at + dt.timedelta(seconds=timestamp_ttl)
        )
        references.insert(0, Reference(f"#{ts.get(_WSU_ID)}", ts))
    bst_id = f"X509-{uuid.uuid4().hex}"
    bst = etree.SubElement(
        security,
        f"{{{_WSSE}}}BinarySecurityToken",
        {"EncodingType": BASE64_BINARY, "ValueType": X509V3, _WSU_ID: bst_id},
    )
    bst.text = certificate_b64(signer.certificate)

    def token_reference(key_info: etree._Element) -> None:
        str_el = etree.SubElement(key_info, f"{{{_WSSE}}}SecurityTokenReference")
        etree.SubElement(
            str_el, f"{{{_WSSE}}}Reference", {"URI": f"#{bst_id}", "ValueType": X509V3}
        )

    create_signature(
        references,
        SignatureMethod.from_name(algorithm),
        signer,
        key_info=token_reference,
        parent=security,
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def read_response(data: bytes) -> tuple[str, str]:
    """``(codiceEsito, esito)`` of a ``RispostaN000`` envelope (what ANPR reads)."""
    root = parse_xml(data)
    found = root.find(f"{{{_SOAP}}}Body/{{{N000_NS}}}RispostaN000")
    if found is None:
        raise ProtocolError("the answer is not a SOAP RispostaN000")
    return (found.findtext("codiceEsito") or "", found.findtext("esito") or "")


# ----------------------------------------------------------------------------- the Comune's side


def build_response(outcome: Outcome | str) -> bytes:
    """The ``RispostaN000`` envelope for ``outcome`` (the code in both fields)."""
    code = Outcome(outcome).value
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
