"""The simulated security gateway: what ANPR's perimeter checks before the application.

For each request, in order:

1. the WS-Security frame, with the library's own verifier
   (:func:`anpr_client.security.verify.verify_envelope`) against the simulator's CA and its
   revocations; a failure becomes the fault :func:`gateway_fault` names (``certificate
   revoked``, ``Rejected by policy``, ``Internal Error``);
2. the identity policy: the SAML ``IdSede`` must be a Comune on the simulated ANPR and equal
   the request's ``codMittente``; the signer certificate must belong to that Comune (its CN
   starts with the ISTAT code); the operator (NameID) must be a well-formed codice fiscale —
   otherwise ``Rejected by policy``;
3. the body against the family's XSD — otherwise ``Internal Error (from client)``.

``IdPostazioneFirmato`` (a CMS signature over the workstation id, made once per workstation and
repeated in every request) is verified by the library the first time a value is seen; later
requests carrying the very same bytes reuse that result, and only its signer's certificate path
is validated again (time, revocation). Likewise the certificate paths the trust store validates
are remembered per certificate (the store is immutable; a revocation builds a new one) and
reused only while the time is inside every validity window of the path. That halves the cost
of a request without changing any verdict: the frame is verified in full every time.

Only the verified Body is read afterwards. With ``require_signature=False`` an unsigned request
passes step 1 (a present frame is still verified) and ``codMittente`` is taken at its word.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree

from ..errors.exceptions import RevokedCertificate, UntrustedCertificate, VerificationError
from ..safexml import NS
from ..security.cms import VerifiedSignedData
from ..security.policy import DEFAULT_POLICY, SecurityPolicy
from ..security.saml import _verify_id_postazione
from ..security.trust import TrustStore
from ..security.verify import verify_envelope
from ..soap.bundle import Bundle, Operation
from ..validation import codicefiscale

__all__ = [
    "CERTIFICATE_REVOKED",
    "INTERNAL_ERROR",
    "REJECTED_BY_POLICY",
    "Gateway",
    "GatewayRejection",
    "MemoTrustStore",
    "Passed",
    "gateway_fault",
]

_SOAP: Final = NS["soap"]
_WSSE: Final = NS["wsse"]

#: The fault strings of ANPR's security gateway; integrators' reports of each (causes and
#: fixes) are in :mod:`anpr_client.errors.faults`: a deleted or revoked certificate
#: (italia/anpr#1918, #2246), clock skew and an untrusted or mixed-up certificate
#: (italia/anpr#970, #954), XSD and frame errors (italia/anpr#2343, #2572, #3285).
INTERNAL_ERROR: Final = "Internal Error (from client)"
REJECTED_BY_POLICY: Final = "Rejected by policy. (from client)"
CERTIFICATE_REVOKED: Final = "certificate revoked (from client)"

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
    ANPR's); ``check`` is the verifier's check name when the frame failed.
    """

    def __init__(self, faultstring: str, reason: str, *, check: str | None = None):
        super().__init__(f"{faultstring}: {reason}")
        self.faultstring = faultstring
        self.reason = reason
        self.check = check


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
        self._memo: OrderedDict[tuple[Any, ...], tuple[dt.datetime, dt.datetime, Any]] = (
            OrderedDict()
        )
        self._memo_lock = threading.Lock()

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
        key = (
            certificate.public_bytes(Encoding.DER),
            tuple(c.public_bytes(Encoding.DER) for c in extras),
            skew,
            purpose,
        )
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
            self._memo[key] = (low, high, path)
            while len(self._memo) > 1024:
                self._memo.popitem(last=False)
        return path


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
    ):
        self._bundle = bundle
        self._trust = trust
        self._known_comune = known_comune
        self._now = now
        self.require_signature = require_signature
        policy: SecurityPolicy = dataclasses.replace(DEFAULT_POLICY, clock_skew=clock_skew)
        self.policy = policy.allowing_sha1() if allow_sha1 else policy
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

    def check(self, envelope: etree._Element, family: str) -> Passed:
        """Run the gateway's checks on a parsed envelope sent to ``family``'s path."""
        if etree.QName(envelope).text != f"{{{_SOAP}}}Envelope":
            raise GatewayRejection(INTERNAL_ERROR, "not a SOAP 1.1 envelope")
        header = envelope.find(f"{{{_SOAP}}}Header")
        has_frame = header is not None and header.find(f"{{{_WSSE}}}Security") is not None
        id_sede = operator = id_postazione = None
        signed = False
        if has_frame or self.require_signature:
            trust, now = self._trust(), self._now()
            try:
                verified = verify_envelope(
                    envelope, trust=trust, policy=self._frame_policy, now=now
                )
                if self.policy.verify_id_postazione and verified.assertion is not None:
                    self._proofs.verify(
                        verified.assertion.attributes, trust=trust, policy=self.policy, now=now
                    )
            except VerificationError as exc:
                raise GatewayRejection(gateway_fault(exc), str(exc), check=exc.check) from None
            payload = verified.payload
            signed = True
            id_sede, operator = verified.id_sede, verified.operator
            id_postazione = verified.id_postazione
            names = verified.signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            self._check_identity(str(names[0].value) if names else "", id_sede, operator)
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

    def _check_identity(self, cn: str, id_sede: str | None, operator: str | None) -> None:
        if id_sede is None or not self._known_comune(id_sede):
            raise GatewayRejection(
                REJECTED_BY_POLICY, f"IdSede {id_sede!r} is not a Comune on this ANPR"
            )
        if not cn.startswith(f"{id_sede}-"):
            raise GatewayRejection(
                REJECTED_BY_POLICY,
                f"the signer certificate {cn!r} does not belong to Comune {id_sede}",
            )
        if not codicefiscale.is_valid(operator or ""):
            raise GatewayRejection(
                REJECTED_BY_POLICY, "the operator (NameID) is not a valid codice fiscale"
            )
