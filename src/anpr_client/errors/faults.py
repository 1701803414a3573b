"""SOAP faults → typed exceptions with ranked likely causes.

ANPR's security gateway answers a request it refuses with a SOAP fault whose ``faultstring`` is
one of a handful of fixed texts and carries no detail. :func:`fault_exception` recognises them
and attaches the likely causes, most likely first, each with what to check. The causes come from
public reports of integrators and maintainers (italia/anpr issues); the wording is ours.

=====================================  =========================  ===============================
faultstring                            exception                  the request …
=====================================  =========================  ===============================
``Internal Error (from client)``       InternalErrorFromClient    was refused: not applied
``Rejected by policy. (from client)``  RejectedByPolicy           was refused: not applied
``certificate revoked (from client)``  CertificateRevoked         was refused: not applied
``… (from server)``, 502/503/504       ServerFault                MAY have been applied
``Aborting…ErrorNL (from client)``     SoapFault                  was refused: not applied
faultcode ``MustUnderstand``           SoapFault                  was refused: not applied
anything else                          SoapFault / ServerFault    see the causes
=====================================  =========================  ===============================

A :class:`~anpr_client.errors.ServerFault` is *outcome unknown*: resend with the same
``idOperazioneComune`` (ANPR replays its stored answer) or look the outcome up with 3003, never
under a new id. The SOAP envelope version does not matter: the SOAP 1.2 ``env:Receiver`` /
``Internal Error (from server)`` that a 6001 got (italia/anpr#2653) is a ``ServerFault`` too,
and for 6001 the causes say that a certificate may have been issued (italia/anpr#1058).

**The signature algorithm is an open question.** Every frame ANPR is publicly known to have
accepted is signed rsa-sha1/sha1 (the official sample client's Basic128Rsa15 policy, traces in
italia/anpr#1903 and #2504); that rsa-sha256, our default, is accepted is inferred from a
published gateway configuration, never shown. So when the client knows what it sent
(:class:`RequestFrame`, given by the binding), the causes of ``Internal Error (from client)``
rank "the endpoint may not accept rsa-sha256" by what the client knows: first when the request
was signed rsa-sha256 and its frame verifies with our own verifier (its body passed the XSD
check before sending, so the usual causes are ruled out as far as we can check), second when
the frame was not checked, and not at all for an rsa-sha1 request. Without that knowledge
(``anpr errors fault``) it is listed last, conditionally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .._compat import deprecated_names
from .exceptions import (
    CertificateRevoked,
    InternalErrorFromClient,
    RejectedByPolicy,
    ServerFault,
    SoapFault,
)

__all__ = ["FAULTS", "KnownFault", "RequestFrame", "classify_fault", "fault_exception"]

_SAME_ID: Final = (
    "resend it with the SAME idOperazioneComune (ANPR answers a repeated id with its stored "
    "outcome) or look the outcome up with service 3003; never resend it under a new id, which "
    "could register it twice"
)


@dataclass(frozen=True, slots=True)
class KnownFault:
    """One entry of the fault table: a fault we recognise, its exception class and its ranked
    likely causes. (Named apart from the simulator's injected faults.)"""

    key: str
    label: str
    exception: type[SoapFault]
    causes: tuple[str, ...]
    outcome_unknown: bool = False
    outcome: str = "refused by the gateway: not applied"


INTERNAL_ERROR: Final = KnownFault(
    key="internal-error",
    label="Internal Error (from client) / Internal Error",
    exception=InternalErrorFromClient,
    causes=(
        "the request body does not validate against the service's XSD (element order, a "
        "missing mandatory element, a character outside the allowed pattern of a free-text "
        "field, a value too long): validate the body locally against the bundled XSD before "
        "sending",
        "the WS-Security frame is incomplete: the message signature must cover both the "
        "wsu:Timestamp and the soap:Body, and every ds:Reference URI must point at an existing "
        "wsu:Id",
        'the SAML assertion does not validate against its schema, e.g. xsi:type="xsd:string" '
        "with no xsd prefix declared in scope: check the assertion's namespaces and attributes",
        "the token times are off: synchronise the client clock (NTP) and write the Timestamp "
        "and assertion times in UTC",
    ),
)

REJECTED_BY_POLICY: Final = KnownFault(
    key="rejected-by-policy",
    label="Rejected by policy. (from client)",
    exception=RejectedByPolicy,
    causes=(
        "the source IP address is not on ANPR's allow-list for this environment, or the traffic "
        "leaves through another interface or NAT address: check the public egress IP "
        "registered for the Comune",
        "the operator codice fiscale in the SAML NameID is unknown, mistyped, blocked or has no "
        "profile in this environment: check the user in the ANPR console (Sicurezza, user "
        "management)",
        "clock skew or expired tokens: synchronise the client clock (NTP), write times in UTC "
        "and keep the Timestamp and assertion validity short but current",
        "test and production credentials are mixed: a test certificate used against "
        "production or the reverse, or the wrong environment's endpoint",
        "the workstation certificate was replaced or revoked in the console, or the Comune's "
        "certificates changed (e.g. after a change of province): download and configure the "
        "current one",
    ),
)

CERTIFICATE_REVOKED: Final = KnownFault(
    key="certificate-revoked",
    label="certificate revoked (from client)",
    exception=CertificateRevoked,
    causes=(
        "the certificate that signs the message (the one in the BinarySecurityToken) was "
        "revoked or deleted in the ANPR console: issue or download a new one and configure it",
        "a replaced certificate is still configured after a rotation: switch to the current "
        "one and remove stale copies from every workstation",
        "test and production certificates are mixed: use the certificate issued for this "
        "environment",
    ),
)

SERVER: Final = KnownFault(
    key="server",
    label="… (from server), Malformed content (from server), HTTP 502/503/504",
    exception=ServerFault,
    outcome_unknown=True,
    outcome="unknown: may have been applied",
    causes=(
        "ANPR's back end failed or timed out after the gateway accepted the request, so the "
        "operation MAY have been applied: " + _SAME_ID,
        "a service outage or maintenance window: check ANPR's announcements and retry later "
        "with the same idOperazioneComune",
        "for 'Malformed content (from server)': the back end returned something the gateway "
        "could not read (often an error page during an incident); if it repeats for one "
        "request only, report it to ANPR support with the idOperazioneComune and the time",
    ),
)

ERROR_NL: Final = KnownFault(
    key="error-nl",
    label="Aborting...Invalid request received ErrorNL (from client)",
    exception=SoapFault,
    outcome="refused by the gateway: not applied (inferred from 'from client')",
    causes=(
        "an intermittent gateway condition reported by several integrators, with no public "
        "root cause: resend the same request with the same idOperazioneComune after a short "
        "pause",
        "if it persists for one request, check the HTTP framing: one UTF-8 XML document, a "
        "correct Content-Length (or chunking) and Content-Type, no stray bytes around the "
        "envelope",
        "if it persists, report it to ANPR support with the idOperazioneComune and the time",
    ),
)

CLIENT_STACK: Final = KnownFault(
    key="client-stack",
    label="Error while creating SAML assertion wrapper",
    exception=SoapFault,
    outcome="raised by the client's own stack: not sent",
    causes=(
        "this fault comes from a client-side WS-Security stack (WSS4J/CXF), not from ANPR: "
        "check the keystore path, the key alias and its password in that stack",
    ),
)

FROM_CLIENT: Final = KnownFault(
    key="from-client",
    label="any other '(from client)' fault",
    exception=SoapFault,
    causes=(
        "the gateway refused the request before it reached ANPR, so nothing was applied: "
        "validate the body against the XSD and check the security frame (signature over "
        "Timestamp and Body, SAML assertion, clock)",
        "check the IP allow-list, the operator and the certificate of this environment",
    ),
)

MUST_UNDERSTAND: Final = KnownFault(
    key="must-understand",
    label="MustUnderstand headers: [...] are not understood",
    exception=SoapFault,
    causes=(
        'a SOAP header block carries soap:mustUnderstand="1" and the gateway does not process '
        "it (CXF's MustUnderstandInterceptor refuses the whole request before it reaches ANPR, "
        "so nothing was applied): remove the header, or send it without mustUnderstand; a "
        "generic SOAP stack often adds WS-Addressing headers this way",
    ),
)

UNKNOWN: Final = KnownFault(
    key="unknown",
    label="any other fault",
    exception=SoapFault,
    outcome="not known for certain (a Server faultcode makes it a ServerFault)",
    causes=(
        "an unrecognised fault: keep the raw request and answer; the outcome is not known for "
        "certain, so " + _SAME_ID,
        "if it repeats, report the faultstring, the idOperazioneComune and the time to ANPR "
        "support",
    ),
)

SHA256_UNPROVEN: Final = (
    'the endpoint may not accept rsa-sha256: set signature = "rsa-sha1" in [security] and send '
    "again. Every frame ANPR is publicly known to have accepted is signed rsa-sha1/sha1 (the "
    "official sample client's Basic128Rsa15 policy, italia/anpr#1903, #2504); that rsa-sha256 "
    "is accepted is inferred from a gateway configuration, not proven"
)
"""The cause that the signature algorithm may be refused (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class RequestFrame:
    """What the client knows of the security frame of the request a fault answers."""

    signature: str | None
    """The request's ``ds:SignatureMethod`` as a short name (``rsa-sha256``, ``rsa-sha1``);
    ``None``: the request was not signed."""
    checked: bool = False
    """Our own verifier checked the frame (signature, references to Timestamp and Body, SAML
    assertion)."""
    problem: str | None = None
    """Why our own verifier refuses the frame, when it was checked and does not verify."""

    @property
    def verifies(self) -> bool:
        return self.checked and self.problem is None


def _internal_error_causes(frame: RequestFrame | None) -> tuple[str, ...]:
    """The causes of ``Internal Error (from client)``, ranked by what is known of the frame."""
    base = INTERNAL_ERROR.causes
    if frame is None:
        return (*base, "if the request was signed rsa-sha256: " + SHA256_UNPROVEN)
    if frame.signature is None:
        unsigned = (
            "the request carries no WS-Security frame, and ANPR refuses unsigned requests: "
            "configure [comune_key], [workstation] and [operator] (see docs/security.md)"
        )
        return (unsigned, *base)
    sha256 = frame.signature == "rsa-sha256"
    if frame.checked and frame.problem is not None:
        broken = (
            f"our own verifier refuses this request's frame ({frame.problem}): fix the frame "
            "first; ANPR's gateway is at least as strict"
        )
        return (broken, *base, *((SHA256_UNPROVEN,) if sha256 else ()))
    if not sha256:
        return base
    if frame.verifies:
        verified = (
            "this request's frame verifies with our own verifier and its body passed the XSD "
            "check before sending, so the likeliest cause is the algorithm: " + SHA256_UNPROVEN
        )
        return (verified, *base)
    return (base[0], SHA256_UNPROVEN, *base[1:])


_CERTIFICATE_MAY_BE_ISSUED: Final = (
    "for 6001: a certificate may have been issued (italia/anpr#1058, #2653): look it up with "
    "3003 by idOperazioneComune before asking again; a resend with the same "
    "idOperazioneComune returns the certificate ANPR issued (italia/anpr#5069)"
)


#: Every known fault, in the order of the table of the module docstring.
FAULTS: Final = (
    INTERNAL_ERROR,
    REJECTED_BY_POLICY,
    CERTIFICATE_REVOKED,
    SERVER,
    ERROR_NL,
    CLIENT_STACK,
    FROM_CLIENT,
    MUST_UNDERSTAND,
    UNKNOWN,
)

_GATEWAY_DOWN: Final = frozenset({502, 503, 504})
_SPACES: Final = re.compile(r"\s+")


def _normalise(text: object) -> str:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _SPACES.sub(" ", text).strip().casefold()


def _faultcode_local(faultcode: object) -> str:
    """A faultcode's local name, case-folded (``soap:MustUnderstand`` → ``mustunderstand``)."""
    return _normalise(faultcode).rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _faultcode_side(faultcode: object) -> str:
    """``client``, ``server`` or ``""`` from ``env:Client``, ``{ns}Server``, ``Sender``, …"""
    local = _faultcode_local(faultcode).split(".", 1)[0]
    if local in ("client", "sender"):
        return "client"
    if local in ("server", "receiver"):
        return "server"
    return ""


def classify_fault(
    faultstring: object, *, faultcode: object = "", http_status: object = None
) -> KnownFault:
    """The entry of the fault table a fault matches (``UNKNOWN`` if none does). Never raises."""
    text = _normalise(faultstring)
    if "certificate revoked" in text:
        return CERTIFICATE_REVOKED
    if "rejected by policy" in text:
        return REJECTED_BY_POLICY
    if "errornl" in text:
        return ERROR_NL
    if "saml assertion wrapper" in text:
        return CLIENT_STACK
    if "(from server)" in text:
        return SERVER
    if text.rstrip(". ") in ("internal error", "internal error (from client)"):
        return INTERNAL_ERROR
    if "(from client)" in text:
        return FROM_CLIENT
    if _faultcode_local(faultcode) == "mustunderstand" or "mustunderstand headers" in text:
        return MUST_UNDERSTAND
    if (isinstance(http_status, int) and http_status in _GATEWAY_DOWN) or _faultcode_side(
        faultcode
    ) == "server":
        return SERVER
    return UNKNOWN


def fault_exception(
    faultstring: str,
    *,
    faultcode: str = "",
    detail: str | None = None,
    http_status: int | None = None,
    operation: str | None = None,
    request_frame: RequestFrame | None = None,
) -> SoapFault:
    """The exception for a SOAP fault received in answer to ``operation``.

    Its class says what kind of fault it is; ``causes`` (also in the message) ranks the likely
    causes, most likely first, each with what to check. ``request_frame``, what the client
    knows of the request's security frame, re-ranks the causes of ``Internal Error (from
    client)`` (see the module docstring). Never raises: any input gives a
    :class:`~anpr_client.errors.SoapFault`.
    """
    kind = classify_fault(faultstring, faultcode=faultcode, http_status=http_status)
    text = faultstring if isinstance(faultstring, str) else _normalise(faultstring)
    causes = kind.causes
    if kind is INTERNAL_ERROR:
        frame = request_frame if isinstance(request_frame, RequestFrame) else None
        causes = _internal_error_causes(frame)
    if kind is SERVER and isinstance(http_status, int) and http_status in _GATEWAY_DOWN:
        causes = (f"HTTP {http_status} from the gateway: {causes[0]}", *causes[1:])
    if kind is SERVER and operation == "6001":
        causes = (causes[0], _CERTIFICATE_MAY_BE_ISSUED, *causes[1:])
    return kind.exception(
        text,
        faultcode=faultcode if isinstance(faultcode, str) else _normalise(faultcode),
        detail=detail if isinstance(detail, str) or detail is None else str(detail),
        causes=causes,
        operation=operation if isinstance(operation, str) or operation is None else str(operation),
    )


if TYPE_CHECKING:  # the old name as type checkers see it; at run time it warns
    FaultKind = KnownFault

__getattr__ = deprecated_names(__name__, {"FaultKind": ("KnownFault", KnownFault)})
