"""4005 as it is on the wire (``tests/wire/4005/``): the client and the poller read every
published shape with asserted values, and the simulator answers in the same shapes."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors.exceptions import NotFoundError
from anpr_client.notifications import (
    EntryState,
    Inbox,
    OperationResult,
    Poller,
    ResultItem,
    SubentroCompleted,
    read_items,
    read_notifications,
)
from anpr_client.settings import Settings
from anpr_client.soap.mtom import build_related
from anpr_client.transport import HttpRequest, HttpResponse, MockTransport
from tests.notifications.wire import WIRE, Handler, echo, fixture, serve, stub_anpr

ISTAT = "058091"
CID = "5b1c0d2e7f9a4b3c8d6e0f1a2b3c4d5e6f7a8b9c0d1e2f3a@apache.org"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\r\n'


def mtom_answer(request: HttpRequest) -> HttpResponse:
    """ex_004's root part with its attachment, in the CXF layout (the MIME framing is CXF's:
    no ANPR multipart headers were published, italia/anpr#992, #3286)."""
    part = base64.b64decode(fixture("ex004-verifica-ready.part.b64"))
    body, content_type = build_related(
        echo(fixture("ex004-verifica-ready.mtom.xml"), request.body),
        {CID: ("application/octet-stream", part)},
    )
    return HttpResponse(200, {"content-type": content_type}, body)


def client(handler: Handler) -> Client:
    return Client(Settings(codice_istat=ISTAT), transport=MockTransport(handler), journal=None)


def verify(handler: Handler, id_anpr: str = "300286") -> Any:
    return client(handler).call("4005", verifica(id_anpr))


def elaborazione(start: dt.datetime, end: dt.datetime, detail: str = "RISPOSTA") -> Any:
    """A notifications 4005 ``elaborazione`` payload (every state)."""
    return {
        "elaborazione": {
            "dettaglioDati": detail,
            "ricercaElenchiRichieste": {
                "statoLavorazione": "9",
                "periodoRiferimentoRichieste": {"dataOraIniziale": start, "dataOraFinale": end},
            },
        }
    }


def verifica(id_anpr: str) -> Any:
    return {"verificaStato": {"idOperazioneANPR": id_anpr, "progressivo": 1}}


def elaborate(handler: Handler) -> Any:
    now = dt.datetime.now(dt.UTC)
    return client(handler).call("4005", elaborazione(now - dt.timedelta(days=2), now))


def test_every_fixture_has_its_readme_line_and_source() -> None:
    readme = (WIRE / "README.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in WIRE.iterdir() if p.suffix in (".xml", ".b64"))
    assert len(files) >= 14
    for name in files:
        line = next((x for x in readme.splitlines() if x.startswith(f"| `{name}` |")), None)
        assert line is not None, name
        assert re.search(r"#\d+|official ex_00\d", line), line
    for name in files:
        if name.endswith(".xml"):
            head = fixture(name)[:700]
            assert b"<!--" in head, f"{name} names its source in a comment"


def test_the_official_samples_keep_their_crlf_and_no_declaration() -> None:
    for name in ("ex001-elaborazione.answer.xml", "ex002-verifica-not-ready.answer.xml"):
        data = fixture(name)
        assert b"\r\n" in data
        assert b"\n" not in data.replace(b"\r\n", b"")
        assert not data.startswith(b"<?xml")
        assert not data.endswith(b"\n")


def test_elaborazione_answer_has_state_0_and_the_extraction_id() -> None:
    result = elaborate(serve("ex001-elaborazione.answer.xml"))
    assert result.value["statoRichiesta"] == "0"
    assert result.value["idOperazioneANPR"] == "303104"
    assert result.id_operazione_anpr == "303104"
    assert result.value["dataDisponibilita"] == "2026-03-02T16:22:58.095+01:00"


def test_not_ready_answer_keeps_the_extraction_id_apart_from_the_call_id() -> None:
    result = verify(serve("ex002-verifica-not-ready.answer.xml"), "303104")
    assert result.value["statoRichiesta"] == "1"
    assert result.value["idOperazioneANPR"] == "303104"  # the extraction
    assert result.id_operazione_anpr == "303107"  # the verify call itself
    assert result.value["dataDisponibilita"] == "2026-03-02T17:22:57.000+01:00"
    assert result.unknown_elements == ()  # the comment is not an element


def test_ansc_not_ready_answer_in_the_dotnet_form() -> None:
    result = verify(serve("5279-verifica-not-ready-ansc.answer.xml"), "3577460800")
    assert result.value["statoRichiesta"] == "1"
    assert result.value["idOperazioneANPR"] == "3577460800"  # above 2^31
    assert result.id_operazione_anpr == "3577460846"


def test_mtom_ready_answer_reads_the_n031_in_its_attachment() -> None:
    result = verify(mtom_answer)
    assert set(result.attachments) == {CID}
    value = result.value
    assert value["statoRichiesta"] == "2"
    assert value["ricercaElenchiRichieste"]["operazioneRichiesta"] == "N031"
    (item,) = value["elencoRisposte"]
    assert (item["idOperazioneANPR"], item["statoLavorazione"], item["tipoOperazione"]) == (
        "144427",
        "7",
        "N031",
    )
    assert base64.b64decode(item["contenutoRisposta"]) == result.attachments[CID].data
    page = read_items(value["elencoRisposte"], recipient=ISTAT)
    assert page.quarantined == []
    (event,) = page.events
    assert isinstance(event, SubentroCompleted)
    assert event.key == ("N031", "144427")
    assert event.requesting_comune.name == "COMUNE DI PROVA"
    assert event.requesting_comune.codice_istat == "099001"
    assert event.operational_date == dt.date(2026, 2, 16)
    assert event.raw.startswith(DECLARATION)
    assert event.raw == gzip.decompress(result.attachments[CID].data)
    assert result.attachments[CID].data[:10] == bytes.fromhex("1f8b0800000000000000")


def test_a_content_present_but_empty_is_quarantined_not_read_as_none() -> None:
    # What an xop:Include without its MTOM part leaves once the element's text is read.
    item = {
        "idOperazioneANPR": "31310020",
        "statoLavorazione": "2",
        "tipoOperazione": "5008",
        "contenutoRisposta": "\n                  \n               ",
        "formatoRisposta": "gz",
    }
    page = read_items([item], recipient=ISTAT)
    assert page.events == []
    (quarantined,) = page.quarantined
    assert "present but empty" in quarantined.reason


def test_base64_ready_answer_of_4792_gives_every_n031() -> None:
    result = verify(serve("4792-verifica-ready-base64.answer.xml"), "165199990")
    page = read_items(result.value["elencoRisposte"], recipient=ISTAT)
    assert page.quarantined == []
    assert [e.key for e in page.events] == [
        ("N031", "165200001"),
        ("N031", "165200002"),
        ("N031", "165200003"),
    ]
    names = [e.requesting_comune.name for e in page.events if isinstance(e, SubentroCompleted)]
    assert names == ["COMUNE DI PROVA", "BORGO FITTIZIO", "VILLA INVENTATA"]
    assert all(e.recipient == ISTAT and e.sent_at is None for e in page.events)


def test_a_mixed_result_keeps_every_kind() -> None:
    result = verify(serve("mixed-verifica-ready.answer.xml"), "165300000")
    page = read_items(result.value["elencoRisposte"], recipient=ISTAT)
    assert page.quarantined == []
    by_kind = {e.kind: e for e in page.events}
    assert [e.kind for e in page.events] == ["N031", "N031", "NRIS", "5008", "NA01", "8046"]
    nris = by_kind["NRIS"]
    assert isinstance(nris, OperationResult)
    assert nris.id_notifica == "31310004"  # the NRIS's own id (#2313) …
    assert nris.id_operazione_anpr == "31309996"  # … and the web-app operation's
    assert (nris.response_element, nris.esito) == ("Risposta5008", "0000")
    op = by_kind["5008"]
    assert isinstance(op, ResultItem)
    assert (op.state, op.response_format, op.response_element) == ("2", "xml", "Risposta5008")
    assert op.id_operazione_comune == "WA-2"
    ansc = by_kind["NA01"]
    assert isinstance(ansc, ResultItem)
    assert (ansc.response_format, ansc.response_element) == ("gz", "predisposizioneAnagrafica")
    assert b"<idTipoNotifica>NA01</idTipoNotifica>" in ansc.raw
    internal = by_kind["8046"]
    assert isinstance(internal, ResultItem)
    assert not internal.has_content
    assert (internal.raw, internal.response_format, internal.state) == (b"", None, "2")


def test_operations_with_dettaglio_tutto_keep_request_and_answer() -> None:
    result = verify(serve("1907-operations-tutto.answer.xml"), "184439000")
    page = read_items(result.value["elencoRisposte"], recipient=ISTAT)
    first, internal = page.events
    assert isinstance(first, ResultItem)
    assert first.key == ("1001", "184439011")
    assert first.request is not None
    assert b"<ns2:Richiesta1001" in first.request
    assert first.request_format == "xml"
    assert first.response_element == "Risposta1001"
    assert first.id_operazione_anpr == "184439011"
    assert internal.key == ("8046", "184439012")


def test_ids_only_and_requests_only() -> None:
    ids = read_items(verify(serve("ids-only.answer.xml"), "165400000").value["elencoRisposte"])
    (operation,) = ids.events
    assert operation.key == ("5005", "165400002")
    assert isinstance(operation, ResultItem)
    assert not operation.has_content
    # A notification without its content cannot be read: quarantined, not dropped.
    (notification,) = ids.quarantined
    assert (notification.kind, notification.id_notifica) == ("N010", "165400001")
    assert "no contenutoRisposta" in notification.reason
    requests = read_items(
        verify(serve("requests-only.answer.xml"), "184439000").value["elencoRisposte"]
    )
    (item,) = requests.events
    assert isinstance(item, ResultItem)
    assert item.request is not None
    assert item.request.startswith(b'<?xml version="1.0" encoding="UTF-8"?><ns2:Richiesta1001')
    assert (item.request_format, item.raw) == ("gz", b"")


def test_the_jaxb_log_form_of_an_ansc_answer() -> None:
    events, quarantined = read_notifications(fixture("4618-ansc-na01.answer.xml"))
    assert quarantined == []
    (item,) = events
    assert isinstance(item, ResultItem)
    assert item.key == ("NA01", "71742700")
    assert item.response_element == "predisposizioneAnagrafica"


def test_en122_is_an_answer_and_an_empty_window(inbox: Inbox) -> None:
    handler = serve("1714-elaborazione-en122.answer.xml")
    with pytest.raises(NotFoundError) as nothing:
        elaborate(handler)
    assert nothing.value.codes == ("EN122",)
    report = Poller(client(handler), inbox, skew=0).pull(dt.datetime.now(dt.UTC) - dt.timedelta(1))
    assert (len(report.windows), report.requests, report.received) == (1, [], 0)
    assert inbox.checkpoint(ISTAT).covered_until == report.windows[0][1]


# --------------------------------------------------------------------------- the poller


def test_the_poller_stores_every_item_of_a_real_shaped_result(inbox: Inbox) -> None:
    handler = stub_anpr(serve("mixed-verifica-ready.answer.xml"))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    report = Poller(client(handler), inbox, skew=0).pull(since)
    assert (report.received, report.added, report.invalid, report.held) == (6, 6, 0, [])
    assert [e.kind for e in inbox.entries()] == ["N031", "N031", "NRIS", "5008", "NA01", "8046"]
    assert all(e.event is not None and e.channel == "pull" for e in inbox.entries())
    stored = inbox.get("5008", "31310010")
    assert stored is not None
    assert isinstance(stored.event, ResultItem)  # read back from the file as it was stored
    assert stored.event.response_element == "Risposta5008"
    assert inbox.checkpoint(ISTAT).covered_until == report.windows[0][1]


def test_the_poller_reads_the_mtom_result(inbox: Inbox) -> None:
    handler = stub_anpr(mtom_answer, b"300286")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    report = Poller(client(handler), inbox, skew=0).pull(since)
    assert report.added == 1
    entry = inbox.get("N031", "144427")
    assert entry is not None
    assert entry.state is EntryState.PENDING
    assert isinstance(entry.event, SubentroCompleted)


# --------------------------------------------------------------------------- the simulator

simulator = pytest.importorskip("anpr_client.simulator", reason="the ANPR simulator is missing")
sim_support = pytest.importorskip("tests.simulator.support", reason="the simulator's helpers")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    config = simulator.SimulatorConfig(
        state_dir=tmp_path_factory.mktemp("anpr"), comuni=(ISTAT, "015146"), extraction_delay=0
    )
    with simulator.running_simulator(config) as running:
        yield running


def paths(element: etree._Element, prefix: str = "") -> set[str]:
    """Element paths by local name (prefixes and namespaces are not the shape)."""
    here = f"{prefix}/{etree.QName(element).localname}"
    out = {here}
    for child in element.iterchildren(tag=etree.Element):
        out |= paths(child, here)
    return out


def body_paths(data: bytes) -> set[str]:
    """The paths of ``RispostaMultipla4005`` but for the testata's optional echoes
    (``dataDecorrenza`` is echoed in #4618, not in the hand-edited ex_004)."""
    return {
        p
        for p in paths(multipla(data))
        if not p.startswith("/RispostaMultipla4005/testataRisposta/")
        or p.rsplit("/", 1)[1] not in ("dataDecorrenza", "protocolloComune", "dataProtocolloComune")
    }


def multipla(data: bytes) -> etree._Element:
    return next(etree.fromstring(data).iter("{*}RispostaMultipla4005"))


def _signed(sim: Any, request: etree._Element) -> Any:
    frame = sim_support.frame_for(sim, ISTAT)
    return sim_support.send_signed(sim, "4005", copy.deepcopy(request), frame)


def _moved(sim: Any) -> dt.datetime:
    since: dt.datetime = sim.clock.now() - dt.timedelta(minutes=1)
    person = sim_support.singles(sim, ISTAT)[0]
    with sim.client("015146", journal=None) as other:
        other.call(
            "5005",
            sim_support.transfer_payload([person], to="015146"),
            header={"dataDecorrenza": dt.date.today()},
        )
    return since


def test_the_simulator_takes_the_official_request_shapes_and_answers_in_theirs(sim: Any) -> None:
    request = etree.fromstring(fixture("ex003-elaborazione-notifiche.request.xml"))
    now = sim.clock.now()
    request.find(".//dataOraIniziale").text = (now - dt.timedelta(days=1)).isoformat()  # type: ignore[union-attr]
    request.find(".//dataOraFinale").text = now.isoformat()  # type: ignore[union-attr]
    request.find(".//idOperazioneComune").text = "20261202901"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError) as nothing:  # no N031 in the simulator: EN122
        _signed(sim, request)
    assert nothing.value.codes == ("EN122",)

    since = _moved(sim)
    request.find(".//operazioneRichiesta[.='N031']").text = "N010"  # type: ignore[union-attr]
    request.find(".//dataOraIniziale").text = since.isoformat()  # type: ignore[union-attr]
    request.find(".//dataOraFinale").text = sim.clock.now().isoformat()  # type: ignore[union-attr]
    request.find(".//idOperazioneComune").text = "20261202902"  # type: ignore[union-attr]
    started = _signed(sim, request)
    assert body_paths(started.raw) == body_paths(fixture("ex001-elaborazione.answer.xml"))
    assert started.value["statoRichiesta"] == "0"

    check = etree.fromstring(fixture("ex004-verifica.request.xml"))
    check.find(".//verificaStato/idOperazioneANPR").text = started.value["idOperazioneANPR"]  # type: ignore[union-attr]
    check.find(".//idOperazioneComune").text = "20261202903"  # type: ignore[union-attr]
    check.find(".//dataDecorrenza").text = dt.date.today().isoformat()  # type: ignore[union-attr]
    done = _signed(sim, check)
    assert done.value["statoRichiesta"] == "2"
    assert done.attachments  # MTOM, as ex_004
    official = body_paths(fixture("ex004-verifica-ready.mtom.xml"))
    assert body_paths(done.raw) == official  # xop:Include included
    page = read_items(done.value["elencoRisposte"], recipient=ISTAT)
    assert page.quarantined == []
    assert {e.kind for e in page.events} == {"N010"}


def test_the_simulator_answers_in_base64_like_4792(tmp_path: Path) -> None:
    config = simulator.SimulatorConfig(
        state_dir=tmp_path / "anpr",
        comuni=(ISTAT, "015146"),
        extraction_delay=0,
        extraction_mtom=False,
    )
    with simulator.running_simulator(config) as plain:
        since = _moved(plain)
        with plain.client(ISTAT, journal=None) as own:
            started = own.call("4005", elaborazione(since, plain.clock.now()))
            done = own.call("4005", verifica(started.value["idOperazioneANPR"]))
            ids_only = own.call("4005", elaborazione(since, plain.clock.now(), "ID"))
            listed = own.call("4005", verifica(ids_only.value["idOperazioneANPR"]))
    assert not done.attachments
    item_paths = {
        p.split("/elencoRisposte", 1)[1]
        for p in paths(multipla(done.raw))
        if "/elencoRisposte" in p
    }
    published = {
        p.split("/elencoRisposte", 1)[1]
        for p in paths(multipla(fixture("4792-verifica-ready-base64.answer.xml")))
        if "/elencoRisposte" in p
    }
    assert item_paths == published
    (item,) = done.value["elencoRisposte"]
    assert item["formatoRisposta"] == "gz"
    (bare,) = listed.value["elencoRisposte"]
    assert set(bare) == {"idOperazioneANPR", "statoLavorazione", "tipoOperazione"}
    assert bare["idOperazioneANPR"] == item["idOperazioneANPR"]
