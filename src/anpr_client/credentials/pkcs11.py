"""Keys on a PKCS#11 token or smart card (vendor module, OpenSC, SoftHSM2) via python-pkcs11.

The production path for CNS cards: the card vendor's PKCS#11 module (bit4id, Athena, …) or
OpenSC, configured by path. The key source:

- loads the module once per process (``C_Initialize`` may run only once) and opens **one
  long-lived session** per key source, logged in with the PIN, guarded by a lock (PKCS#11
  sessions are not safe for concurrent use);
- finds the private key by label and the certificate by label (default: the key's label),
  and checks that they belong together;
- signs a host-computed ``DigestInfo`` with ``CKM_RSA_PKCS`` (offered by every card; the
  result is identical to ``CKM_SHA256_RSA_PKCS``) and unwraps keys with ``CKM_RSA_PKCS``;
- maps ``CKR_PIN_INCORRECT`` → :class:`~anpr_client.errors.PinError`,
  ``CKR_PIN_LOCKED`` → :class:`~anpr_client.errors.PinLockedError`,
  ``CKR_TOKEN_NOT_PRESENT`` → :class:`~anpr_client.errors.TokenNotPresentError`,
  ``CKR_DEVICE_REMOVED`` (and a session closed under it) →
  :class:`~anpr_client.errors.CardRemovedError`;
- once the card was removed it refuses to sign, even if a card is inserted again, until
  :meth:`Pkcs11KeySource.reopen` logs in again and checks that it is the same certificate.
  An optional ``presence`` callable (e.g. :meth:`~anpr_client.credentials.pcsc.CardWatcher.
  is_present`) is consulted before every operation.

Keys flagged ``CKA_ALWAYS_AUTHENTICATE`` (a PIN before each signature, typical of qualified
signature keys, not of the CNS authentication key) are refused with a clear error: the
high-level python-pkcs11 API offers no hook between ``C_SignInit`` and ``C_Sign``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from anpr_client.credentials.base import HashName, digest_info
from anpr_client.errors.exceptions import (
    CardRemovedError,
    CredentialError,
    PinError,
    PinLockedError,
    TokenNotPresentError,
)

__all__ = ["Pkcs11KeySource", "map_pkcs11_error"]

PinSource = Callable[[], str]
"""Returns the user PIN when called (``None`` instead: the reader has a PIN pad)."""

_libraries: dict[str, Any] = {}
_libraries_lock: Final = threading.Lock()


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - the [pkcs11] extra is installed in CI
        raise CredentialError(
            "PKCS#11 support needs python-pkcs11: pip install 'anpr-client[pkcs11]'"
        ) from None
    return pkcs11


def _library(module: str) -> Any:
    """The loaded PKCS#11 module, shared process-wide (one ``C_Initialize`` per module)."""
    with _libraries_lock:
        lib = _libraries.get(module)
        if lib is None:
            pkcs11 = _pkcs11()
            if not Path(module).exists():
                raise CredentialError(f"the PKCS#11 module {module!r} does not exist")
            try:
                lib = pkcs11.lib(module)
            except pkcs11.exceptions.PKCS11Error as exc:
                raise CredentialError(f"cannot load the PKCS#11 module {module!r}: {exc}") from None
            _libraries[module] = lib
        return lib


def map_pkcs11_error(exc: BaseException, *, where: str) -> CredentialError:
    """Translate a python-pkcs11 exception into our credential error tree."""
    from pkcs11 import exceptions as e

    name = type(exc).__name__
    if isinstance(exc, e.PinLocked):
        return PinLockedError(f"{where}: the PIN is blocked (CKR_PIN_LOCKED)")
    if isinstance(exc, e.PinIncorrect | e.PinInvalid | e.PinLenRange | e.PinExpired):
        return PinError(f"{where}: the token refused the PIN ({name})")
    if isinstance(exc, e.DeviceRemoved | e.SessionClosed | e.SessionHandleInvalid):
        return CardRemovedError(f"{where}: the token or card was removed ({name})")
    if isinstance(exc, e.TokenNotPresent | e.NoSuchToken | e.TokenNotRecognised):
        return TokenNotPresentError(f"{where}: the token is not present ({name})")
    if isinstance(exc, e.UserNotLoggedIn):
        return PinError(f"{where}: not logged in to the token")
    return CredentialError(f"{where}: PKCS#11 error {name}")


class _SharedToken:
    """One logged-in session per (module, token) for the whole process.

    PKCS#11 login state belongs to the application, not to a session: a second login fails
    with ``CKR_USER_ALREADY_LOGGED_IN`` and closing a logged-in session logs *every* session
    out. Key sources on the same token therefore share this session (reference-counted) and
    its lock. ``generation`` changes whenever the session is reopened, so object handles found
    under an older session are looked up again.
    """

    def __init__(self, module: str, label: str) -> None:
        self.module = module
        self.label = label
        self.lock = threading.RLock()
        self.session: Any = None
        self.users = 0
        self.removed = False
        self.generation = 0

    def open(self, pin: PinSource | None) -> None:
        """Open and log in (caller holds ``lock``). The PIN is fetched here, used, dropped."""
        pkcs11 = _pkcs11()
        lib = _library(self.module)
        where = f"token {self.label!r}"
        try:
            token = lib.get_token(token_label=self.label)
        except pkcs11.exceptions.PKCS11Error as exc:
            raise map_pkcs11_error(exc, where=where) from None
        user_pin = pin() if pin is not None else pkcs11.PROTECTED_AUTH
        try:
            self.session = token.open(user_pin=user_pin)
        except pkcs11.exceptions.PKCS11Error as exc:
            raise map_pkcs11_error(exc, where=where) from None
        finally:
            del user_pin
        self.removed = False
        self.generation += 1

    def close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            # The session may already be gone with the card.
            with contextlib.suppress(Exception):
                session.close()


_tokens: dict[tuple[str, str], _SharedToken] = {}


def _acquire(module: str, label: str, pin: PinSource | None) -> _SharedToken:
    with _libraries_lock:
        shared = _tokens.get((module, label))
        if shared is None:
            shared = _tokens[(module, label)] = _SharedToken(module, label)
    with shared.lock:
        if shared.session is None:
            shared.open(pin)
        shared.users += 1
    return shared


def _release(shared: _SharedToken) -> None:
    with shared.lock:
        shared.users -= 1
        if shared.users <= 0:
            shared.users = 0
            shared.close()


class Pkcs11KeySource:
    """An RSA key on a PKCS#11 token. See the module docstring for the behaviour.

    Key sources on the same token share one logged-in session: the first one logs in with
    its PIN, later ones reuse that login (PKCS#11 has one login state per application).
    """

    def __init__(
        self,
        module: str | Path,
        *,
        token_label: str,
        key_label: str,
        cert_label: str | None = None,
        pin: PinSource | None,
        presence: Callable[[], bool] | None = None,
    ) -> None:
        self._module = str(module)
        self._token_label = token_label
        self._key_label = key_label
        self._cert_label = cert_label or key_label
        self._pin = pin
        self._presence = presence
        self._key: Any = None
        self._generation = -1
        self._closed = False
        self._shared = _acquire(self._module, token_label, pin)
        try:
            with self._shared.lock:
                self._certificate = self._find()
        except BaseException:
            _release(self._shared)
            raise

    @property
    def _where(self) -> str:
        return f"token {self._token_label!r} key {self._key_label!r}"

    def _find(self) -> x509.Certificate:
        """Look the key and certificate up in the shared session (caller holds the lock)."""
        pkcs11 = _pkcs11()
        from pkcs11 import Attribute, KeyType, ObjectClass

        session = self._shared.session
        try:
            key = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label=self._key_label
            )
            certs = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: self._cert_label}
                )
            )
        except pkcs11.exceptions.NoSuchKey:
            raise CredentialError(f"{self._where}: no RSA private key with that label") from None
        except pkcs11.exceptions.MultipleObjectsReturned:
            raise CredentialError(f"{self._where}: several keys share that label") from None
        except pkcs11.exceptions.PKCS11Error as exc:
            raise map_pkcs11_error(exc, where=self._where) from None
        if len(certs) != 1:
            raise CredentialError(
                f"{self._where}: expected one certificate labelled {self._cert_label!r}, "
                f"found {len(certs)}"
            )
        certificate = x509.load_der_x509_certificate(bytes(certs[0][Attribute.VALUE]))
        self._check_key(key, certificate)
        self._key = key
        self._generation = self._shared.generation
        return certificate

    def _check_key(self, key: Any, certificate: x509.Certificate) -> None:
        from pkcs11 import Attribute
        from pkcs11.exceptions import AttributeSensitive, AttributeTypeInvalid

        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise CredentialError(f"{self._where}: the certificate does not hold an RSA key")
        try:
            modulus = int.from_bytes(bytes(key[Attribute.MODULUS]), "big")
        except (AttributeTypeInvalid, AttributeSensitive):
            modulus = None
        if modulus is not None and modulus != public.public_numbers().n:
            raise CredentialError(f"{self._where}: the key does not match the certificate")
        try:
            always_authenticate = bool(key[Attribute.ALWAYS_AUTHENTICATE])
        except (AttributeTypeInvalid, AttributeSensitive):
            always_authenticate = False
        if always_authenticate:
            raise CredentialError(
                f"{self._where}: the key requires the PIN before every signature "
                "(CKA_ALWAYS_AUTHENTICATE), which is not supported; use the authentication key"
            )

    def reopen(self) -> None:
        """Log in again after a removal; refuses a card with another certificate."""
        with self._shared.lock:
            if self._closed:
                raise CredentialError(f"{self._where}: the key source is closed")
            self._shared.close()
            self._shared.open(self._pin)
            previous = self._certificate
            certificate = self._find()
            if certificate != previous:
                self._shared.close()
                self._shared.removed = True
                raise CredentialError(
                    f"{self._where}: a different card was inserted "
                    f"({certificate.subject.rfc4514_string()})"
                )

    def close(self) -> None:
        """Release the shared session (logged out when its last user closes)."""
        with self._shared.lock:
            if self._closed:
                return
            self._closed = True
            self._key = None
        _release(self._shared)

    def __enter__(self) -> Pkcs11KeySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- KeySource -----------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def description(self) -> str:
        return (
            f"pkcs11:{self._module} token={self._token_label!r} key={self._key_label!r} "
            f"({self._certificate.subject.rfc4514_string()})"
        )

    def _mark_removed(self) -> None:
        self._shared.removed = True
        self._shared.close()

    def _operate(self, operation: Callable[[Any], bytes], what: str) -> bytes:
        from pkcs11.exceptions import PKCS11Error

        with self._shared.lock:
            if self._closed:
                raise CredentialError(f"{self._where}: the key source is closed")
            if self._shared.removed:
                raise CardRemovedError(
                    f"{self._where}: the card was removed; refusing to {what} until reopen()"
                )
            if self._presence is not None and not self._presence():
                self._mark_removed()
                raise CardRemovedError(f"{self._where}: the card is not in the reader")
            if self._shared.session is None:
                raise CredentialError(f"{self._where}: the session is closed")
            if self._generation != self._shared.generation:
                self._find()
            try:
                return operation(self._key)
            except PKCS11Error as exc:
                error = map_pkcs11_error(exc, where=self._where)
                if isinstance(error, TokenNotPresentError):
                    self._mark_removed()
                    if not isinstance(error, CardRemovedError):
                        error = CardRemovedError(str(error))
                raise error from None

    def sign(self, data: bytes, hash: HashName = "sha256") -> bytes:
        from pkcs11 import Mechanism

        block = digest_info(data, hash)
        return self._operate(
            lambda key: bytes(key.sign(block, mechanism=Mechanism.RSA_PKCS)), "sign"
        )

    def decrypt(self, ciphertext: bytes) -> bytes:
        from pkcs11 import Mechanism

        return self._operate(
            lambda key: bytes(key.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS)), "decrypt"
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "removed" if self._shared.removed else "open"
        return f"<Pkcs11KeySource {self.description} {state}>"

    __str__ = __repr__
