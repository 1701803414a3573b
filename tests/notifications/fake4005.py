"""A controllable 4005 server for the poller tests (the simulator's is in the scenario test).

It answers ``elaborazione`` and ``verificaStato`` like ANPR (``statoRichiesta`` 1 until the
``dataDisponibilita``, then 2 with pages of results), on a fake clock, and records what it was
asked and when, so tests can check the poller's behaviour rather than its outcome only.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import itertools
from dataclasses import dataclass, field

from lxml import etree

from anpr_client.client import Client
from anpr_client.settings import Settings
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.notifications.support import ISTAT_A, n010_payload

NS_4000 = "http://sogei.it/ANPR/4000estrazione"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


class FakeClock:
    def __init__(self, now: dt.datetime):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Sent:
    """A notification ANPR holds for the Comune."""

    id: str
    at: dt.datetime
    cf: str = "RSSMRA80A01H501U"
    payload: bytes | None = None


@dataclass
class Extraction:
    id: str
    start: dt.datetime
    end: dt.datetime
    ready_at: dt.datetime
    delays: int = 0
    """How many more times 'not ready' is answered after ready_at (ANPR running late)."""


@dataclass
class Fake4005:
    clock: FakeClock
    notifications: list[Sent] = field(default_factory=list)
    delay: dt.timedelta = dt.timedelta(seconds=30)
    late: int = 0
    page_size: int = 100
    gz: bool = False
    forgotten: set[str] = field(default_factory=set)
    """Extraction ids answered with a KO (ANPR no longer knows them)."""
    fail_pages: set[tuple[int, int]] = field(default_factory=set)
    """``(extraction number, page)`` answered once with HTTP 500."""
    extractions: list[Extraction] = field(default_factory=list)
    checks: list[tuple[str, int, dt.datetime]] = field(default_factory=list)
    """Every verificaStato: (id, page, when)."""
    early: list[tuple[str, dt.datetime]] = field(default_factory=list)
    """verificaStato asked before the announced dataDisponibilita."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5_000_001))
    _announced: dict[str, dt.datetime] = field(default_factory=dict)
    _echo: str = ""

    def client(self) -> Client:
        return Client(
            Settings(codice_istat=ISTAT_A), transport=MockTransport(self.handle), journal=None
        )

    # ------------------------------------------------------------------ protocol

    def handle(self, request: HttpRequest) -> HttpResponse:
        root = etree.fromstring(request.body)
        body = root.find(f"{{{SOAP}}}Body/{{{NS_4000}}}Richiesta4005")
        assert body is not None
        asked = body.find("testataRichiesta")
        assert asked is not None
        # ANPR's testataRisposta echoes the request's (italia/anpr#1875, the 4005 examples).
        self._echo = "".join(
            f"<{name}>{asked.findtext(name)}</{name}>"
            for name in ("idOperazioneComune", "codMittente", "codDestinatario")
        )
        elab = body.find("elaborazione")
        if elab is not None:
            period = elab.find("ricercaElenchiRichieste/periodoRiferimentoRichieste")
            assert elab.findtext("ricercaElenchiRichieste/statoLavorazione") == "9"
            assert period is not None
            start = dt.datetime.fromisoformat(period.findtext("dataOraIniziale") or "")
            end = dt.datetime.fromisoformat(period.findtext("dataOraFinale") or "")
            extraction = Extraction(
                str(next(self._ids)), start, end, self.clock.now + self.delay, self.late
            )
            self.extractions.append(extraction)
            return self._answer(extraction, "1", extraction.ready_at)
        id_anpr = body.findtext("verificaStato/idOperazioneANPR") or ""
        page = int(body.findtext("verificaStato/progressivo") or "0")
        now = self.clock.now
        self.checks.append((id_anpr, page, now))
        if id_anpr in self.forgotten:
            return self._ko(id_anpr)
        (extraction,) = [e for e in self.extractions if e.id == id_anpr]
        if now < self._announced[id_anpr]:
            self.early.append((id_anpr, now))
        if now < extraction.ready_at:
            return self._answer(extraction, "1", extraction.ready_at)
        if extraction.delays:
            extraction.delays -= 1
            extraction.ready_at = now + self.delay
            return self._answer(extraction, "1", extraction.ready_at)
        number = self.extractions.index(extraction) + 1
        if (number, page) in self.fail_pages:
            self.fail_pages.discard((number, page))
            return HttpResponse(500, {"content-type": "text/plain"}, b"server exploded")
        found = [n for n in self.notifications if extraction.start <= n.at <= extraction.end]
        pages = [found[i : i + self.page_size] for i in range(0, len(found), self.page_size)]
        pages = pages or [[]]
        return self._answer(extraction, "2", extraction.ready_at, page, len(pages), pages[page - 1])

    def _answer(
        self,
        extraction: Extraction,
        state: str,
        ready: dt.datetime,
        page: int = 0,
        total: int = 0,
        items: list[Sent] | None = None,
    ) -> HttpResponse:
        self._announced[extraction.id] = ready
        parts = [
            f"<testataRisposta>{self._echo}"
            "<operazioneRichiesta>4005</operazioneRichiesta>"
            f"<dataOraRichiesta>{self.clock.now.isoformat()}</dataOraRichiesta>"
            f"<idOperazioneANPR>{extraction.id}</idOperazioneANPR>"
            "<esitoOperazione>0000</esitoOperazione></testataRisposta>",
            f"<statoRichiesta>{state}</statoRichiesta>",
            f"<idOperazioneANPR>{extraction.id}</idOperazioneANPR>",
            f"<dataDisponibilita>{ready.isoformat()}</dataDisponibilita>",
        ]
        if items is not None:
            parts.append(
                f"<datiFornitura><progressivoCorrente>{page}</progressivoCorrente>"
                f"<progressivoTotale>{total}</progressivoTotale></datiFornitura>"
            )
            document = self.document(items)
            if self.gz:
                document = gzip.compress(document)
            parts.append(
                f"<elencoRisposte><idOperazioneANPR>{extraction.id}</idOperazioneANPR>"
                f"<contenutoRisposta>{base64.b64encode(document).decode()}</contenutoRisposta>"
                f"<formatoRisposta>{'gz' if self.gz else 'xml'}</formatoRisposta>"
                "</elencoRisposte>"
            )
        body = (
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><ns:Risposta4005 xmlns:ns="{NS_4000}">'
            f"<ns:RispostaMultipla4005>{''.join(parts)}</ns:RispostaMultipla4005>"
            "</ns:Risposta4005></soap:Body></soap:Envelope>"
        ).encode()
        return HttpResponse(200, {"content-type": "text/xml; charset=utf-8"}, body)

    def _ko(self, id_anpr: str) -> HttpResponse:
        body = (
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><ns:Risposta4005 xmlns:ns="{NS_4000}">'
            f"<ns:rispostaKO><testataRisposta>{self._echo}"
            "<operazioneRichiesta>4005</operazioneRichiesta>"
            f"<dataOraRichiesta>{self.clock.now.isoformat()}</dataOraRichiesta>"
            "<idOperazioneANPR>1</idOperazioneANPR><esitoOperazione>XXXX</esitoOperazione>"
            "</testataRisposta><listaErrori><errore><codiceErroreAnomalia>EN107"
            "</codiceErroreAnomalia><tipoErroreAnomalia>E</tipoErroreAnomalia>"
            f"<testoErroreAnomalia>{id_anpr} unknown</testoErroreAnomalia></errore></listaErrori>"
            "</ns:rispostaKO></ns:Risposta4005></soap:Body></soap:Envelope>"
        ).encode()
        return HttpResponse(200, {"content-type": "text/xml; charset=utf-8"}, body)

    @staticmethod
    def document(items: list[Sent]) -> bytes:
        out = [b"<notifiche>"]
        for n in items:
            payload = n.payload if n.payload is not None else n010_payload(n.cf)
            out.append(
                b"<notifica><tipoNotifica>N010</tipoNotifica>"
                + f"<idNotifica>{n.id}</idNotifica><codDestinatario>{ISTAT_A}</codDestinatario>"
                f"<dataOraNotifica>{n.at.isoformat()}</dataOraNotifica>".encode()
                + b"<contenuto>"
                + payload
                + b"</contenuto></notifica>"
            )
        out.append(b"</notifiche>")
        return b"".join(out)
