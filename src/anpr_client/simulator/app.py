"""The simulator's WSGI application: ANPR's services at ANPR's URL paths.

A request goes: route by path (the families of :data:`anpr_client.endpoints.FAMILY_PATHS`) →
read the body (size-capped) → hardened parse (:func:`anpr_client.safexml.parse_xml`) →
faults injected for *received* requests → the gateway (:mod:`.gateway`: security frame, identity
policy, XSD) → the application checks of ``testataRichiesta`` → the ledger (:mod:`.ledger`:
replay, EN079, EN148) → *processing* faults (latency) → the operation's handler, inside one
database transaction with its ledger entry → commit → *committed* faults → the answer
(``testataRisposta`` filled, validated against the XSD, MTOM where ANPR uses it).

``GET <path>?wsdl`` serves the family's WSDL from the bundle. With no server around it (e.g.
:class:`anpr_client.transport.WsgiTransport`), faults that drop the connection raise the
transport exception a client would see.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from lxml import etree

from .._wsgiserver import CONTROL_KEY, ConnectionControl
from ..endpoints import FAMILY_PATHS
from ..errors.exceptions import ConnectError, ConnectionLost, ProtocolError
from ..safexml import parse_xml
from ..soap.bundle import Bundle, Operation
from ..soap.codec import decode, encode
from ..soap.testata import id_field, operation_id
from .answers import HttpAnswer, fault_answer, plain_answer, soap_answer
from .clock import Clock, utc_iso
from .config import SimulatorConfig
from .db import Database
from .faults import Fault, FaultInjector
from .gateway import INTERNAL_ERROR, Gateway, GatewayRejection
from .handlers.base import (
    INTERFACE_VERSION,
    Context,
    Entry,
    Handler,
    OkAnswer,
    Rejected,
    Request,
    entry,
)
from .ledger import InProgress, Ledger, OtherService, Replay, Started

__all__ = ["SimulatorApp"]

log = logging.getLogger("anpr_client.simulator")

SERVER_ERROR: Final = "Internal Error (from server)"
_TIPI_INVIO: Final = ("TEST", "PRE_SUB", "PROD")


class SimulatorApp:
    """The WSGI application. Thread-safe; one per simulator."""

    def __init__(
        self,
        *,
        bundle: Bundle,
        gateway: Gateway,
        db: Database,
        ledger: Ledger,
        context: Context,
        faults: FaultInjector,
        handlers: Mapping[str, Handler],
        config: SimulatorConfig,
        clock: Clock,
    ):
        self.bundle = bundle
        self.gateway = gateway
        self.db = db
        self.ledger = ledger
        self.context = context
        self.faults = faults
        self.handlers = dict(handlers)
        self.config = config
        self.clock = clock
        # N000 is the Comuni's service (ANPR pushes notifications to it): ANPR does not serve it.
        self._paths = {path: family for family, path in FAMILY_PATHS.items() if family != "N000"}
        self._paths["/ANPR-WSP000/AnprServiceP000"] = "P000"
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()

    # ------------------------------------------------------------------ WSGI

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        answer = self.handle(environ)
        if answer.action != "answer":
            control = environ.get(CONTROL_KEY)
            if isinstance(control, ConnectionControl):
                control.action = answer.action
                return []
            if answer.action == "refuse":
                raise ConnectError("the simulator refused the connection (injected fault)")
            raise ConnectionLost(
                "the simulator dropped the connection (injected fault); the operation may "
                "have been applied"
            )
        if answer.delay:
            time.sleep(answer.delay)
        headers = [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(answer.body))),
            *answer.headers,
        ]
        start_response(f"{answer.status} {answer.reason}", headers)
        return [answer.body]

    @property
    def internal_errors(self) -> tuple[str, ...]:
        """Bugs met while answering (each answered ``Internal Error (from server)``)."""
        with self._errors_lock:
            return tuple(self._errors)

    def _internal_error(self, message: str) -> HttpAnswer:
        log.error("simulator internal error: %s", message)
        with self._errors_lock:
            self._errors.append(message)
        return fault_answer(SERVER_ERROR, server=True)

    # ------------------------------------------------------------------ pipeline

    def handle(self, environ: Mapping[str, Any]) -> HttpAnswer:
        """Answer one request (the WSGI call without the WSGI plumbing)."""
        path = str(environ.get("PATH_INFO") or "/")
        family = self._paths.get(path.rstrip("/") or "/")
        if family is None:
            return plain_answer(404, f"no ANPR service at {path}")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method == "GET" and str(environ.get("QUERY_STRING", "")).lower() in ("wsdl", "wsdl="):
            return self._wsdl(family)
        if method != "POST":
            return plain_answer(405, "POST a SOAP 1.1 request", headers={"Allow": "POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return plain_answer(400, "bad Content-Length")
        if length > self.config.max_body_bytes:
            return plain_answer(413, f"request larger than {self.config.max_body_bytes} bytes")
        stream = environ.get("wsgi.input")
        body = stream.read(length) if (stream is not None and length > 0) else b""
        try:
            envelope = parse_xml(body, max_bytes=self.config.max_body_bytes)
        except ProtocolError as exc:
            log.info("refused a request that is not acceptable XML: %s", exc)
            return self._received_fault(None) or fault_answer(INTERNAL_ERROR)
        operation = self.gateway.operation_of(envelope)
        code = operation.code if operation else None
        injected = self._received_fault(code)
        if injected is not None:
            return injected
        try:
            passed = self.gateway.check(envelope, family, raw=body)
        except GatewayRejection as exc:
            log.info("gateway refused %s: %s", code or "a request", exc.reason)
            return fault_answer(exc.faultstring, faultcode=exc.faultcode)
        except Exception:  # a bug of the gateway (or the verifier): say so, keep serving
            return self._internal_error(traceback.format_exc())
        try:
            return self._operation(passed.operation, passed.payload, passed.operator)
        except Exception:  # a bug of the simulator: say so, keep serving
            return self._internal_error(traceback.format_exc())

    def _received_fault(self, code: str | None) -> HttpAnswer | None:
        fault = self.faults.take("received", code)
        if fault is None:
            return None
        log.info("injected fault %s on %s", fault.kind, code or "a request")
        if fault.kind == "refuse":
            return HttpAnswer(0, b"", action="refuse")
        if fault.kind == "drop_before_commit":
            return HttpAnswer(0, b"", action="close")
        if fault.kind == "http_5xx":
            return plain_answer(fault.status, "service unavailable (injected fault)")
        return fault_answer(SERVER_ERROR, server=True)

    def _committed_fault(self, code: str, answer: HttpAnswer) -> HttpAnswer:
        fault: Fault | None = self.faults.take("committed", code)
        if fault is None:
            return answer
        log.info("injected fault %s on %s after commit", fault.kind, code)
        if fault.kind == "commit_then_lose_response":
            return HttpAnswer(0, b"", action="close")
        if fault.kind == "timeout_after_commit":
            return HttpAnswer(
                answer.status,
                answer.body,
                content_type=answer.content_type,
                headers=answer.headers,
                delay=fault.seconds,
            )
        if fault.kind == "http_5xx_after_commit":
            return plain_answer(fault.status, "service unavailable (injected fault)")
        return fault_answer(SERVER_ERROR, server=True)

    def _wsdl(self, family: str) -> HttpAnswer:
        fam = self.bundle.families.get(family)
        if fam is None:
            return plain_answer(404, f"no WSDL for {family}")
        return HttpAnswer(200, fam.wsdl.read_bytes(), content_type="text/xml; charset=utf-8")

    # ------------------------------------------------------------------ application

    def _operation(
        self, operation: Operation, payload: etree._Element, operator: str | None
    ) -> HttpAnswer:
        model = self.bundle.request_model(operation)
        decoded, _unknown = decode(model, payload)
        header = dict(decoded.pop("testataRichiesta", None) or {})
        comune = str(header.get("codMittente", "")).strip()
        id_comune = operation_id(header) or ""  # idOperazioneClient for E00x
        received = self.clock.now()
        begun = self.ledger.begin(comune, id_comune, operation.code, received_at=utc_iso(received))
        if isinstance(begun, Replay):
            record = begun.record
            answer = HttpAnswer(200, record.response_body, content_type=record.response_type)
            return self._committed_fault(operation.code, answer)
        if isinstance(begun, OtherService | InProgress):
            return self._unrecorded_ko(
                operation,
                header,
                _id_refused(begun, id_comune, id_field(header)),
                request=decoded,
            )
        try:
            fault = self.faults.take("processing", operation.code)
            if fault is not None:
                log.info("injected latency of %.3f s on %s", fault.seconds, operation.code)
                time.sleep(fault.seconds)
            answer = self._run(operation, begun, header, decoded, payload, operator, received)
        finally:
            self.ledger.release(begun)
        if answer.status == 200:
            return self._committed_fault(operation.code, answer)
        return answer

    def _run(
        self,
        operation: Operation,
        started: Started,
        header: dict[str, Any],
        decoded: dict[str, Any],
        payload: etree._Element,
        operator: str | None,
        received: dt.datetime,
    ) -> HttpAnswer:
        request = Request(
            operation=operation,
            comune=started.comune,
            header=header,
            payload=decoded,
            id_operazione_anpr=started.id_operazione_anpr,
            received_at=received,
            operator=operator,
        )
        request_xml = etree.tostring(payload)
        after: list[Callable[[], None]] = []
        try:
            with self.db.transaction():
                try:
                    self._check_header(operation, header)
                    handler = self.handlers.get(operation.code)
                    if handler is None:
                        raise Rejected(
                            entry(
                                "EN379",
                                f"service {operation.code} is not simulated by this ANPR simulator",
                                field="operazioneRichiesta",
                                value=operation.code,
                            )
                        )
                    ok = handler(self.context, request)
                    element, mtom = self._answer(
                        operation, header, started.id_operazione_anpr, "0000", ok
                    )
                    after.extend(ok.after_commit)
                except Rejected as rejected:
                    raise _Ko(rejected.entries) from None
                answer = self._record(started, header, request_xml, element, mtom, ok=True)
        except _Ko as ko:
            # Effects rolled back; the KO itself is recorded (it has an idOperazioneANPR).
            element = self._ko_element(
                operation, header, started.id_operazione_anpr, ko.entries, request=decoded
            )
            with self.db.transaction():
                return self._record(started, header, request_xml, element, (), ok=False)
        except _BadAnswer as bad:
            return self._internal_error(str(bad))
        for work in after:
            try:
                work()
            except Exception:
                log.exception("post-commit work failed")
        return answer

    def _record(
        self,
        started: Started,
        header: Mapping[str, Any],
        request_xml: bytes,
        element: etree._Element,
        attachments: Iterable[tuple[etree._Element, str]],
        *,
        ok: bool,
    ) -> HttpAnswer:
        """The answer to send, recorded in the ledger (in the caller's transaction)."""
        response_xml = etree.tostring(element)  # attachments inline: before MTOM moves them
        answer = soap_answer(element, attachments=attachments)
        self.ledger.record(
            started,
            outcome="ok" if ok else "ko",
            esito="0000" if ok else "XXXX",
            completed_at=utc_iso(self.clock.now()),
            request=request_xml,
            response_xml=response_xml,
            response_body=answer.body,
            response_type=answer.content_type,
            protocollo_comune=_opt(header.get("protocolloComune")),
        )
        return answer

    def _check_header(self, operation: Operation, header: Mapping[str, Any]) -> None:
        problems: list[Entry] = []
        destinatario = str(header.get("codDestinatario", ""))
        if destinatario != INTERFACE_VERSION:
            problems.append(
                entry(
                    "XXXX",
                    f"codDestinatario {destinatario} is not accepted: this ANPR serves "
                    f"interface version {INTERFACE_VERSION} only",
                    field="codDestinatario",
                    value=destinatario,
                )
            )
        requested = str(header.get("operazioneRichiesta", ""))
        if requested != operation.header_code and not (
            operation.code == "TestConn" and len(requested) == 4
        ):
            problems.append(
                entry(
                    "XXXX",
                    f"operazioneRichiesta {requested} does not match the request element "
                    f"({operation.code})",
                    field="operazioneRichiesta",
                    value=requested,
                )
            )
        tipo_invio = str(header.get("tipoInvio", ""))
        expected = self.config.tipo_invio
        if (expected is not None and tipo_invio != expected) or tipo_invio not in _TIPI_INVIO:
            problems.append(
                entry(
                    "XXXX",
                    f"tipoInvio {tipo_invio} does not match this environment "
                    f"({expected or ' | '.join(_TIPI_INVIO)})",
                    field="tipoInvio",
                    value=tipo_invio,
                )
            )
        comune = str(header.get("codMittente", ""))
        if not self.context.registry.is_subentrato(comune):
            problems.append(
                entry(
                    "EN106",
                    f"Comune {comune} is not subentrato on this ANPR",
                    field="codMittente",
                    value=comune,
                )
            )
        if problems:
            raise Rejected(*problems)

    # ------------------------------------------------------------------ answers

    def _testata(
        self,
        operation: Operation,
        branch: str | None,
        header: Mapping[str, Any],
        id_anpr: str,
        esito: str,
    ) -> dict[str, Any]:
        """The answer's ``testataRisposta``, echoing the request: with the E00x services' own
        names (``idOperazioneClient``, ``protocolloClient``) where their testata has them."""
        model = self.bundle.response_model(operation)
        if branch is not None:
            model = model.children[branch]
        fields = model.children["testataRisposta"].children
        testata: dict[str, Any] = {
            id_field(fields): operation_id(header) or "",
            "codMittente": header.get("codMittente", ""),
            "codDestinatario": header.get("codDestinatario", ""),
            "operazioneRichiesta": header.get("operazioneRichiesta", ""),
            "dataOraRichiesta": header.get("dataOraRichiesta", ""),
        }
        for key in (
            "protocolloComune",
            "dataProtocolloComune",
            "protocolloClient",
            "dataProtocolloClient",
            "dataDecorrenza",
        ):
            if header.get(key) and key in fields:
                testata[key] = header[key]
        testata["idOperazioneANPR"] = id_anpr
        testata["esitoOperazione"] = esito
        return testata

    def _encode(self, operation: Operation, value: Mapping[str, Any]) -> etree._Element:
        model = self.bundle.response_model(operation)
        element, violations = encode(model, value)
        if violations:
            raise _BadAnswer(
                f"answer to {operation.code} does not encode: "
                + "; ".join(f"{v.path}: {v.message}" for v in violations)
            )
        schema = self.bundle.schema(operation.family)
        if not schema.validate(element):
            errors = "; ".join(
                f"{e.path}: {e.message}"
                for e in schema.error_log  # type: ignore[attr-defined]
            )
            raise _BadAnswer(f"answer to {operation.code} is not XSD-valid: {errors}")
        return element

    def _answer(
        self,
        operation: Operation,
        header: Mapping[str, Any],
        id_anpr: str,
        esito: str,
        ok: OkAnswer,
    ) -> tuple[etree._Element, list[tuple[etree._Element, str]]]:
        testata = self._testata(operation, ok.branch, header, id_anpr, esito)
        if ok.branch is None:
            value: dict[str, Any] = {"testataRisposta": testata, **ok.content}
        else:
            value = {ok.branch: {"testataRisposta": testata, **ok.content}, **ok.beside}
        element = self._encode(operation, value)
        mtom: list[tuple[etree._Element, str]] = []
        for local, content_type in ok.mtom:
            for found in element.iter(local):
                if found.text:
                    mtom.append((found, content_type))
        return element, mtom

    def _ko_branch(self, operation: Operation) -> str:
        children = self.bundle.response_model(operation).children
        for name in children:
            if name == "rispostaKO":
                return name
        for name in children:
            if name.endswith("KO"):
                return name
        raise _BadAnswer(f"the answer of {operation.code} has no KO branch")

    def _ko_element(
        self,
        operation: Operation,
        header: Mapping[str, Any],
        id_anpr: str,
        entries: Iterable[Entry],
        *,
        request: Mapping[str, Any] | None = None,
    ) -> etree._Element:
        errors = [e.payload() for e in entries]
        branch = self._ko_branch(operation)
        value: dict[str, Any] = {
            branch: {
                "testataRisposta": self._testata(operation, branch, header, id_anpr, "XXXX"),
                "listaErrori": {"errore": errors},
            }
        }
        value.update(self._ko_companions(operation, request or {}))
        return self._encode(operation, value)

    def _ko_companions(self, operation: Operation, request: Mapping[str, Any]) -> dict[str, Any]:
        """The required simple elements a response has beside its branches (5021's
        ``tipoMutazione``), echoed from the request's ``datiControllo`` so that a KO answer is
        XSD-valid too."""
        controls = request.get("datiControllo")
        out: dict[str, Any] = {}
        for name, child in self.bundle.response_model(operation).children.items():
            if child.choice is not None or not child.required or not child.is_simple:
                continue
            given = controls.get(name) if isinstance(controls, Mapping) else None
            if isinstance(given, list):
                given = given[0] if given else None
            if given is not None:
                out[name] = given
        return out

    def _unrecorded_ko(
        self,
        operation: Operation,
        header: Mapping[str, Any],
        ko: Entry,
        *,
        request: Mapping[str, Any] | None = None,
    ) -> HttpAnswer:
        try:
            element = self._ko_element(
                operation, header, self.ledger.new_id(), [ko], request=request
            )
        except _BadAnswer as bad:
            return self._internal_error(str(bad))
        return soap_answer(element)


def _id_refused(begun: OtherService | InProgress, id_comune: str, name: str) -> Entry:
    """EN079 (the id was used for another service) or EN148 (it is still being processed);
    ``name`` is the id's element (``idOperazioneComune``, ``idOperazioneClient``)."""
    if isinstance(begun, OtherService):
        code = "EN079"
        text = f"{name} {id_comune} was already used for service {begun.service}"
    else:
        code = "EN148"
        text = f"an operation with {name} {id_comune} is still being processed"
    return entry(code, text, field=name, value=id_comune)


class _Ko(Exception):
    def __init__(self, entries: tuple[Entry, ...]):
        super().__init__()
        self.entries = entries


class _BadAnswer(Exception):
    pass


def _opt(value: object) -> str | None:
    return None if value in (None, "") else str(value)
