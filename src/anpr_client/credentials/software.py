"""Keys held in software: a PKCS#12 file (``.p12``/``.pfx``) or a PEM key plus certificate.

Loading a key of unknown origin validates it (OpenSSL's RSA key check: about 45 ms on a
2048-bit key). A key read from a file the settings name (``trusted=True``, what
:func:`~anpr_client.credentials.load_key_source` passes) skips that self-check: it still has
to match its certificate, and a corrupted key would only produce signatures the receiver
refuses. For PKCS#12 the password-based key derivation remains (a few ms with the usual
iteration counts): load once per process and reuse the object.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from anpr_client.errors.exceptions import CredentialError, PinError

from .base import HashName

__all__ = ["SoftwareKey"]

_KEY_BAGS = ("key_bag", "pkcs8_shrouded_key_bag")

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}

#: The MAC digests :func:`_mac_matches` verifies itself (RFC 7292's password-integrity mode);
#: a file with another (or a PBMAC1 MAC, RFC 9579) goes to cryptography's loader.
_MAC_DIGESTS = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CredentialError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None


def _password_bytes(password: str | bytes | None) -> bytes | None:
    if password is None or isinstance(password, bytes):
        return password
    return password.encode("utf-8")


class SoftwareKey:
    """An RSA key in memory with its certificate (and any chain from the same file).

    Build it with :meth:`from_pkcs12` or :meth:`from_pem`. ``repr`` and ``str`` show the
    certificate subject and the file, never key material.
    """

    __slots__ = ("_certificate", "_chain", "_key", "_source")

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        source: str = "memory",
    ) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise CredentialError(f"{source}: only RSA keys are supported")
        cert_key = certificate.public_key()
        if not isinstance(cert_key, rsa.RSAPublicKey) or (
            cert_key.public_numbers() != private_key.public_key().public_numbers()
        ):
            raise CredentialError(f"{source}: the private key does not match the certificate")
        self._key = private_key
        self._certificate = certificate
        self._chain = tuple(chain)
        self._source = source

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_pkcs12(
        cls, path: str | Path, password: str | bytes | None, *, trusted: bool = False
    ) -> SoftwareKey:
        """Load a PKCS#12 file. A wrong password raises :class:`PinError`.

        ``trusted``: the file is one the settings name; the RSA key self-check is skipped.
        """
        path = Path(path)
        data = _read(path, "PKCS#12 file")
        if trusted:
            parts = _pkcs12_unchecked(data, _password_bytes(password))
            if parts is not None:
                return cls(*parts, source=f"pkcs12:{path}")
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, _password_bytes(password))
        except ValueError:
            raise PinError(
                f"cannot open the PKCS#12 file {str(path)!r}: wrong password or not a PKCS#12 file"
            ) from None
        except UnsupportedAlgorithm as exc:
            raise CredentialError(
                f"the PKCS#12 file {str(path)!r} uses an unsupported algorithm: {exc}"
            ) from None
        if key is None or cert is None:
            raise CredentialError(
                f"the PKCS#12 file {str(path)!r} must hold one private key and its certificate"
            )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialError(f"the key in {str(path)!r} is not RSA")
        return cls(key, cert, extra or (), source=f"pkcs12:{path}")

    @classmethod
    def from_pem(
        cls,
        key_path: str | Path,
        cert_path: str | Path,
        password: str | bytes | None = None,
        *,
        trusted: bool = False,
    ) -> SoftwareKey:
        """Load a PEM private key (optionally encrypted) and a PEM certificate file.

        The certificate file may hold the chain after the leaf certificate. ``trusted``: the
        files are ones the settings name; the RSA key self-check is skipped.
        """
        key_path, cert_path = Path(key_path), Path(cert_path)
        key_data = _read(key_path, "PEM key")
        cert_data = _read(cert_path, "PEM certificate")
        try:
            key = serialization.load_pem_private_key(
                key_data, _password_bytes(password), unsafe_skip_rsa_key_validation=trusted
            )
        except TypeError:
            # Encrypted without a password, or a password for an unencrypted key.
            raise PinError(
                f"the PEM key {str(key_path)!r} "
                + ("is encrypted: a password is needed" if password is None else "is not encrypted")
            ) from None
        except ValueError:
            raise PinError(
                f"cannot open the PEM key {str(key_path)!r}: wrong password or not a PEM key"
            ) from None
        except UnsupportedAlgorithm as exc:
            raise CredentialError(
                f"the PEM key {str(key_path)!r} is not supported: {exc}"
            ) from None
        try:
            certs = x509.load_pem_x509_certificates(cert_data)
        except ValueError:
            raise CredentialError(
                f"{str(cert_path)!r} holds no PEM certificate (BEGIN CERTIFICATE)"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialError(f"the key in {str(key_path)!r} is not RSA")
        return cls(key, certs[0], certs[1:], source=f"pem:{key_path}")

    # -- KeySource ----------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Further certificates found with the key (intermediates), leaf excluded."""
        return self._chain

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The key object, for the mutual-TLS helper (:mod:`anpr_client.transport.tls`)."""
        return self._key

    @property
    def description(self) -> str:
        return f"{self._source} ({self._certificate.subject.rfc4514_string()})"

    def sign(self, data: bytes, hash: HashName = "sha256") -> bytes:
        try:
            algorithm = _HASHES[hash]()
        except KeyError:
            raise CredentialError(f"unsupported hash {hash!r}: use sha256 or sha1") from None
        return self._key.sign(data, padding.PKCS1v15(), algorithm)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._key.decrypt(ciphertext, padding.PKCS1v15())
        except ValueError:
            raise CredentialError(
                f"{self._source}: RSA decryption failed (not encrypted for this key)"
            ) from None

    def __repr__(self) -> str:
        return f"<SoftwareKey {self.description}>"

    __str__ = __repr__


def _pkcs12_unchecked(
    data: bytes, password: bytes | None
) -> tuple[rsa.RSAPrivateKey, x509.Certificate, list[x509.Certificate]] | None:
    """The key, its certificate and the chain of a PKCS#12 file, the key loaded without the
    RSA self-check; ``None`` when the file is not of the usual shape (password-protected
    content in ``data`` bags, one key bag) or its key cannot be read so, and the caller then
    loads it the checked way (which also names a wrong password).

    cryptography's PKCS#12 loader always checks the key: the key bag (a PKCS#8 structure) is
    taken out and loaded on its own, and the certificates from the same file without it.
    The file's MAC cannot go with the rest (it covers the key bag too), so it is verified here
    first, as OpenSSL's ``PKCS12_parse`` does before it decrypts anything
    (:func:`_mac_matches`; a MAC that does not match, or one not verified here, sends the file
    to the checked loader, which refuses it or verifies it itself). The password is also proven
    by decrypting the key (an AES-CBC padding or PKCS#8 structure error otherwise) and the key
    must match the certificate.
    """
    from asn1crypto import core as acore
    from asn1crypto import parser as asn1_parser
    from asn1crypto import pkcs12 as apkcs12

    try:
        pfx = apkcs12.Pfx.load(data)
        auth_safe = pfx["auth_safe"]
        if auth_safe["content_type"].native != "data":
            return None
        if password is None or _mac_matches(pfx, password) is False:
            return None
        safe = pfx.authenticated_safe
        kept = []
        key_bag = None
        for info in safe:
            if info["content_type"].native != "data":
                kept.append(info)
                continue
            bags = apkcs12.SafeContents.load(bytes(info["content"].native))
            others = []
            for bag in bags:
                if bag["bag_id"].native in _KEY_BAGS:
                    if key_bag is not None:
                        return None
                    key_bag = bag
                else:
                    others.append(bag)
            if others:
                kept.append(
                    apkcs12.ContentInfo(
                        {
                            "content_type": "data",
                            "content": acore.OctetString(apkcs12.SafeContents(others).dump()),
                        }
                    )
                )
        if key_bag is None:
            return None
        value = asn1_parser.parse(key_bag["bag_value"].dump())[4]  # inside the [0] EXPLICIT
        shrouded = key_bag["bag_id"].native == "pkcs8_shrouded_key_bag"
        key = serialization.load_der_private_key(
            value, password if shrouded else None, unsafe_skip_rsa_key_validation=True
        )
        rest = apkcs12.Pfx(
            {
                "version": pfx["version"].native,
                "auth_safe": apkcs12.ContentInfo(
                    {
                        "content_type": "data",
                        "content": acore.OctetString(apkcs12.AuthenticatedSafe(kept).dump()),
                    }
                ),
            }
        )
        _, cert, extra = pkcs12.load_key_and_certificates(rest.dump(), password)
    except (ValueError, TypeError, KeyError, IndexError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    certificates = [c for c in (cert, *extra) if c is not None]
    numbers = key.public_key().public_numbers()
    leaf = next(
        (
            c
            for c in certificates
            if isinstance(c.public_key(), rsa.RSAPublicKey)
            and c.public_key().public_numbers() == numbers  # type: ignore[union-attr]
        ),
        None,
    )
    if leaf is None:
        return None
    return key, leaf, [c for c in certificates if c is not leaf]


def _mac_matches(pfx: Any, password: bytes) -> bool | None:
    """Whether the MAC of ``pfx`` (an asn1crypto ``Pfx`` with ``data`` content) is the HMAC of
    its content under ``password``: RFC 7292's password-integrity mode (section 5.1; the key
    derived as in its appendix B.2 with ID 3, a MAC key), as OpenSSL's ``PKCS12_verify_mac``
    computes it (the UTF-8 password as a BMPString with its two zero bytes). ``None`` when the
    file has no MAC (there is nothing to verify; the checked loader accepts such a file too);
    ``False`` also for a MAC not verified here (another digest, PBMAC1) and a password that is
    empty or not UTF-8: for those the checked loader decides."""
    mac_data = pfx["mac_data"]
    if mac_data.native is None:
        return None
    if not password:
        return False
    name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    iterations = mac_data["iterations"].native
    if name not in _MAC_DIGESTS or not isinstance(iterations, int) or iterations < 1:
        return False
    try:
        secret = password.decode("utf-8").encode("utf-16-be") + b"\0\0"
    except UnicodeDecodeError:
        return False
    digest = getattr(hashlib, name)
    v = digest().block_size

    def filled(value: bytes) -> bytes:  # repeated to a whole number of v-byte blocks
        size = -(-len(value) // v) * v
        return (value * (size // len(value) + 1))[:size] if value else b""

    # One block of output (the key is one digest long): A = H^iterations(D || S || P).
    block = digest(bytes([3]) * v + filled(mac_data["mac_salt"].native) + filled(secret)).digest()
    for _ in range(iterations - 1):
        block = digest(block).digest()
    content = pfx["auth_safe"]["content"].native
    expected = hmac.new(block, content, name).digest()
    return hmac.compare_digest(expected, mac_data["mac"]["digest"].native)
