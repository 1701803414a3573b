"""CMS (PKCS#7) pieces of the ANPR protocol, built with asn1crypto and a KeySource.

- **SignedData** (:func:`sign_data`, :func:`verify_signed_data`): ``IdPostazioneFirmato`` is an
  attached SignedData whose content is the IdPostazione string, SHA-256, signer certificate
  included, signed with the *workstation* key (the official sample's ``Signer``, and the decoded
  values of italia/anpr#2572, #2504). Signed attributes are
  ``contentType``, ``signingTime`` and ``messageDigest`` (DER-sorted), as BouncyCastle's
  generator emits. Verification accepts DER and BER (indefinite lengths, as some Java stacks
  produce), checks the digest, the signature and optionally the signer against a
  :class:`~anpr_client.security.trust.TrustStore`.
- **EnvelopedData** (:func:`encrypt_enveloped`, :func:`decrypt_enveloped`): N000
  notifications carry ``contenuto`` encrypted for the Comune's ``CO-9999`` certificate: RSA
  PKCS#1 v1.5 key transport of an AES-256-CBC content key (inferred from italia/anpr#912,
  #937, #958). The
  simulator encrypts with the recipient certificate; the receiver decrypts with a KeySource
  (file or token), trying each configured key in turn.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple, cast

from asn1crypto import algos, cms, core
from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from anpr_client.credentials.base import HashName, KeySource, hash_bytes
from anpr_client.errors.exceptions import (
    AnprError,
    CmsRejected,
    CredentialError,
    DecryptionError,
    UntrustedCertificate,
)
from anpr_client.security.trust import TrustStore, load_certificate

__all__ = [
    "VerifiedSignedData",
    "decrypt_enveloped",
    "encrypt_enveloped",
    "id_postazione_firmato",
    "sign_data",
    "verify_signed_data",
]

_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha1": hashes.SHA1,
}
# Signature algorithm OIDs (asn1crypto names) accepted in SignerInfo, with the hash they imply.
_SIGNATURE_ALGORITHMS: Final[dict[str, str | None]] = {
    "rsassa_pkcs1v15": None,  # hash = the SignerInfo digest algorithm (BouncyCastle's choice)
    "sha256_rsa": "sha256",
    "sha1_rsa": "sha1",
}
_AES_KEY_BYTES: Final = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _asn1_cert(certificate: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


# --------------------------------------------------------------------------- SignedData


def sign_data(
    content: bytes,
    signer: KeySource,
    *,
    hash: HashName = "sha256",
    signing_time: dt.datetime | None = None,
    extra_certificates: Iterable[x509.Certificate] = (),
) -> bytes:
    """An attached CMS SignedData (DER ``ContentInfo``) of ``content`` signed by ``signer``."""
    cert = _asn1_cert(signer.certificate)
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute(
            {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or _now()})]}
        ),
        cms.CMSAttribute({"type": "message_digest", "values": [hash_bytes(content, hash)]}),
    ]
    signed_attrs = cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))  # DER SET OF order
    signature = signer.sign(signed_attrs.dump(), hash)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": hash})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": cert.issuer, "serial_number": cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": digest_algorithm,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [cert, *(_asn1_cert(c) for c in extra_certificates)],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def id_postazione_firmato(
    workstation_id: str, workstation_key: KeySource, *, hash: HashName = "sha256"
) -> str:
    """Base64 of the SignedData of ``workstation_id`` made with the workstation key.

    Compute it once per workstation and reuse it: it does not depend on the request.
    """
    return base64.b64encode(
        sign_data(workstation_id.encode("utf-8"), workstation_key, hash=hash)
    ).decode("ascii")


@dataclass(frozen=True)
class VerifiedSignedData:
    """What :func:`verify_signed_data` verified: the content and who signed it."""

    content: bytes
    signer: x509.Certificate
    digest_algorithm: str
    signing_time: dt.datetime | None
    certificates: tuple[x509.Certificate, ...]


#: What asn1crypto raises on malformed input. It parses lazily: a broken field surfaces where
#: it is first read, so every reader of a received structure is wrapped (never ``.native`` on
#: the whole structure, which builds Python objects for all of it and costs most of the time).
_ASN1_ERRORS: Final = (ValueError, TypeError, KeyError, IndexError, OverflowError)


def _malformed(what: str, exc: Exception) -> CmsRejected:
    return CmsRejected(
        f"{what} is not a well-formed CMS structure ({type(exc).__name__}: {exc})",
        check="cms-format",
    )


class _Node(NamedTuple):
    """One BER/DER value as read by :func:`_read`: class, constructed bit, tag number, the
    contents octets and the whole encoding (header, contents and end-of-contents)."""

    cls: int
    constructed: int
    tag: int
    contents: bytes
    encoded: bytes


def _read(data: bytes) -> _Node:
    """The first value of ``data`` (asn1crypto's TLV parser: DER, and BER's indefinite
    lengths). Raises ``ValueError`` on a truncated or malformed header."""
    cls, method, tag, header, contents, trailer = asn1_parser.parse(data)
    return _Node(cls, method, tag, contents, data[: len(header) + len(contents) + len(trailer)])


def _children(node: _Node) -> list[_Node]:
    """The values inside a constructed ``node``, in order."""
    if not node.constructed:
        raise ValueError(f"expected a constructed value (tag {node.tag})")
    out = []
    rest = node.contents
    while rest:
        child = _read(rest)
        out.append(child)
        rest = rest[len(child.encoded) :]
    return out


def _expect(node: _Node, tag: int, cls: int = 0, what: str = "value") -> _Node:
    if node.cls != cls or node.tag != tag:
        raise ValueError(f"{what}: expected class {cls} tag {tag}, found {node.cls}/{node.tag}")
    return node


def _octets(node: _Node) -> bytes:
    """An OCTET STRING's value, primitive or (BER) constructed of OCTET STRING pieces."""
    if not node.constructed:
        return node.contents
    return b"".join(
        _octets(_expect(piece, 4, what="OCTET STRING piece")) for piece in _children(node)
    )


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).contents)


_SIGNED_DATA_OID: Final = _oid("1.2.840.113549.1.7.2")
_ENVELOPED_DATA_OID: Final = _oid("1.2.840.113549.1.7.3")
_CONTENT_ENCRYPTION_OIDS: Final = {
    _oid("2.16.840.1.101.3.4.1.2"): "aes128_cbc",
    _oid("2.16.840.1.101.3.4.1.22"): "aes192_cbc",
    _oid("2.16.840.1.101.3.4.1.42"): "aes256_cbc",
}
_KEY_TRANSPORT_OIDS: Final = {_oid("1.2.840.113549.1.1.1"): "rsaes_pkcs1v15"}
_DATA_OID: Final = _oid("1.2.840.113549.1.7.1")
_CONTENT_TYPE_ATTR: Final = _oid("1.2.840.113549.1.9.3")
_MESSAGE_DIGEST_ATTR: Final = _oid("1.2.840.113549.1.9.4")
_SIGNING_TIME_ATTR: Final = _oid("1.2.840.113549.1.9.5")
_DIGEST_OIDS: Final = {_oid("2.16.840.1.101.3.4.2.1"): "sha256", _oid("1.3.14.3.2.26"): "sha1"}
_SIGNATURE_OIDS: Final = {
    _oid("1.2.840.113549.1.1.1"): "rsassa_pkcs1v15",
    _oid("1.2.840.113549.1.1.11"): "sha256_rsa",
    _oid("1.2.840.113549.1.1.5"): "sha1_rsa",
}


def _algorithm(node: _Node, names: dict[bytes, str], kind: type[core.ObjectIdentifier]) -> str:
    """The name of an AlgorithmIdentifier's OID: ours for the allowed ones, asn1crypto's (or
    the dotted form) for the message about any other."""
    oid = _expect(_children(_expect(node, 16, what="AlgorithmIdentifier"))[0], 6, what="OID")
    name = names.get(oid.contents)
    return name if name is not None else str(kind.load(oid.encoded).native)


def _names(issuer: bytes, serial: int, certificate: x509.Certificate) -> bool:
    """Whether an ``IssuerAndSerialNumber`` names ``certificate``: the serial first, then the
    issuer's DER (which a sender copies from the certificate), and only when those bytes
    differ the RFC 5280 name comparison (string preparation: slow)."""
    if serial != certificate.serial_number:
        return False
    return bool(
        issuer == certificate.issuer.public_bytes()
        or ax509.Name.load(issuer) == _asn1_cert(certificate).issuer
    )


def verify_signed_data(
    data: bytes,
    *,
    trust: TrustStore | None,
    digests: Collection[str] = ("sha256",),
    at: dt.datetime | None = None,
    skew: float = 0.0,
    what: str = "SignedData",
) -> VerifiedSignedData:
    """Verify an attached SignedData with exactly one signer; return its content and signer.

    Checks: content type ``data``, attached content present, digest algorithm allowed,
    ``messageDigest`` and ``contentType`` signed attributes (when present), the RSA signature
    with the included signer certificate, and, when ``trust`` is given, that certificate's
    path at ``at`` (default: now). Raises :class:`CmsRejected` (``.check`` ``cms-format``,
    ``cms-algorithm``, ``cms-digest``, ``cms-signature``) or the trust store's errors.

    The structure is walked value by value on its encoding (no object model is built for it):
    only the fields checked are read, and names are compared on their DER.
    """
    try:
        content_info = _children(_expect(_read(data), 16, what="ContentInfo"))
        content_type = _expect(content_info[0], 6, what="contentType")
    except _ASN1_ERRORS as exc:
        raise CmsRejected(f"{what} is not a CMS structure: {exc}", check="cms-format") from None
    if content_type.contents != _SIGNED_DATA_OID:
        try:
            name = cms.ContentType.load(content_type.encoded).native
        except _ASN1_ERRORS:
            name = "?"
        raise CmsRejected(f"{what} is a CMS {name!r}, not 'signed_data'", check="cms-format")
    try:
        if len(content_info) != 2:
            raise ValueError("ContentInfo must hold a type and a content")
        explicit = _children(_expect(content_info[1], 0, cls=2, what="content"))
        if len(explicit) != 1:
            raise ValueError("the [0] content must hold one value")
        signed_data = _children(_expect(explicit[0], 16, what="SignedData"))
        return _verify_signed(signed_data, trust, digests, at, skew, what)
    except AnprError:
        raise
    except _ASN1_ERRORS as exc:
        raise _malformed(what, exc) from None


def _verify_signed(
    signed_data: list[_Node],
    trust: TrustStore | None,
    digests: Collection[str],
    at: dt.datetime | None,
    skew: float,
    what: str,
) -> VerifiedSignedData:
    _expect(signed_data[0], 2, what="version")
    _expect(signed_data[1], 17, what="digestAlgorithms")
    encap = _children(_expect(signed_data[2], 16, what="encapContentInfo"))
    if _expect(encap[0], 6, what="eContentType").contents != _DATA_OID:
        raise CmsRejected(f"{what}: encapsulated content is not 'data'", check="cms-format")
    if len(encap) < 2:
        raise CmsRejected(f"{what}: no attached content (detached signature)", check="cms-format")
    wrapped = _children(_expect(encap[1], 0, cls=2, what="eContent"))
    if len(wrapped) != 1:
        raise ValueError("eContent must hold one OCTET STRING")
    content = _octets(_expect(wrapped[0], 4, what="eContent"))
    rest = signed_data[3:]
    certs: list[x509.Certificate] = []
    if rest and rest[0].cls == 2 and rest[0].tag == 0:
        for choice in _children(rest[0]):
            if choice.cls != 0 or choice.tag != 16:
                continue  # another CertificateChoices alternative (attribute certificates…)
            try:
                certs.append(load_certificate(choice.encoded, what=f"{what} certificate"))
            except UntrustedCertificate as exc:
                raise CmsRejected(str(exc), check="cms-format") from None
        rest = rest[1:]
    if rest and rest[0].cls == 2 and rest[0].tag == 1:
        rest = rest[1:]  # crls: not used
    if len(rest) != 1:
        raise ValueError("signerInfos must end the SignedData")
    infos = _children(_expect(rest[0], 17, what="signerInfos"))
    if len(infos) != 1:
        raise CmsRejected(f"{what}: expected one signer, found {len(infos)}", check="cms-format")
    info = _children(_expect(infos[0], 16, what="SignerInfo"))
    _expect(info[0], 2, what="SignerInfo version")
    signer = _find_signer(info[1], certs)
    if signer is None:
        raise CmsRejected(f"{what}: the signer certificate is not included", check="cms-format")

    digest_name = _algorithm(info[2], _DIGEST_OIDS, algos.DigestAlgorithmId)
    if digest_name not in digests or digest_name not in _HASHES:
        raise CmsRejected(
            f"{what}: digest algorithm {digest_name!r} is not allowed", check="cms-algorithm"
        )
    position = 3
    signed_attrs: _Node | None = None
    if info[position].cls == 2 and info[position].tag == 0:
        signed_attrs = info[position]
        position += 1
    sig_name = _algorithm(info[position], _SIGNATURE_OIDS, algos.SignedDigestAlgorithmId)
    if sig_name not in _SIGNATURE_ALGORITHMS or _SIGNATURE_ALGORITHMS[sig_name] not in (
        None,
        digest_name,
    ):
        raise CmsRejected(
            f"{what}: signature algorithm {sig_name!r} is not allowed", check="cms-algorithm"
        )
    signature = _octets(_expect(info[position + 1], 4, what="signature"))

    signing_time: dt.datetime | None = None
    attributes = _children(signed_attrs) if signed_attrs is not None else []
    if attributes:
        values: dict[bytes, list[_Node]] = {}
        for attr in attributes:
            kind, held = _children(_expect(attr, 16, what="Attribute"))
            values.setdefault(_expect(kind, 6, what="attrType").contents, []).extend(
                _children(_expect(held, 17, what="attrValues"))
            )
        types = values.get(_CONTENT_TYPE_ATTR, [])
        if len(types) != 1 or _expect(types[0], 6, what="contentType").contents != _DATA_OID:
            raise CmsRejected(f"{what}: contentType attribute is not 'data'", check="cms-format")
        message_digest = values.get(_MESSAGE_DIGEST_ATTR)
        if not message_digest or len(message_digest) != 1:
            raise CmsRejected(f"{what}: no single messageDigest attribute", check="cms-format")
        computed = hash_bytes(content, cast(HashName, digest_name))
        if not hmac.compare_digest(_octets(_expect(message_digest[0], 4)), computed):
            raise CmsRejected(f"{what}: the content does not match its digest", check="cms-digest")
        times = values.get(_SIGNING_TIME_ATTR)
        if times:
            signing_time = cms.Time.load(times[0].encoded).native
        assert signed_attrs is not None
        to_verify = b"\x31" + signed_attrs.encoded[1:]  # [0] IMPLICIT → the SET OF that was signed
    else:
        to_verify = content

    public_key = signer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsRejected(f"{what}: the signer key is not RSA", check="cms-algorithm")
    try:
        public_key.verify(signature, to_verify, rsa_padding.PKCS1v15(), _HASHES[digest_name]())
    except InvalidSignature:
        raise CmsRejected(f"{what}: the signature does not verify", check="cms-signature") from None
    if trust is not None:
        trust.validate(
            signer,
            at=at or _now(),
            skew=skew,
            extra=[c for c in certs if c is not signer],
            purpose="workstation",
        )
    return VerifiedSignedData(content, signer, digest_name, signing_time, tuple(certs))


def _find_signer(sid: _Node, certs: list[x509.Certificate]) -> x509.Certificate | None:
    if sid.cls == 0 and sid.tag == 16:  # IssuerAndSerialNumber
        issuer, serial_node = _children(sid)
        _expect(issuer, 16, what="issuer")
        serial = int.from_bytes(_expect(serial_node, 2, what="serial").contents, "big", signed=True)
        return next((cert for cert in certs if _names(issuer.encoded, serial, cert)), None)
    ski = _expect(sid, 0, cls=2, what="subjectKeyIdentifier").contents
    for cert in certs:
        try:
            value = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            continue
        if value.digest == ski:
            return cert
    return None


# --------------------------------------------------------------------------- EnvelopedData


def encrypt_enveloped(content: bytes, recipient: x509.Certificate) -> bytes:
    """CMS EnvelopedData (DER) of ``content`` for ``recipient``: RSA PKCS#1 v1.5 + AES-256-CBC."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CredentialError("the recipient certificate does not hold an RSA key")
    cek = os.urandom(32)
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    cert = _asn1_cert(recipient)
    recipient_info = cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {
                "version": "v0",
                "rid": cms.RecipientIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": cert.issuer, "serial_number": cert.serial_number}
                        )
                    }
                ),
                "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                    {"algorithm": "rsaes_pkcs1v15"}
                ),
                "encrypted_key": public_key.encrypt(cek, rsa_padding.PKCS1v15()),
            }
        ),
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [recipient_info],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algos.EncryptionAlgorithm(
                    {"algorithm": "aes256_cbc", "parameters": iv}
                ),
                "encrypted_content": ciphertext,
            },
        }
    )
    return bytes(cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump())


def _matches(rid: _Node, certificate: x509.Certificate) -> bool:
    """Whether a KeyTransRecipientInfo's ``rid`` names ``certificate``."""
    if rid.cls == 0 and rid.tag == 16:  # IssuerAndSerialNumber
        issuer, serial = _issuer_and_serial(rid)
        return _names(issuer, serial, certificate)
    _expect(rid, 0, cls=2, what="rid")  # [0] SubjectKeyIdentifier
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return False
    return _octets(rid) == ski.digest


def _issuer_and_serial(node: _Node) -> tuple[bytes, int]:
    """An ``IssuerAndSerialNumber``: the issuer's DER and the serial number."""
    issuer, serial = _children(node)
    value = int.from_bytes(_expect(serial, 2, what="serial").contents, "big", signed=True)
    return _expect(issuer, 16, what="issuer").encoded, value


def decrypt_enveloped(data: bytes, keys: KeySource | Iterable[KeySource]) -> bytes:
    """Open a CMS EnvelopedData with the first of ``keys`` it was encrypted for.

    Raises :class:`DecryptionError` when no key is a recipient, when the key transport or the
    content decryption fails (wrong key, corrupted data), or for unsupported algorithms.

    The structure is walked value by value on its encoding, as :func:`verify_signed_data`
    walks a SignedData: only the fields used are read.
    """
    # A list or tuple (the receiver's keys) is never itself a key: the Protocol's isinstance
    # check, which inspects every attribute, is left for anything else.
    if isinstance(keys, list | tuple):
        key_list = list(keys)
    else:
        key_list = [keys] if isinstance(keys, KeySource) else list(keys)
    what = "EnvelopedData"
    try:
        content_info = _children(_expect(_read(data), 16, what="ContentInfo"))
        content_type = _expect(content_info[0], 6, what="contentType")
    except _ASN1_ERRORS as exc:
        raise DecryptionError(f"{what} is not a CMS structure: {exc}") from None
    if content_type.contents != _ENVELOPED_DATA_OID:
        try:
            name = cms.ContentType.load(content_type.encoded).native
        except _ASN1_ERRORS:
            name = "?"
        raise DecryptionError(f"{what} is a CMS {name!r}, not 'enveloped_data'")
    try:
        if len(content_info) != 2:
            raise ValueError("ContentInfo must hold a type and a content")
        explicit = _children(_expect(content_info[1], 0, cls=2, what="content"))
        if len(explicit) != 1:
            raise ValueError("the [0] content must hold one value")
        enveloped = _children(_expect(explicit[0], 16, what="EnvelopedData"))
        return _decrypt(enveloped, key_list)
    except AnprError:
        raise
    except _ASN1_ERRORS as exc:
        raise DecryptionError(str(_malformed("the EnvelopedData", exc))) from None


def _decrypt(enveloped: list[_Node], key_list: list[KeySource]) -> bytes:
    # version, [0] originatorInfo OPTIONAL, recipientInfos, encryptedContentInfo, [1] …
    rest = enveloped[1:]
    if rest and rest[0].cls == 2 and rest[0].tag == 0:
        rest = rest[1:]
    if len(rest) < 2:
        raise ValueError("EnvelopedData needs recipientInfos and encryptedContentInfo")
    infos = _children(_expect(rest[0], 17, what="recipientInfos"))
    eci = _children(_expect(rest[1], 16, what="encryptedContentInfo"))
    if len(eci) < 2:
        raise ValueError("encryptedContentInfo needs a type and an algorithm")
    name = _algorithm(eci[1], _CONTENT_ENCRYPTION_OIDS, algos.EncryptionAlgorithmId)
    if name not in _AES_KEY_BYTES:
        raise DecryptionError(f"unsupported content encryption {name!r} (AES-CBC only)")
    parameters = _children(eci[1])[1:]
    iv = (
        _octets(parameters[0])
        if len(parameters) == 1 and parameters[0].cls == 0 and parameters[0].tag == 4
        else None
    )
    encrypted = None
    if len(eci) > 2 and eci[2].cls == 2 and eci[2].tag == 0:  # [0] IMPLICIT OCTET STRING
        encrypted = _octets(eci[2])
    if encrypted is None or iv is None or len(iv) != 16:
        raise DecryptionError("EnvelopedData without encrypted content or with a bad IV")
    recipients: list[str] = []
    for info in infos:
        if info.cls != 0 or info.tag != 16:  # not a KeyTransRecipientInfo (ktri)
            continue
        ktri = _children(info)
        if len(ktri) != 4:
            raise ValueError("KeyTransRecipientInfo must hold four values")
        _version, rid, key_algorithm, encrypted_key = ktri
        key_alg = _algorithm(key_algorithm, _KEY_TRANSPORT_OIDS, cms.KeyEncryptionAlgorithmId)
        for key in key_list:
            if not _matches(rid, key.certificate):
                continue
            if key_alg not in ("rsaes_pkcs1v15", "rsa"):
                raise DecryptionError(f"unsupported key transport {key_alg!r} (RSA PKCS#1 v1.5)")
            try:
                cek = key.decrypt(_octets(_expect(encrypted_key, 4, what="encryptedKey")))
            except CredentialError as exc:
                raise DecryptionError(f"cannot unwrap the content key: {exc}") from None
            return _aes_cbc_decrypt(cek, iv, encrypted, _AES_KEY_BYTES[name])
        recipients.append(
            f"serial {_issuer_and_serial(rid)[1]:x}"
            if rid.cls == 0 and rid.tag == 16
            else "a subject key identifier"
        )
    mine = ", ".join(k.certificate.subject.rfc4514_string() for k in key_list) or "no keys"
    raise DecryptionError(
        f"the EnvelopedData is not encrypted for any configured key ({mine}); "
        f"recipients: {', '.join(recipients) or 'none usable'}"
    )


def _aes_cbc_decrypt(cek: bytes, iv: bytes, ciphertext: bytes, key_bytes: int) -> bytes:
    if len(cek) != key_bytes or len(ciphertext) % 16:
        raise DecryptionError("decryption failed (wrong key or corrupted content)")
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("decryption failed (wrong key or corrupted content)") from None
