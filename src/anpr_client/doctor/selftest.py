"""The frame self-test: a TestConn signed with the configured keys, verified with the library's
own verifier, its SAML assertion validated against the SAML 2.0 assertion schema.

Nothing is sent. The verifier is the strict one the simulator's gateway uses
(:func:`~anpr_client.security.verify.verify_envelope`), with the frame's own certificates as
trust anchors (what is checked is the frame's construction; whom ANPR trusts is ANPR's
business). The schema is OASIS's ``saml-schema-assertion-2.0.xsd`` as a system package ships it
(Debian's ``opensaml-schemas``), with the W3C XML-DSig and XML-Encryption schemas it imports
read from local copies (the ``xmlschema`` package's, when installed): never from the network.
Without them the schema check is skipped, saying why. An assertion that does not validate is
a known cause of ``Internal Error (from client)`` (see :mod:`anpr_client.errors.faults`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from lxml import etree

from ..errors.exceptions import AnprError, CmsRejected
from ..safexml import parse_xml
from .model import Check, Verdict

if TYPE_CHECKING:
    from ..security.policy import SecurityPolicy
    from ..security.verify import VerifiedEnvelope
    from ..settings import Settings

__all__ = ["SAML_SCHEMA_DIRS", "frame_checks", "saml_schema"]

SAML_SCHEMA_DIRS: Final = (Path("/usr/share/xml/opensaml"), Path("/usr/share/xml/saml"))
"""Where system packages put ``saml-schema-assertion-2.0.xsd``."""
_SAML_XSD: Final = "saml-schema-assertion-2.0.xsd"
_IMPORTED: Final = {
    "xmldsig-core-schema.xsd": ("DSIG", "xmldsig-core-schema.xsd"),
    "xenc-schema.xsd": ("XENC", "xenc-schema.xsd"),
}
_SAML_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"


class _LocalCopies(etree.Resolver):
    """Resolves the W3C schemas the SAML schema imports to local files, by file name."""

    def __init__(self, files: dict[str, Path]):
        super().__init__()
        self._files = files

    # lxml calls resolve(url, pubid, context); its stubs omit ``context`` and resolve_filename.
    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        local = self._files.get(system_url.rsplit("/", 1)[-1])
        if local is None:
            return None
        return self.resolve_filename(str(local), context)  # type: ignore[attr-defined]


@functools.cache
def saml_schema() -> etree.XMLSchema | str:
    """The SAML 2.0 assertion schema, or why it is not available on this machine."""
    saml = next((d / _SAML_XSD for d in SAML_SCHEMA_DIRS if (d / _SAML_XSD).is_file()), None)
    if saml is None:
        return (
            f"{_SAML_XSD} is not installed (looked in "
            + ", ".join(str(d) for d in SAML_SCHEMA_DIRS)
            + "): install the opensaml-schemas package"
        )
    spec = importlib.util.find_spec("xmlschema")
    roots = [Path(p) / "schemas" for p in (spec.submodule_search_locations or [])] if spec else []
    files: dict[str, Path] = {}
    for name, (folder, file) in _IMPORTED.items():
        found = next((r / folder / file for r in roots if (r / folder / file).is_file()), None)
        if found is None:
            return (
                f"the W3C schema {name} that {_SAML_XSD} imports has no local copy: install "
                "anpr-client's test extra (xmlschema ships it); it is never fetched"
            )
        files[name] = found
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_LocalCopies(files))
    try:
        return etree.XMLSchema(etree.parse(str(saml), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        return f"{saml} cannot be read as a schema: {exc}"


def frame_checks(settings: Settings) -> Iterator[Check]:
    """``frame.sign``, ``frame.verify`` and ``frame.saml_schema``."""
    from ..client import Client
    from ..security.algorithms import SignatureMethod
    from ..security.policy import DEFAULT_POLICY
    from ..security.saml import certificate_from_b64
    from ..security.trust import TrustStore
    from ..security.verify import verify_envelope

    try:
        with Client(settings, journal=None) as client:
            if client.wsse is None:
                yield Check(
                    "frame.sign",
                    Verdict.SKIP,
                    "no [comune_key]: nothing to sign with (see comune_key)",
                    setting="comune_key",
                )
                return
            prepared = client.prepare("TestConn", {}, check=False)
    except AnprError as exc:
        yield Check(
            "frame.sign",
            Verdict.FAIL,
            f"the frame cannot be built: {exc}",
            fix="fix the setting it names (see the checks above)",
            setting=getattr(exc, "setting", None),
        )
        return
    method = settings.security.signature
    yield Check(
        "frame.sign",
        Verdict.OK,
        f"a TestConn request signed {method.short_name} ({len(prepared.envelope)} bytes)",
        setting="security.signature",
    )
    root = parse_xml(prepared.envelope)
    anchors = [
        cert
        for el in root.iter(
            "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"
            "BinarySecurityToken",
            "{http://www.w3.org/2000/09/xmldsig#}X509Certificate",
        )
        if (cert := certificate_from_b64(el.text)) is not None
    ]
    policy = DEFAULT_POLICY
    if method is SignatureMethod.RSA_SHA1:
        policy = DEFAULT_POLICY.allowing_sha1()
    # The CMS IdPostazioneFirmato is signed by the workstation, whose certificate the message
    # does not carry as a token: checked below with the certificate the CMS includes.
    policy = dataclasses.replace(policy, verify_id_postazione=False)
    try:
        verified = verify_envelope(root, trust=TrustStore(anchors), policy=policy)
        workstation = _id_postazione(verified, policy)
    except AnprError as exc:
        yield Check(
            "frame.verify",
            Verdict.FAIL,
            f"the library's own verifier refuses the frame: {exc}",
            fix="ANPR's gateway is at least as strict: report this with the evidence",
        )
    else:
        yield Check(
            "frame.verify",
            Verdict.OK,
            f"verified: signature {verified.signature_method.short_name} over Timestamp and "
            f"Body, assertion IdSede={verified.id_sede} IdPostazione={verified.id_postazione} "
            f"NameID={verified.operator}; IdPostazioneFirmato signs {verified.id_postazione} "
            f"with {workstation}",
        )
    yield _schema_check(root)


def _id_postazione(verified: VerifiedEnvelope, policy: SecurityPolicy) -> str:
    """Check the ``IdPostazioneFirmato`` CMS: its signature with the certificate it carries,
    its content (``IdPostazione``) and its signer's name; returns the signer's subject."""
    from ..credentials.certificates import common_name
    from ..security.cms import verify_signed_data

    attributes = verified.assertion.attributes if verified.assertion else {}
    id_postazione = attributes.get("IdPostazione", "")
    try:
        der = base64.b64decode("".join(attributes.get("IdPostazioneFirmato", "").split()))
    except ValueError:
        raise CmsRejected("IdPostazioneFirmato is not base64", check="cms-format") from None
    cms = verify_signed_data(
        der,
        trust=None,
        digests=policy.cms_digests,
        what="IdPostazioneFirmato",
    )
    if cms.content != id_postazione.encode("utf-8"):
        raise CmsRejected(
            "IdPostazioneFirmato does not sign the assertion's IdPostazione", check="cms-content"
        )
    if common_name(cms.signer) != id_postazione:
        raise CmsRejected(
            f"IdPostazioneFirmato is signed by {common_name(cms.signer)!r}, not by the "
            f"certificate named IdPostazione {id_postazione!r}",
            check="cms-signer",
        )
    return cms.signer.subject.rfc4514_string()


def _schema_check(root: etree._Element) -> Check:
    schema = saml_schema()
    if isinstance(schema, str):
        return Check("frame.saml_schema", Verdict.SKIP, schema)
    assertion = next(root.iter(f"{{{_SAML_NS}}}Assertion"), None)
    if assertion is None:
        return Check("frame.saml_schema", Verdict.FAIL, "the frame carries no SAML assertion")
    standalone = etree.fromstring(etree.tostring(assertion))
    if schema.validate(standalone):
        return Check(
            "frame.saml_schema", Verdict.OK, "the SAML assertion is valid against its schema"
        )
    errors = list(schema.error_log)  # type: ignore[call-overload]
    first = errors[0].message if errors else "not valid"
    return Check(
        "frame.saml_schema",
        Verdict.FAIL,
        f"the SAML assertion does not validate against {_SAML_XSD}: {first}",
        fix="ANPR answers such a frame 'Internal Error (from client)': report it",
    )
