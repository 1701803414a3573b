"""The SOAP binding of ANPR's operations: build a request, send it, read the answer.

It sits below the client, as zeep keeps ``zeep/wsdl/bindings/soap.py`` below its ``Client``. A
:class:`Binding` holds the settings, the bundle, the security frame and the transport, and
knows nothing of the journal: :class:`~anpr_client.client.Client` composes it with one, and the
journal's reliable call (:mod:`anpr_client.journal.reliable`) drives it directly.

A request goes: payload → ``testataRichiesta`` filled and fitted to the family's testata
(:mod:`.testata`) → XML in schema order (:mod:`.codec`) → XSD validation (every violation
listed, nothing sent) → local checks (:mod:`anpr_client.validation`) → SOAP envelope
(:mod:`.envelope`) → security frame (the ``wsse`` hook, zeep's shape: ``apply(envelope,
headers)``) → a :class:`~anpr_client.results.PreparedRequest`. An answer goes: faults first,
MTOM, tolerant decoding, the echo of the request's testata checked → a
:class:`~anpr_client.results.Result`, or the exception of :mod:`anpr_client.errors` that says
what happened.

Safe to use from several threads: it keeps no per-call state (the default transport is made,
and the local checker looked up, on first use). The frame and transport it holds must be
thread-safe too (ours are).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Protocol

from lxml import etree

from ..errors.catalogue import emit_warnings, rejection_for
from ..errors.exceptions import (
    AnprError,
    Finding,
    InternalErrorFromClient,
    PayloadError,
    ProtocolError,
    Violation,
)
from ..errors.faults import RequestFrame, fault_exception
from ..logs import logged_call, wire_debug
from ..results import PreparedRequest, Result, error_items
from ..safexml import NS, parse_xml
from ..settings import Settings
from ..transport import HttpRequest, HttpResponse, HttpTransport, Transport
from .bundle import Bundle, Operation, get_bundle
from .codec import NO_MODEL, decode, decode_typed, encode
from .envelope import CONTENT_TYPE, build_envelope, read_answer
from .testata import build_header, check_echo, fit_header

if TYPE_CHECKING:
    from ..validation import PersonChecker

__all__ = ["Binding", "WsseHook", "request_frame"]

_HTTP_HEADERS: Final = {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'}
"""The HTTP headers of every request (SOAP 1.1; ANPR's operations have an empty action)."""
_LXML_PATH_PREFIX: Final = re.compile(r"(^|/)[A-Za-z_][\w.-]*:")
_LXML_ELEMENT: Final = re.compile(r"^Element '[^']*'(?:, attribute '[^']*')?: ")
_PACKAGE_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The ``anpr_client`` package directory (warnings point at the first frame outside it)."""


class WsseHook(Protocol):
    """zeep's ``wsse=`` plug point: sign an outgoing envelope, check an incoming one."""

    def apply(
        self, envelope: etree._Element, headers: dict[str, str]
    ) -> tuple[etree._Element, dict[str, str]]: ...

    def verify(self, envelope: etree._Element) -> etree._Element: ...


class TypedAnswer:
    """A typed call's wish to have the answer to ``code`` read into models too, in the decoder's
    walk (:func:`~anpr_client.soap.codec.decode_typed` with ``plan``, the plan of the answer
    element's class), set in :data:`TYPED_ANSWER` for the length of the call:
    :meth:`Binding.read` leaves in :attr:`value` the payload of the :class:`Result` it returns and
    in :attr:`model` that payload's model (or :data:`~anpr_client.soap.codec.NO_MODEL`), however
    the call gets there (directly, or through the journal and its retries). The caller uses
    :attr:`model` only when :attr:`value` is the very payload of the result it was handed."""

    __slots__ = ("code", "model", "plan", "value")

    def __init__(self, code: str, plan: Any):
        self.code = code
        self.plan = plan
        self.value: Any = None
        self.model: Any = NO_MODEL


TYPED_ANSWER: Final[ContextVar[TypedAnswer | None]] = ContextVar("TYPED_ANSWER", default=None)
"""The :class:`TypedAnswer` of the typed call running in this context, if any."""


class Binding:
    """Build, send and read ANPR messages for one Comune (see the module docstring).

    :param settings: the Comune, the environment (endpoints), timeouts and pre-send checks.
    :param bundle: the WSDL/XSD bundle; default: the one ``settings.wsdl_dir`` names (ours when
        unset), parsed once per process.
    :param transport: where requests go; default: HTTPS with the settings' TLS context, made on
        first use (so a dry run never opens key files).
    :param wsse: the WS-Security frame (see :mod:`anpr_client.security`); ``None``: unsigned.
    :param secret: called with a label to get a PIN or password that the settings' environment
        variables do not provide (for the mutual-TLS key of the default transport).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        bundle: Bundle | None = None,
        transport: Transport | None = None,
        wsse: WsseHook | None = None,
        secret: Callable[[str], str] | None = None,
    ):
        self.settings = settings
        self.bundle = bundle or get_bundle(settings.wsdl_dir)
        self.wsse = wsse
        self._transport = transport
        self._secret = secret
        self._checker: PersonChecker | None = None
        self._enforce: Callable[[str, Mapping[str, Any]], list[Finding]] | None = None

    @property
    def transport(self) -> Transport:
        """The transport; by default HTTPS with the settings' TLS context, made on first use."""
        if self._transport is None:
            from ..transport.tls import ssl_context_from_settings

            context = ssl_context_from_settings(self.settings, secret=self._secret)
            self._transport = HttpTransport(context)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def operation(self, code: str | Operation) -> Operation:
        return code if isinstance(code, Operation) else self.bundle.operation(code)

    def has_testata(self, operation: str | Operation) -> bool:
        """Whether the request of ``operation`` starts with a ``testataRichiesta`` (every
        operation a Comune sends; not N000, a message ANPR sends)."""
        return "testataRichiesta" in self.bundle.request_model(self.operation(operation)).children

    # ------------------------------------------------------------------ building

    def build(
        self,
        operation: str | Operation,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
    ) -> tuple[etree._Element, dict[str, Any]]:
        """The request element of ``operation``, XSD-checked, and the payload it was built
        from (its ``testataRichiesta`` filled): what :meth:`prepare` does before the local
        checks, the envelope and the signature. Raises
        :class:`~anpr_client.errors.PayloadError` listing every XSD violation."""
        op = self.operation(operation)
        data = _as_payload(payload, op.code)
        given = data.pop("testataRichiesta", None) or {}
        if not isinstance(given, Mapping) or not isinstance(header or {}, Mapping):
            raise PayloadError(
                op.code,
                [Violation("testataRichiesta", "type", "expected an object of header fields")],
            )
        overrides = {**given, **(header or {})}
        model = self.bundle.request_model(op)
        testata = model.children.get("testataRichiesta")
        if testata is not None:
            generated = build_header(self.settings, op.header_code, overrides)
            data = {"testataRichiesta": fit_header(generated, testata.children, overrides), **data}
        elif overrides:
            raise PayloadError(
                op.code,
                [Violation("testataRichiesta", "unknown-element", "this request has no testata")],
            )
        root, violations = encode(model, data)
        violations += _schema_violations(self.bundle.schema(op.family), root)
        if violations:
            raise PayloadError(op.code, violations)
        return root, data

    def prepare(
        self,
        operation: str | Operation,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
        sign: bool = True,
        check: bool | None = None,
    ) -> PreparedRequest:
        """Build (and sign, when a frame is configured) the request; nothing is sent.

        ``payload`` is a payload-shaped mapping or a typed model; its ``testataRichiesta``, if
        any, overrides generated header fields, as does ``header`` (an override of ``None``
        leaves a generated field out). Raises :class:`~anpr_client.errors.PayloadError` listing
        every XSD violation, then (unless ``check`` is false; default:
        ``settings.validation.before_send``) runs the local checks of
        :mod:`anpr_client.validation` and raises :class:`~anpr_client.errors.LocalCheckError`
        with the ANPR codes a blocking defect would get back.
        """
        op = self.operation(operation)
        root, data = self.build(op, payload, header=header)
        findings: tuple[Finding, ...] = ()
        if self.settings.validation.before_send if check is None else check:
            findings = tuple(self._precheck(op.code, data))
        envelope = build_envelope(root)
        signed = False
        written: bytes | None = None
        if sign and self.wsse is not None:
            to_bytes = getattr(self.wsse, "sign_to_bytes", None)
            if callable(to_bytes):  # our frame writes the signed bytes directly
                written = to_bytes(envelope, xml_declaration=True)
            else:
                envelope, _ = self.wsse.apply(envelope, dict(_HTTP_HEADERS))
            signed = True
        return PreparedRequest(
            operation=op.code,
            url=self.settings.url_for(op.family),
            envelope=written
            if written is not None
            else etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
            header=dict(data.get("testataRichiesta", {})),
            payload={k: v for k, v in data.items() if k != "testataRichiesta"},
            signed=signed,
            findings=findings,
        )

    def _precheck(self, operation: str, data: Mapping[str, Any]) -> list[Finding]:
        enforce = self._enforce
        if enforce is None:  # one checker per process and archive; both looked up once
            from ..validation import enforce as checks
            from ..validation import shared_checker

            self._checker = shared_checker(self.settings.validation.comuni)
            enforce = self._enforce = functools.partial(checks, checker=self._checker)
        return enforce(operation, data)

    # ------------------------------------------------------------------ sending

    def transmit(self, prepared: PreparedRequest) -> HttpResponse:
        """Send prepared bytes and return the raw HTTP answer (no parsing). Both are logged
        on ``anpr_client.wire`` at DEBUG when ``[logging] wire`` asks (:mod:`anpr_client.logs`)."""
        wire = self.settings.logging
        wire_debug(wire.wire, wire.mask_personal_data, "request", prepared.url, prepared.envelope)
        response = self.transport.send(
            HttpRequest(
                prepared.url,
                prepared.envelope,
                dict(_HTTP_HEADERS),
                self.settings.timeouts,
                limits=self.settings.limits,
            )
        )
        wire_debug(
            wire.wire,
            wire.mask_personal_data,
            f"answer (HTTP {response.status}, {response.content_type})",
            prepared.url,
            response.body,
        )
        return response

    def send(self, prepared: PreparedRequest) -> Result[dict[str, Any]]:
        """Send a prepared request and read the answer (see :meth:`read`), checking that it
        echoes the request; one INFO line on ``anpr_client.call`` says how it went."""
        with logged_call(prepared) as call:
            response = self.transmit(prepared)
            return call.ok(self.read(prepared.operation, response, request=prepared))

    # ------------------------------------------------------------------ reading

    def read(
        self,
        operation: str | Operation,
        response: HttpResponse,
        *,
        request: PreparedRequest | Mapping[str, Any] | None = None,
    ) -> Result[dict[str, Any]]:
        """Read an HTTP answer to ``operation``.

        Returns the OK branch as a :class:`~anpr_client.results.Result`; raises the
        :class:`~anpr_client.errors.AnprRejected` subclass for a KO answer (every entry kept), a
        :class:`~anpr_client.errors.SoapFault` subclass for a fault, or a
        :class:`~anpr_client.errors.ProtocolError` for an unreadable answer. ANPR's warnings
        are also emitted as :class:`~anpr_client.errors.AnprWarning`, pointing at the caller's
        line.

        ``request``, the request this answers (the prepared request, or its
        ``testataRichiesta``): an OK or KO answer whose ``testataRisposta`` names another id,
        operation or Comune raises :class:`~anpr_client.errors.EchoMismatch` (outcome unknown)
        instead; and a prepared request lets an ``Internal Error (from client)`` rank its causes
        by what was sent: its signature algorithm, and whether its frame verifies with our own
        verifier (see :mod:`anpr_client.errors.faults`). Without one the algorithm of this
        binding's frame is used.
        """
        op = self.operation(operation)
        try:
            answer = read_answer(response, operation=op.code, limits=self.settings.limits)
        except InternalErrorFromClient as fault:
            raise fault_exception(
                fault.faultstring,
                faultcode=fault.faultcode,
                detail=fault.detail,
                http_status=response.status,
                operation=op.code,
                request_frame=self._request_frame(request),
            ) from None
        if etree.QName(answer.payload).text != op.response.text:
            raise ProtocolError(
                f"expected {op.response.localname} in answer to {op.code}, "
                f"got {etree.QName(answer.payload).localname}"
            )
        model = self.bundle.response_model(op)
        typed = TYPED_ANSWER.get()
        if typed is not None and typed.code == op.code:
            decoded, unknown, root = decode_typed(model, answer.payload, typed.plan)
        else:
            decoded, unknown = decode(model, answer.payload)
        if not decoded:
            # The schema allows an empty answer (every branch is optional); ANPR never sends one.
            raise ProtocolError(f"the answer to {op.code} is an empty {op.response.localname}")
        outcome, value = op.response.localname, decoded
        # Most answers are a choice of branches (``…_OK`` | ``rispostaKO``), each a message
        # with its own testataRisposta; unwrap the branch that came back. A KO branch wins
        # even beside other elements (5021 answers ``rispostaKO`` with ``tipoMutazione``):
        # read as OK it would pass a refusal off as done.
        branches = {
            key: inner
            for key, inner in decoded.items()
            if isinstance(inner, dict)
            and (child := model.children.get(key)) is not None
            and not child.repeated
            and "testataRisposta" in child.children
        }
        refused = [key for key in branches if key == "rispostaKO" or key.endswith("KO")]
        if refused:
            outcome, value = refused[0], branches[refused[0]]
        elif len(decoded) == 1 and branches:
            ((outcome, value),) = branches.items()
        header = value.get("testataRisposta") or {}
        if not header and len(branches) == 1:
            # The branch's testata names the answer also when the branch has siblings (5014's
            # tipoRispostaRettifica): its id and echo are read from there.
            header = next(iter(branches.values())).get("testataRisposta") or {}
        if request is not None and isinstance(header, Mapping):
            sent = request.header if isinstance(request, PreparedRequest) else request
            check_echo(sent, header, operation=op.code)
        items = error_items(value)
        if outcome == "rispostaKO" or outcome.endswith("KO"):
            raise rejection_for(
                items,
                operation=op.code,
                id_operazione_comune=header.get("idOperazioneComune"),
                id_operazione_anpr=header.get("idOperazioneANPR"),
                esito_operazione=header.get("esitoOperazione"),
                raw=answer.root_bytes,
            )
        warns = tuple(i for i in items if not i.blocking)
        if warns:  # the caller's line is looked for only when there is something to point at
            emit_warnings(warns, operation=op.code, stacklevel=_caller_stacklevel())
        if typed is not None and typed.code == op.code:
            typed.value = value
            if root is NO_MODEL or value is decoded:
                typed.model = root
            else:
                typed.model = root.__dict__.get(outcome, NO_MODEL)
        return Result(
            operation=op.code,
            outcome=outcome,
            value=value,
            header=header,
            warnings=warns,
            anomalies=items,
            unknown_elements=tuple(unknown),
            raw=answer.root_bytes,
            attachments=answer.attachments,
            elapsed=response.elapsed,
        )

    def _request_frame(
        self, request: PreparedRequest | Mapping[str, Any] | None
    ) -> RequestFrame | None:
        """What is known of the frame of the request an Internal Error answered."""
        if isinstance(request, PreparedRequest):
            return request_frame(request.envelope)
        method = getattr(self.wsse, "signature_method", None)
        if self.wsse is None or method is None:
            return None  # an unsigned prepare() or a foreign frame: nothing is known
        return RequestFrame(getattr(method, "short_name", str(method)))


def request_frame(envelope: bytes) -> RequestFrame:
    """The signature algorithm of a request we built, and whether its frame verifies with our
    own verifier (the signer's certificates in the message taken as trusted, the times of its
    own Timestamp as now): a diagnosis for the faults that answer it, never a trust decision."""
    from ..security.algorithms import SignatureMethod
    from ..security.policy import DEFAULT_POLICY
    from ..security.saml import certificate_from_b64, parse_instant
    from ..security.trust import TrustStore
    from ..security.verify import verify_envelope

    try:
        root = parse_xml(envelope)
    except ProtocolError:
        return RequestFrame(None)
    security = root.find(f"{{{NS['soap']}}}Header/{{{NS['wsse']}}}Security")
    method = (
        None
        if security is None
        else security.find(
            f"{{{NS['ds']}}}Signature/{{{NS['ds']}}}SignedInfo/{{{NS['ds']}}}SignatureMethod"
        )
    )
    if security is None or method is None:
        return RequestFrame(None)
    uri = method.get("Algorithm", "")
    known = next((m for m in SignatureMethod if m.value == uri), None)
    name = known.short_name if known is not None else uri
    certificates = [
        cert
        for el in security.iter(
            f"{{{NS['wsse']}}}BinarySecurityToken", f"{{{NS['ds']}}}X509Certificate"
        )
        if (cert := certificate_from_b64(el.text)) is not None
    ]
    policy = dataclasses.replace(DEFAULT_POLICY.allowing_sha1(), verify_id_postazione=False)
    try:
        created = parse_instant(
            security.findtext(f"{{{NS['wsu']}}}Timestamp/{{{NS['wsu']}}}Created"),
            "wsu:Created",
        )
        if not certificates:
            return RequestFrame(name, checked=True, problem="no signer certificate")
        verify_envelope(root, trust=TrustStore(certificates), policy=policy, now=created)
    except AnprError as exc:
        return RequestFrame(name, checked=True, problem=str(exc))
    return RequestFrame(name, checked=True)


def _rule_of(message: str) -> str:
    if "[facet '" in message:
        return message.split("[facet '", 1)[1].split("'", 1)[0]
    if "Missing child element" in message:
        return "required"
    if "is not expected" in message:
        return "unexpected-element"
    if "is not a valid value" in message or "not accepted" in message:
        return "type"
    return "xsd"


def _schema_violations(schema: etree.XMLSchema, root: etree._Element) -> list[Violation]:
    """Every XSD violation of ``root``, with its path (prefixes dropped) and rule."""
    if schema.validate(root):
        return []
    out = []
    for entry in schema.error_log:  # type: ignore[attr-defined]  # iterable; stubs disagree
        path = _LXML_PATH_PREFIX.sub(r"\1", entry.path or "").lstrip("/")
        message = _LXML_ELEMENT.sub("", entry.message or "").strip()
        out.append(Violation(path or root.tag, _rule_of(message), message))
    return out


def _caller_stacklevel() -> int:
    """The ``stacklevel`` (seen from our caller) that points at the first frame outside
    anpr-client, so warnings name the user's line whatever path led here."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back  # type: ignore[assignment]
    return level


def _as_payload(payload: Mapping[str, Any] | Any, operation: str) -> dict[str, Any]:
    """A fresh payload dict from a mapping or a typed model (``None``: empty)."""
    if payload is None:
        return {}
    if isinstance(payload, Mapping):
        return dict(payload)
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        return _to_payload()(payload)
    raise PayloadError(
        operation,
        [Violation("payload", "type", f"expected a mapping or a model, got {type(payload)}")],
    )


@functools.cache
def _to_payload() -> Callable[[Any], dict[str, Any]]:
    """:func:`anpr_client.models.to_payload`, imported on the first model sent (the binding
    imports no models) and once, not on every call."""
    from ..models import to_payload

    return to_payload
