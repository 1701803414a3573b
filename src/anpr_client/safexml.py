"""XML namespaces and the one hardened parser every untrusted document goes through.

The parser refuses DTDs (so no entity expansion and no external entities), never touches the
network and caps the document size. Client responses, simulator requests and notifications all
use :func:`parse_xml`.
"""

from __future__ import annotations

import threading
from typing import Final

from lxml import etree

from .errors.exceptions import ProtocolError, XMLTooLarge

__all__ = [
    "DEFAULT_MAX_BYTES",
    "NS",
    "XMLTooLarge",  # defined in the exception tree; importable from here too
    "parse_xml",
]

NS: Final = {
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "ec": "http://www.w3.org/2001/10/xml-exc-c14n#",
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "xop": "http://www.w3.org/2004/08/xop/include",
}

#: Default cap on a document's size (64 MiB: large 4005 extractions and certificates fit).
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024


class _RefuseExternal(etree.Resolver):
    """Refuses every external reference (DTD subsets, entities), local files included."""

    def resolve(  # type: ignore[override]  # lxml-stubs lacks the context argument
        self, system_url: str | None, public_id: str | None, context: object
    ) -> None:
        raise ProtocolError("XML with an external reference is refused")


_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            dtd_validation=False,
            load_dtd=False,
            huge_tree=False,
            collect_ids=False,
        )
        parser.resolvers.add(_RefuseExternal())
        _local.parser = parser
    return parser


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML. DTDs (hence entities) are refused; so are documents over the cap.

    Raises :class:`~anpr_client.errors.ProtocolError` with a plain reason.
    """
    if len(data) > max_bytes:
        raise XMLTooLarge(f"XML document of {len(data)} bytes exceeds the cap of {max_bytes}")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]  # stubs lack doctype
        raise ProtocolError("XML with a document type declaration (DTD) is refused")
    return root
