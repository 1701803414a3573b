"""Trust anchors and revocations for verifying signer certificates.

A :class:`TrustStore` holds CA certificates (the anchors, e.g. ANPR's "CA Postazioni" for
requests or "CA Utenti" for notifications), optional intermediates, and a revocation list of
serial numbers and SHA-256 fingerprints (what the simulator uses to answer
``certificate revoked``). It is immutable; :meth:`TrustStore.revoking` returns a new store.

:meth:`TrustStore.validate` builds the path leaf → anchor by subject/issuer name, checks each
signature (``verify_directly_issued_by``), each validity window at the given time (with
skew), ``basicConstraints CA`` on issuers and ``digitalSignature`` on the leaf when a
KeyUsage extension is present. There is no network access: no CRL or OCSP fetching. A
certificate whose parts cannot be read (a duplicated extension, an unsupported name or key) is
refused with ``check`` ``trust-format``, never with the parser's own exception.

A CA vouches for every certificate it issues, not for one holder: :class:`SignerPins` says
*which* of them may sign (exact subject names and/or SHA-256 fingerprints, several at once so
that a renewed certificate can be added before the old one expires). The N000 receiver pins
ANPR's notification signer this way: a certificate that "CA Utenti" issued to anyone else is
refused (italia/anpr#912, #2827).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning

from anpr_client.errors.exceptions import (
    ConfigurationError,
    RevokedCertificate,
    UntrustedCertificate,
)

__all__ = [
    "MemoTrustStore",
    "SignerPins",
    "TrustStore",
    "fingerprint",
    "load_certificate",
    "unreadable",
]

_MAX_DEPTH = 6
_FINGERPRINT: Final = re.compile(r"[0-9a-f]{64}")

#: What reading a lazily parsed part of a certificate can raise on hostile DER (the deprecation
#: warning too: a non-positive serial number warns today, and fails where warnings are errors).
_UNREADABLE: Final = (
    CryptographyDeprecationWarning,
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)


def fingerprint(certificate: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the DER certificate."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def unreadable(certificate: x509.Certificate) -> str | None:
    """Why a decoded certificate cannot be used (its names, extensions or key do not parse),
    or ``None``. ``cryptography`` parses these parts on first access: this reads them all."""
    try:
        _ = certificate.subject, certificate.issuer, certificate.extensions
        certificate.public_key()
        if certificate.serial_number <= 0:
            return "its serial number is not positive (RFC 5280, 4.1.2.2)"
    except _UNREADABLE as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def load_certificate(der: bytes, *, what: str = "certificate") -> x509.Certificate:
    """A DER certificate whose names, extensions and key all parse.

    Raises :class:`UntrustedCertificate` (``check`` ``trust-format``) naming the problem,
    whatever ``cryptography`` raised (it has its own exception types for a bad version, a
    duplicated extension…): a certificate that cannot be read cannot be trusted.

    The same few certificates arrive with every message (ANPR's signer, a Comune's CO-9999):
    the last ones read are kept (bounded), so each is parsed once, not once per message.
    """
    with _loaded_lock:
        known = _loaded.get(der)
        if known is not None:
            _loaded.move_to_end(der)
            return known
    try:
        certificate = x509.load_der_x509_certificate(der)
        problem = unreadable(certificate)
    except _UNREADABLE as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        raise UntrustedCertificate(f"the {what} cannot be read ({problem})", check="trust-format")
    with _loaded_lock:
        _loaded[der] = certificate
        while len(_loaded) > _LOADED_MAX:
            _loaded.popitem(last=False)
    return certificate


_LOADED_MAX: Final = 256
_loaded: OrderedDict[bytes, x509.Certificate] = OrderedDict()
_loaded_lock = threading.Lock()


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _normalise_fingerprint(value: str, setting: str) -> str:
    text = value.replace(":", "").replace(" ", "").lower()
    if not _FINGERPRINT.fullmatch(text):
        raise ConfigurationError(
            f"{setting}: {value[:80]!r} is not a SHA-256 fingerprint (64 hex digits, colons "
            "allowed)",
            setting=setting,
            rule="SHA-256 fingerprint",
        )
    return text


def _parse_subject(value: str, setting: str) -> x509.Name:
    try:
        parsed = x509.Name.from_rfc4514_string(value)
    except ValueError as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise ConfigurationError(
            f"{setting}: {value[:120]!r} is not an RFC 4514 name{detail}; copy the subject as "
            "`anpr notifications signer` prints it (e.g. 'CN=…,O=…,C=IT')",
            setting=setting,
            rule="RFC 4514 distinguished name, as printed by `anpr notifications signer`",
        ) from None
    if not len(parsed):
        raise ConfigurationError(
            f"{setting}: an empty name matches nothing", setting=setting, rule="non-empty"
        )
    return parsed


def _strings(value: object) -> tuple[str, ...]:
    """A tuple of the given strings (one string counts as one, not as its characters)."""
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value) if isinstance(value, Iterable) else ()


@dataclass(frozen=True)
class SignerPins:
    """Which certificates, among those a :class:`TrustStore` accepts, may sign.

    A certificate is allowed when its subject equals one of ``subjects`` (RFC 4514 strings,
    compared attribute by attribute as a name, most specific first as ``openssl`` and
    :meth:`x509.Name.rfc4514_string` print them) **or** its SHA-256 fingerprint is one of
    ``fingerprints`` (hex, colons and case ignored). Pins never replace the trust store: the
    certificate must still chain to an anchor, be in its validity window and not be revoked.

    A subject pin survives ANPR renewing its certificate under the same name; a fingerprint
    pin names one certificate exactly. List the new certificate next to the old one before
    the change-over, remove the old one after.
    """

    subjects: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()
    setting: str = "signer"
    """The setting the pins came from, named in configuration errors."""
    _names: tuple[x509.Name, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        subjects, prints = _strings(self.subjects), _strings(self.fingerprints)
        object.__setattr__(self, "subjects", subjects)
        object.__setattr__(
            self,
            "fingerprints",
            tuple(_normalise_fingerprint(f, f"{self.setting}_fingerprints") for f in prints),
        )
        object.__setattr__(
            self, "_names", tuple(_parse_subject(s, f"{self.setting}_subjects") for s in subjects)
        )

    @classmethod
    def of(cls, certificate: x509.Certificate, *, by: str = "subject") -> SignerPins:
        """The pin that allows ``certificate``: by its ``subject`` (default) or ``fingerprint``."""
        if by == "fingerprint":
            return cls(fingerprints=(fingerprint(certificate),))
        return cls(subjects=(certificate.subject.rfc4514_string(),))

    def __bool__(self) -> bool:
        return bool(self.subjects or self.fingerprints)

    def allows(self, certificate: x509.Certificate) -> bool:
        return certificate.subject in self._names or fingerprint(certificate) in self.fingerprints

    def check(self, certificate: x509.Certificate, *, purpose: str = "signer") -> None:
        """Raise :class:`UntrustedCertificate` (``check`` ``trust-pin``) unless allowed; the
        message names the presented subject and fingerprint, so that a log line says who
        signed."""
        if self.allows(certificate):
            return
        raise UntrustedCertificate(
            f"the {purpose} certificate {_subject(certificate)} (SHA-256 "
            f"{fingerprint(certificate)}, issued by {certificate.issuer.rfc4514_string()}) is "
            f"not one of the pinned signers ({self.describe()})",
            check="trust-pin",
        )

    def describe(self) -> str:
        parts = [f"subject {s}" for s in self.subjects]
        parts += [f"SHA-256 {f[:16]}…" for f in self.fingerprints]
        return "; ".join(parts) or "none"


class TrustStore:
    """Anchors + intermediates + revoked serials/fingerprints. Immutable and thread-safe."""

    __slots__ = (
        "_anchor_set",
        "_anchors",
        "_by_subject",
        "_revoked_fingerprints",
        "_revoked_serials",
    )

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        *,
        intermediates: Iterable[x509.Certificate] = (),
        revoked_serials: Iterable[int] = (),
        revoked_fingerprints: Iterable[str] = (),
    ) -> None:
        self._anchors = tuple(anchors)
        if not self._anchors:
            raise ConfigurationError("a trust store needs at least one trust anchor")
        # Certificates compare and hash on their DER: a set lookup is the fingerprint test
        # without re-encoding and hashing each certificate on every validation.
        self._anchor_set = frozenset(self._anchors)
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for cert in (*self._anchors, *intermediates):
            self._by_subject.setdefault(cert.subject, []).append(cert)
        self._revoked_serials = frozenset(revoked_serials)
        self._revoked_fingerprints = frozenset(
            f.replace(":", "").lower() for f in revoked_fingerprints
        )

    @classmethod
    def from_pem(cls, *paths: str | Path, **kwargs: Iterable[int] | Iterable[str]) -> TrustStore:
        """Anchors read from PEM files (each may hold several certificates)."""
        anchors: list[x509.Certificate] = []
        for path in paths:
            try:
                anchors += x509.load_pem_x509_certificates(Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot read trust anchors from {str(path)!r}: {exc}",
                    setting="trust",
                    rule="PEM certificates",
                ) from None
        return cls(anchors, **kwargs)  # type: ignore[arg-type]

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return self._anchors

    def revoking(
        self, *, serials: Iterable[int] = (), fingerprints: Iterable[str] = ()
    ) -> TrustStore:
        """A copy of this store with more revoked certificates."""
        parts = self._parts()
        return TrustStore(
            self._anchors,
            intermediates=parts["intermediates"],
            revoked_serials=self._revoked_serials | set(serials),
            revoked_fingerprints=self._revoked_fingerprints | set(fingerprints),
        )

    def _parts(self) -> dict[str, tuple[Any, ...]]:
        """What besides the anchors makes this store: the keyword arguments of ``__init__``."""
        return {
            "intermediates": tuple(
                c for certs in self._by_subject.values() for c in certs if c not in self._anchors
            ),
            "revoked_serials": tuple(self._revoked_serials),
            "revoked_fingerprints": tuple(self._revoked_fingerprints),
        }

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        return certificate.serial_number in self._revoked_serials or bool(
            self._revoked_fingerprints and fingerprint(certificate) in self._revoked_fingerprints
        )

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        at: dt.datetime,
        skew: float = 0.0,
        extra: Iterable[x509.Certificate] = (),
        purpose: str = "signer",
    ) -> tuple[x509.Certificate, ...]:
        """Return the path (leaf first, anchor last) or raise.

        Raises :class:`RevokedCertificate` for a revoked certificate on the path and
        :class:`UntrustedCertificate` (``.check`` ``trust``, ``trust-expired``,
        ``trust-not-yet-valid``, ``trust-usage``, ``trust-format``) otherwise. ``extra`` are
        untrusted intermediates that came with the message.
        """
        try:
            return self._validate(certificate, at, skew, extra, purpose)
        except _UNREADABLE as exc:  # a part cryptography parses on first access
            raise UntrustedCertificate(
                f"the {purpose} certificate cannot be read ({type(exc).__name__}: {exc})",
                check="trust-format",
            ) from None

    def _validate(
        self,
        certificate: x509.Certificate,
        at: dt.datetime,
        skew: float,
        extra: Iterable[x509.Certificate],
        purpose: str,
    ) -> tuple[x509.Certificate, ...]:
        margin = dt.timedelta(seconds=skew)
        leaf_usage = _key_usage(certificate)
        if leaf_usage is not None and not leaf_usage.digital_signature:
            raise UntrustedCertificate(
                f"the {purpose} certificate {_subject(certificate)} may not sign "
                "(keyUsage lacks digitalSignature)",
                check="trust-usage",
            )
        pool = dict(self._by_subject)
        for cert in extra:
            if unreadable(cert) is None:  # an unreadable certificate cannot be an issuer
                pool.setdefault(cert.subject, []).append(cert)
        path = [certificate]
        current = certificate
        for _ in range(_MAX_DEPTH):
            self._check_one(current, at, margin, purpose)
            if current in self._anchor_set:
                return tuple(path)
            issuer = self._find_issuer(current, pool)
            if issuer is None:
                raise UntrustedCertificate(
                    f"the {purpose} certificate {_subject(certificate)} does not chain to a "
                    f"trusted CA (issuer {current.issuer.rfc4514_string()} unknown)",
                    check="trust",
                )
            path.append(issuer)
            current = issuer
        raise UntrustedCertificate(f"the {purpose} certificate chain is too long", check="trust")

    def _check_one(
        self, cert: x509.Certificate, at: dt.datetime, margin: dt.timedelta, purpose: str
    ) -> None:
        if self.is_revoked(cert):
            raise RevokedCertificate(
                f"the {purpose} certificate {_subject(cert)} (serial {cert.serial_number:x}) "
                "is revoked"
            )
        if at + margin < cert.not_valid_before_utc:
            raise UntrustedCertificate(
                f"the certificate {_subject(cert)} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}",
                check="trust-not-yet-valid",
            )
        if at - margin > cert.not_valid_after_utc:
            raise UntrustedCertificate(
                f"the certificate {_subject(cert)} expired on "
                f"{cert.not_valid_after_utc.isoformat()}",
                check="trust-expired",
            )

    @staticmethod
    def _find_issuer(
        cert: x509.Certificate, pool: dict[x509.Name, list[x509.Certificate]]
    ) -> x509.Certificate | None:
        for candidate in pool.get(cert.issuer, ()):
            if candidate is cert or candidate == cert:
                continue
            try:
                basic = candidate.extensions.get_extension_for_class(x509.BasicConstraints).value
                if not basic.ca:
                    continue
            except x509.ExtensionNotFound:
                pass
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return candidate
        return None

    def __repr__(self) -> str:
        names = ", ".join(_subject(a) for a in self._anchors)
        return (
            f"<TrustStore anchors=[{names}] revoked={len(self._revoked_serials)} serials, "
            f"{len(self._revoked_fingerprints)} fingerprints>"
        )


class MemoTrustStore(TrustStore):
    """A :class:`TrustStore` that remembers the paths it validated (bounded, thread-safe).

    :meth:`TrustStore.validate` is a pure function of the store (immutable), the certificates
    and the time; a remembered path is returned only when the time is inside the validity
    window of every certificate on it (with the skew), so the verdict is the one the store
    would give. Failures are never remembered.
    """

    __slots__ = ("_memo", "_memo_lock")

    def __init__(self, anchors: Iterable[x509.Certificate], **kwargs: Any) -> None:
        super().__init__(anchors, **kwargs)
        self._memo: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._memo_lock = threading.Lock()

    @classmethod
    def of(cls, store: TrustStore) -> MemoTrustStore:
        """A memo over ``store``: the same anchors, intermediates and revocations."""
        if isinstance(store, MemoTrustStore):
            return store
        return cls(store._anchors, **store._parts())

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        at: dt.datetime,
        skew: float = 0.0,
        extra: Iterable[x509.Certificate] = (),
        purpose: str = "signer",
    ) -> tuple[x509.Certificate, ...]:
        extras = tuple(extra)
        # Keyed by the objects' identity: a certificate's hash reads its whole DER again, and
        # the same bytes come back as the same object (load_certificate). The entry holds the
        # objects, so no id in a key can be reused while the entry lives; an equal certificate
        # in another object only costs one more validation.
        key = (id(certificate), tuple(map(id, extras)), skew, purpose)
        with self._memo_lock:
            known = self._memo.get(key)
        if known is not None and known[0] <= at <= known[1]:
            path: tuple[x509.Certificate, ...] = known[2]
            return path
        path = super().validate(certificate, at=at, skew=skew, extra=extras, purpose=purpose)
        margin = dt.timedelta(seconds=skew)
        low = max(c.not_valid_before_utc for c in path) - margin
        high = min(c.not_valid_after_utc for c in path) + margin
        with self._memo_lock:
            self._memo[key] = (low, high, path, certificate, extras)
            while len(self._memo) > 1024:
                self._memo.popitem(last=False)
        return path


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
