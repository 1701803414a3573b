"""Smart-card readers through PC/SC (pyscard): list readers, watch card insertion/removal, and
sign with a card through raw ISO 7816 APDUs.

- :func:`list_readers` names each reader and whether a card is in it (with its ATR).
- :class:`CardWatcher` follows one reader in a background thread (``SCardGetStatusChange``)
  and calls back on insertion and removal; :meth:`CardWatcher.is_present` can be given to
  :class:`~anpr_client.credentials.pkcs11.Pkcs11KeySource` as ``presence`` so that a token
  refuses to sign once its card is out.
- :class:`PcscKeySource` is a :class:`~anpr_client.credentials.KeySource` speaking ISO 7816-4/-8
  to the card: SELECT the certificate file, READ BINARY, VERIFY the PIN, MANAGE SECURITY
  ENVIRONMENT, PERFORM SECURITY OPERATION (COMPUTE DIGITAL SIGNATURE over a host-built
  ``DigestInfo``; DECIPHER with command chaining). Paths and references come from a
  :class:`CardProfile`; :data:`CNS_PROFILE` follows the layout OpenSC's Italian CNS driver
  uses (certificate ``3F00/1100/1101``, PIN reference ``0x10``, security environment
  ``0x03``, key reference ``0x01``).

  **Caveat:** the CNS profile is exercised against the emulated card of the test suite, not
  against real cards, whose generations differ (see OpenSC issues
  #3755, #3804). In production prefer the card vendor's PKCS#11 module
  (:class:`~anpr_client.credentials.pkcs11.Pkcs11KeySource`); use this class for diagnostics
  or cards known to follow the profile.

Once the card has been removed the key source refuses to sign (PC/SC invalidates the card
handle: ``SCARD_W_REMOVED_CARD``), even after a card is inserted again, until
:meth:`PcscKeySource.reopen` reconnects, checks that the certificate is the same and verifies
the PIN again. The PIN is fetched from its source when needed and never stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509

from anpr_client.credentials.base import HashName, digest_info
from anpr_client.errors.exceptions import (
    CardRemovedError,
    CredentialError,
    PinError,
    PinLockedError,
    TokenNotPresentError,
)

__all__ = [
    "CNS_PROFILE",
    "CardProfile",
    "CardWatcher",
    "PcscKeySource",
    "ReaderStatus",
    "list_readers",
]

PinSource = Callable[[], str]


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError:  # pragma: no cover - the [pcsc] extra is installed in CI
        raise CredentialError(
            "PC/SC support needs pyscard: pip install 'anpr-client[pcsc]'"
        ) from None
    return scard


def _u32(code: int) -> int:
    return code & 0xFFFFFFFF


def _pcsc_error(code: int, where: str) -> CredentialError:
    s = _scard()
    code = _u32(code)
    message = s.SCardGetErrorMessage(code)
    if code in (_u32(s.SCARD_W_REMOVED_CARD), _u32(s.SCARD_W_RESET_CARD)):
        return CardRemovedError(f"{where}: the card was removed or reset ({message})")
    if code in (
        _u32(s.SCARD_E_NO_SMARTCARD),
        _u32(s.SCARD_W_UNPOWERED_CARD),
        _u32(s.SCARD_E_UNKNOWN_READER),
        _u32(s.SCARD_E_READER_UNAVAILABLE),
        _u32(s.SCARD_E_NO_READERS_AVAILABLE),
    ):
        return TokenNotPresentError(f"{where}: no card available ({message})")
    if code in (_u32(s.SCARD_E_NO_SERVICE), _u32(s.SCARD_E_SERVICE_STOPPED)):
        return TokenNotPresentError(f"{where}: the PC/SC service (pcscd) is not running")
    return CredentialError(f"{where}: PC/SC error {code:#010x} ({message})")


class _Context:
    """An ``SCARDCONTEXT``, released on close."""

    def __init__(self) -> None:
        s = _scard()
        hr, self.handle = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if hr != s.SCARD_S_SUCCESS:
            raise _pcsc_error(hr, "PC/SC")

    def close(self) -> None:
        if self.handle is not None:
            _scard().SCardReleaseContext(self.handle)
            self.handle = None


@dataclass(frozen=True)
class ReaderStatus:
    """A reader and what is in it."""

    name: str
    card_present: bool
    atr: bytes | None


def list_readers() -> list[ReaderStatus]:
    """Every PC/SC reader with its card state. No readers → an empty list."""
    s = _scard()
    context = _Context()
    try:
        hr, readers = s.SCardListReaders(context.handle, [])
        if _u32(hr) == _u32(s.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hr != s.SCARD_S_SUCCESS:
            raise _pcsc_error(hr, "listing readers")
        if not readers:
            return []
        hr, states = s.SCardGetStatusChange(
            context.handle, 0, [(r, s.SCARD_STATE_UNAWARE) for r in readers]
        )
        if hr != s.SCARD_S_SUCCESS:
            raise _pcsc_error(hr, "reading reader states")
        result = []
        for name, event, atr in states:
            present = bool(event & s.SCARD_STATE_PRESENT)
            result.append(ReaderStatus(name, present, bytes(atr) if present and atr else None))
        return result
    finally:
        context.close()


class CardWatcher:
    """Watches one reader in a daemon thread; callbacks run in that thread.

    ``on_insert(atr)`` and ``on_remove()`` are called on each change; ``removals`` counts
    removals seen since start. Use as a context manager or call :meth:`start`/:meth:`stop`.
    """

    def __init__(
        self,
        reader: str,
        *,
        on_insert: Callable[[bytes], None] | None = None,
        on_remove: Callable[[], None] | None = None,
        interval: float = 0.25,
    ) -> None:
        self.reader = reader
        self._on_insert = on_insert
        self._on_remove = on_remove
        self._interval_ms = max(10, int(interval * 1000))
        self._present = False
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context: _Context | None = None
        self.removals = 0
        self.error: CredentialError | None = None

    def start(self) -> CardWatcher:
        s = _scard()
        self._context = _Context()
        hr, states = s.SCardGetStatusChange(
            self._context.handle, 0, [(self.reader, s.SCARD_STATE_UNAWARE)]
        )
        if hr != s.SCARD_S_SUCCESS:
            self._context.close()
            raise _pcsc_error(hr, f"reader {self.reader!r}")
        self._state = states[0][1] & ~s.SCARD_STATE_CHANGED
        self._present = bool(self._state & s.SCARD_STATE_PRESENT)
        self._thread = threading.Thread(target=self._run, name="anpr-card-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        s = _scard()
        assert self._context is not None
        while not self._stop.is_set():
            hr, states = s.SCardGetStatusChange(
                self._context.handle, self._interval_ms, [(self.reader, self._state)]
            )
            if _u32(hr) in (_u32(s.SCARD_E_TIMEOUT), _u32(s.SCARD_E_CANCELLED)):
                continue
            if hr != s.SCARD_S_SUCCESS:
                with self._changed:
                    self.error = _pcsc_error(hr, f"watching reader {self.reader!r}")
                    self._present = False
                    self._changed.notify_all()
                return
            _, event, atr = states[0]
            self._state = event & ~s.SCARD_STATE_CHANGED
            present = bool(event & s.SCARD_STATE_PRESENT)
            if present == self._present:
                continue
            with self._changed:
                self._present = present
                if not present:
                    self.removals += 1
                self._changed.notify_all()
            if present and self._on_insert is not None:
                self._on_insert(bytes(atr))
            elif not present and self._on_remove is not None:
                self._on_remove()

    def is_present(self) -> bool:
        """Whether a card is in the reader now (as last reported by PC/SC)."""
        return self._present

    def wait(self, present: bool, timeout: float) -> bool:
        """Wait until the card is (or is not) present; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._present == present, timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._context is not None and self._context.handle is not None:
            _scard().SCardCancel(self._context.handle)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._context is not None:
            self._context.close()

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class CardProfile:
    """Where a card keeps its certificate and how its key is addressed (ISO 7816-4/-8)."""

    name: str
    certificate_path: bytes
    """File path from the MF, for SELECT by path (P1 = 08), without ``3F00``."""
    pin_reference: int
    pin_length: int = 8
    """Pad the PIN to this many bytes with ``pin_padding`` (0: no padding)."""
    pin_padding: int = 0xFF
    restore_se: int | None = 0x03
    """MSE RESTORE of this security environment before MSE SET (``None``: skip)."""
    mse_set_p1: int = 0xF1
    key_reference: int = 0x01


#: Italian CNS authentication key "CNS0" (layout of OpenSC's itacns driver; see module caveat).
CNS_PROFILE: Final = CardProfile(
    name="cns", certificate_path=bytes.fromhex("11001101"), pin_reference=0x10
)

_OK: Final = 0x9000


class _SecurityStatusNotSatisfied(PinError):
    """The card wants the PIN again (status 6982), e.g. after another application reset it."""


class PcscKeySource:
    """A card in a PC/SC reader as a :class:`~anpr_client.credentials.KeySource`.

    Connects, reads the certificate and verifies the PIN at construction (about six APDUs);
    each signature costs three APDUs. Operations are serialised with a lock.
    """

    def __init__(
        self,
        reader: str,
        *,
        pin: PinSource | None,
        profile: CardProfile = CNS_PROFILE,
        watcher: CardWatcher | None = None,
    ) -> None:
        self._reader = reader
        self._pin = pin
        self._profile = profile
        self._watcher = watcher
        self._lock = threading.Lock()
        self._context = _Context()
        self._card: Any = None
        self._pci: Any = None
        self._removed = False
        try:
            self._certificate = self._connect()
        except BaseException:
            self._context.close()
            raise

    # -- low level ------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"card in {self._reader!r}"

    def _connect(self) -> x509.Certificate:
        s = _scard()
        hr, card, protocol = s.SCardConnect(
            self._context.handle,
            self._reader,
            s.SCARD_SHARE_SHARED,
            s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
        )
        if hr != s.SCARD_S_SUCCESS:
            raise _pcsc_error(hr, self._where)
        self._card = card
        self._pci = s.SCARD_PCI_T0 if protocol == s.SCARD_PROTOCOL_T0 else s.SCARD_PCI_T1
        self._removed = False
        certificate = self._read_certificate()
        self._verify_pin()
        return certificate

    def _disconnect(self) -> None:
        card, self._card = self._card, None
        if card is not None:
            s = _scard()
            s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        s = _scard()
        hr, response = s.SCardTransmit(self._card, self._pci, list(apdu))
        if hr != s.SCARD_S_SUCCESS:
            error = _pcsc_error(hr, self._where)
            if isinstance(error, TokenNotPresentError):
                self._removed = True
                error = (
                    error if isinstance(error, CardRemovedError) else CardRemovedError(str(error))
                )
            raise error
        data, sw = bytes(response[:-2]), (response[-2] << 8) | response[-1]
        if sw >> 8 == 0x61:  # more data: GET RESPONSE
            more, sw = self._transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            data += more
        elif sw >> 8 == 0x6C:  # wrong Le: resend with the right one
            return self._transmit(apdu[:-1] + bytes([sw & 0xFF]))
        return data, sw

    def _check(self, sw: int, what: str) -> None:
        if sw != _OK:
            raise CredentialError(f"{self._where}: {what} failed (status {sw:04X})")

    def _read_certificate(self) -> x509.Certificate:
        path = self._profile.certificate_path
        _, sw = self._transmit(bytes([0x00, 0xA4, 0x08, 0x0C, len(path)]) + path)
        self._check(sw, "selecting the certificate file")
        data = b""
        total: int | None = None
        while total is None or len(data) < total:
            offset = len(data)
            if offset > 0x7FFF:
                raise CredentialError(f"{self._where}: the certificate file is too large")
            chunk, sw = self._transmit(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, 0x00]))
            if sw == 0x6B00 or (sw in (_OK, 0x6282) and not chunk):  # past the end
                break
            self._check(0x9000 if sw == 0x6282 else sw, "reading the certificate")
            data += chunk
            if total is None and len(data) >= 4:
                total = _der_length(data)
            if sw == 0x6282 or len(chunk) < 256:  # end of file
                break
        try:
            return x509.load_der_x509_certificate(data[:total] if total else data)
        except ValueError:
            raise CredentialError(
                f"{self._where}: the certificate file holds no certificate"
            ) from None

    def _verify_pin(self) -> None:
        profile = self._profile
        if self._pin is None:
            raise PinError(f"{self._where}: a PIN is needed (PIN-pad readers are not supported)")
        pin = self._pin().encode("utf-8")
        if profile.pin_length:
            if len(pin) > profile.pin_length:
                raise PinError(f"{self._where}: the PIN is longer than {profile.pin_length}")
            pin = pin.ljust(profile.pin_length, bytes([profile.pin_padding]))
        apdu = bytes([0x00, 0x20, 0x00, profile.pin_reference, len(pin)]) + pin
        del pin
        _, sw = self._transmit(apdu)
        del apdu
        if sw == _OK:
            return
        if sw == 0x6983:
            raise PinLockedError(f"{self._where}: the PIN is blocked")
        if sw >> 4 == 0x63C:
            raise PinError(f"{self._where}: wrong PIN ({sw & 0xF} attempts left)")
        raise PinError(f"{self._where}: the card refused the PIN (status {sw:04X})")

    def _security_environment(self, template: int) -> None:
        profile = self._profile
        if profile.restore_se is not None:
            _, sw = self._transmit(bytes([0x00, 0x22, 0xF3, profile.restore_se]))
            self._check(sw, "restoring the security environment")
        body = bytes([0x83, 0x01, profile.key_reference])
        _, sw = self._transmit(bytes([0x00, 0x22, profile.mse_set_p1, template, len(body)]) + body)
        self._check(sw, "setting the security environment")

    def _pso(self, p1: int, p2: int, data: bytes) -> bytes:
        """PERFORM SECURITY OPERATION with command chaining for data over 255 bytes."""
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        for chunk in chunks[:-1]:
            _, sw = self._transmit(bytes([0x10, 0x2A, p1, p2, len(chunk)]) + chunk)
            self._check(sw, "sending chained data")
        last = chunks[-1]
        response, sw = self._transmit(bytes([0x00, 0x2A, p1, p2, len(last)]) + last + b"\x00")
        if sw == 0x6982:
            raise _SecurityStatusNotSatisfied(
                f"{self._where}: security status not satisfied (PIN needed)"
            )
        self._check(sw, "the security operation")
        return response

    # -- operations -----------------------------------------------------------------------

    def _operate(self, operation: Callable[[], bytes], what: str) -> bytes:
        s = _scard()
        with self._lock:
            if self._removed or self._card is None:
                raise CardRemovedError(
                    f"{self._where}: the card was removed; refusing to {what} until reopen()"
                )
            if self._watcher is not None and not self._watcher.is_present():
                self._removed = True
                raise CardRemovedError(f"{self._where}: the card is not in the reader")
            hr, *_ = s.SCardStatus(self._card)
            if hr != s.SCARD_S_SUCCESS:
                self._removed = True
                raise _as_removed(_pcsc_error(hr, self._where))
            try:
                return operation()
            except _SecurityStatusNotSatisfied:
                pass
            # The card lost the PIN state (reset by another application): verify once more.
            self._verify_pin()
            return operation()

    def sign(self, data: bytes, hash: HashName = "sha256") -> bytes:
        block = digest_info(data, hash)

        def compute() -> bytes:
            self._security_environment(0xB6)
            return self._pso(0x9E, 0x9A, block)

        return self._operate(compute, "sign")

    def decrypt(self, ciphertext: bytes) -> bytes:
        def decipher() -> bytes:
            self._security_environment(0xB8)
            return self._pso(0x80, 0x86, b"\x00" + ciphertext)

        return self._operate(decipher, "decrypt")

    def reopen(self) -> None:
        """Reconnect after a removal: same certificate required, PIN verified again."""
        with self._lock:
            self._disconnect()
            previous = self._certificate
            certificate = self._connect()
            if certificate != previous:
                self._removed = True
                raise CredentialError(
                    f"{self._where}: a different card was inserted "
                    f"({certificate.subject.rfc4514_string()})"
                )

    def close(self) -> None:
        with self._lock:
            self._disconnect()
            self._context.close()

    def __enter__(self) -> PcscKeySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def description(self) -> str:
        return (
            f"pcsc:{self._reader} profile={self._profile.name} "
            f"({self._certificate.subject.rfc4514_string()})"
        )

    def __repr__(self) -> str:
        return f"<PcscKeySource {self.description}{' removed' if self._removed else ''}>"

    __str__ = __repr__


def _der_length(data: bytes) -> int:
    """Total length of the DER element starting ``data`` (a SEQUENCE here)."""
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def _as_removed(error: CredentialError) -> CardRemovedError:
    return error if isinstance(error, CardRemovedError) else CardRemovedError(str(error))
