"""The strict verifier of a signed SOAP envelope: requests (simulator) and notifications.

:func:`verify_envelope` checks, in this order, and raises the first failure as a typed
:class:`~anpr_client.errors.VerificationError` whose ``.check`` names it:

0. the work it may cost, before anything is canonicalised: the document's size
   (``too-large``), element count (``too-many-elements``) and depth (``too-deep``), within
   the policy's bounds;
1. shape: one ``soap:Envelope`` with at most one Header and exactly one Body (a second Body is
   ``wrapping``/``duplicate-body``), one ``wsse:Security``, one message ``ds:Signature``;
2. no XML ID used twice anywhere (``duplicate-id``);
3. the signer certificate (BinarySecurityToken through a SecurityTokenReference, or
   ``X509Data`` when the policy allows) chains to the trust store, is in its validity window
   and is not revoked (``trust…``, ``revoked``); with ``signers``, it is one of the pinned
   certificates (``trust-pin``);
4. the signature: exclusive c14n, algorithms in the policy's allow-lists (``algorithm-…``),
   at most ``policy.max_references`` references (``too-many-references``), **the signature
   value over SignedInfo** (``signature``), and only then every reference digest
   (``digest``): an unauthenticated message costs one RSA operation, not the
   canonicalisation of what it claims to sign;
5. **what** was signed, by identity: the Body the message actually has and the Timestamp of
   this Security header must be referenced (``body-not-signed``, ``timestamp-not-signed``); a
   referenced Body-like element elsewhere is ``wrapping``; any reference to something else
   than those, the BinarySecurityToken or the assertion is ``unexpected-reference``;
6. the Timestamp window with the policy's clock skew (``timestamp-missing``,
   ``timestamp-expired``, ``timestamp-future``, ``timestamp-ttl``, ``timestamp-stale`` for a
   ``Created`` older than ``policy.max_age``, ``timestamp-no-expires`` when the policy requires
   ``Expires``, ``timestamp-format`` for a value that is no ``xs:dateTime`` or out of range);
7. the SAML assertion (:func:`~anpr_client.security.saml.verify_assertion`): its own signature
   by the same certificate, conditions, bearer confirmation, required attributes and the
   ``IdPostazioneFirmato`` CMS (``saml-…``, ``cms-…``).

It returns a frozen :class:`VerifiedEnvelope`. **Read only from it**: its ``body`` is rebuilt
from the canonical bytes that were digested (comments dropped, nothing unsigned), never the
tree that was passed in. (Which SOAP fault ANPR's gateway answers for each failure is the
simulator's business: :func:`anpr_client.simulator.gateway.gateway_fault`.)
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cryptography import x509
from lxml import etree

from anpr_client._compat import moved_names
from anpr_client.errors.exceptions import (
    AssertionRejected,
    MalformedFrame,
    ProtocolError,
    SignatureWrapping,
    TimestampRejected,
    UnsignedPart,
)
from anpr_client.safexml import NS, parse_xml
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.cms import VerifiedSignedData
from anpr_client.security.frame import BASE64_BINARY, SOAP11_NS, SOAP12_NS, X509V3
from anpr_client.security.policy import DEFAULT_POLICY, SecurityPolicy
from anpr_client.security.saml import (
    SAML2_NS,
    VerifiedAssertion,
    decode_certificate,
    parse_instant,
    verify_assertion,
)
from anpr_client.security.trust import SignerPins, TrustStore
from anpr_client.security.xmldsig import (
    DS_NS,
    VerifiedReference,
    index_ids,
    verify_trusted_signature,
)

__all__ = [
    "VerifiedEnvelope",
    "VerifiedTimestamp",
    "presented_signer",
    "verify_envelope",
]

WSSE_NS: Final = NS["wsse"]
WSU_NS: Final = NS["wsu"]
_ENVELOPE11: Final = f"{{{SOAP11_NS}}}Envelope"
_ENVELOPE12: Final = f"{{{SOAP12_NS}}}Envelope"
_SECURITY: Final = f"{{{WSSE_NS}}}Security"
_SIGNATURE: Final = f"{{{DS_NS}}}Signature"
_TIMESTAMP: Final = f"{{{WSU_NS}}}Timestamp"
_ASSERTION: Final = f"{{{SAML2_NS}}}Assertion"
_CREATED: Final = f"{{{WSU_NS}}}Created"
_EXPIRES: Final = f"{{{WSU_NS}}}Expires"
_BODY_TAGS: Final = frozenset({f"{{{SOAP11_NS}}}Body", f"{{{SOAP12_NS}}}Body"})
#: What a message signature may reference besides the Body and the Timestamp in use.
_ALLOWED_EXTRA: Final = frozenset({f"{{{WSSE_NS}}}BinarySecurityToken", f"{{{SAML2_NS}}}Assertion"})


@dataclass(frozen=True)
class VerifiedTimestamp:
    created: dt.datetime
    expires: dt.datetime | None


@dataclass(frozen=True)
class VerifiedEnvelope:
    """What :func:`verify_envelope` verified. Everything here was covered by a signature."""

    body: etree._Element
    """The signed ``soap:Body``, re-parsed from its canonical bytes (a standalone element)."""
    body_c14n: bytes
    """The exact canonical bytes whose digest was verified."""
    timestamp: VerifiedTimestamp | None
    signer: x509.Certificate
    """The message signer (the BinarySecurityToken certificate)."""
    signer_path: tuple[x509.Certificate, ...]
    """The validated chain, signer first, trust anchor last."""
    signature_method: SignatureMethod
    assertion: VerifiedAssertion | None

    @property
    def payload(self) -> etree._Element | None:
        """The Body's first element (e.g. ``Richiesta3002``)."""
        for child in self.body:
            if isinstance(child.tag, str):
                return child
        return None

    @property
    def operator(self) -> str | None:
        """The operator's codice fiscale (SAML NameID), if an assertion was verified."""
        return self.assertion.name_id if self.assertion else None

    @property
    def id_sede(self) -> str | None:
        return self.assertion.id_sede if self.assertion else None

    @property
    def id_postazione(self) -> str | None:
        return self.assertion.id_postazione if self.assertion else None

    @property
    def id_applicazione(self) -> str | None:
        return self.assertion.id_applicazione if self.assertion else None

    @property
    def id_postazione_firmato(self) -> VerifiedSignedData | None:
        return self.assertion.id_postazione_firmato if self.assertion else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _children(parent: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in parent if c.tag == tag]


def verify_envelope(
    data: bytes | etree._Element,
    *,
    trust: TrustStore,
    policy: SecurityPolicy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
    signers: SignerPins | None = None,
) -> VerifiedEnvelope:
    """Verify a signed SOAP envelope (bytes, or an element that is left untouched).

    ``trust`` holds the anchors (and revocations) for the message signer, the assertion signer
    and the ``IdPostazioneFirmato`` signer; ``signers``, when given, narrows the *message*
    signer to the pinned certificates; ``policy`` says what is required and allowed, and
    bounds the work; ``now`` (UTC) defaults to the current time. See the module docstring for
    the checks.
    """
    now = now or _now()
    root = _parse_bounded(data, policy)

    if root.tag == _ENVELOPE11:
        soap = SOAP11_NS
    elif root.tag == _ENVELOPE12:
        soap = SOAP12_NS
    else:
        raise MalformedFrame(f"the root element is {root.tag!r}, not a SOAP Envelope")
    # One pass over the envelope's children and one over the Security header's.
    header_tag, body_tag = f"{{{soap}}}Header", f"{{{soap}}}Body"
    headers: list[etree._Element] = []
    bodies: list[etree._Element] = []
    others = misordered = False
    for child in root:
        tag = child.tag
        if tag == header_tag:
            headers.append(child)
            misordered = misordered or bool(bodies)
        elif tag == body_tag:
            bodies.append(child)
        elif isinstance(tag, str):
            others = True
    if len(bodies) > 1:
        raise SignatureWrapping("the envelope has more than one Body", check="duplicate-body")
    if len(bodies) != 1 or len(headers) > 1:
        raise MalformedFrame("the envelope must have at most one Header and exactly one Body")
    if others or misordered:
        raise MalformedFrame(
            "the envelope holds elements besides Header and Body, or misorders them"
        )
    body = bodies[0]
    if not headers:
        raise UnsignedPart("the message has no Header, hence no signature", check="body-not-signed")
    securities = _children(headers[0], _SECURITY)
    if len(securities) > 1:
        raise MalformedFrame("the Header holds more than one wsse:Security")
    if not securities:
        raise UnsignedPart("the message has no wsse:Security header", check="body-not-signed")
    security = securities[0]
    signatures: list[etree._Element] = []
    timestamps: list[etree._Element] = []
    assertions: list[etree._Element] = []
    for child in security:
        tag = child.tag
        if tag == _SIGNATURE:
            signatures.append(child)
        elif tag == _TIMESTAMP:
            timestamps.append(child)
        elif tag == _ASSERTION:
            assertions.append(child)
    if len(signatures) > 1:
        raise MalformedFrame("wsse:Security holds more than one message signature")
    if not signatures:
        raise UnsignedPart("wsse:Security holds no signature", check="body-not-signed")
    signature = signatures[0]
    if len(timestamps) > 1:
        raise MalformedFrame("wsse:Security holds more than one wsu:Timestamp")
    if len(assertions) > 1:
        raise MalformedFrame("wsse:Security holds more than one SAML assertion")

    ids = index_ids(root)
    verified = verify_trusted_signature(
        signature,
        _signer_certificate(signature, security, ids, policy),
        trust=trust,
        policy=policy,
        ids=ids,
        now=now,
        role="message",
        key_error=lambda message: MalformedFrame(message, check="keyinfo"),
        pins=signers,
    )
    signer, refs = verified.signer, verified.references
    by_element = {id(r.element): r for r in refs}
    for ref in refs:
        if ref.element is body or (timestamps and ref.element is timestamps[0]):
            continue
        if ref.element.tag in _BODY_TAGS:
            raise SignatureWrapping(
                f"reference {ref.uri} points at a Body that is not the envelope's Body",
                check="wrapping",
            )
        if ref.element.getparent() is security and ref.element.tag in _ALLOWED_EXTRA:
            continue
        raise SignatureWrapping(
            f"reference {ref.uri} points at {etree.QName(ref.element).localname}, which is "
            "neither the Body nor the Timestamp in use",
            check="unexpected-reference",
        )
    body_ref = by_element.get(id(body))
    if body_ref is None:
        raise UnsignedPart("the envelope's Body is not signed", check="body-not-signed")

    verified_timestamp: VerifiedTimestamp | None = None
    if timestamps:
        ts_ref = by_element.get(id(timestamps[0]))
        if ts_ref is None:
            raise UnsignedPart("the wsu:Timestamp is not signed", check="timestamp-not-signed")
        verified_timestamp = _check_timestamp(_signed_leaves(ts_ref), now, policy)
    elif policy.require_timestamp:
        raise TimestampRejected("the message has no wsu:Timestamp", check="timestamp-missing")

    verified_assertion: VerifiedAssertion | None = None
    if assertions:
        verified_assertion = verify_assertion(
            assertions[0],
            ids=ids,
            trust=trust,
            policy=policy,
            now=now,
            expected_signer=signer,
            expected_path=verified.path,
        )
    elif policy.require_assertion:
        raise AssertionRejected("the message has no SAML assertion", check="saml-missing")

    return VerifiedEnvelope(
        body=parse_xml(body_ref.canonical),
        body_c14n=body_ref.canonical,
        timestamp=verified_timestamp,
        signer=signer,
        signer_path=verified.path,
        signature_method=verified.signature_method,
        assertion=verified_assertion,
    )


def _signed_leaves(ref: VerifiedReference) -> etree._Element:
    """The referenced element, to read its children's text, when that is the signed text.

    The element was canonicalised and digested as it stands: when each child is a leaf (no
    comment, processing instruction or element inside), its text is what the canonical bytes
    hold. Otherwise (a comment splits a text node, which c14n joins) the canonical bytes are
    parsed again, as the Body is.
    """
    element = ref.element
    for child in element:
        if len(child):
            return parse_xml(ref.canonical)
    return element


def _parse_bounded(data: bytes | etree._Element, policy: SecurityPolicy) -> etree._Element:
    """The envelope, parsed with the hardened parser within the policy's work bounds.

    An element is serialised and parsed again: the caller's tree is never touched, and
    canonicalisation sees exactly what the wire would carry.
    """
    raw = bytes(data) if isinstance(data, bytes | bytearray) else etree.tostring(data)
    if len(raw) > policy.max_document_bytes:
        raise MalformedFrame(
            f"the message has {len(raw)} bytes; at most {policy.max_document_bytes} are verified",
            check="too-large",
        )
    try:
        root = parse_xml(raw, max_bytes=policy.max_document_bytes)
    except ProtocolError as exc:
        raise MalformedFrame(f"the message is not acceptable XML: {exc}", check="xml") from None
    # Both in libxml2's XPath engine: a walk in C, a few microseconds for a real request.
    count = _COUNT_ELEMENTS(root)
    if isinstance(count, float) and count > policy.max_elements:
        raise MalformedFrame(
            f"the message has more than {policy.max_elements} elements",
            check="too-many-elements",
        )
    # A real request nests about ten levels: nothing at the probe's depth answers for the
    # policy's deeper bound with fewer XPath steps; something there is checked against it.
    probe = min(policy.max_depth, _DEPTH_PROBE)
    if _deeper_than(probe)(root) is True and (
        probe == policy.max_depth or _deeper_than(policy.max_depth)(root) is True
    ):
        raise MalformedFrame(
            f"the message nests elements deeper than {policy.max_depth} levels",
            check="too-deep",
        )
    return root


# ``regexp=False``: lxml would otherwise register the EXSLT regular-expression functions for
# every evaluation, half the cost of a call on a document this size.
_COUNT_ELEMENTS: Final = etree.XPath("count(//*)", regexp=False)
_DEPTH_PROBE: Final = 16


@functools.lru_cache(maxsize=8)
def _deeper_than(depth: int) -> etree.XPath:
    """An XPath true when some element is nested deeper than ``depth`` levels."""
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")", regexp=False)


def presented_signer(data: bytes | etree._Element, policy: SecurityPolicy) -> x509.Certificate:
    """The certificate a message *claims* as its signer (its KeyInfo), verified or not.

    For diagnostics (``anpr notifications serve --print-signer``): nothing here says the
    certificate signed anything. Raises :class:`MalformedFrame` when there is none.
    """
    root = _parse_bounded(data, policy)
    security = root.find(f"*/{{{WSSE_NS}}}Security")
    signature = None if security is None else security.find(f"{{{DS_NS}}}Signature")
    if security is None or signature is None:
        raise MalformedFrame("the message has no wsse:Security signature", check="keyinfo")
    return _signer_certificate(signature, security, index_ids(root), policy)


def _signer_certificate(
    signature: etree._Element,
    security: etree._Element,
    ids: dict[str, etree._Element],
    policy: SecurityPolicy,
) -> x509.Certificate:
    key_infos = _children(signature, f"{{{DS_NS}}}KeyInfo")
    if len(key_infos) != 1 or len(key_infos[0]) != 1:
        raise MalformedFrame(
            "the message signature needs one KeyInfo with one child", check="keyinfo"
        )
    child = key_infos[0][0]
    if child.tag == f"{{{WSSE_NS}}}SecurityTokenReference":
        references = _children(child, f"{{{WSSE_NS}}}Reference")
        if len(references) != 1 or len(child) != 1:
            raise MalformedFrame(
                "the SecurityTokenReference must hold one wsse:Reference", check="keyinfo"
            )
        uri = references[0].get("URI") or ""
        token = ids.get(uri[1:]) if uri.startswith("#") else None
        if (
            token is None
            or token.tag != f"{{{WSSE_NS}}}BinarySecurityToken"
            or token.getparent() is not security
        ):
            raise MalformedFrame(
                f"the SecurityTokenReference {uri!r} does not point at a BinarySecurityToken "
                "of this Security header",
                check="keyinfo",
            )
        if (
            token.get("ValueType", X509V3) != X509V3
            or token.get("EncodingType", BASE64_BINARY) != BASE64_BINARY
        ):
            raise MalformedFrame(
                "the BinarySecurityToken is not a base64 X509v3 certificate", check="keyinfo"
            )
        text = token.text
    elif child.tag == f"{{{DS_NS}}}X509Data" and policy.allow_x509_keyinfo:
        certs = _children(child, f"{{{DS_NS}}}X509Certificate")
        if len(certs) != 1:
            raise MalformedFrame("X509Data must hold one X509Certificate", check="keyinfo")
        text = certs[0].text
    else:
        raise MalformedFrame(f"unsupported KeyInfo {etree.QName(child).localname}", check="keyinfo")
    return decode_certificate(text, "signer certificate")


def _instant(element: etree._Element, what: str) -> dt.datetime:
    try:
        return parse_instant(element.text, what)
    except MalformedFrame as exc:
        raise TimestampRejected(str(exc), check="timestamp-format") from None


def _check_timestamp(
    timestamp: etree._Element, now: dt.datetime, policy: SecurityPolicy
) -> VerifiedTimestamp:
    created_el: list[etree._Element] = []
    expires_el: list[etree._Element] = []
    for child in timestamp:  # one pass over the children (each read once)
        tag = child.tag
        if tag == _CREATED:
            created_el.append(child)
        elif tag == _EXPIRES:
            expires_el.append(child)
    if len(created_el) != 1 or len(expires_el) > 1:
        raise TimestampRejected(
            "wsu:Timestamp needs one Created and at most one Expires", check="timestamp-format"
        )
    if not expires_el and policy.require_expires:
        raise TimestampRejected(
            "the wsu:Timestamp has no Expires: a message that never expires is refused",
            check="timestamp-no-expires",
        )
    created = _instant(created_el[0], "wsu:Created")
    expires = _instant(expires_el[0], "wsu:Expires") if expires_el else None
    skew = dt.timedelta(seconds=policy.clock_skew)
    if created > now + skew:
        raise TimestampRejected(
            f"the Timestamp was created in the future ({created.isoformat()}); check the clock",
            check="timestamp-future",
        )
    if policy.max_age is not None and now - created > skew + dt.timedelta(seconds=policy.max_age):
        raise TimestampRejected(
            f"the Timestamp was created at {created.isoformat()}, more than "
            f"{policy.max_age:.0f} s (+ {policy.clock_skew:.0f} s of clock skew) ago",
            check="timestamp-stale",
        )
    if expires is not None:
        if expires <= created:
            raise TimestampRejected(
                "the Timestamp expires before it is created", check="timestamp-format"
            )
        if now - skew >= expires:
            raise TimestampRejected(
                f"the Timestamp expired at {expires.isoformat()}", check="timestamp-expired"
            )
        if policy.max_ttl is not None and (expires - created).total_seconds() > policy.max_ttl:
            raise TimestampRejected(
                f"the Timestamp lifetime exceeds {policy.max_ttl:.0f} s", check="timestamp-ttl"
            )
    return VerifiedTimestamp(created, expires)


if not TYPE_CHECKING:  # hidden from type checkers, which keep flagging unknown names
    __getattr__ = moved_names(
        __name__, {"gateway_fault": "anpr_client.simulator.gateway.gateway_fault"}
    )
