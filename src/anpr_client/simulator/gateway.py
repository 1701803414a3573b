"""The simulated security gateway: what ANPR's perimeter checks before the application.

ANPR's services run on Apache CXF with WSS4J behind a perimeter (italia/anpr#3286 shows CXF's
MTOM, #988 the perimeter's own HTTP answer). For each request, in order:

1. the SOAP headers: a header block addressed to this node with ``soap:mustUnderstand="1"``
   that the gateway does not process (anything but ``wsse:Security``) gets the SOAP 1.1 fault
   ``soap:MustUnderstand`` (CXF's ``MustUnderstandInterceptor``: ``MustUnderstand headers:
   [{ns}name] are not understood.``, as in frankframework/frankframework#9759);
2. the WS-Security frame, with the library's own verifier
   (:func:`anpr_client.security.verify.verify_envelope`) against the simulator's CA and its
   revocations; a failure becomes the fault :func:`gateway_fault` names (``certificate
   revoked``, ``Rejected by policy``, ``Internal Error``). Input that breaks a parser on the
   way (a year-9999 instant, a certificate with a duplicated extension) is ``Internal Error
   (from client)`` too, never a dropped connection;
3. the Timestamp as WSS4J holds it: ``Expires`` is required and ``Created`` may be at most
   ``timestamp_ttl`` seconds old (WSS4J's ``timeStampTTL``, 300 s by default; ANPR's tokens
   live five minutes, italia/anpr#1827, #2504) — otherwise ``Rejected by policy``, the fault of
   a token outside its time window (italia/anpr#970, #954);
4. the identity policy: the SAML ``IdSede`` must be a Comune on the simulated ANPR and equal
   the request's ``codMittente``; the signer certificate must belong to that Comune (its CN
   starts with the ISTAT code), and so must the workstation (``IdPostazione`` and the signer
   of ``IdPostazioneFirmato``); the operator (NameID) must be a well-formed codice fiscale —
   otherwise ``Rejected by policy``;
5. the body against the family's XSD — otherwise ``Internal Error (from client)``.

Every fault is HTTP 500, ``text/xml``, without detail (:func:`~.answers.fault_answer`).

``IdPostazioneFirmato`` (a CMS signature over the workstation id, made once per workstation and
repeated in every request) is verified by the library the first time a value is seen; later
requests carrying the very same bytes reuse that result, and only its signer's certificate path
is validated again (time, revocation). Likewise the certificate paths the trust store validates
are remembered per certificate (the store is immutable; a revocation builds a new one) and
reused only while the time is inside every validity window of the path. That halves the cost
of a request without changing any verdict: the frame is verified in full every time.

Only the verified Body is read afterwards. With ``require_signature=False`` an unsigned request
passes step 2 (a present frame is still verified) and ``codMittente`` is taken at its word.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from ..errors.exceptions import RevokedCertificate, UntrustedCertificate, VerificationError
from ..safexml import NS
from ..security.algorithms import SignatureMethod
from ..security.cms import VerifiedSignedData
from ..security.policy import DEFAULT_POLICY, SecurityPolicy
from ..security.saml import _verify_id_postazione
from ..security.trust import MemoTrustStore, TrustStore
from ..security.verify import VerifiedEnvelope, VerifiedTimestamp, verify_envelope
from ..soap.bundle import Bundle, Operation
from ..validation import codicefiscale

__all__ = [
    "CERTIFICATE_REVOKED",
    "INTERNAL_ERROR",
    "MUST_UNDERSTAND",
    "REJECTED_BY_POLICY",
    "Gateway",
    "GatewayRejection",
    "MemoTrustStore",
    "Passed",
    "gateway_fault",
]

_SOAP: Final = NS["soap"]
_WSSE: Final = NS["wsse"]
_MUST_UNDERSTAND_ATTR: Final = f"{{{_SOAP}}}mustUnderstand"
_ACTOR_ATTR: Final = f"{{{_SOAP}}}actor"
_NEXT_ACTOR: Final = "http://schemas.xmlsoap.org/soap/actor/next"
# The header blocks the gateway processes (every other one with mustUnderstand="1" is refused).
_UNDERSTOOD: Final = frozenset({f"{{{_WSSE}}}Security"})

#: The fault strings of ANPR's security gateway; integrators' reports of each (causes and
#: fixes) are in :mod:`anpr_client.errors.faults`: a deleted or revoked certificate
#: (italia/anpr#1918, #2246), clock skew and an untrusted or mixed-up certificate
#: (italia/anpr#970, #954), XSD and frame errors (italia/anpr#2343, #2572, #3285).
INTERNAL_ERROR: Final = "Internal Error (from client)"
REJECTED_BY_POLICY: Final = "Rejected by policy. (from client)"
CERTIFICATE_REVOKED: Final = "certificate revoked (from client)"
#: The SOAP 1.1 faultcode (local name) for a header block that must be understood but is not.
MUST_UNDERSTAND: Final = "MustUnderstand"

# What parsers raise on input they cannot represent (a year-9999 instant moved to UTC is an
# OverflowError, a certificate with an extension twice a DuplicateExtension, …) when the
# verifier lets it through untyped: the gateway answers it like any broken frame.
_UNPARSABLE: Final = (
    ValueError,
    OverflowError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

# Checks whose failure is a policy matter (time windows, trust) rather than a broken frame.
_POLICY_CHECKS: Final = frozenset(
    {
        "timestamp-expired",
        "timestamp-future",
        "saml-expired",
        "saml-not-yet-valid",
        "trust",
        "trust-expired",
        "trust-not-yet-valid",
        "trust-usage",
    }
)


def gateway_fault(error: VerificationError) -> str:
    """The ``faultstring`` ANPR's gateway answers for this verification failure.

    A revoked signer → ``certificate revoked (from client)``; an untrusted or expired
    certificate and clock problems (Timestamp or assertion outside its window) →
    ``Rejected by policy. (from client)``; every malformed or unverifiable frame →
    ``Internal Error (from client)``.
    """
    if isinstance(error, RevokedCertificate):
        return CERTIFICATE_REVOKED
    if isinstance(error, UntrustedCertificate) or error.check in _POLICY_CHECKS:
        return REJECTED_BY_POLICY
    return INTERNAL_ERROR


class GatewayRejection(Exception):
    """The gateway refuses the request: answer the SOAP fault ``faultstring``.

    ``reason`` says why, for the simulator's log (the gateway's answer carries no detail, like
    ANPR's); ``check`` is the verifier's check name when the frame failed; ``faultcode`` the
    SOAP 1.1 faultcode's local name (``Client``, or ``MustUnderstand``).
    """

    def __init__(
        self,
        faultstring: str,
        reason: str,
        *,
        check: str | None = None,
        faultcode: str = "Client",
    ):
        super().__init__(f"{faultstring}: {reason}")
        self.faultstring = faultstring
        self.reason = reason
        self.check = check
        self.faultcode = faultcode


@dataclass(frozen=True)
class Passed:
    """A request the gateway let through."""

    operation: Operation
    payload: etree._Element
    """The request element, from the verified Body (or the received one, if unsigned)."""
    signed: bool
    id_sede: str | None
    operator: str | None
    id_postazione: str | None


class _WorkstationProofs:
    """Verified ``IdPostazioneFirmato`` values, by their exact bytes (bounded, thread-safe)."""

    def __init__(self, maxsize: int = 1024):
        self._maxsize = maxsize
        self._verified: OrderedDict[tuple[str, str], VerifiedSignedData] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self,
        attributes: Mapping[str, str],
        *,
        trust: TrustStore,
        policy: SecurityPolicy,
        now: dt.datetime,
    ) -> VerifiedSignedData:
        key = (attributes.get("IdPostazione", ""), attributes.get("IdPostazioneFirmato", ""))
        with self._lock:
            known = self._verified.get(key)
            if known is not None:
                self._verified.move_to_end(key)
        if known is None:
            known = _verify_id_postazione(attributes, trust=trust, policy=policy, now=now)
            with self._lock:
                self._verified[key] = known
                while len(self._verified) > self._maxsize:
                    self._verified.popitem(last=False)
        else:
            trust.validate(
                known.signer,
                at=now,
                skew=policy.clock_skew,
                extra=[c for c in known.certificates if c is not known.signer],
                purpose="workstation",
            )
        return known


class Gateway:
    """Checks requests like ANPR's perimeter (see the module docstring). Thread-safe."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        trust: Callable[[], TrustStore],
        known_comune: Callable[[str], bool],
        now: Callable[[], dt.datetime],
        require_signature: bool = True,
        allow_sha1: bool = True,
        clock_skew: float = 60.0,
        timestamp_ttl: float = 300.0,
        signature_methods: Iterable[SignatureMethod] | None = None,
    ):
        self._bundle = bundle
        self._trust = trust
        self._known_comune = known_comune
        self._now = now
        self.require_signature = require_signature
        self.timestamp_ttl = timestamp_ttl
        policy: SecurityPolicy = dataclasses.replace(DEFAULT_POLICY, clock_skew=clock_skew)
        self.policy = policy.allowing_sha1() if allow_sha1 else policy
        if signature_methods is not None:  # exactly these (a gateway refusing rsa-sha256)
            methods = frozenset(SignatureMethod.from_name(m) for m in signature_methods)
            self.policy = dataclasses.replace(
                self.policy,
                signature_methods=methods,
                digest_methods=frozenset(m.digest_method for m in methods),
            )
        self._frame_policy = dataclasses.replace(self.policy, verify_id_postazione=False)
        self._proofs = _WorkstationProofs()
        self._by_request = {op.request.text: op for op in bundle}

    def operation_of(self, envelope: etree._Element) -> Operation | None:
        """The operation a received envelope asks for (by its Body's element), if known."""
        body = envelope.find(f"{{{_SOAP}}}Body")
        if body is None:
            return None
        payload = next((c for c in body if isinstance(c.tag, str)), None)
        return None if payload is None else self._by_request.get(payload.tag)

    def check(self, envelope: etree._Element, family: str, *, raw: bytes | None = None) -> Passed:
        """Run the gateway's checks on a parsed envelope sent to ``family``'s path.

        ``raw``, when given, is the request body ``envelope`` was parsed from: the verifier
        reads it instead of serialising the tree again.
        """
        if etree.QName(envelope).text != f"{{{_SOAP}}}Envelope":
            raise GatewayRejection(INTERNAL_ERROR, "not a SOAP 1.1 envelope")
        header = envelope.find(f"{{{_SOAP}}}Header")
        if header is not None:
            _check_must_understand(header)
        has_frame = header is not None and header.find(f"{{{_WSSE}}}Security") is not None
        id_sede = operator = id_postazione = None
        signed = False
        if has_frame or self.require_signature:
            try:
                verified, proof = self._verify(envelope if raw is None else raw)
            except VerificationError as exc:
                raise GatewayRejection(gateway_fault(exc), str(exc), check=exc.check) from None
            except _UNPARSABLE as exc:
                raise GatewayRejection(
                    INTERNAL_ERROR,
                    f"the frame cannot be read ({type(exc).__name__}: {exc})",
                    check="unparsable",
                ) from None
            payload = verified.payload
            signed = True
            id_sede, operator = verified.id_sede, verified.operator
            id_postazione = verified.id_postazione
            self._check_timestamp(verified.timestamp)
            self._check_identity(
                _common_name(verified.signer), id_sede, operator, id_postazione, proof
            )
        else:
            body = envelope.find(f"{{{_SOAP}}}Body")
            payload = (
                None if body is None else next((c for c in body if isinstance(c.tag, str)), None)
            )
        if payload is None:
            raise GatewayRejection(INTERNAL_ERROR, "the Body holds no request element")
        operation = self._by_request.get(payload.tag)
        if operation is None or operation.family != family:
            raise GatewayRejection(
                INTERNAL_ERROR,
                f"{etree.QName(payload).localname} is not a request of the service at this path",
            )
        schema = self._bundle.schema(family)
        if not schema.validate(payload):
            errors = list(schema.error_log)  # type: ignore[call-overload]
            detail = str(errors[0].message) if errors else "schema validation failed"
            raise GatewayRejection(INTERNAL_ERROR, f"XSD: {detail}")
        if signed:
            cod_mittente = payload.findtext("testataRichiesta/codMittente")
            if cod_mittente != id_sede:
                raise GatewayRejection(
                    REJECTED_BY_POLICY,
                    f"IdSede {id_sede} differs from codMittente {cod_mittente}",
                )
        return Passed(operation, payload, signed, id_sede, operator, id_postazione)

    def _verify(
        self, message: etree._Element | bytes
    ) -> tuple[VerifiedEnvelope, VerifiedSignedData | None]:
        """The verified frame and, if the policy asks for it, the verified workstation proof."""
        trust, now = self._trust(), self._now()
        verified = verify_envelope(message, trust=trust, policy=self._frame_policy, now=now)
        proof = None
        if self.policy.verify_id_postazione and verified.assertion is not None:
            proof = self._proofs.verify(
                verified.assertion.attributes, trust=trust, policy=self.policy, now=now
            )
        return verified, proof

    def _check_timestamp(self, timestamp: VerifiedTimestamp | None) -> None:
        """WSS4J's rules on top of the verifier's window: Expires present, Created fresh."""
        if timestamp is None:
            return  # the policy did not require one (the verifier refuses a missing one)
        if timestamp.expires is None:
            raise GatewayRejection(
                REJECTED_BY_POLICY, "the wsu:Timestamp has no Expires", check="timestamp-expires"
            )
        age = (self._now() - timestamp.created).total_seconds()
        if age > self.timestamp_ttl:
            raise GatewayRejection(
                REJECTED_BY_POLICY,
                f"the wsu:Timestamp was created {age:.0f} s ago "
                f"(at most {self.timestamp_ttl:.0f} s)",
                check="timestamp-ttl",
            )

    def _check_identity(
        self,
        cn: str,
        id_sede: str | None,
        operator: str | None,
        id_postazione: str | None,
        proof: VerifiedSignedData | None,
    ) -> None:
        if id_sede is None or not self._known_comune(id_sede):
            raise GatewayRejection(
                REJECTED_BY_POLICY, f"IdSede {id_sede!r} is not a Comune on this ANPR"
            )
        comune = f"{id_sede}-"
        if not cn.startswith(comune):
            raise GatewayRejection(
                REJECTED_BY_POLICY,
                f"the signer certificate {cn!r} does not belong to Comune {id_sede}",
            )
        if not (id_postazione or "").startswith(comune):
            raise GatewayRejection(
                REJECTED_BY_POLICY,
                f"IdPostazione {id_postazione!r} is not a workstation of Comune {id_sede}",
            )
        if proof is not None and not _common_name(proof.signer).startswith(comune):
            raise GatewayRejection(
                REJECTED_BY_POLICY,
                f"IdPostazioneFirmato is signed by {_common_name(proof.signer)!r}, not by a "
                f"workstation of Comune {id_sede}",
            )
        if not codicefiscale.is_valid(operator or ""):
            raise GatewayRejection(
                REJECTED_BY_POLICY, "the operator (NameID) is not a valid codice fiscale"
            )


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _check_must_understand(header: etree._Element) -> None:
    """Refuse header blocks addressed to this node that must be understood and are not."""
    refused = [
        child.tag
        for child in header
        if isinstance(child.tag, str)
        and child.tag not in _UNDERSTOOD
        and (child.get(_MUST_UNDERSTAND_ATTR) or "").strip() in ("1", "true")
        and child.get(_ACTOR_ATTR, _NEXT_ACTOR) == _NEXT_ACTOR
    ]
    if refused:
        raise GatewayRejection(
            f"MustUnderstand headers: [{', '.join(refused)}] are not understood.",
            'a header block with mustUnderstand="1" that the gateway does not process',
            check="must-understand",
            faultcode=MUST_UNDERSTAND,
        )
