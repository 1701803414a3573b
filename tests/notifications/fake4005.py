"""A controllable 4005 server for the poller tests (the simulator's is in the scenario test).

It answers as ANPR does (the official 4005 samples of italia/anpr ``src/note/ws/4000`` and the
answer published in italia/anpr#4792): ``elaborazione`` → ``statoRichiesta`` 0 (or KO EN122
when the window holds nothing, #1714); ``verificaStato`` → 1 until the ``dataDisponibilita``,
then 2 with one ``elencoRisposte`` per notification (base64 of a Java gzip of one bare
``NotificaN010`` document). Pages (``datiFornitura``) only when there is more than one. It
runs on a fake clock and records what it was asked and when, so tests can check the poller's
behaviour rather than its outcome only. Hostile knobs: broken items, stuck paging, a wrong
echo.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from dataclasses import dataclass, field

from lxml import etree

from anpr_client.client import Client
from anpr_client.settings import NotificationSettings, PullSettings, Settings
from anpr_client.simulator.notifications import java_gzip
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.notifications.support import ISTAT_A, n010_payload

NS_4000 = "http://sogei.it/ANPR/4000estrazione"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
PAYLOAD_NS = "http://sogei.it/ANPR/N000notificheComuni"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\r\n'


class FakeClock:
    def __init__(self, now: dt.datetime):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def published_document(payload: bytes) -> bytes:
    """A payload element as the bare document of a 4005 content (#4792's shape: declaration
    with ``standalone="yes"``, the ``p:`` prefix, CRLF, no final newline)."""
    element = etree.fromstring(payload)
    root = etree.Element(
        f"{{{PAYLOAD_NS}}}{etree.QName(element).localname}",
        nsmap={"p": PAYLOAD_NS, "p1": "http://sogei.it/ANPR/vocabolarioN000Comuni"},
    )
    root.extend(list(element))
    etree.indent(root, space=" ")
    return DECLARATION + etree.tostring(root).replace(b"\n", b"\r\n")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Sent:
    """A notification ANPR holds for the Comune."""

    id: str
    at: dt.datetime
    cf: str = "RSSMRA80A01H501U"
    payload: bytes | None = None
    kind: str = "N010"
    item: str | None = None
    """The whole ``elencoRisposte`` content to send instead (hostile or other kinds)."""

    def elenco(self, gz: bool) -> str:
        if self.item is not None:
            return f'<elencoRisposte xmlns="">{self.item}</elencoRisposte>'
        document = published_document(self.payload or n010_payload(self.cf))
        content = b64(java_gzip(document) if gz else document)
        return (
            f'<elencoRisposte xmlns=""><idOperazioneANPR>{self.id}</idOperazioneANPR>'
            f"<statoLavorazione>7</statoLavorazione><tipoOperazione>{self.kind}</tipoOperazione>"
            f"<contenutoRisposta>{content}</contenutoRisposta>"
            f"<formatoRisposta>{'gz' if gz else 'xml'}</formatoRisposta></elencoRisposte>"
        )


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
    gz: bool = True
    forgotten: set[str] = field(default_factory=set)
    """Extraction ids answered with a KO (ANPR no longer knows them)."""
    fail_pages: set[tuple[int, int]] = field(default_factory=set)
    """``(extraction number, page)`` answered once with HTTP 500."""
    stuck_paging: bool = False
    """Hostile: every page says ``progressivoCorrente`` = the page asked, of 99999."""
    wrong_page: bool = False
    """Hostile: every page says it is page 1."""
    wrong_echo: bool = False
    """Hostile: the verify answers about another extraction."""
    never_ready: bool = False
    extractions: list[Extraction] = field(default_factory=list)
    checks: list[tuple[str, int, dt.datetime]] = field(default_factory=list)
    """Every verificaStato: (id, page, when)."""
    early: list[tuple[str, dt.datetime]] = field(default_factory=list)
    """verificaStato asked before the announced dataDisponibilita."""
    details: list[str | None] = field(default_factory=list)
    """The dettaglioDati of every elaborazione."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5_000_001))
    _announced: dict[str, dt.datetime] = field(default_factory=dict)
    _asked: str = "X"
    """The idOperazioneComune of the request being answered (ANPR echoes it)."""

    def client(self, limits: PullSettings | None = None) -> Client:
        settings = Settings(
            codice_istat=ISTAT_A,
            notifications=NotificationSettings(pull=limits or PullSettings()),
        )
        return Client(settings, transport=MockTransport(self.handle), journal=None)

    # ------------------------------------------------------------------ protocol

    def handle(self, request: HttpRequest) -> HttpResponse:
        root = etree.fromstring(request.body)
        body = root.find(f"{{{SOAP}}}Body/{{{NS_4000}}}Richiesta4005")
        assert body is not None
        # ANPR's testataRisposta echoes the request's (italia/anpr#1875, the 4005 examples).
        self._asked = body.findtext("testataRichiesta/idOperazioneComune") or "X"
        elab = body.find("elaborazione")
        if elab is not None:
            self.details.append(elab.findtext("dettaglioDati"))
            period = elab.find("ricercaElenchiRichieste/periodoRiferimentoRichieste")
            assert elab.findtext("ricercaElenchiRichieste/statoLavorazione") in ("7", "8", "9")
            assert period is not None
            start = dt.datetime.fromisoformat(period.findtext("dataOraIniziale") or "")
            end = dt.datetime.fromisoformat(period.findtext("dataOraFinale") or "")
            extraction = Extraction(
                str(next(self._ids)), start, end, self.clock.now + self.delay, self.late
            )
            self.extractions.append(extraction)
            if not self._found(extraction):
                return self._ko("EN122", "La richiesta effettuata non produce alcun risultato")
            return self._answer(extraction, "0", extraction.ready_at)
        id_anpr = body.findtext("verificaStato/idOperazioneANPR") or ""
        page = int(body.findtext("verificaStato/progressivo") or "0")
        now = self.clock.now
        self.checks.append((id_anpr, page, now))
        if id_anpr in self.forgotten:
            return self._ko("EN107", f"{id_anpr} unknown")
        (extraction,) = [e for e in self.extractions if e.id == id_anpr]
        if now < self._announced[id_anpr]:
            self.early.append((id_anpr, now))
        if now < extraction.ready_at:
            return self._answer(extraction, "1", extraction.ready_at)
        if extraction.delays or self.never_ready:
            extraction.delays = max(0, extraction.delays - 1)
            extraction.ready_at = now + self.delay
            return self._answer(extraction, "1", extraction.ready_at)
        number = self.extractions.index(extraction) + 1
        if (number, page) in self.fail_pages:
            self.fail_pages.discard((number, page))
            return HttpResponse(500, {"content-type": "text/plain"}, b"server exploded")
        found = self._found(extraction)
        pages = [found[i : i + self.page_size] for i in range(0, len(found), self.page_size)]
        pages = pages or [[]]
        total = len(pages)
        if self.stuck_paging:
            total = 99999
        items = pages[page - 1] if page <= len(pages) else []
        shown = 1 if self.wrong_page else page
        return self._answer(extraction, "2", extraction.ready_at, shown, total, items)

    def _found(self, extraction: Extraction) -> list[Sent]:
        return [n for n in self.notifications if extraction.start <= n.at <= extraction.end]

    def _testata(self, id_anpr: str, esito: str) -> str:
        return (
            f'<testataRisposta xmlns=""><idOperazioneComune>{self._asked}</idOperazioneComune>'
            f"<codMittente>{ISTAT_A}</codMittente><codDestinatario>ANPR05</codDestinatario>"
            "<operazioneRichiesta>4005</operazioneRichiesta>"
            f"<dataOraRichiesta>{self.clock.now.isoformat()}</dataOraRichiesta>"
            f"<idOperazioneANPR>{id_anpr}</idOperazioneANPR>"
            f"<esitoOperazione>{esito}</esitoOperazione></testataRisposta>"
        )

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
        echoed = str(int(extraction.id) + 1) if self.wrong_echo and state == "2" else extraction.id
        parts = [
            self._testata(str(next(self._ids)), "0000"),
            f'<statoRichiesta xmlns="">{state}</statoRichiesta>',
            f'<idOperazioneANPR xmlns="">{echoed}</idOperazioneANPR>',
            f'<dataDisponibilita xmlns="">{ready.isoformat()}</dataDisponibilita>',
        ]
        if items is not None:
            if total > 1:
                parts.append(
                    f'<datiFornitura xmlns=""><progressivoCorrente>{page}</progressivoCorrente>'
                    f"<progressivoTotale>{total}</progressivoTotale></datiFornitura>"
                )
            parts += [n.elenco(self.gz) for n in items]
        # The .NET/WCF form of #4792: the service element in the default namespace.
        body = (
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><a:Risposta4005 xmlns:a="{NS_4000}">'
            f'<RispostaMultipla4005 xmlns="{NS_4000}">{"".join(parts)}</RispostaMultipla4005>'
            "</a:Risposta4005></soap:Body></soap:Envelope>"
        ).encode()
        return HttpResponse(200, {"content-type": "text/xml; charset=utf-8"}, body)

    def _ko(self, code: str, text: str) -> HttpResponse:
        body = (
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><a:Risposta4005 xmlns:a="{NS_4000}">'
            f"<a:rispostaKO>{self._testata('0', 'XXXX')}<listaErrori><errore>"
            f"<codiceErroreAnomalia>{code}</codiceErroreAnomalia>"
            f"<tipoErroreAnomalia>E</tipoErroreAnomalia>"
            f"<testoErroreAnomalia>{text}</testoErroreAnomalia></errore></listaErrori>"
            "</a:rispostaKO></a:Risposta4005></soap:Body></soap:Envelope>"
        ).encode()
        return HttpResponse(200, {"content-type": "text/xml; charset=utf-8"}, body)
