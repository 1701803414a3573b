"""ANPR's side of N000: the signed ``RichiestaN000`` that pushes a notification to a Comune.

The Comune's side (reading the request once verified, the ``RispostaN000`` reply) is
:mod:`anpr_client.notifications.message`; this module is what ANPR sends, for the simulator's
pusher (:meth:`~anpr_client.simulator.notifications.Notifier.build_push`), the tests and the
benchmarks. ``contenuto`` is the payload encrypted for the Comune's ``CO-9999`` certificate
(CMS EnvelopedData, italia/anpr#689, #958); the Body, and a Timestamp, are signed with
WS-Security by ANPR's notification certificate, carried in a BinarySecurityToken
(italia/anpr#689, #912).

Moved here in 0.2 from ``anpr_client.notifications.build_request``.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Final, Literal

from cryptography import x509
from lxml import etree

from ..credentials.base import KeySource
from ..notifications.message import N000_NS
from ..safexml import NS
from ..security.algorithms import SignatureMethod
from ..security.cms import encrypt_enveloped
from ..security.frame import BASE64_BINARY, X509V3
from ..security.saml import certificate_b64, format_instant
from ..security.xmldsig import Reference, create_signature

__all__ = ["build_request"]

_SOAP: Final = NS["soap"]
_WSSE: Final = NS["wsse"]
_WSU: Final = NS["wsu"]
_WSU_ID: Final = f"{{{_WSU}}}Id"


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
        # Milliseconds and an offset, as ANPR's test push in italia/anpr#1582 (#912) carries.
        ("dataOraRichiesta", sent_at.astimezone().isoformat(timespec="milliseconds")),
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
