"""A small fake ANPR for journal unit tests: idempotent by idOperazioneComune, with a script of
failures, behind a :class:`~anpr_client.transport.MockTransport` (no network, no keys).

The end-to-end tests use the real simulator instead (``test_simulator.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from requests.structures import CaseInsensitiveDict

from anpr_client.client import Client
from anpr_client.errors.exceptions import ConnectError, ConnectionLost, ReadTimeout
from anpr_client.journal import Repository
from anpr_client.settings import (
    ApplicationIdentity,
    RetrySettings,
    Settings,
    ValidationSettings,
)
from anpr_client.soap.bundle import default_bundle_dir
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.samples import sample_payload

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_5000 = "http://sogei.it/ANPR/5000mutazione"
NS_3000 = "http://sogei.it/ANPR/3000consultazione"
NS_RC = "http://sogei.it/ANPR/rispostaComune"
COMUNE = "058091"


def payload_5005() -> dict[str, Any]:
    """A schema-valid 5005 payload (no testata: the client fills it)."""
    data = sample_payload(default_bundle_dir() / "5000-mutazione" / "5000.wsdl", "Richiesta5005")
    data.pop("testataRichiesta")
    return data


def payload_3002() -> dict[str, Any]:
    data = sample_payload(
        default_bundle_dir() / "3000-consultazione" / "3000.wsdl", "Richiesta3002"
    )
    data.pop("testataRichiesta")
    data["datiRichiesta"]["dataRiferimentoRichiesta"] = dt.date(2026, 1, 15)  # a typed value
    return data


def settings(**retry: Any) -> Settings:
    return Settings(
        codice_istat=COMUNE,
        application=ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL"),
        retry=RetrySettings(**({"max_attempts": 4, "backoff": 0.0} | retry)),
        # The fake answers any schema-valid request; the local checks are tested elsewhere.
        validation=ValidationSettings(before_send=False),
    )


def _envelope(inner: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    ).encode()


def _testata(t: dict[str, str], anpr_id: str, esito: str) -> str:
    return (
        "<testataRisposta>"
        f"<idOperazioneComune>{t['idOperazioneComune']}</idOperazioneComune>"
        f"<codMittente>{t['codMittente']}</codMittente>"
        f"<codDestinatario>{t['codDestinatario']}</codDestinatario>"
        f"<operazioneRichiesta>{t['operazioneRichiesta']}</operazioneRichiesta>"
        f"<dataOraRichiesta>{t['dataOraRichiesta']}</dataOraRichiesta>"
        f"<idOperazioneANPR>{anpr_id}</idOperazioneANPR>"
        f"<esitoOperazione>{esito}</esitoOperazione>"
        "</testataRisposta>"
    )


def _ko(ns: str, op: str, t: dict[str, str], code: str, text: str) -> str:
    return (
        f'<ns2:Risposta{op} xmlns:ns2="{ns}"><ns2:rispostaKO>{_testata(t, "0", "XXXX")}'
        f"<listaErrori><errore><codiceErroreAnomalia>{code}</codiceErroreAnomalia>"
        f"<tipoErroreAnomalia>E</tipoErroreAnomalia>"
        f"<testoErroreAnomalia>{text}</testoErroreAnomalia></errore></listaErrori>"
        f"</ns2:rispostaKO></ns2:Risposta{op}>"
    )


FAULT_FROM_SERVER = _envelope(
    "<soap:Fault><faultcode>soap:Server</faultcode>"
    "<faultstring>Internal Error (from server)</faultstring></soap:Fault>"
)
FAULT_FROM_CLIENT = _envelope(
    "<soap:Fault><faultcode>soap:Client</faultcode>"
    "<faultstring>Rejected by policy. (from client)</faultstring></soap:Fault>"
)

Action = str
"""What the fake does with one request (see :class:`FakeAnpr`)."""


@dataclass
class FakeAnpr:
    """ANPR's idempotency rules in a function, plus scripted failures.

    ``script`` is consumed one entry per request (``None``/missing: behave):

    - ``"refuse"``: ConnectError, nothing read;
    - ``"drop"``: ConnectionLost before applying;
    - ``"lose"``: apply and commit, then ConnectionLost (commit-then-lost-response);
    - ``"timeout"``: apply and commit, then ReadTimeout;
    - ``"503"`` / ``"503-after"``: HTTP 503 before / after applying;
    - ``"fault"`` / ``"fault-after"``: Internal Error (from server) before / after applying;
    - ``"policy"``: Rejected by policy (from client), nothing applied;
    - ``"busy"``: EN148 (the same id still in progress), nothing applied;
    - ``"ko"``: apply as a KO answer (ES034), stored like any answer; ``"ko-lose"``: the same,
      then ConnectionLost;
    - ``"garbage"``: HTTP 200 with a body that is not XML, after applying.
    """

    script: list[Action | None] = field(default_factory=list)
    applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    stored: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    """(comune, id) → (operation, answer element XML)."""
    requests: list[HttpRequest] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900_001))
    lookup: Callable[[str], str] | None = None

    def transport(self) -> MockTransport:
        return MockTransport(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        action = self.script.pop(0) if self.script else None
        if action == "refuse":
            raise ConnectError("connection refused (fake)", url=request.url)
        root = etree.fromstring(request.body)
        body = root.find(f"{{{SOAP}}}Body")
        assert body is not None
        message = body[0]
        op = etree.QName(message).localname.removeprefix("Richiesta")
        t = {c.tag: c.text or "" for c in message.find("testataRichiesta")}  # type: ignore[union-attr]
        if action == "drop":
            raise ConnectionLost("connection lost (fake)", url=request.url)
        if action == "503":
            return _http(503, b"<html>unavailable</html>", "text/html")
        if action == "fault":
            return _http(500, FAULT_FROM_SERVER)
        if action == "policy":
            return _http(500, FAULT_FROM_CLIENT)
        ns = NS_3000 if op.startswith("3") else NS_5000
        if action == "busy":
            return _http(200, _envelope(_ko(ns, op, t, "EN148", "same id still in progress")))
        if op == "3003":
            return _http(200, _envelope(self._lookup(message, t)))
        key = (t["codMittente"], t["idOperazioneComune"])
        if key in self.stored:
            stored_op, answer = self.stored[key]
            if stored_op != op:
                answer = _ko(ns, op, t, "EN079", "id used for another service").encode()
        else:
            self.applied[key] += 1
            anpr_id = str(next(self.ids))
            if action in ("ko", "ko-lose"):
                answer = _ko(ns, op, t, "ES034", "scheda of another Comune").encode()
            elif op == "5005":
                answer = (
                    f'<ns2:Risposta5005 xmlns:ns2="{NS_5000}">'
                    f'<ns3:Risposta_Comune xmlns:ns3="{NS_RC}">{_testata(t, anpr_id, "0000")}'
                    f"</ns3:Risposta_Comune></ns2:Risposta5005>"
                ).encode()
            else:
                answer = (
                    f'<ns2:Risposta{op} xmlns:ns2="{ns}"><ns2:Risposta{op}_OK>'
                    f"{_testata(t, anpr_id, '0000')}</ns2:Risposta{op}_OK></ns2:Risposta{op}>"
                ).encode()
            self.stored[key] = (op, answer)
        if action in ("lose", "ko-lose"):
            raise ConnectionLost("connection lost after sending (fake)", url=request.url)
        if action == "timeout":
            raise ReadTimeout("no answer in time (fake)", url=request.url)
        if action == "503-after":
            return _http(503, b"", "text/plain")
        if action == "fault-after":
            return _http(500, FAULT_FROM_SERVER)
        if action == "garbage":
            return _http(200, b"not xml at all", "text/plain")
        return _http(200, _envelope(answer.decode()))

    def _lookup(self, message: etree._Element, t: dict[str, str]) -> str:
        wanted = message.findtext("ricercaSingolaRichiesta/idOperazioneComune") or ""
        found = self.stored.get((t["codMittente"], wanted))
        if found is None:
            return _ko(NS_3000, "3003", t, "EN122", "no result")
        op, answer = found
        stato = "2"
        entry = (
            f"<statoLavorazione>{stato}</statoLavorazione><tipoOperazione>{op}</tipoOperazione>"
            f"<xmlRisposta>{base64.b64encode(answer).decode()}</xmlRisposta>"
        )
        if self.lookup is not None:
            entry = self.lookup(entry)
        return (
            f'<ns2:Risposta3003 xmlns:ns2="{NS_3000}"><ns2:Risposta3003_OK>'
            f"{_testata(t, str(next(self.ids)), '0000')}"
            f"<elencoRisposte>{entry}</elencoRisposte>"
            f"</ns2:Risposta3003_OK></ns2:Risposta3003>"
        )

    def applied_once(self) -> bool:
        return all(n == 1 for n in self.applied.values())


def _http(status: int, body: bytes, ctype: str = "text/xml; charset=utf-8") -> HttpResponse:
    return HttpResponse(status, CaseInsensitiveDict({"Content-Type": ctype}), body)


def make_client(fake: FakeAnpr, journal: Repository, **retry: Any) -> Client:
    return Client(settings(**retry), transport=fake.transport(), journal=journal)


def no_sleep(seconds: float) -> None:
    pass
