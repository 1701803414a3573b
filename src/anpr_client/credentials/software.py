"""Keys held in software: a PKCS#12 file (``.p12``/``.pfx``) or a PEM key plus certificate.

Loading validates the RSA key (about 40 ms) and, for PKCS#12, runs the password-based key
derivation (about 45 ms): load once per process and reuse the object.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from anpr_client.errors.exceptions import CredentialError, PinError

from .base import HashName

__all__ = ["SoftwareKey"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}


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
    def from_pkcs12(cls, path: str | Path, password: str | bytes | None) -> SoftwareKey:
        """Load a PKCS#12 file. A wrong password raises :class:`PinError`."""
        path = Path(path)
        data = _read(path, "PKCS#12 file")
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
        cls, key_path: str | Path, cert_path: str | Path, password: str | bytes | None = None
    ) -> SoftwareKey:
        """Load a PEM private key (optionally encrypted) and a PEM certificate file.

        The certificate file may hold the chain after the leaf certificate.
        """
        key_path, cert_path = Path(key_path), Path(cert_path)
        key_data = _read(key_path, "PEM key")
        cert_data = _read(cert_path, "PEM certificate")
        try:
            key = serialization.load_pem_private_key(key_data, _password_bytes(password))
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
