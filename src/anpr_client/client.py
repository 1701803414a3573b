"""The ANPR client: build a request, sign it, send it, read the answer.

>>> client = Client(load_settings("anpr.toml"))          # doctest: +SKIP
>>> result = client.call("3002", {"criteriRicerca": {...}, "datiRichiesta": {...}})  # +SKIP

A call goes: payload → ``testataRichiesta`` filled (:mod:`.header`) → XML in schema order
(:mod:`.codec`) → XSD validation (every violation listed, nothing sent) → security frame (the
``wsse`` object, zeep's hook shape: ``apply(envelope, headers)``) → transport → answer parsed
(faults first, MTOM, tolerant decoding) → a :class:`~.results.Result`, or the exception of
:mod:`.exceptions` that says what happened.

A client is cheap to create (the bundle is parsed once per process and shared) and safe to use
from several threads: it keeps no per-call state. The security frame and transport it holds must
be thread-safe too (ours are).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lxml import etree

from .errors.catalogue import emit_warnings, rejection_for
from .errors.exceptions import Finding, PayloadError, ProtocolError, Violation
from .results import PreparedRequest, Result, error_items
from .settings import Settings, load_settings
from .soap.bundle import Bundle, Operation, get_bundle
from .soap.codec import decode, encode
from .soap.envelope import CONTENT_TYPE, build_envelope, read_answer
from .soap.testata import build_header
from .soap.xsdmodel import Node
from .transport import HttpRequest, HttpResponse, HttpTransport, Transport

if TYPE_CHECKING:
    from .journal import Journal
    from .models import Request
    from .services.consultazione import Consultazione
    from .validation import PersonChecker

__all__ = ["Client", "WsseHook"]

T = TypeVar("T")

_LXML_PATH_PREFIX = re.compile(r"(^|/)[A-Za-z_][\w.-]*:")
_LXML_ELEMENT = re.compile(r"^Element '[^']*'(?:, attribute '[^']*')?: ")


class WsseHook(Protocol):
    """zeep's ``wsse=`` plug point: sign an outgoing envelope, check an incoming one."""

    def apply(
        self, envelope: etree._Element, headers: dict[str, str]
    ) -> tuple[etree._Element, dict[str, str]]: ...

    def verify(self, envelope: etree._Element) -> etree._Element: ...


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
    if schema.validate(root):
        return []
    out = []
    for entry in schema.error_log:  # type: ignore[attr-defined]  # iterable; stubs disagree
        path = _LXML_PATH_PREFIX.sub(r"\1", entry.path or "").lstrip("/")
        message = _LXML_ELEMENT.sub("", entry.message or "").strip()
        out.append(Violation(path or root.tag, _rule_of(message), message))
    return out


class Client:
    """An ANPR client for one Comune (see :class:`~anpr_client.settings.Settings`).

    :param transport: where requests go; default: HTTPS with the settings' TLS context.
    :param wsse: the WS-Security frame (see :mod:`anpr_client.security`); none by default
        (requests go unsigned). :func:`anpr_client.client_from_settings` builds one from the
        settings' keys.
    :param secret: called with a label to get a PIN or password that the settings' environment
        variables do not provide (for the mutual-TLS key).
    :param journal: the operation journal (:class:`anpr_client.journal.Journal`); when set,
        :meth:`call` records every operation and retries safely (same ``idOperazioneComune``
        on an unknown outcome, see :mod:`anpr_client.journal.reliable`). ``prepare``,
        ``transmit``, ``read`` and ``send`` never journal.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        wsse: WsseHook | None = None,
        bundle: Bundle | None = None,
        secret: Callable[[str], str] | None = None,
        journal: Journal | None = None,
    ):
        self.settings = settings
        self.bundle = bundle or get_bundle(settings.wsdl_dir)
        self._transport = transport
        self._secret = secret
        self.wsse = wsse
        self._checker: PersonChecker | None = None
        self.journal = journal

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Client:
        """A ready client from a settings file (or ``$ANPR_CONFIG``) and the environment: TLS,
        security frame and journal as the settings say (see
        :func:`anpr_client.client_from_settings`, which takes ``kwargs``)."""
        from .factory import client_from_settings

        return client_from_settings(load_settings(path), **kwargs)

    @property
    def transport(self) -> Transport:
        """The transport; by default HTTPS with the settings' TLS context, made on first use
        (so a dry run never opens key files)."""
        if self._transport is None:
            from .transport.tls import ssl_context_from_settings

            context = ssl_context_from_settings(self.settings, secret=self._secret)
            self._transport = HttpTransport(context)
        return self._transport

    @property
    def consultazione(self) -> Consultazione:
        """Typed methods of the 3000 family (:class:`~.services.consultazione.Consultazione`)."""
        from .services.consultazione import Consultazione

        return Consultazione(self)

    def test_connection(self, *, header: Mapping[str, Any] | None = None) -> Result[Any]:
        """TestConn: checks connectivity, the security frame and the operator's profile."""
        from .models.connessione import RispostaConnessione
        from .services._typed import typed_call

        return typed_call(self, "TestConn", {}, RispostaConnessione, header)

    def zeep_service(self, family: str) -> Any:
        """A stock zeep service proxy for one family (needs ``anpr-client[zeep]``).

        For callers who prefer zeep's object API: it uses this client's bundle, the endpoint of
        the configured environment, the same TLS session and the same security frame (zeep's
        ``wsse=`` hook). zeep's own strict parsing applies to its answers, and nothing is
        journaled or pre-checked: the typed methods and :meth:`call` are the supported path.
        """
        try:
            import zeep
            from zeep.transports import Transport as ZeepTransport
        except ModuleNotFoundError:
            from .errors.exceptions import ConfigurationError

            raise ConfigurationError(
                "zeep_service() needs zeep: pip install 'anpr-client[zeep]'", setting="zeep"
            ) from None
        transport = self.transport
        if not isinstance(transport, HttpTransport):
            from .errors.exceptions import ConfigurationError

            raise ConfigurationError(
                "zeep_service() needs the HTTPS transport", setting="transport"
            )
        document = self.bundle.document(family)
        zeep_client = zeep.Client(  # type: ignore[no-untyped-call]  # zeep is untyped
            document,
            transport=ZeepTransport(  # type: ignore[no-untyped-call]
                session=transport.session,
                timeout=self.settings.timeouts.connect,
                operation_timeout=self.settings.timeouts.read,
            ),
            wsse=self.wsse,
        )
        (binding,) = document.bindings
        url = self.settings.url_for(family)
        return zeep_client.create_service(binding, url)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ building

    def operation(self, code: str | Operation) -> Operation:
        return code if isinstance(code, Operation) else self.bundle.operation(code)

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
        any, overrides generated header fields, as does ``header``. Raises
        :class:`~anpr_client.errors.PayloadError` listing every XSD violation, then (unless
        ``check`` is false; default: ``settings.validation.before_send``) runs the local checks
        of :mod:`anpr_client.validation` and raises
        :class:`~anpr_client.errors.LocalCheckError` with the ANPR codes a blocking defect
        would get back.
        """
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
            header = _fit_header(generated, testata, overrides)
            data = {"testataRichiesta": header, **data}
        elif overrides:
            raise PayloadError(
                op.code,
                [Violation("testataRichiesta", "unknown-element", "this request has no testata")],
            )
        root, violations = encode(model, data)
        violations += _schema_violations(self.bundle.schema(op.family), root)
        if violations:
            raise PayloadError(op.code, violations)
        findings: tuple[Finding, ...] = ()
        if self.settings.validation.before_send if check is None else check:
            findings = tuple(self._precheck(op.code, data))
        envelope = build_envelope(root)
        headers = {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'}
        signed = False
        if sign and self.wsse is not None:
            envelope, headers = self.wsse.apply(envelope, headers)
            signed = True
        return PreparedRequest(
            operation=op.code,
            url=self.settings.url_for(op.family),
            envelope=etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
            header=dict(data.get("testataRichiesta", {})),
            payload={k: v for k, v in data.items() if k != "testataRichiesta"},
            signed=signed,
            findings=findings,
        )

    def _precheck(self, operation: str, data: Mapping[str, Any]) -> list[Finding]:
        from .validation import enforce, shared_checker

        if self._checker is None:  # one per process and archive; looked up once per client
            self._checker = shared_checker(self.settings.validation.comuni)
        return enforce(operation, data, checker=self._checker)

    # ------------------------------------------------------------------ sending

    def transmit(self, prepared: PreparedRequest) -> HttpResponse:
        """Send prepared bytes and return the raw HTTP answer (no parsing)."""
        return self.transport.send(
            HttpRequest(
                prepared.url,
                prepared.envelope,
                {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'},
                self.settings.timeouts,
            )
        )

    def send(self, prepared: PreparedRequest) -> Result[dict[str, Any]]:
        """Send a prepared request and read the answer (see :meth:`read`)."""
        return self.read(prepared.operation, self.transmit(prepared))

    def call(
        self,
        operation: str | Operation,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
    ) -> Result[dict[str, Any]]:
        """Build, sign, send and read: the generic entry point for every operation.

        With a journal, the operation is recorded and retried safely (see ``journal=``).
        """
        if self.journal is not None:
            from .journal.reliable import journaled_call

            return journaled_call(self, self.journal, operation, payload, header=header)
        return self.send(self.prepare(operation, payload, header=header))

    # ------------------------------------------------------------------ reading

    def read(self, operation: str | Operation, response: HttpResponse) -> Result[dict[str, Any]]:
        """Read an HTTP answer to ``operation``.

        Returns the OK branch as a :class:`Result`; raises the
        :class:`~anpr_client.errors.AnprRejected` subclass for a KO answer (every entry
        kept), a :class:`~anpr_client.errors.SoapFault` subclass for a fault, or a
        :class:`~anpr_client.errors.ProtocolError` for an unreadable answer.
        """
        op = self.operation(operation)
        answer = read_answer(response, operation=op.code)
        if etree.QName(answer.payload).text != op.response.text:
            raise ProtocolError(
                f"expected {op.response.localname} in answer to {op.code}, "
                f"got {etree.QName(answer.payload).localname}"
            )
        model = self.bundle.response_model(op)
        decoded, unknown = decode(model, answer.payload)
        if not decoded:
            # The schema allows an empty answer (every branch is optional); ANPR never sends one.
            raise ProtocolError(f"the answer to {op.code} is an empty {op.response.localname}")
        outcome, value = op.response.localname, decoded
        if len(decoded) == 1:
            # Most answers are a choice of branches (``…_OK`` | ``rispostaKO``), each a message
            # with its own testataRisposta; unwrap the branch that came back.
            ((key, inner),) = decoded.items()
            child = model.children.get(key)
            if (
                isinstance(inner, dict)
                and child is not None
                and not child.repeated
                and "testataRisposta" in child.children
            ):
                outcome, value = key, inner
        header = value.get("testataRisposta") or {}
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
        emit_warnings(warns, operation=op.code, stacklevel=_caller_stacklevel())
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

    def typed_call(
        self,
        operation: str,
        request: Request[T],
        *,
        header: Mapping[str, Any] | None = None,
    ) -> Result[T]:
        """:meth:`call` with a request model (:func:`anpr_client.models.request_type`); the
        answer's OK branch comes back as its model, typed for mypy (``Result[Risposta3002OK]``
        for a ``Richiesta3002``). See :func:`anpr_client.services._typed.call`."""
        from .services._typed import call

        return call(self, operation, request, header=header)


def _fit_header(
    header: dict[str, Any], testata: Node, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Adapt the generated testata to a family's own: the E00x services (other bodies, not
    Comuni) call the id ``idOperazioneClient``; generated fields a testata lacks are left out
    (a caller's own field stays, for the XSD validation to judge)."""
    fields = testata.children
    if "idOperazioneClient" in fields and "idOperazioneComune" in header:
        header.setdefault("idOperazioneClient", header.pop("idOperazioneComune"))
    return {k: v for k, v in header.items() if k in fields or k in overrides}


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` (seen from our caller) that points at the first frame outside
    anpr-client, so warnings name the user's line whatever path led here."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back  # type: ignore[assignment]
    return level


def _as_payload(payload: Mapping[str, Any] | Any, operation: str) -> dict[str, Any]:
    if payload is None:
        return {}
    if isinstance(payload, Mapping):
        return dict(payload)
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        from .models import to_payload

        return to_payload(payload)
    raise PayloadError(
        operation,
        [Violation("payload", "type", f"expected a mapping or a model, got {type(payload)}")],
    )
