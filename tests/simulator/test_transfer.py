"""The seed's scenario end to end: a family moves from Comune A to Comune B (both on ANPR).

B records the change of residence (5005) over TLS; the persons now reside in B; A's 3002 no
longer finds them among its residents; A gets one N010 per person, pulled through 4005 and
pushed (signed, encrypted for A's CO certificate) to A's N000 endpoint — here a tiny WSGI
receiver that verifies ANPR's signature and decrypts with A's key.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from lxml import etree

from anpr_client.errors.exceptions import NotFoundError, OperationNotAllowedError
from anpr_client.notifications.events import PAYLOAD_NS
from anpr_client.notifications.message import N000_NS
from anpr_client.security.cms import decrypt_enveloped
from anpr_client.security.policy import NOTIFICATION_POLICY
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator import Simulator

from .conftest import MakeSimulator
from .support import A, B, payload_3002, singles, transfer_payload


@dataclass
class Receiver:
    """What the test N000 endpoint received."""

    url: str
    payloads: list[etree._Element] = field(default_factory=list)
    testate: list[dict[str, str]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    """Outcome codes to answer, in turn (then ``1``)."""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver_for() -> Iterator[Callable[[Simulator], Receiver]]:
    servers: list[WSGIServer] = []

    def make(sim: Simulator) -> Receiver:
        trust = TrustStore([sim.pki.anpr_ca.certificate])
        key = sim.pki.comune(A).comune.key_source()
        box = Receiver(url="")

        def app(environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = environ["wsgi.input"].read(length)
            verified = verify_envelope(data, trust=trust, policy=NOTIFICATION_POLICY)
            request = verified.payload
            assert request is not None
            assert request.tag == f"{{{N000_NS}}}RichiestaN000"
            testata = request.find("testataNotifica")
            assert testata is not None
            box.testate.append({c.tag: c.text or "" for c in testata if isinstance(c.tag, str)})
            content = base64.b64decode(request.findtext("contenuto") or "")
            box.payloads.append(etree.fromstring(decrypt_enveloped(content, key)))
            code = box.answers.pop(0) if box.answers else "1"
            reply = (
                '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                f'<n:RispostaN000 xmlns:n="{N000_NS}"><codiceEsito>{code}</codiceEsito>'
                f"<esito>{code}</esito></n:RispostaN000></soap:Body></soap:Envelope>"
            ).encode()
            start("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            return [reply]

        server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        box.url = f"http://127.0.0.1:{server.server_address[1]}/n000"
        sim.register_notification_endpoint(A, box.url)
        return box

    try:
        yield make
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _pull(
    sim: Simulator, since: dt.datetime, kind: str = "N010", state: str = "9"
) -> dict[str, dict[str, Any]]:
    """A's notifications of ``kind`` through 4005, as ANPR lists them: one ``elencoRisposte``
    per notification, by its ``idOperazioneANPR`` (``content``: the decoded document)."""
    client = sim.client(A, journal=None)
    started = client.call(
        "4005",
        {
            "elaborazione": {
                "dettaglioDati": "TUTTO",
                "ricercaElenchiRichieste": {
                    "statoLavorazione": state,
                    "operazioneRichiesta": kind,
                    "periodoRiferimentoRichieste": {
                        "dataOraIniziale": since,
                        "dataOraFinale": sim.clock.now(),
                    },
                },
            }
        },
    )
    assert started.value["statoRichiesta"] == "0"  # accepted, as the official sample ex_001
    ident = started.value["idOperazioneANPR"]
    first = client.call("4005", {"verificaStato": {"idOperazioneANPR": ident, "progressivo": "1"}})
    assert first.value["statoRichiesta"] == "1"  # not ready yet
    ready = dt.datetime.fromisoformat(started.value["dataDisponibilita"])
    time.sleep(max(0.0, (ready - sim.clock.now()).total_seconds()) + 0.05)
    done = client.call("4005", {"verificaStato": {"idOperazioneANPR": ident, "progressivo": "1"}})
    assert done.value["statoRichiesta"] == "2"
    assert done.attachments, "4005 results travel as MTOM attachments"
    assert "datiFornitura" not in done.value  # one page
    items: dict[str, dict[str, Any]] = {}
    for item in done.value["elencoRisposte"]:
        assert item["tipoOperazione"] == kind
        assert item["formatoRisposta"] == "gz"  # notifications only as gz (#2495)
        assert "contenutoRichiesta" not in item  # a notification has no request
        content = gzip.decompress(base64.b64decode(item["contenutoRisposta"]))
        items[item["idOperazioneANPR"]] = {**item, "content": etree.fromstring(content)}
    return items


def test_transfer_between_two_subentrati_comuni(
    make_simulator: MakeSimulator, receiver_for: Callable[[Simulator], Receiver]
) -> None:
    sim = make_simulator(extraction_delay=0.3)
    receiver = receiver_for(sim)
    since = sim.clock.now() - dt.timedelta(minutes=1)
    household = sim.store.households(A)[0]
    persons = list(household.members)
    assert len(persons) >= 2
    codes = {p.codice_fiscale for p in persons}
    client_a = sim.client(A, journal=None)
    assert client_a.call("3002", payload_3002(persons[0].codice_fiscale)).outcome

    result = sim.client(B, journal=None).call(
        "5005", transfer_payload(persons), header={"dataDecorrenza": dt.date.today()}
    )

    assert result.esito_operazione == "0000"
    moved = result.value["listaSoggettiVariati"]["datiSoggetto"]
    assert {m["generalitaAttuali"]["codiceFiscale"]["codFiscale"] for m in moved} == codes
    for cf in codes:
        person = sim.store.person(cf)
        assert person is not None
        assert person.comune == B
        assert sim.store.residences(cf)[-1].reason == "transfer"
    assert codes.isdisjoint(p.codice_fiscale for p in sim.store.residents(A))
    assert codes <= {p.codice_fiscale for p in sim.store.residents(B)}
    # A no longer finds them among its residents; a national search finds them in B.
    with pytest.raises(NotFoundError):
        client_a.call("3002", payload_3002(persons[0].codice_fiscale))
    found = client_a.call("3002", payload_3002(persons[0].codice_fiscale, national=True))
    (subject,) = found.value["listaSoggetti"]["datiSoggetto"]
    assert subject["residenza"][0]["indirizzo"]["comune"]["codiceIstat"] == B

    # One N010 per person for A, recorded with the operation.
    notes = sim.notifications.pending(A)
    assert sorted(n.codice_fiscale or "" for n in notes) == sorted(codes)
    assert all(n.kind == "N010" and n.operation == result.id_operazione_anpr for n in notes)

    # Push: delivered to A's endpoint, signed by ANPR and decryptable with A's key only.
    _wait(lambda: len(receiver.payloads) == len(codes))
    assert {
        p.findtext("generalitaSoggetto/codiceFiscale/codFiscale") for p in receiver.payloads
    } == codes
    assert all(p.tag == f"{{{PAYLOAD_NS}}}NotificaN010" for p in receiver.payloads)
    assert {p.findtext("comuneRichiesta/codiceIstat") for p in receiver.payloads} == {B}
    assert {p.findtext("idOperazioneANPR") for p in receiver.payloads} == {
        result.id_operazione_anpr
    }
    assert {t["codDestinatario"] for t in receiver.testate} == {A}
    assert sorted(t["idOperazioneANPR"] for t in receiver.testate) == sorted(n.id for n in notes)
    _wait(lambda: all(n.state == "delivered" for n in sim.notifications.pending(A)))

    # Pull: the same notifications through 4005, keyed by the same id.
    items = _pull(sim, since)
    pulled = {ident: item["content"] for ident, item in items.items()}
    assert set(pulled) == {n.id for n in notes}
    assert all(p.tag == f"{{{PAYLOAD_NS}}}NotificaN010" for p in pulled.values())
    assert {p.findtext("generalitaSoggetto/codiceFiscale/codFiscale") for p in pulled.values()} == (
        codes
    )
    # Each was delivered by push first: taken in charge.
    assert {item["statoLavorazione"] for item in items.values()} == {"8"}


def test_push_is_retried_until_acknowledged_then_given_up(
    make_simulator: MakeSimulator, receiver_for: Callable[[Simulator], Receiver]
) -> None:
    sim = make_simulator(notification_retry_interval=0.05, notification_attempts=3)
    receiver = receiver_for(sim)
    receiver.answers = ["7", "5"]  # communication error, not conforming, then acquired
    person, other = singles(sim)[:2]
    sim.client(B, journal=None).call(
        "5005", transfer_payload([person]), header={"dataDecorrenza": dt.date.today()}
    )
    _wait(lambda: sim.notifications.pending(A)[0].state == "delivered")
    (note,) = sim.notifications.pending(A)
    assert note.attempts == 3
    assert len(receiver.payloads) == 3

    receiver.answers = ["7", "7", "7", "7"]
    sim.client(B, journal=None).call(
        "5005", transfer_payload([other]), header={"dataDecorrenza": dt.date.today()}
    )
    _wait(lambda: sim.notifications.pending(A)[-1].state == "failed")
    failed = sim.notifications.pending(A)[-1]
    assert failed.attempts == 3
    assert failed.last_error is not None
    assert "7" in failed.last_error


def test_pull_without_endpoint_and_statoLavorazione_filters(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(extraction_delay=0.4, extraction_format="gz")
    since = sim.clock.now() - dt.timedelta(minutes=1)
    person = singles(sim)[0]
    sim.client(B, journal=None).call(
        "5005", transfer_payload([person]), header={"dataDecorrenza": dt.date.today()}
    )
    (note,) = sim.notifications.pending(A)
    assert note.state == "pending"  # no endpoint: waits for a pull
    unread = _pull(sim, since, state="7")
    assert list(unread) == [note.id]
    assert unread[note.id]["statoLavorazione"] == "7"
    assert sim.notifications.pending(A)[0].consumed
    with pytest.raises(NotFoundError) as nothing:  # no result at all: EN122, as ANPR (#1714)
        _pull(sim, since, state="7")
    assert nothing.value.codes == ("EN122",)
    consumed = _pull(sim, since, state="8")
    assert list(consumed) == [note.id]
    assert consumed[note.id]["statoLavorazione"] == "8"


def test_4005_refuses_periods_over_31_days(anpr_simulator: Simulator) -> None:
    now = anpr_simulator.clock.now()
    client = anpr_simulator.client(A, journal=None)
    for start, end in (
        (now - dt.timedelta(days=32), now),
        (now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)),
        (now, now - dt.timedelta(hours=1)),
    ):
        with pytest.raises(OperationNotAllowedError):
            client.call(
                "4005",
                {
                    "elaborazione": {
                        "ricercaElenchiRichieste": {
                            "statoLavorazione": "9",
                            "periodoRiferimentoRichieste": {
                                "dataOraIniziale": start,
                                "dataOraFinale": end,
                            },
                        }
                    }
                },
            )
