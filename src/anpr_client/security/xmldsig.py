"""Hand-rolled XML-DSig: exclusive c14n + digest + RSA signature, and its strict verification.

Shared by the message signature (detached, references by ``wsu:Id``) and the SAML assertion
signature (enveloped). It covers exactly what ANPR's frame uses and nothing more:

- canonicalization: exclusive XML c14n 1.0 without comments (``xml-exc-c14n#``), optionally
  with an ``InclusiveNamespaces`` prefix list;
- transforms: exc-c14n, or enveloped-signature followed by exc-c14n;
- signature methods: ``rsa-sha256`` and ``rsa-sha1``; digests: ``sha256`` and ``sha1``.

The algorithms are the members of :mod:`anpr_client.security.algorithms` (values: the W3C URIs).

The private key is never touched here: signing goes through a
:class:`~anpr_client.credentials.KeySource`, so a file key, a PKCS#11 token and a PC/SC card
share all the XML code. What is signed is written as canonical text
(:func:`signed_info_text`, :func:`signature_text`): the frame hands the key source the bytes
it wrote, with no tree built (``bench/bench_security.py``).

Verification (:func:`verify_signature`) refuses anything outside the allow-lists it is given,
and returns the *elements* each reference resolved to, so that callers can check they are the
parts actually in use (:mod:`anpr_client.security.verify` does). :func:`verify_trusted_signature`
is the one sequence both the message and the SAML assertion go through: the signer certificate
against the trust store, its key, then the signature under the policy's allow-lists.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from anpr_client._compat import deprecated_names
from anpr_client.credentials.base import HashName, KeySource, hash_bytes
from anpr_client.errors.exceptions import (
    BadSignature,
    DigestMismatch,
    ForbiddenAlgorithm,
    MalformedFrame,
    SignatureWrapping,
    SigningError,
    VerificationError,
)
from anpr_client.safexml import NS
from anpr_client.security.algorithms import (
    CanonicalizationMethod,
    DigestMethod,
    SignatureMethod,
    Transform,
)
from anpr_client.security.policy import SecurityPolicy
from anpr_client.security.trust import SignerPins, TrustStore

__all__ = [
    "DS_NS",
    "EC_NS",
    "CanonicalReference",
    "Reference",
    "VerifiedReference",
    "VerifiedSignature",
    "c14n",
    "c14n_attribute",
    "c14n_text",
    "create_signature",
    "id_of",
    "index_ids",
    "reference_text",
    "reference_writer",
    "signature_over",
    "signature_text",
    "signed_info_text",
    "verify_signature",
    "verify_trusted_signature",
]

DS_NS: Final = NS["ds"]
EC_NS: Final = NS["ec"]
WSU_NS: Final = NS["wsu"]
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

_EXC_C14N: Final = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
_ENVELOPED: Final = Transform.ENVELOPED_SIGNATURE

#: Attributes that may carry an XML ID referenced by ``URI="#…"``.
ID_ATTRIBUTES: Final = (f"{{{WSU_NS}}}Id", "Id", "ID", f"{{{XML_NS}}}id")
#: The same attributes as one XPath (walks in libxml2, in document order): ``index_ids``.
#: Each step walks the elements only (``descendant-or-self::*``): attributes sit on elements,
#: and ``.//@Id`` would walk every text node too (``descendant-or-self::node()``).
_ID_VALUES: Final = etree.XPath(
    " | ".join(f"descendant-or-self::*/@{name}" for name in ("wsu:Id", "Id", "ID", "xml:id")),
    namespaces={"wsu": WSU_NS},
    regexp=False,
)

_SIGNED_INFO: Final = f"{{{DS_NS}}}SignedInfo"
_SIGNATURE_VALUE: Final = f"{{{DS_NS}}}SignatureValue"
_C14N_METHOD: Final = f"{{{DS_NS}}}CanonicalizationMethod"
_SIGNATURE_METHOD: Final = f"{{{DS_NS}}}SignatureMethod"
_REFERENCE: Final = f"{{{DS_NS}}}Reference"
_TRANSFORM: Final = f"{{{DS_NS}}}Transform"
_REFERENCE_PARTS: Final = [f"{{{DS_NS}}}{t}" for t in ("Transforms", "DigestMethod", "DigestValue")]
_INCLUSIVE_NAMESPACES: Final = f"{{{EC_NS}}}InclusiveNamespaces"
#: The members by their URI: what ``SignatureMethod(uri)`` finds, without the enum's call.
_SIGNATURE_METHODS: Final = {m.value: m for m in SignatureMethod}
_DIGEST_METHODS: Final = {m.value: m for m in DigestMethod}
_DIGEST_HASH_NAMES: Final[dict[str, HashName]] = {
    m: m.hash for m in (*SignatureMethod, *DigestMethod)
}
_PKCS1V15: Final = padding.PKCS1v15()
#: One instance of each hash (they hold no state), as the RSA verification takes them.
_HASHES: Final[dict[str, hashes.HashAlgorithm]] = {
    name: algorithm() for name, algorithm in (("sha256", hashes.SHA256), ("sha1", hashes.SHA1))
}


def c14n(element: etree._Element, inclusive_prefixes: Sequence[str] | None = None) -> bytes:
    """Exclusive c14n 1.0 (no comments) of ``element``'s subtree, in its document context."""
    return etree.tostring(
        element,
        method="c14n",
        exclusive=True,
        with_comments=False,
        inclusive_ns_prefixes=list(inclusive_prefixes) if inclusive_prefixes else None,
    )


def _signing_c14n(element: etree._Element, inclusive_prefixes: Sequence[str]) -> bytes:
    """c14n of an element about to be signed, exactly as a receiver will compute it.

    lxml canonicalises a sub-element through a temporary copy whose in-scope namespace
    declarations come from the ancestors; for elements *built* through the lxml API (not
    parsed) declarations listed in an ``InclusiveNamespaces`` prefix list can be missed
    (seen with lxml 6.1 / libxml2 2.14), which would make the digest differ from the one
    computed on the wire bytes. With a prefix list, the element is therefore canonicalised
    in a re-parsed copy of its document. Without one, only visibly used namespaces count,
    which lxml renders correctly in place.
    """
    if not inclusive_prefixes or element.getparent() is None:
        return c14n(element, inclusive_prefixes)
    tree = element.getroottree()
    copy = etree.fromstring(etree.tostring(tree.getroot())).getroottree()
    found = copy.find(tree.getelementpath(element))
    if found is None:  # pragma: no cover - the structure is identical by construction
        raise SigningError("cannot locate a referenced element in its serialised document")
    return c14n(found, inclusive_prefixes)


def _b64(data: bytes) -> str:
    # base64.b64encode(data).decode("ascii"), without its layer (it calls this very function)
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64decode(text: str | None, what: str) -> bytes:
    # What base64.b64decode(..., validate=True) does, without its layers (a str is taken as
    # ASCII by binascii itself).
    try:
        return binascii.a2b_base64("".join((text or "").split()), strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise MalformedFrame(f"{what} is not base64") from None


@dataclass(frozen=True)
class Reference:
    """One ``ds:Reference`` to create: ``uri`` (``#id``), the referenced element, and whether
    it is the enveloping element of the signature (enveloped-signature transform).

    ``inclusive_prefixes`` become the transform's ``InclusiveNamespaces/@PrefixList``.
    For an enveloped reference the element must not contain the signature yet.
    """

    uri: str
    element: etree._Element
    inclusive_prefixes: tuple[str, ...] = ()
    enveloped: bool = False


def _sub(parent: etree._Element, tag: str, **attrib: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DS_NS}}}{tag}", attrib)


_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTR_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)


_TEXT_SPECIAL: Final = re.compile("[&<>\r]")
_ATTR_SPECIAL: Final = re.compile('[&<"\t\n\r]')


def c14n_text(value: str) -> str:
    """``value`` escaped as canonical XML writes a text node (XML c14n 1.0, section 2.3)."""
    return value.translate(_TEXT_ESCAPES) if _TEXT_SPECIAL.search(value) else value


def c14n_attribute(value: str) -> str:
    """``value`` escaped as canonical XML writes an attribute value (without the quotes)."""
    return value.translate(_ATTR_ESCAPES) if _ATTR_SPECIAL.search(value) else value


@dataclass(frozen=True)
class CanonicalReference:
    """One ``ds:Reference`` over bytes already in exclusive-c14n form: ``uri`` (``#id``),
    ``canonical`` (what the receiver's transforms yield), the ``InclusiveNamespaces`` prefix
    list and whether the enveloped-signature transform comes first."""

    uri: str
    canonical: bytes
    inclusive_prefixes: tuple[str, ...] = ()
    enveloped: bool = False


@functools.lru_cache(maxsize=32)
def _transform_text(algorithm: str, prefixes: tuple[str, ...]) -> str:
    inner = (
        f'<ec:InclusiveNamespaces xmlns:ec="{EC_NS}" PrefixList="{" ".join(prefixes)}">'
        "</ec:InclusiveNamespaces>"
        if prefixes
        else ""
    )
    return f'<ds:Transform Algorithm="{algorithm}">{inner}</ds:Transform>'


@functools.cache
def _signed_info_parts(method: SignatureMethod) -> tuple[str, str, HashName]:
    """The constant text around the references of a SignedInfo for ``method``: its head,
    what follows the transforms of a reference up to its digest value, and the digest's hash."""
    digest_method = method.digest_method
    head = (
        f'<ds:SignedInfo xmlns:ds="{DS_NS}">'
        f'<ds:CanonicalizationMethod Algorithm="{_EXC_C14N.value}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{method.value}"></ds:SignatureMethod>'
    )
    digest = (
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest_method.value}"></ds:DigestMethod>'
        "<ds:DigestValue>"
    )
    return head, digest, digest_method.hash


_EXC_C14N_TRANSFORM: Final = _transform_text(_EXC_C14N.value, ())
_ENVELOPED_TRANSFORM: Final = _transform_text(_ENVELOPED.value, ())


def reference_text(
    uri: str,
    canonical: bytes,
    method: SignatureMethod,
    *,
    inclusive_prefixes: tuple[str, ...] = (),
    enveloped: bool = False,
) -> str:
    """One ``ds:Reference`` of a SignedInfo for ``method``, in exclusive-c14n form: ``uri``
    (``#id``) and the digest of ``canonical`` (what the receiver's transforms yield), as
    :class:`CanonicalReference` describes it, without building one."""
    write = reference_writer(method, tuple(inclusive_prefixes), enveloped)
    return write(c14n_attribute(uri), canonical)


@functools.lru_cache(maxsize=16)
def reference_writer(
    method: SignatureMethod, inclusive_prefixes: tuple[str, ...] = (), enveloped: bool = False
) -> Callable[[str, bytes], str]:
    """:func:`reference_text` for one method and list of transforms, as a function of the
    URI and the canonical bytes, its constant text joined once. The URI is taken as written:
    canonical attribute text (``#`` and an id made of letters, digits, ``-`` and ``_``, as
    the frame makes them; :func:`reference_text` escapes any other)."""
    _, digest_head, hash_name = _signed_info_parts(method)
    exc = (
        _transform_text(_EXC_C14N.value, inclusive_prefixes)
        if inclusive_prefixes
        else _EXC_C14N_TRANSFORM
    )
    middle = f'"><ds:Transforms>{_ENVELOPED_TRANSFORM if enveloped else ""}{exc}{digest_head}'

    def write(uri: str, canonical: bytes) -> str:
        digest = _b64(hash_bytes(canonical, hash_name))
        return f'<ds:Reference URI="{uri}{middle}{digest}</ds:DigestValue></ds:Reference>'

    return write


def signed_info_text(references: Iterable[CanonicalReference], method: SignatureMethod) -> str:
    """The ``ds:SignedInfo`` over ``references``, written directly in exclusive-c14n form.

    The text is at once what goes on the wire and what is signed: canonicalising it again
    (as every receiver does) yields the same bytes, so no tree is built to sign it.
    """
    return f"{_signed_info_parts(method)[0]}{references_text(references, method)}</ds:SignedInfo>"


def references_text(references: Iterable[CanonicalReference], method: SignatureMethod) -> str:
    """The ``ds:Reference`` elements over ``references`` (canonical bytes), as canonical text."""
    return "".join(
        [
            reference_text(
                ref.uri,
                ref.canonical,
                method,
                inclusive_prefixes=ref.inclusive_prefixes,
                enveloped=ref.enveloped,
            )
            for ref in references
        ]
    )


def signature_text(
    references: Iterable[CanonicalReference],
    method: SignatureMethod,
    signer: KeySource,
    *,
    key_info: str | None = None,
) -> str:
    """A complete ``ds:Signature`` as XML text (it declares ``ds``; ``key_info`` is the
    content of ``ds:KeyInfo``, omitted when ``None``).

    Only the SignedInfo's canonical bytes reach ``signer`` (a file key, a PKCS#11 token or a
    card alike); credential errors (PIN refused, card removed) propagate with their own type.
    """
    method = SignatureMethod.from_name(method)
    return signature_over(references_text(references, method), method, signer, key_info=key_info)


def signature_over(
    references: str, method: SignatureMethod, signer: KeySource, *, key_info: str | None = None
) -> str:
    """:func:`signature_text` over ``references`` already written (:func:`reference_text` or
    :func:`reference_writer`, joined): their SignedInfo is what ``signer`` signs."""
    head, _, hash_name = _signed_info_parts(method)
    signed_info = f"{head}{references}</ds:SignedInfo>"
    value = _b64(signer.sign(signed_info.encode("utf-8"), hash_name))
    key = f"<ds:KeyInfo>{key_info}</ds:KeyInfo>" if key_info is not None else ""
    return (
        f'<ds:Signature xmlns:ds="{DS_NS}">{signed_info}'
        f"<ds:SignatureValue>{value}</ds:SignatureValue>{key}</ds:Signature>"
    )


def create_signature(
    references: Iterable[Reference],
    method: SignatureMethod,
    signer: KeySource,
    *,
    key_info: Callable[[etree._Element], object] | None = None,
    parent: etree._Element | None = None,
    index: int | None = None,
) -> etree._Element:
    """Build a complete ``ds:Signature`` (SignedInfo, SignatureValue, optional KeyInfo).

    Digests are computed first, on the referenced elements where they stand; the signature is
    then created inside ``parent`` (at ``index``, default: last), or standalone when no parent
    is given. ``key_info`` fills the ``ds:KeyInfo`` element it receives. The references are
    digested with ``method``'s paired digest method. The SignedInfo is written by
    :func:`signed_info_text`, as for the frame.
    """
    method = SignatureMethod.from_name(method)
    canonical = [
        CanonicalReference(
            r.uri, _signing_c14n(r.element, r.inclusive_prefixes), r.inclusive_prefixes, r.enveloped
        )
        for r in references
    ]
    signature = etree.fromstring(signature_text(canonical, method, signer))
    if parent is not None:
        if index is None:
            parent.append(signature)
        else:
            parent.insert(index, signature)
    if key_info is not None:
        key_info(_sub(signature, "KeyInfo"))
    return signature


# --------------------------------------------------------------------------- verification


def id_of(element: etree._Element) -> str | None:
    """The element's XML ID (``wsu:Id``, ``Id``, ``ID`` or ``xml:id``), if it has one."""
    for attr in ID_ATTRIBUTES:
        value = element.get(attr)
        if value is not None:
            return value
    return None


def index_ids(root: etree._Element) -> dict[str, etree._Element]:
    """Map every XML ID in the document to its element; duplicates are refused.

    An element carrying two different ID attributes is indexed under both, and a value used
    twice anywhere (even under different attribute names) raises :class:`SignatureWrapping`.
    """
    index: dict[str, etree._Element] = {}
    # Attribute values, each knowing its element (an attribute step yields nothing else).
    for value in cast(list[etree._ElementUnicodeResult], _ID_VALUES(root)):
        element = value.getparent()
        if index.setdefault(value, element) is not element:  # type: ignore[arg-type]
            raise SignatureWrapping(
                f"the ID {str(value)!r} appears on more than one element", check="duplicate-id"
            )
    return index


@dataclass(frozen=True)
class VerifiedReference:
    """A reference whose digest matched: the element it points at and its canonical bytes."""

    uri: str
    element: etree._Element
    canonical: bytes
    digest_method: DigestMethod
    enveloped: bool


def _prefix_list(transform_or_method: etree._Element) -> tuple[str, ...]:
    children = list(transform_or_method)
    if not children:
        return ()
    if len(children) != 1 or children[0].tag != _INCLUSIVE_NAMESPACES:
        raise MalformedFrame("an exc-c14n transform may only hold ec:InclusiveNamespaces")
    prefixes = (children[0].get("PrefixList") or "").split()
    return tuple("" if p == "#default" else p for p in prefixes)


def _c14n_without(
    element: etree._Element, signature: etree._Element, prefixes: Sequence[str]
) -> bytes:
    """c14n of ``element`` with ``signature`` (a descendant) removed: the enveloped transform.

    The signature node is detached and put back; its tail text, which is a separate node in
    the XPath data model and so survives the transform, is kept in place meanwhile.
    """
    parent = signature.getparent()
    if parent is None:  # pragma: no cover - the caller checked the ancestry
        raise MalformedFrame("enveloped signature without a parent")
    position = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved = previous.tail if previous is not None else parent.text
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(signature)
    try:
        return c14n(element, prefixes)
    finally:
        parent.insert(position, signature)
        signature.tail = tail
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved


def verify_signature(
    signature: etree._Element,
    *,
    public_key: rsa.RSAPublicKey,
    ids: dict[str, etree._Element],
    signature_methods: Collection[str],
    digest_methods: Collection[str],
    what: str = "signature",
    max_references: int | None = None,
) -> tuple[VerifiedReference, ...]:
    """Verify a ``ds:Signature`` strictly and return its references, resolved and checked.

    In this order, so that an unauthenticated signature costs one canonicalisation of its
    (small) ``SignedInfo`` and one RSA operation, never the canonicalisation of what it points
    at:

    1. the structure, cheaply: SignedInfo must use exclusive c14n; the signature and digest
       methods must be in the given allow-lists (otherwise :class:`ForbiddenAlgorithm`); at
       most ``max_references`` references (``too-many-references``); every Reference a
       same-document ``#id`` resolved through ``ids`` (built by :func:`index_ids`, which
       refuses duplicates), with transforms exactly exc-c14n, or enveloped-signature + exc-c14n
       when the referenced element encloses this signature;
    2. the signature value over the canonical SignedInfo (:class:`BadSignature`);
    3. only then each reference's digest (:class:`DigestMismatch`).

    It does not decide *which* elements must be signed: the caller checks the returned
    ``element``\\ s by identity.
    """
    return _verify_signature(
        signature,
        public_key=public_key,
        ids=ids,
        signature_methods=signature_methods,
        digest_methods=digest_methods,
        what=what,
        max_references=max_references,
    )[0]


def _verify_signature(
    signature: etree._Element,
    *,
    public_key: rsa.RSAPublicKey,
    ids: dict[str, etree._Element],
    signature_methods: Collection[str],
    digest_methods: Collection[str],
    what: str,
    max_references: int | None,
) -> tuple[tuple[VerifiedReference, ...], SignatureMethod]:
    """:func:`verify_signature`, returning the signature method too."""
    parts = list(signature)
    tags = [c.tag for c in parts]  # each read once
    found = [c for c, tag in zip(parts, tags, strict=True) if tag == _SIGNED_INFO]
    if len(found) != 1:
        raise MalformedFrame(f"{what} must contain exactly one ds:SignedInfo (found {len(found)})")
    signed_info = found[0]
    if parts[0] is not signed_info:
        raise MalformedFrame(f"{what}: ds:SignedInfo must come first")
    children = list(signed_info)
    if len(children) < 3:
        raise MalformedFrame(f"{what}: ds:SignedInfo needs c14n, signature method, references")
    c14n_method, sig_method, *references = children
    if max_references is not None and len(references) > max_references:
        raise MalformedFrame(
            f"{what}: {len(references)} references; at most {max_references} are accepted",
            check="too-many-references",
        )
    if c14n_method.tag != _C14N_METHOD:
        raise MalformedFrame(f"{what}: ds:CanonicalizationMethod must come first in SignedInfo")
    if c14n_method.get("Algorithm") != _EXC_C14N:
        raise ForbiddenAlgorithm(
            f"{what}: canonicalization {c14n_method.get('Algorithm')!r} is not allowed "
            "(exclusive c14n only)",
            check="algorithm-c14n",
        )
    signed_info_prefixes = _prefix_list(c14n_method)
    if sig_method.tag != _SIGNATURE_METHOD or len(sig_method):
        raise MalformedFrame(f"{what}: a plain ds:SignatureMethod must follow c14n")
    uri = sig_method.get("Algorithm") or ""
    method = _SIGNATURE_METHODS.get(uri)
    if method is None or uri not in signature_methods:
        raise ForbiddenAlgorithm(
            f"{what}: signature method {uri!r} is not allowed by the policy",
            check="algorithm-signature",
        )

    planned: list[_PlannedReference] = []
    seen: set[str] = set()
    enclosing = list(signature.iterancestors())  # the same for every reference
    for reference in references:
        if reference.tag != _REFERENCE:
            raise MalformedFrame(f"{what}: unexpected {reference.tag!r} in SignedInfo")
        planned.append(
            _check_reference(
                reference, signature, enclosing, ids, digest_methods, what=what, seen=seen
            )
        )
    value_el = parts[1] if len(parts) > 1 else None
    if value_el is None or tags[1] != _SIGNATURE_VALUE:
        raise MalformedFrame(f"{what}: ds:SignatureValue must follow ds:SignedInfo")
    value = _b64decode(value_el.text, f"{what}: ds:SignatureValue")
    try:
        public_key.verify(
            value,
            c14n(signed_info, signed_info_prefixes),
            _PKCS1V15,
            _HASHES[_DIGEST_HASH_NAMES[method]],
        )
    except InvalidSignature:
        raise BadSignature(
            f"{what}: the signature value does not verify with the signer's key"
        ) from None
    return tuple([_digest_reference(p, signature, what) for p in planned]), method


class _PlannedReference(NamedTuple):
    """A reference whose form was checked, not yet its digest."""

    uri: str
    target: etree._Element
    prefixes: tuple[str, ...]
    method: DigestMethod
    expected_digest: bytes
    enveloped: bool


def _check_reference(
    reference: etree._Element,
    signature: etree._Element,
    enclosing: list[etree._Element],
    ids: dict[str, etree._Element],
    digest_methods: Collection[str],
    *,
    what: str,
    seen: set[str],
) -> _PlannedReference:
    """Everything about one reference that costs no canonicalisation of its target
    (``enclosing``: the signature's ancestors)."""
    uri = reference.get("URI")
    if uri is None or not uri.startswith("#") or len(uri) < 2 or "(" in uri:
        raise SignatureWrapping(
            f"{what}: reference URI {uri!r} is not a same-document '#id' reference",
            check="reference-uri",
        )
    if uri in seen:
        raise SignatureWrapping(f"{what}: {uri} is referenced twice", check="duplicate-reference")
    seen.add(uri)
    target = ids.get(uri[1:])
    if target is None:
        raise SignatureWrapping(
            f"{what}: reference {uri} points at no element", check="dangling-reference"
        )
    parts = list(reference)
    if [p.tag for p in parts] != _REFERENCE_PARTS:
        raise MalformedFrame(
            f"{what}: reference {uri} must hold Transforms, DigestMethod, DigestValue"
        )
    transforms, digest_method, digest_value = parts
    steps = list(transforms)
    algorithms: list[str | None] = []
    for step in steps:
        if step.tag != _TRANSFORM:
            raise MalformedFrame(f"{what}: reference {uri} has a non-Transform child in Transforms")
        algorithms.append(step.get("Algorithm"))
    enveloped = algorithms == [_ENVELOPED, _EXC_C14N]
    if algorithms != [_EXC_C14N] and not enveloped:
        raise ForbiddenAlgorithm(
            f"{what}: reference {uri} uses transforms {algorithms}; only exc-c14n "
            "(or enveloped-signature + exc-c14n) are allowed",
            check="algorithm-transform",
        )
    if enveloped and len(steps[0]):
        raise MalformedFrame(f"{what}: the enveloped-signature transform takes no parameters")
    prefixes = _prefix_list(steps[-1])
    encloses = target in enclosing  # elements compare by identity
    if enveloped and not encloses:
        raise SignatureWrapping(
            f"{what}: enveloped reference {uri} does not enclose its signature",
            check="enveloped-reference",
        )
    if not enveloped and (target is signature or encloses or signature in target.iterancestors()):
        raise SignatureWrapping(
            f"{what}: reference {uri} overlaps its own signature", check="reference-overlap"
        )
    digest_uri = digest_method.get("Algorithm") or ""
    method = _DIGEST_METHODS.get(digest_uri)
    if method is None or digest_uri not in digest_methods:
        raise ForbiddenAlgorithm(
            f"{what}: digest method {digest_uri!r} is not allowed by the policy",
            check="algorithm-digest",
        )
    try:
        expected_digest = binascii.a2b_base64(
            "".join((digest_value.text or "").split()), strict_mode=True
        )
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise MalformedFrame(f"{what}: digest of {uri} is not base64") from None
    return _PlannedReference(uri, target, prefixes, method, expected_digest, enveloped)


def _digest_reference(
    planned: _PlannedReference, signature: etree._Element, what: str
) -> VerifiedReference:
    target, prefixes = planned.target, planned.prefixes
    canonical = (
        _c14n_without(target, signature, prefixes) if planned.enveloped else c14n(target, prefixes)
    )
    if not hmac.compare_digest(
        hash_bytes(canonical, _DIGEST_HASH_NAMES[planned.method]), planned.expected_digest
    ):
        raise DigestMismatch(
            f"{what}: the content referenced by {planned.uri} was modified after signing"
        )
    return VerifiedReference(planned.uri, target, canonical, planned.method, planned.enveloped)


@dataclass(frozen=True)
class VerifiedSignature:
    """What :func:`verify_trusted_signature` verified."""

    signer: x509.Certificate
    """The certificate whose key verified the signature."""
    path: tuple[x509.Certificate, ...]
    """The validated chain, signer first, trust anchor last."""
    references: tuple[VerifiedReference, ...]
    """Every reference, resolved and digest-checked (the caller checks *what* they point at)."""
    signature_method: SignatureMethod


@functools.lru_cache(maxsize=16)
def _role_texts(role: str) -> tuple[str, str]:
    """How the errors name a role's signer and signature: the same two strings each time (the
    trust memo's key holds the first; a string hashes once)."""
    return f"{role} signer", f"{role} signature"


def verify_trusted_signature(
    signature: etree._Element,
    signer: x509.Certificate,
    *,
    trust: TrustStore,
    policy: SecurityPolicy,
    ids: dict[str, etree._Element],
    now: dt.datetime,
    role: str,
    key_error: Callable[[str], VerificationError],
    pins: SignerPins | None = None,
    validated: tuple[x509.Certificate, ...] | None = None,
) -> VerifiedSignature:
    """Signer → trust → pins → verify: the sequence every signature we accept goes through.

    ``signer`` (taken from the signature's KeyInfo by the caller) must chain to ``trust`` at
    ``now`` within ``policy.clock_skew`` and, with ``pins``, be one of the pinned signers; its
    key must be RSA (else ``key_error(message)`` is raised); then :func:`verify_signature`
    checks the signature under the policy's allow-lists and reference cap. All of this comes
    before anything the signature points at is canonicalised. ``role`` (``message``,
    ``assertion``) names the signature in the errors. ``validated`` is a path ``trust``
    validated for the same ``now`` and policy (the message signer's, when the assertion is
    signed by the same certificate): it is reused when it starts with ``signer``.
    """
    purpose, what = _role_texts(role)
    if validated and (validated[0] is signer or validated[0] == signer):
        path = validated
    else:
        path = trust.validate(signer, at=now, skew=policy.clock_skew, purpose=purpose)
    if pins is not None:
        pins.check(signer, purpose=purpose)
    public_key = signer.public_key()  # readable: the trust store checked it
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise key_error(f"the {role} signer key is not RSA")
    references, method = _verify_signature(
        signature,
        public_key=public_key,
        ids=ids,
        signature_methods=policy.signature_methods,
        digest_methods=policy.digest_methods,
        what=what,
        max_references=policy.max_references,
    )
    return VerifiedSignature(
        signer=signer, path=path, references=references, signature_method=method
    )


# Names of the former vocabulary (URI constants and suites), kept for a release.
_ALGORITHMS: Final = "anpr_client.security.algorithms"
if TYPE_CHECKING:  # the old names as type checkers see them; at run time they warn
    RSA_SHA256 = SignatureMethod.RSA_SHA256
    RSA_SHA1 = SignatureMethod.RSA_SHA1
    SHA256 = DigestMethod.SHA256
    SHA1 = DigestMethod.SHA1
    EXC_C14N = _EXC_C14N
    ENVELOPED = _ENVELOPED
    SignatureSuite = SignatureMethod
    SUITES: dict[str, SignatureMethod]
__getattr__ = deprecated_names(
    __name__,
    {
        "RSA_SHA256": (f"{_ALGORITHMS}.SignatureMethod.RSA_SHA256", SignatureMethod.RSA_SHA256),
        "RSA_SHA1": (f"{_ALGORITHMS}.SignatureMethod.RSA_SHA1", SignatureMethod.RSA_SHA1),
        "SHA256": (f"{_ALGORITHMS}.DigestMethod.SHA256", DigestMethod.SHA256),
        "SHA1": (f"{_ALGORITHMS}.DigestMethod.SHA1", DigestMethod.SHA1),
        "EXC_C14N": (f"{_ALGORITHMS}.CanonicalizationMethod", _EXC_C14N),
        "ENVELOPED": (f"{_ALGORITHMS}.Transform.ENVELOPED_SIGNATURE", _ENVELOPED),
        "SignatureSuite": (f"{_ALGORITHMS}.SignatureMethod", SignatureMethod),
        "SUITES": (
            f"{_ALGORITHMS}.SignatureMethod.from_name",
            {m.short_name: m for m in SignatureMethod},
        ),
    },
)
