"""Every exception anpr-client raises, in one place.

The tree (``except`` the level you care about)::

    AnprError
     ├─ ConfigurationError (ValueError)      settings unusable; names the setting and the rule
     │   └─ UnknownComuneError (LookupError) a Comune this service does not serve; .codice_istat
     ├─ UnknownOperationError (LookupError)  no operation (or service family) with this code
     ├─ PayloadError (ValueError)            request refused before sending; .violations
     │   └─ LocalCheckError                  local checks predict ANPR errors; .findings
     ├─ ModelError (ValueError)              a typed model cannot be built; .model .violations
     │   └─ ChoiceError                      not one branch of an xs:choice; .choice .given
     ├─ ValidationError (ValueError)         a pre-transmission check failed; .field .code .rule
     │   ├─ InvalidFormat ── InvalidLength
     │   ├─ InvalidChecksum
     │   └─ InvalidComponent
     ├─ CredentialError                      a key source cannot sign
     │   ├─ PinError ── PinLockedError
     │   └─ TokenNotPresentError ── CardRemovedError
     ├─ SecurityError
     │   ├─ SigningError
     │   ├─ DecryptionError                  CMS EnvelopedData cannot be opened
     │   └─ VerificationError                a received frame failed a check; .check
     │       ├─ MalformedFrame, ForbiddenAlgorithm, SignatureWrapping, UnsignedPart
     │       ├─ DigestMismatch, BadSignature, TimestampRejected, AssertionRejected, CmsRejected
     │       └─ UntrustedCertificate ── RevokedCertificate
     ├─ TransportError                       nothing usable came back; .delivered, .stage
     │   ├─ ConnectError                     not sent: the connection could not be opened
     │   │   └─ WriteError                   not sent: it broke before the last byte was written
     │   ├─ TLSError                         not sent: the TLS handshake failed (trust, client cert)
     │   │   └─ CertificateVerificationError  not sent: the server's certificate does not verify
     │   │                                    against ``ca_bundle``; never retried
     │   ├─ ConnectTimeout                   not sent: no connection in time
     │   │   └─ WriteTimeout                 not sent: the request could not be written in time
     │   ├─ ReadTimeout (OutcomeUnknown)     sent, no answer in time
     │   ├─ ConnectionLost (OutcomeUnknown)  sent, the connection broke before the answer's end
     │   │   └─ TLSErrorAfterSending         sent, a TLS failure while the answer was read
     │   ├─ MalformedAnswer (OutcomeUnknown) sent, the answer is not HTTP/1.1 we can read
     │   ├─ AnswerLimitExceeded (OutcomeUnknown)   sent, the answer broke a [limits] bound; .limit
     │   │   ├─ AnswerTooLarge               on the wire, decompressed, or in its MTOM parts
     │   │   └─ AnswerDeadlineExceeded       the attempt's deadline passed (also a ReadTimeout)
     │   └─ HTTPStatusError                  an HTTP error without a SOAP body
     │       └─ ServerUnavailable (OutcomeUnknown)   5xx
     ├─ ProtocolError                        the answer is not a SOAP message we can read
     │   ├─ XMLTooLarge                      the document exceeds the parser's size cap
     │   └─ EchoMismatch (OutcomeUnknown)    it names another id, operation or Comune; .field
     ├─ SampleError (ValueError)             no sample payload for this element (samples.py)
     ├─ NotificationError                    a notification cannot be taken in charge; .outcome
     │   ├─ PullLimitError                   a 4005 pull reached a bound ([notifications.pull])
     │   └─ PullPeriodError (ValueError)     the period asked for cannot be pulled; nothing sent
     ├─ JournalError                         the operation journal refused (id reused, held…)
     │   ├─ OperationHeld                    another live worker is sending it: retry later
 │   ├─ JournalUnavailable               the journal's database failed (down, locked, I/O)
 │   ├─ JournalRolledBack                its id counter is behind ids handed out (restored)
     │   └─ CorruptJournalRecord             a journal row cannot be read; .row .field
     ├─ SoapFault                            the security gateway or the server refused; .causes
     │   ├─ InternalErrorFromClient
     │   ├─ RejectedByPolicy
     │   ├─ CertificateRevoked
     │   └─ ServerFault (OutcomeUnknown)
     └─ AnprRejected                         ANPR answered KO; .errors holds every entry
         ├─ BusinessRuleError (EN) ── NotFoundError (EN122), OperationNotAllowedError
         │                            (EN148), PrivilegeError (EN493)
         ├─ ReferenceValueError (EC)
         ├─ InconsistentDataError (ES)
         ├─ FormatError (EHR)
         ├─ HouseholdError (EF)              (FamilyError: its former name)
         ├─ RevenueAgencyError (EA, EAA, ENT, …)
         ├─ ServiceError (999)
         └─ ServiceUnavailableError (998)

``OutcomeUnknown`` is a mixin: every exception that carries it means *the request may have been
applied by ANPR*. Resend it with the **same** ``idOperazioneComune`` (ANPR replays its stored
answer) or look it up with 3003; never allocate a new id for it.

Every :class:`TransportError` class says ``delivered``, decided by *where* the attempt failed
(``stage``): before the request's last byte was written (``connect``, ``tls_handshake``,
``sending``) it is ``False``, ANPR cannot have received the whole request and it is safe to
send it again; from then on (``sent``, ``status_line``, ``headers``, ``body``) it is ``None``,
the outcome is unknown whatever the failure (a TLS error, a reset, a timeout, a limit reached,
an answer that cannot be decoded); ``True`` only for :class:`HTTPStatusError` (an answer came).

No exception message, ``repr`` or attribute ever holds a PIN, a password or key material.

This module is the ground floor of the library: it imports nothing of anpr-client. The data
that picks a class (the error catalogue, the fault table) lives above it and hands the
exception what it decided at construction (:attr:`AnprRejected.primary`,
:attr:`AnprRejected.retry`).
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, Self

__all__ = [
    "AnprError",
    "AnprRejected",
    "AnprWarning",
    "AnswerDeadlineExceeded",
    "AnswerLimitExceeded",
    "AnswerTooLarge",
    "AssertionRejected",
    "BadSignature",
    "BusinessRuleError",
    "CardRemovedError",
    "CertificateRevoked",
    "CertificateVerificationError",
    "ChoiceError",
    "CmsRejected",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "CorruptJournalRecord",
    "CredentialError",
    "DecryptionError",
    "DigestMismatch",
    "EchoMismatch",
    "ErrorItem",
    "FamilyError",
    "Finding",
    "ForbiddenAlgorithm",
    "FormatError",
    "HTTPStatusError",
    "HouseholdError",
    "InconsistentDataError",
    "InternalErrorFromClient",
    "InvalidChecksum",
    "InvalidComponent",
    "InvalidFormat",
    "InvalidLength",
    "JournalError",
    "JournalRolledBack",
    "JournalUnavailable",
    "LocalCheckError",
    "MalformedAnswer",
    "MalformedFrame",
    "ModelError",
    "NotFoundError",
    "NotificationError",
    "OperationHeld",
    "OperationNotAllowedError",
    "OutcomeUnknown",
    "PayloadError",
    "PinError",
    "PinLockedError",
    "PrivilegeError",
    "ProtocolError",
    "PullLimitError",
    "PullPeriodError",
    "ReadTimeout",
    "ReferenceValueError",
    "RejectedByPolicy",
    "Retry",
    "RevenueAgencyError",
    "RevokedCertificate",
    "SampleError",
    "SecurityError",
    "ServerFault",
    "ServerUnavailable",
    "ServiceError",
    "ServiceUnavailableError",
    "SignatureWrapping",
    "SigningError",
    "SoapFault",
    "TLSError",
    "TLSErrorAfterSending",
    "TimestampRejected",
    "TokenNotPresentError",
    "TransportError",
    "UnknownComuneError",
    "UnknownOperationError",
    "UnsignedPart",
    "UntrustedCertificate",
    "ValidationError",
    "VerificationError",
    "Violation",
    "WriteError",
    "WriteTimeout",
    "XMLTooLarge",
]


class AnprError(Exception):
    """Base class of every exception raised by anpr-client."""


class AnprWarning(UserWarning):
    """An ANPR answer carried warnings (severity ``W``); the operation succeeded.

    When issued by :func:`anpr_client.errors.catalogue.emit_warnings`, ``item`` is the warning
    entry and ``operation`` the operation code.
    """

    item: ErrorItem | None = None
    operation: str | None = None


class OutcomeUnknown:
    """Mixin: the request may have reached ANPR and been applied.

    Retry with the same ``idOperazioneComune`` or look the outcome up (3003); never send the
    same logical operation under a new id. When the operation is journaled,
    ``id_operazione_comune`` names its journal entry (``anpr journal resolve ID``), and
    ``needs_resolving`` is ``False`` when the journal settled it itself (a read-only operation
    changes nothing at ANPR: call it again for the answer).
    """

    outcome_unknown = True
    id_operazione_comune: str | None = None
    needs_resolving: bool = True


# --------------------------------------------------------------------------- configuration


class ConfigurationError(AnprError, ValueError):
    """The settings cannot be used. ``setting`` names the offending key, ``rule`` what it breaks."""

    def __init__(self, message: str, *, setting: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.setting = setting
        self.rule = rule


class UnknownComuneError(ConfigurationError, LookupError):
    """A service for many Comuni was asked for one it does not serve (no settings for it)."""

    def __init__(self, message: str, *, codice_istat: str):
        super().__init__(message, setting="comuni", rule="a Comune this service serves")
        self.codice_istat = codice_istat


class UnknownOperationError(AnprError, LookupError):
    """No operation (or service family) with this code exists in the bundle."""


# --------------------------------------------------------------------------- payloads


@dataclass(frozen=True)
class Violation:
    """One problem of a request payload: where (``path``), which rule, and a readable message."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PayloadError(AnprError, ValueError):
    """The request payload is invalid; nothing was sent. ``violations`` lists every problem."""

    def __init__(self, operation: str, violations: Sequence[Violation]):
        self.operation = operation
        self.violations: tuple[Violation, ...] = tuple(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(
            f"invalid payload for operation {operation} ({len(self.violations)} "
            f"problem{'s' if len(self.violations) != 1 else ''}), nothing was sent:\n{lines}"
        )


@dataclass(frozen=True)
class Finding(Violation):
    """One result of the local pre-transmission checks (:mod:`anpr_client.validation`).

    ``path`` locates the value (a payload path such as ``criteriRicerca.codiceFiscale``, or a
    column name in a batch), ``rule`` names the check, ``code`` is the ANPR error code the value
    is predicted to produce (``XSD`` when the gateway would refuse the whole request with a
    SOAP fault instead), ``severity`` is ``E`` (blocking) or ``W`` (warning).
    """

    code: str = ""
    severity: str = "E"

    @property
    def blocking(self) -> bool:
        return self.severity.upper() != "W"

    def __str__(self) -> str:
        return f"{self.path}: {self.code} [{self.severity}] {self.message}"


class LocalCheckError(PayloadError):
    """The local checks predict that ANPR would refuse the request; nothing was sent.

    ``findings`` holds every finding (blocking and warnings); ``violations`` only the blocking
    ones, each with the ANPR code it predicts (``codes``).
    """

    def __init__(self, operation: str, findings: Sequence[Finding]):
        self.findings: tuple[Finding, ...] = tuple(findings)
        super().__init__(operation, [f for f in self.findings if f.blocking])

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings if f.blocking)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.blocking)


# --------------------------------------------------------------------------- typed models


class ModelError(AnprError, ValueError):
    """A typed model (:mod:`anpr_client.models`) cannot be built from the values given.

    ``model`` names the class, ``violations`` lists every problem (path, rule, message).
    """

    def __init__(self, model: str, violations: Sequence[Violation]):
        self.model = model
        self.violations: tuple[Violation, ...] = tuple(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(f"cannot build {model}:\n{lines}")


class ChoiceError(ModelError):
    """The values given for one ``xs:choice`` are not one branch: two or more branches, or none
    of a choice that requires one. ``choice`` lists the branches in schema order, ``given`` the
    ones that were given; ``required`` says whether one branch must be present."""

    def __init__(self, model: str, choice: Sequence[str], given: Sequence[str], *, required: bool):
        self.choice = tuple(choice)
        self.given = tuple(given)
        self.required = required
        got = " and ".join(self.given) if self.given else "none"
        rule = "exactly one" if required else "at most one"
        message = f"an xs:choice takes {rule} of its branches; got {got}"
        super().__init__(model, [Violation(" | ".join(self.choice), "choice", message)])


# --------------------------------------------------------------------------- local validation


class _Rule(Protocol):
    """What :meth:`ValidationError.from_rule` reads of a rule (a local check)."""

    @property
    def id(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def severity(self) -> str: ...


class ValidationError(AnprError, ValueError):
    """A pre-transmission check failed (stdnum-style).

    ``field`` names the field, ``code`` the ANPR error code the value would produce, ``rule`` the
    rule that was broken. Subclasses say what kind of defect it is.
    """

    default_message = "the value is invalid"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code: str | None = None,
        rule: str | None = None,
        severity: str = "E",
    ):
        self.message = message or self.default_message
        self.field = field
        self.code = code
        self.rule = rule
        self.severity = severity
        super().__init__(self.message)

    @classmethod
    def from_rule(cls, rule: _Rule, message: str | None = None, *, field: str | None) -> Self:
        """The exception for a broken ``rule`` (:class:`anpr_client.validation.Rule`).

        The one place that turns a rule into an exception: ``code``, ``rule`` and ``severity``
        come from the rule, ``field`` names the field at fault, the class (``cls``) says what
        kind of defect it is::

            raise InvalidFormat.from_rule(codes.rule("field.format"), "not a date", field=name)
        """
        return cls(message, field=field, code=rule.code, rule=rule.id, severity=rule.severity)

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.message}{code}"


class InvalidFormat(ValidationError):
    """The value has characters or a shape the rule does not allow."""

    default_message = "the value has an invalid format"


class InvalidLength(InvalidFormat):
    """The value is too short or too long."""

    default_message = "the value has an invalid length"


class InvalidChecksum(ValidationError):
    """A check character or digit does not match."""

    default_message = "the check character does not match"


class InvalidComponent(ValidationError):
    """A part of the value (a date, a place, a code) is unknown or inconsistent."""

    default_message = "one of the parts of the value is invalid"


# --------------------------------------------------------------------------- credentials & security


class CredentialError(AnprError):
    """A key source cannot be opened or cannot sign (never includes the secret itself)."""


class PinError(CredentialError):
    """The PIN or password was refused."""


class PinLockedError(PinError):
    """The PIN is blocked on the token or card."""


class TokenNotPresentError(CredentialError):
    """The token or smart card is not present in any reader."""


class CardRemovedError(TokenNotPresentError):
    """The smart card was removed; signing with it is refused until it is inserted again."""


class SecurityError(AnprError):
    """Base of WS-Security failures."""


class SigningError(SecurityError):
    """The security frame could not be built."""


class VerificationError(SecurityError):
    """A received message failed verification. ``check`` names the failed check.

    Each subclass has a default ``check``; a more precise one (e.g. ``timestamp-expired``) may
    be given at construction. The values are listed in ``docs/security.md``.
    """

    default_check = "signature"

    def __init__(self, message: str, *, check: str | None = None):
        super().__init__(message)
        self.check = check or self.default_check


class MalformedFrame(VerificationError):
    """The envelope or its ``wsse:Security`` header does not have the expected shape."""

    default_check = "structure"


class ForbiddenAlgorithm(VerificationError):
    """An algorithm (signature, digest, c14n, transform) is not allowed by the policy."""

    default_check = "algorithm"


class SignatureWrapping(VerificationError):
    """References do not point at the parts in use: moved/duplicated Body, duplicate IDs,
    references to other elements (XML Signature Wrapping)."""

    default_check = "wrapping"


class UnsignedPart(VerificationError):
    """A part the policy requires to be signed (Body, Timestamp) is not covered."""

    default_check = "unsigned"


class DigestMismatch(VerificationError):
    """A signed part was changed after signing (its digest does not match)."""

    default_check = "digest"


class BadSignature(VerificationError):
    """The signature value does not verify with the signer's public key."""

    default_check = "signature"


class UntrustedCertificate(VerificationError):
    """The signer certificate does not chain to a trust anchor, or is outside its validity."""

    default_check = "trust"


class RevokedCertificate(UntrustedCertificate):
    """The signer certificate is listed as revoked in the trust store."""

    default_check = "revoked"


class TimestampRejected(VerificationError):
    """The ``wsu:Timestamp`` is missing, expired, or from the future beyond the allowed skew."""

    default_check = "timestamp"


class AssertionRejected(VerificationError):
    """The SAML assertion is missing, unsigned, expired, or lacks a required attribute."""

    default_check = "saml"


class CmsRejected(VerificationError):
    """A CMS SignedData (``IdPostazioneFirmato``) is malformed or does not verify."""

    default_check = "cms"


class DecryptionError(SecurityError):
    """A CMS EnvelopedData could not be decrypted (wrong key, wrong recipient, bad padding)."""


# --------------------------------------------------------------------------- transport


class TransportError(AnprError):
    """Nothing usable came back from the peer.

    ``delivered`` tells whether the request may have reached the server: ``False`` means it
    certainly did not (its last byte was never written: safe to resend), ``None`` means it may
    have (the outcome is unknown). Each class fixes it. ``stage`` names where the attempt was
    when it failed (``connect``, ``tls_handshake``, ``sending``, ``sent``, ``status_line``,
    ``headers``, ``body``: :class:`anpr_client.transport.Stage`), when the transport knows.
    """

    delivered: bool | None = None

    def __init__(self, message: str, *, url: str | None = None, stage: str | None = None):
        super().__init__(message)
        self.url = url
        self.stage = stage


class ConnectError(TransportError):
    """The request was not sent: the connection could not be opened (refused, unreachable,
    name not found, reset during the TLS handshake)."""

    delivered = False


class WriteError(ConnectError):
    """The request was not sent: the connection broke before its last byte was written, so
    the server never received it whole."""


class TLSError(TransportError):
    """The TLS handshake failed (untrusted server certificate, client certificate refused…);
    the request was not sent."""

    delivered = False


class CertificateVerificationError(TLSError):
    """The server's certificate does not verify against the configured trust (the setting
    ``ca_bundle``, and the system's store as ``[tls] trust_system`` says), or does not name
    the host. Nothing was sent, and sending again cannot help: the journal settles the
    operation as not delivered instead of retrying it. ``setting`` is ``ca_bundle``."""

    setting = "ca_bundle"


class ConnectTimeout(TransportError):
    """The connection (or its TLS handshake) could not be opened in time; the request was not
    sent."""

    delivered = False


class WriteTimeout(ConnectTimeout):
    """The request could not be written in time (the server stopped reading it); it was not
    sent whole."""


class ReadTimeout(TransportError, OutcomeUnknown):
    """The request was sent but no answer came in time; it may have been applied."""


class ConnectionLost(TransportError, OutcomeUnknown):
    """The connection broke (reset, closed, out of memory) after the request was sent and
    before the whole answer was read; the request may have been applied."""


class TLSErrorAfterSending(ConnectionLost):
    """A TLS failure (a corrupted record, an alert) while the answer was awaited or read: the
    request had been sent and may have been applied. (:class:`TLSError` is the handshake's
    failure, before anything was sent.)"""


class MalformedAnswer(TransportError, OutcomeUnknown):
    """The answer is not HTTP/1.1 we can read (status line, headers, chunk framing, content
    encoding); the request had been sent and may have been applied."""


class AnswerLimitExceeded(TransportError, OutcomeUnknown):
    """The answer broke a bound of the ``[limits]`` settings; ``limit`` names the setting (e.g.
    ``limits.max_answer_bytes``). The request had been sent and may have been applied."""

    def __init__(
        self, message: str, *, limit: str, url: str | None = None, stage: str | None = None
    ):
        super().__init__(message, url=url, stage=stage)
        self.limit = limit


class AnswerTooLarge(AnswerLimitExceeded):
    """The answer is larger than allowed: its declared length, the bytes received, its
    decompressed size, or its MTOM parts (size or count)."""


class AnswerDeadlineExceeded(AnswerLimitExceeded, ReadTimeout):
    """The attempt's deadline (``limits.answer_deadline``) passed before the whole answer was
    read, however steadily it was trickling in."""


class HTTPStatusError(TransportError):
    """The server answered with an HTTP error status and no SOAP envelope."""

    delivered = True

    def __init__(self, message: str, *, status: int, url: str | None = None, body: bytes = b""):
        super().__init__(message, url=url)
        self.status = status
        self.body = body


class ServerUnavailable(HTTPStatusError, OutcomeUnknown):
    """HTTP 5xx without a SOAP fault: a back end or gateway failure; the outcome is unknown."""


class ProtocolError(AnprError):
    """The answer is not a SOAP message anpr-client can read (not XML, wrong root, …)."""


class XMLTooLarge(ProtocolError):
    """The document is larger than the configured cap (:func:`anpr_client.safexml.parse_xml`)."""


class EchoMismatch(ProtocolError, OutcomeUnknown):
    """The answer's ``testataRisposta`` does not echo the request: it names another
    ``idOperazioneComune`` (``idOperazioneClient``), operation or Comune. It is not the answer
    to this request, so it settles nothing: what ANPR did with the request is unknown.

    ``field`` names the element, ``expected`` the request's value, ``received`` the answer's
    (``None`` when the answer's testata lacks it).
    """

    def __init__(self, message: str, *, field: str, expected: str, received: str | None):
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.received = received


class SampleError(AnprError, ValueError):
    """No sample payload can be generated: unknown element, or facets no value satisfies."""


class NotificationError(AnprError):
    """A notification from ANPR cannot be taken in charge, or a pull cannot proceed.

    ``outcome`` is the N000 reply code it maps to (``"5"`` not conforming, ``"6"`` no data,
    ``"7"`` communication error, e.g. the inbox could not store it; ``None`` for pull errors);
    ``field`` names the element or setting at fault and ``rule`` the rule it broke.
    """

    def __init__(
        self,
        message: str,
        *,
        outcome: str | None = None,
        field: str | None = None,
        rule: str | None = None,
    ):
        super().__init__(message)
        self.outcome = outcome
        self.field = field
        self.rule = rule


class PullLimitError(NotificationError):
    """A 4005 pull reached one of its bounds (``[notifications.pull]``: pages, requests, or the
    decompressed size of a result page) and stopped; the poller's checkpoint stays where the
    last committed page left it, so nothing is skipped. ``field`` names the setting."""


class PullPeriodError(NotificationError, ValueError):
    """The period asked of a 4005 pull cannot be asked of ANPR (older than its 180 days, no
    start for a first pull): a local input check, nothing was sent. ``field`` names the
    parameter (``since``), ``rule`` the rule."""


class JournalError(AnprError):
    """The operation journal (:mod:`anpr_client.journal`) refused or failed.

    Raised when an ``idOperazioneComune`` is reused for another operation or another payload
    (nothing is sent), when another live process is sending the same operation, when no
    operation has the id asked for, or when the journal file fails. ``id_operazione_comune``
    names the operation when there is one.
    """

    def __init__(self, message: str, *, id_operazione_comune: str | None = None):
        super().__init__(message)
        self.id_operazione_comune = id_operazione_comune


class OperationHeld(JournalError):
    """Another live worker (this machine or another) holds the operation's lease and is
    sending it: nothing was sent; try again after its lease ends (a transient refusal)."""


class JournalUnavailable(JournalError):
    """The journal's database failed (a server down, a lock not released in time, an I/O
    error): nothing was recorded by the failed step, so nothing was sent after it (transient)."""


class JournalRolledBack(JournalError):
    """The journal's id counter is behind ids already handed out for its Comune: the file was
    restored from a backup, copied, or replaced by an older one. No id is allocated until the
    rollback is accepted (:meth:`Journal.accept_rollback
    <anpr_client.journal.Journal.accept_rollback>`, ``anpr journal accept-rollback``): the
    operations recorded after the copy was taken are missing from it, and some may still be
    unsettled. ``comune``, ``counter`` (the file's) and ``mark`` (the highest handed out) say
    by how much."""

    def __init__(self, message: str, *, comune: str, counter: int, mark: int):
        super().__init__(message)
        self.comune = comune
        self.counter = counter
        self.mark = mark


class CorruptJournalRecord(JournalError):
    """A journal row cannot be read (changed by hand, a crash, an older version): ``row`` is its
    key in the journal, ``field`` the column that failed; ``id_operazione_comune`` names the
    operation when that column is readable."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None,
        field: str,
        id_operazione_comune: str | None = None,
    ):
        super().__init__(message, id_operazione_comune=id_operazione_comune)
        self.row = row
        self.field = field


# --------------------------------------------------------------------------- SOAP faults


class SoapFault(AnprError):
    """A SOAP fault. ``causes`` lists likely causes, most likely first."""

    def __init__(
        self,
        faultstring: str,
        *,
        faultcode: str = "",
        detail: str | None = None,
        causes: Sequence[str] = (),
        operation: str | None = None,
    ):
        self.faultstring = faultstring
        self.faultcode = faultcode
        self.detail = detail
        self.causes: tuple[str, ...] = tuple(causes)
        self.operation = operation
        message = f"SOAP fault {faultcode or ''} {faultstring!r}".replace("  ", " ")
        if operation:
            message = f"operation {operation}: {message}"
        if self.causes:
            message += "\nlikely causes, most likely first:\n" + "\n".join(
                f"  {i}. {c}" for i, c in enumerate(self.causes, 1)
            )
        super().__init__(message)


class InternalErrorFromClient(SoapFault):
    """``Internal Error (from client)``: the gateway rejected the frame or the body's XSD."""


class RejectedByPolicy(SoapFault):
    """``Rejected by policy``: IP, operator, clock or certificate policy."""


class CertificateRevoked(SoapFault):
    """``certificate revoked``: the signing certificate was revoked or deleted."""


class ServerFault(SoapFault, OutcomeUnknown):
    """A "from server" fault: the back end failed; the operation may have been applied."""


# --------------------------------------------------------------------------- ANPR answers


@dataclass(frozen=True)
class ErrorItem:
    """One ``errore`` / anomaly entry of an ANPR answer, every field preserved."""

    code: str
    severity: str
    text: str = ""
    object: str | None = None  # oggettoErroreAnomalia
    field: str | None = None  # campoErroreAnomalia
    value: str | None = None  # valoreErroreAnomalia

    @property
    def blocking(self) -> bool:
        return self.severity.upper() != "W"

    def __str__(self) -> str:
        where = ""
        if self.field or self.object:
            where = " (" + "/".join(x for x in (self.object, self.field) if x) + ")"
        return f"{self.code} [{self.severity}]{where} {self.text}".rstrip()


class Retry(enum.StrEnum):
    """Whether sending the request again can help (the advice an :class:`AnprRejected` carries).

    The error catalogue (:mod:`anpr_client.errors.catalogue`) decides it for each code.
    """

    NO = "no"
    """The same request gets the same answer: fix the data or the setup first."""
    LATER = "later"
    """Transient: the same request may succeed later. A KO answer registered nothing, so send it
    again as a new operation (a new ``idOperazioneComune``: ANPR answers a reused id with the
    answer it stored for it)."""
    DEPENDS = "depends"
    """It depends on the case ANPR's text describes."""

    @property
    def description(self) -> str:
        return _RETRY_TEXT[self]


_RETRY_TEXT = {
    Retry.NO: "no: the same request gets the same answer; fix the data or the setup first",
    Retry.LATER: "yes, later: nothing was registered; send it again as a new operation",
    Retry.DEPENDS: "depends on the case described by ANPR's text",
}


class AnprRejected(AnprError):
    """ANPR answered KO. ``errors`` holds every entry, blocking and warning, in order.

    ``operation``, ``id_operazione_comune``, ``id_operazione_anpr`` and ``esito_operazione``
    (the protocol's ``esitoOperazione``) come from the answer's ``testataRisposta``; ``raw`` is
    the answer as received.

    Built by :func:`anpr_client.errors.catalogue.rejection_for`, which picks the class and
    passes what it decided: ``primary``, the entry that decided the class (the most specific
    blocking one; ``None`` when no entry is blocking), and ``retry``, the :class:`Retry` advice
    for it. Given neither, ``primary`` is the first blocking entry and ``retry`` is
    :attr:`Retry.DEPENDS`: this class knows no error code.
    """

    _explainer: ClassVar[Callable[[AnprRejected], str] | None] = None
    # Set by the catalogue when it loads, for the deprecated ``explain()`` method.

    def __init__(
        self,
        errors: Sequence[ErrorItem],
        *,
        operation: str,
        id_operazione_comune: str | None = None,
        id_operazione_anpr: str | None = None,
        esito_operazione: str | None = None,
        raw: bytes | None = None,
        primary: ErrorItem | None = None,
        retry: Retry = Retry.DEPENDS,
    ):
        self.errors: tuple[ErrorItem, ...] = tuple(errors)
        self.operation = operation
        self.id_operazione_comune = id_operazione_comune
        self.id_operazione_anpr = id_operazione_anpr
        self.esito_operazione = esito_operazione
        self.raw = raw
        self.primary: ErrorItem | None = (
            primary if primary is not None else next((e for e in self.errors if e.blocking), None)
        )
        self.retry = Retry(retry)
        head = f"ANPR rejected operation {operation}"
        if id_operazione_comune:
            head += f" (idOperazioneComune {id_operazione_comune}"
            if id_operazione_anpr and id_operazione_anpr != "0":
                head += f", idOperazioneANPR {id_operazione_anpr}"
            head += ")"
        lines = "\n".join(f"  - {e}" for e in self.errors) or "  (no error entries)"
        super().__init__(f"{head}:\n{lines}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.errors)

    @property
    def blocking(self) -> tuple[ErrorItem, ...]:
        return tuple(e for e in self.errors if e.blocking)

    @property
    def warnings(self) -> tuple[ErrorItem, ...]:
        return tuple(e for e in self.errors if not e.blocking)

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later (999, 998…): ``retry`` is ``LATER``.

        ANPR answered, so nothing was registered: resend it as a new operation (a new
        ``idOperazioneComune``; a reused one gets the stored answer back).
        """
        return self.primary is not None and self.retry is Retry.LATER

    def explain(self) -> str:
        """Deprecated: use :func:`anpr_client.errors.catalogue.explain` (``explain(exc)``)."""
        warnings.warn(
            "AnprRejected.explain() is deprecated: use anpr_client.errors.catalogue.explain(exc)"
            " (it will be removed in 1.0)",
            DeprecationWarning,
            stacklevel=2,
        )
        explainer = AnprRejected._explainer
        if explainer is None:  # pragma: no cover - importing anpr_client loads the catalogue
            raise AnprError("the catalogue is not loaded: import anpr_client.errors.catalogue")
        return explainer(self)


class BusinessRuleError(AnprRejected):
    """EN codes: a registry business rule refused the operation."""


class NotFoundError(BusinessRuleError):
    """EN122: nothing matches the request."""


class OperationNotAllowedError(BusinessRuleError):
    """EN148: operation not allowed, e.g. the same idOperazioneComune is still in progress."""


class PrivilegeError(BusinessRuleError):
    """EN493: the operator lacks the privileges for this operation."""


class ReferenceValueError(AnprRejected):
    """EC codes: a value is not in the ANPR reference table it must come from."""


class InconsistentDataError(AnprRejected):
    """ES codes: fields are inconsistent with each other or with the registry."""


class FormatError(AnprRejected):
    """EHR codes: a value has the wrong format."""


class HouseholdError(AnprRejected):
    """EF codes: household (*famiglia anagrafica*) or cohabitation rules."""


FamilyError = HouseholdError
"""The former name of :class:`HouseholdError`, still exported ("family" now means only an
ANPR service family: 1000, 3000, …)."""


class RevenueAgencyError(AnprRejected):
    """EA/EAA/ENT… codes: answers of the Agenzia delle Entrate (codice fiscale checks)."""


class ServiceError(AnprRejected):
    """999: the service could not complete the operation."""


class ServiceUnavailableError(AnprRejected):
    """998: the service is unavailable; nothing was applied, try again later."""


# Tracebacks and reprs name the public path, not this module (as httpx does).
for _name in __all__:
    globals()[_name].__module__ = "anpr_client.errors"
del _name
