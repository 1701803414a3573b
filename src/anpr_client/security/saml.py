"""The SAML 2.0 assertion of ANPR's frame: build it (signed) and verify it.

Shape (as the official Java sample builds it, italia/anpr-client-example, and as traces in
italia/anpr#1903, #2504, #2162 show it; validated in the tests against the OASIS schema)::

    saml2:Assertion ID IssueInstant Version="2.0"    (declares xsd and xsi)
      Issuer                              "XS" by default
      ds:Signature                        enveloped, exc-c14n (PrefixList "xsd"), X509Certificate
      Subject/NameID                      operator's codice fiscale, Format unspecified
             /SubjectConfirmation         bearer, SubjectConfirmationData NotBefore/NotOnOrAfter
      Conditions NotBefore NotOnOrAfter   the same window (ttl, default 300 s)
      AuthnStatement AuthnInstant SessionNotOnOrAfter
             SubjectLocality Address, AuthnContext with an empty AuthnContextClassRef
      AttributeStatement                  IdSede, IdPostazione, IdPostazioneFirmato,
                                          IdApplicazione (xsi:type="xsd:string")

Every ``xsi:type="xsd:string"`` has ``xmlns:xsd`` in scope, declared on the Assertion (a missing
declaration is a known cause of "Internal Error", italia/anpr#2572). The ``xsd`` prefix is used
only inside attribute values, so the signature's exc-c14n transform lists it as an inclusive
prefix (as OpenSAML does); otherwise the canonical form would drop the declaration.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree

from anpr_client.credentials.base import KeySource
from anpr_client.errors.exceptions import (
    AssertionRejected,
    CmsRejected,
    ConfigurationError,
    MalformedFrame,
    ProtocolError,
    VerificationError,
)
from anpr_client.safexml import NS, parse_xml
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.cms import VerifiedSignedData, verify_signed_data
from anpr_client.security.policy import SecurityPolicy
from anpr_client.security.trust import TrustStore, load_certificate
from anpr_client.security.xmldsig import (
    DS_NS,
    c14n_attribute,
    c14n_text,
    reference_writer,
    signature_over,
    verify_trusted_signature,
)

__all__ = [
    "BEARER",
    "NAMEID_UNSPECIFIED",
    "SAML2_NS",
    "AssertionContent",
    "AssertionParts",
    "VerifiedAssertion",
    "assertion_parts",
    "assertion_text",
    "build_assertion",
    "certificate_b64",
    "certificate_from_b64",
    "decode_certificate",
    "format_instant",
    "parse_instant",
    "signed_assertion_parts",
    "signed_assertion_text",
    "verify_assertion",
]

SAML2_NS: Final = NS["saml2"]
NAMEID_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
ATTRNAME_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_S: Final = f"{{{SAML2_NS}}}"


def format_instant(moment: dt.datetime) -> str:
    """UTC ``xs:dateTime`` with milliseconds and ``Z`` (``2024-05-01T08:22:49.985Z``).

    The microseconds are truncated, not rounded; the year has four digits."""
    m = moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)
    two, year = _TWO_DIGITS, m.year
    # The digits from tables: a frame writes two instants per request, and ``isoformat`` or
    # ``%02d`` formatting cost several times these lookups.
    return (
        f"{year if year > 999 else f'{year:04d}'}-{two[m.month]}-{two[m.day]}"
        f"T{two[m.hour]}:{two[m.minute]}:{two[m.second]}.{_THREE_DIGITS[m.microsecond // 1000]}Z"
    )


_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))
_THREE_DIGITS: Final = tuple(f"{n:03d}" for n in range(1000))


# ``2026-12-02T04:39:55.123Z``: seconds with none, three or six fractional digits, in UTC.
_PLAIN_UTC: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6})?Z"
)


_PLAIN_UTC_MAX: Final = len("2026-12-02T04:39:55.123456Z")


@functools.lru_cache(maxsize=64)
def _plain_instant(value: str) -> dt.datetime | None:
    """The UTC instant a ``_PLAIN_UTC`` value names, or ``None`` (another shape, or no date)."""
    if _PLAIN_UTC.fullmatch(value) is None:
        return None
    try:  # Python 3.11 reads the "Z" as UTC itself
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_instant(value: str | None, what: str) -> dt.datetime:
    """Parse an ``xs:dateTime``; a value without offset is taken as UTC (WS-Security rule)."""
    if not value:
        raise MalformedFrame(f"{what} is missing")
    # What every stack sends: the general path's result, sooner. A frame repeats its instants
    # (Timestamp, Conditions, SubjectConfirmationData, IssueInstant): each is read once.
    known = _plain_instant(value) if len(value) <= _PLAIN_UTC_MAX else None
    if known is not None:
        return known
    if _PLAIN_UTC.fullmatch(value):  # the shape, but no date (a 13th month, a 30 February)
        raise MalformedFrame(f"{what} = {value!r} is not an xs:dateTime")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; some stacks send 7 or more.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        offset = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{offset}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedFrame(f"{what} = {value!r} is not an xs:dateTime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
        raise MalformedFrame(f"{what} = {value!r} is out of range") from None


@dataclass(frozen=True)
class AssertionContent:
    """The values an assertion carries (all plain text; nothing secret)."""

    name_id: str
    """The operator's codice fiscale."""
    id_sede: str
    id_postazione: str
    id_postazione_firmato: str
    """Base64 CMS SignedData of ``id_postazione`` (:func:`.cms.id_postazione_firmato`)."""
    id_applicazione: str
    issuer: str = "XS"
    subject_locality: str = "127.0.0.1"

    def __post_init__(self) -> None:
        # The assertion is written as text: a character XML 1.0 cannot carry would make every
        # request unreadable, so it is refused once, here, naming the value.
        for name, value in vars(self).items():
            bad = _NOT_XML_CHAR.search(value)
            if bad is not None:
                raise ConfigurationError(
                    f"the assertion's {name} contains the character {bad.group()!r}, "
                    "which XML cannot carry",
                    setting=name,
                    rule="XML 1.0 characters",
                )


_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# The assertion written directly in exclusive-c14n form (PrefixList "xsd"), so that the text
# sent is the text digested: attributes in canonical order, no empty-element tags, ``xsi``
# declared where it is used (on each AttributeValue), ``xsd`` on the Assertion.
_ASSERTION: Final = (
    '<saml2:Assertion xmlns:saml2="' + SAML2_NS + '"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' ID="{id}" IssueInstant="{now}" Version="2.0">'
    "<saml2:Issuer>{issuer}</saml2:Issuer>"
)
_ASSERTION_REST: Final = (
    "<saml2:Subject>"
    '<saml2:NameID Format="' + NAMEID_UNSPECIFIED + '">{name_id}</saml2:NameID>'
    '<saml2:SubjectConfirmation Method="' + BEARER + '">'
    '<saml2:SubjectConfirmationData NotBefore="{now}" NotOnOrAfter="{until}">'
    "</saml2:SubjectConfirmationData>"
    "</saml2:SubjectConfirmation>"
    "</saml2:Subject>"
    '<saml2:Conditions NotBefore="{now}" NotOnOrAfter="{until}"></saml2:Conditions>'
    '<saml2:AuthnStatement AuthnInstant="{now}" SessionNotOnOrAfter="{until}">'
    '<saml2:SubjectLocality Address="{locality}"></saml2:SubjectLocality>'
    "<saml2:AuthnContext><saml2:AuthnContextClassRef></saml2:AuthnContextClassRef>"
    "</saml2:AuthnContext>"
    "</saml2:AuthnStatement>"
    "<saml2:AttributeStatement>{attributes}</saml2:AttributeStatement>"
    "</saml2:Assertion>"
)
_ATTRIBUTE: Final = (
    '<saml2:Attribute Name="{name}" NameFormat="' + ATTRNAME_UNSPECIFIED + '">'
    '<saml2:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xsi:type="xsd:string">{value}</saml2:AttributeValue>'
    "</saml2:Attribute>"
)


def certificate_b64(certificate: x509.Certificate) -> str:
    """Base64 of the DER certificate (BinarySecurityToken and X509Certificate text)."""
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def decode_certificate(text: str | None, what: str = "certificate") -> x509.Certificate:
    """The certificate in a base64 DER text (blanks ignored).

    Raises :class:`~anpr_client.errors.MalformedFrame` (``check`` ``keyinfo``) when the text is
    not base64, :class:`~anpr_client.errors.UntrustedCertificate` (``trust-format``) when the
    certificate cannot be read in full.
    """
    known = _decoded.get(text) if text else None
    if known is not None:
        return known
    try:
        der = base64.b64decode("".join((text or "").split()), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise MalformedFrame(f"the {what} is not base64", check="keyinfo") from None
    certificate = load_certificate(der, what=what)
    if text:
        with _decoded_lock:
            _decoded[text] = certificate
            while len(_decoded) > _DECODED_MAX:
                del _decoded[next(iter(_decoded))]
    return certificate


# The same certificate texts arrive with every message (a Comune's CO-9999 twice per
# request): the texts read last are kept with their certificate (bounded, oldest out first),
# so that the base64 of each is decoded once, not on every message.
_DECODED_MAX: Final = 256
_decoded: dict[str, x509.Certificate] = {}
_decoded_lock = threading.Lock()


def certificate_from_b64(text: str | None) -> x509.Certificate | None:
    """The certificate in a base64 DER text (blanks ignored), or ``None`` if it holds none."""
    try:
        return decode_certificate(text)
    except VerificationError:
        return None


def assertion_text(
    content: AssertionContent,
    *,
    signer: KeySource,
    method: SignatureMethod,
    now: dt.datetime,
    ttl: float = 300,
    assertion_id: str | None = None,
    signer_certificate_b64: str | None = None,
) -> str:
    """The signed ``saml2:Assertion`` as XML text, declaring every namespace it uses.

    Written in canonical form, so the enveloped reference digests the text itself (the
    signature removed) and no tree is built. ``signer_certificate_b64`` is
    :func:`certificate_b64` of the signer's certificate, cached by callers that build many
    assertions.
    """
    return signed_assertion_text(
        content,
        signer=signer,
        method=method,
        start=format_instant(now),
        until=format_instant(now + dt.timedelta(seconds=ttl)),
        assertion_id=assertion_id,
        certificate=signer_certificate_b64 or certificate_b64(signer.certificate),
    )


# What the templates are filled with where a request's own values go (its ID, its instants),
# so that the text around them is split there once per content: NUL cannot be in XML text, and
# AssertionContent refuses it.
_ID_MARK: Final = "\x00i"
_START_MARK: Final = "\x00s"
_UNTIL_MARK: Final = "\x00u"


AssertionParts = tuple[tuple[str, ...], tuple[str, ...]]
"""What :func:`assertion_parts` returns."""


@functools.lru_cache(maxsize=64)
def assertion_parts(content: AssertionContent) -> AssertionParts:
    """The text of an assertion for ``content`` around the values of each request, escaped
    once: ``head`` around ID and IssueInstant, ``rest`` around the instants it repeats
    (NotBefore / NotOnOrAfter of the subject confirmation and the conditions, AuthnInstant /
    SessionNotOnOrAfter), in that order."""
    attributes = "".join(
        _ATTRIBUTE.format(name=name, value=c14n_text(value))
        for name, value in (
            ("IdSede", content.id_sede),
            ("IdPostazione", content.id_postazione),
            ("IdPostazioneFirmato", content.id_postazione_firmato),
            ("IdApplicazione", content.id_applicazione),
        )
    )
    head = _ASSERTION.format(id=_ID_MARK, now=_START_MARK, issuer=c14n_text(content.issuer))
    rest = _ASSERTION_REST.format(
        now=_START_MARK,
        until=_UNTIL_MARK,
        name_id=c14n_text(content.name_id),
        locality=c14n_attribute(content.subject_locality),
        attributes=attributes,
    )
    # Each piece after the first starts with the mark of the field before it, in the order
    # signed_assertion_parts fills them in (ID, IssueInstant; then start, until three times):
    # tests/security/test_frame_bytes.py checks the marks and the bytes.
    head_parts, rest_parts = head.split("\x00"), rest.split("\x00")
    return (
        (head_parts[0], *(p[1:] for p in head_parts[1:])),
        (rest_parts[0], *(p[1:] for p in rest_parts[1:])),
    )


def signed_assertion_text(
    content: AssertionContent,
    *,
    signer: KeySource,
    method: SignatureMethod,
    start: str,
    until: str,
    certificate: str,
    assertion_id: str | None = None,
) -> str:
    """:func:`assertion_text` with the instants already formatted (:func:`format_instant`)
    and the signer's base64 certificate, as the frame has them for its Timestamp."""
    return "".join(
        signed_assertion_parts(
            assertion_parts(content),
            signer=signer,
            method=method,
            start=start,
            until=until,
            certificate=certificate,
            assertion_id=assertion_id or f"_{secrets.token_hex(16)}",
        )
    )


def signed_assertion_parts(
    parts: AssertionParts,
    *,
    signer: KeySource,
    method: SignatureMethod,
    start: str,
    until: str,
    certificate: str,
    assertion_id: str,
) -> tuple[str, str, str]:
    """:func:`signed_assertion_text` in three pieces (the assertion up to its Issuer, the
    signature, the rest), from the :func:`assertion_parts` of its content."""
    (h0, h1, h2), (r0, r1, r2, r3, r4, r5, r6) = parts
    head = f"{h0}{c14n_attribute(assertion_id)}{h1}{start}{h2}"
    rest = f"{r0}{start}{r1}{until}{r2}{start}{r3}{until}{r4}{start}{r5}{until}{r6}"
    reference = reference_writer(method, _XSD, True)(
        f"#{c14n_attribute(assertion_id)}", (head + rest).encode("utf-8")
    )
    signature = signature_over(
        reference,
        method,
        signer,
        key_info=f"<ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data>",
    )
    return head, signature, rest  # the signature right after Issuer


_XSD: Final = ("xsd",)


def build_assertion(
    content: AssertionContent,
    *,
    signer: KeySource,
    method: SignatureMethod,
    now: dt.datetime,
    ttl: float = 300,
    assertion_id: str | None = None,
    signer_certificate_b64: str | None = None,
) -> etree._Element:
    """A signed ``saml2:Assertion`` element (standalone): :func:`assertion_text`, parsed."""
    return etree.fromstring(
        assertion_text(
            content,
            signer=signer,
            method=method,
            now=now,
            ttl=ttl,
            assertion_id=assertion_id,
            signer_certificate_b64=signer_certificate_b64,
        )
    )


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifiedAssertion:
    """What :func:`verify_assertion` verified. Values come from the signed canonical form."""

    id: str
    issuer: str
    name_id: str
    issue_instant: dt.datetime
    not_before: dt.datetime | None
    not_on_or_after: dt.datetime | None
    subject_locality: str | None
    signer: x509.Certificate
    signature_method: SignatureMethod
    attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    id_postazione_firmato: VerifiedSignedData | None = None
    """The verified CMS (``None`` when the policy does not ask for it)."""

    @property
    def operator(self) -> str:
        """The NameID: the operator's codice fiscale."""
        return self.name_id

    @property
    def id_sede(self) -> str | None:
        return self.attributes.get("IdSede")

    @property
    def id_postazione(self) -> str | None:
        return self.attributes.get("IdPostazione")

    @property
    def id_applicazione(self) -> str | None:
        return self.attributes.get("IdApplicazione")


def _x509_from_key_info(signature: etree._Element) -> x509.Certificate:
    # What the path KeyInfo/X509Data/X509Certificate finds, walked child by child.
    found = [
        certificate
        for key_info in signature
        if key_info.tag == _KEY_INFO
        for data in key_info
        if data.tag == _X509_DATA
        for certificate in data
        if certificate.tag == _X509_CERTIFICATE
    ]
    if len(found) != 1:
        raise AssertionRejected(
            "the assertion signature must carry exactly one ds:X509Certificate",
            check="saml-keyinfo",
        )
    certificate = certificate_from_b64(found[0].text)
    if certificate is None:
        raise AssertionRejected(
            "the assertion's ds:X509Certificate is not a certificate", check="saml-keyinfo"
        )
    return certificate


_ASSERTION_TAG: Final = f"{_S}Assertion"
_SIGNATURE_TAG: Final = f"{{{DS_NS}}}Signature"
_KEY_INFO: Final = f"{{{DS_NS}}}KeyInfo"
_X509_DATA: Final = f"{{{DS_NS}}}X509Data"
_X509_CERTIFICATE: Final = f"{{{DS_NS}}}X509Certificate"
_ISSUER: Final = f"{_S}Issuer"
_SUBJECT: Final = f"{_S}Subject"
_NAME_ID: Final = f"{_S}NameID"
_CONFIRMATION: Final = f"{_S}SubjectConfirmation"
_CONFIRMATION_DATA: Final = f"{_S}SubjectConfirmationData"
_CONDITIONS: Final = f"{_S}Conditions"
_AUTHN_STATEMENT: Final = f"{_S}AuthnStatement"
_SUBJECT_LOCALITY: Final = f"{_S}SubjectLocality"
_ATTRIBUTE_STATEMENT: Final = f"{_S}AttributeStatement"
_ATTRIBUTE_TAG: Final = f"{_S}Attribute"
_ATTRIBUTE_VALUE: Final = f"{_S}AttributeValue"
#: True when a comment or processing instruction is inside the element (libxml2's walk).
_COMMENT_OR_PI: Final = etree.XPath(
    "boolean(.//comment() | .//processing-instruction())", regexp=False
)


def _first(parents: Iterable[etree._Element], tag: str) -> etree._Element | None:
    """The first child named ``tag`` of the first of ``parents`` that has one."""
    for parent in parents:
        for child in parent:
            if child.tag == tag:
                return child
    return None


def _window(
    element: etree._Element | None, what: str, now: dt.datetime, skew: dt.timedelta
) -> tuple[dt.datetime | None, dt.datetime | None]:
    if element is None:
        return None, None
    before = element.get("NotBefore")
    after = element.get("NotOnOrAfter")
    not_before = parse_instant(before, f"{what}/@NotBefore") if before else None
    not_after = parse_instant(after, f"{what}/@NotOnOrAfter") if after else None
    if not_before is not None and now + skew < not_before:
        raise AssertionRejected(
            f"the assertion is not valid yet ({what} NotBefore {before})",
            check="saml-not-yet-valid",
        )
    if not_after is not None and now - skew >= not_after:
        raise AssertionRejected(
            f"the assertion has expired ({what} NotOnOrAfter {after})", check="saml-expired"
        )
    return not_before, not_after


def verify_assertion(
    assertion: etree._Element,
    *,
    ids: dict[str, etree._Element],
    trust: TrustStore,
    policy: SecurityPolicy,
    now: dt.datetime,
    expected_signer: x509.Certificate | None = None,
    expected_path: tuple[x509.Certificate, ...] | None = None,
) -> VerifiedAssertion:
    """Verify a SAML 2.0 assertion found in a message (``ids`` indexes that message).

    Checks the enveloped signature (algorithms from ``policy``; the reference must be the
    assertion itself), the signer certificate against ``trust`` (and, when ``policy.same_signer``,
    that it is ``expected_signer``), the validity windows with ``policy.clock_skew``, the
    bearer confirmation, a non-empty NameID, ``policy.required_attributes`` and, when
    ``policy.verify_id_postazione``, the ``IdPostazioneFirmato`` CMS. ``expected_path`` is
    ``expected_signer``'s path as ``trust`` just validated it for ``now``: when the assertion's
    signer is that certificate, the path is not validated twice. Raises
    :class:`AssertionRejected` (``.check`` ``saml-…``) or the XML-DSig/trust/CMS errors.
    """
    if assertion.tag != _ASSERTION_TAG or assertion.get("Version") != "2.0":
        raise AssertionRejected("not a SAML 2.0 assertion", check="saml-version")
    assertion_id = assertion.get("ID")
    if not assertion_id:
        raise AssertionRejected("the assertion has no ID", check="saml-structure")
    # The children and their tags, read once: the signature is found among them, and they are
    # what is read below when the assertion is read where it stands.
    children = list(assertion)
    tags = [c.tag for c in children]
    signatures = [c for c, tag in zip(children, tags, strict=True) if tag == _SIGNATURE_TAG]
    if len(signatures) != 1:
        raise AssertionRejected(
            f"the assertion must carry exactly one signature (found {len(signatures)})",
            check="saml-unsigned",
        )
    signature = signatures[0]
    signer = _x509_from_key_info(signature)
    if (
        policy.same_signer
        and expected_signer is not None
        and signer is not expected_signer  # the usual case, without comparing the DER
        and signer != expected_signer
    ):
        raise AssertionRejected(
            "the assertion is signed by another certificate than the message",
            check="saml-signer",
        )
    verified = verify_trusted_signature(
        signature,
        signer,
        trust=trust,
        policy=policy,
        ids=ids,
        now=now,
        role="assertion",
        key_error=lambda message: AssertionRejected(message, check="saml-keyinfo"),
        validated=expected_path,
    )
    refs = verified.references
    if len(refs) != 1 or refs[0].element is not assertion or not refs[0].enveloped:
        raise AssertionRejected(
            "the assertion signature must reference exactly the assertion (enveloped)",
            check="saml-reference",
        )

    # From here on, read only what was signed: the assertion as canonicalised (its signature
    # aside, which nothing below reads) when no comment or processing instruction can make a
    # text node differ from the canonical one (c14n drops comments and joins the text around
    # them), else the canonical bytes parsed again.
    if _COMMENT_OR_PI(assertion) is True:
        try:
            signed = parse_xml(refs[0].canonical)
        except ProtocolError:  # pragma: no cover - canonical XML always parses
            raise AssertionRejected(
                "the signed assertion cannot be re-read", check="saml-structure"
            ) from None
        children = list(signed)
        tags = [c.tag for c in children]
    else:
        signed = assertion
    # One pass over the assertion's children (what the ElementPath lookups found: the first
    # Issuer, NameID, Conditions and SubjectLocality; every SubjectConfirmation and Attribute).
    issuer_el = conditions = None
    subjects: list[etree._Element] = []
    authn: list[etree._Element] = []
    statements: list[etree._Element] = []
    for child, tag in zip(children, tags, strict=True):
        if tag == _ISSUER:
            issuer_el = child if issuer_el is None else issuer_el
        elif tag == _SUBJECT:
            subjects.append(child)
        elif tag == _CONDITIONS:
            conditions = child if conditions is None else conditions
        elif tag == _AUTHN_STATEMENT:
            authn.append(child)
        elif tag == _ATTRIBUTE_STATEMENT:
            statements.append(child)
    skew = dt.timedelta(seconds=policy.clock_skew)
    issuer = ((issuer_el.text if issuer_el is not None else None) or "").strip()
    # One pass over the Subjects' children: the first NameID, every SubjectConfirmation.
    name_id_el = None
    confirmations: list[etree._Element] = []
    for subject in subjects:
        for child in subject:
            tag = child.tag
            if tag == _CONFIRMATION:
                confirmations.append(child)
            elif tag == _NAME_ID and name_id_el is None:
                name_id_el = child
    name_id = ((name_id_el.text if name_id_el is not None else None) or "").strip()
    if not name_id:
        raise AssertionRejected("the assertion has no Subject/NameID", check="saml-nameid")
    if not confirmations or any(c.get("Method") != BEARER for c in confirmations):
        raise AssertionRejected(
            "the assertion's SubjectConfirmation must be bearer", check="saml-confirmation"
        )
    for confirmation in confirmations:
        _window(_first((confirmation,), _CONFIRMATION_DATA), "SubjectConfirmationData", now, skew)
    not_before, not_after = _window(conditions, "Conditions", now, skew)
    issue_instant = parse_instant(signed.get("IssueInstant"), "Assertion/@IssueInstant")
    if issue_instant > now + skew:
        raise AssertionRejected(
            "the assertion was issued in the future", check="saml-not-yet-valid"
        )
    locality = _first(authn, _SUBJECT_LOCALITY)

    attributes: dict[str, str] = {}
    for attribute in (a for statement in statements for a in statement if a.tag == _ATTRIBUTE_TAG):
        name = attribute.get("Name") or ""
        if name in attributes:
            raise AssertionRejected(
                f"the assertion repeats the attribute {name}", check="saml-attribute"
            )
        values = [v for v in attribute if v.tag == _ATTRIBUTE_VALUE]
        if len(values) != 1:
            raise AssertionRejected(
                f"the attribute {name} must have exactly one value", check="saml-attribute"
            )
        attributes[name] = (values[0].text or "").strip()
    missing = [name for name in policy.required_attributes if not attributes.get(name)]
    if missing:  # the first in alphabetical order is named
        raise AssertionRejected(
            f"the assertion lacks the attribute {min(missing)}", check="saml-attribute"
        )

    verified_cms: VerifiedSignedData | None = None
    if policy.verify_id_postazione:
        verified_cms = _verify_id_postazione(attributes, trust=trust, policy=policy, now=now)
    return VerifiedAssertion(
        id=assertion_id,
        issuer=issuer,
        name_id=name_id,
        issue_instant=issue_instant,
        not_before=not_before,
        not_on_or_after=not_after,
        subject_locality=locality.get("Address") if locality is not None else None,
        signer=signer,
        signature_method=verified.signature_method,
        attributes=MappingProxyType(attributes),
        id_postazione_firmato=verified_cms,
    )


def _verify_id_postazione(
    attributes: Mapping[str, str], *, trust: TrustStore, policy: SecurityPolicy, now: dt.datetime
) -> VerifiedSignedData:
    id_postazione = attributes.get("IdPostazione")
    encoded = attributes.get("IdPostazioneFirmato")
    if not id_postazione or not encoded:
        raise AssertionRejected(
            "IdPostazione and IdPostazioneFirmato are needed to verify the workstation",
            check="saml-attribute",
        )
    try:
        der = base64.b64decode("".join(encoded.split()), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise CmsRejected("IdPostazioneFirmato is not base64", check="cms-format") from None
    verified = verify_signed_data(
        der,
        trust=trust,
        digests=policy.cms_digests,
        at=now,
        skew=policy.clock_skew,
        what="IdPostazioneFirmato",
    )
    if verified.content != id_postazione.encode("utf-8"):
        raise CmsRejected(
            "IdPostazioneFirmato does not sign the IdPostazione of the assertion",
            check="cms-content",
        )
    if policy.workstation_cn_must_match:
        names = verified.signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[0].value != id_postazione:
            raise CmsRejected(
                "IdPostazioneFirmato is signed by a certificate not named after IdPostazione",
                check="cms-signer",
            )
    return verified
