"""Reading answers: OK, KO with several errors, warnings, MTOM, unknown elements, faults."""

from __future__ import annotations

import warnings

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprRejected,
    AnprWarning,
    InternalErrorFromClient,
    NotFoundError,
    ProtocolError,
    ServerUnavailable,
    SoapFault,
)
from anpr_client.models.consultazione import Risposta3002OK
from anpr_client.settings import Settings
from anpr_client.soap.mtom import build_related
from anpr_client.transport import HttpResponse, MockTransport
from tests.client.support import LoopbackServer, echoed, recorded

CF = "RSSMRA80A01H501U"


def answering(body: bytes, status: int = 200, content_type: str = "text/xml") -> MockTransport:
    """A server answering ``body``, its testata echoing each request as ANPR's does."""
    return MockTransport(
        lambda req: HttpResponse(status, {"content-type": content_type}, echoed(body, req.body))
    )


def search_payload() -> dict[str, object]:
    return {
        "criteriRicerca": {"codiceFiscale": CF},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": "2026-11-20",
        },
    }


def test_ok_answer_is_read_into_a_typed_result(settings: Settings) -> None:
    client = Client(settings, transport=answering(recorded("ok_3002.xml")), journal=None)
    result = client.consultazione.find_by_codice_fiscale(CF)
    assert isinstance(result.value, Risposta3002OK)
    assert result.outcome == "Risposta3002_OK"
    assert result.id_operazione_anpr == "4411002"
    assert result.esito_operazione == "0000"
    person = result.value.listaSoggetti.datiSoggetto[0].generalita  # type: ignore[union-attr]
    assert person is not None
    assert (person.cognome, person.nome, person.sesso) == ("ROSSI", "MARIO", "M")
    assert person.dataNascita is not None
    assert person.dataNascita.isoformat() == "1980-01-01"
    assert result.warnings == ()
    assert result.unknown_elements == ()


def test_result_and_rejection_name_esito_operazione_alike(settings: Settings) -> None:
    client = Client(settings, transport=answering(recorded("ok_3002.xml")))
    result = client.call("3002", search_payload())
    assert result.esito_operazione == "0000"
    with pytest.warns(DeprecationWarning, match="Result.esito is deprecated"):
        assert result.esito == "0000"
    rejecting = Client(settings, transport=answering(recorded("ko_3002_several.xml")))
    with pytest.raises(AnprRejected) as info:
        rejecting.call("3002", search_payload())
    assert info.value.esito_operazione == "XXXX"


def test_ko_with_several_errors_raises_the_specific_class_with_every_entry(
    settings: Settings,
) -> None:
    client = Client(settings, transport=answering(recorded("ko_3002_several.xml")), journal=None)
    with pytest.raises(NotFoundError) as info:
        client.call("3002", search_payload(), header={"idOperazioneComune": "REC3002C"})
    exc = info.value
    assert exc.codes == ("EN527", "EN122", "EW001")
    assert [e.severity for e in exc.errors] == ["E", "E", "W"]
    detailed = exc.errors[1]
    assert (detailed.object, detailed.field, detailed.value) == (
        "criteriRicerca",
        "codiceFiscale",
        CF,
    )
    assert exc.operation == "3002"
    assert exc.id_operazione_comune == "REC3002C"
    assert exc.esito_operazione == "XXXX"
    for code in ("EN122", "EN527", "EW001"):
        assert code in str(exc)
    assert exc.raw is not None
    assert b"rispostaKO" in exc.raw


def test_warnings_stay_on_the_result_and_are_emitted(settings: Settings) -> None:
    client = Client(settings, transport=answering(recorded("ok_5005_warnings.xml")), journal=None)
    # A minimal 5005 is not needed to read the answer: read() takes any HTTP answer.
    response = HttpResponse(200, {"content-type": "text/xml"}, recorded("ok_5005_warnings.xml"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = client.read("5005", response)
    assert result.outcome == "Risposta_Comune"
    assert [w.code for w in result.warnings] == ["ES001", "EC002"]
    emitted = [c for c in caught if issubclass(c.category, AnprWarning)]
    assert [c.message.item for c in emitted] == list(result.warnings)  # type: ignore[union-attr]
    assert all(c.filename == __file__ for c in emitted)  # points at the caller's line


def test_unknown_element_mid_sequence_keeps_the_fields_after_it(settings: Settings) -> None:
    client = Client(
        settings, transport=answering(recorded("ok_3002_unknown_mid.xml")), journal=None
    )
    result = client.call("3002", search_payload())
    assert result.id_operazione_anpr == "4411003"  # after the unknown element
    assert result.esito_operazione == "0000"
    assert result.value["listaSoggetti"]["datiSoggetto"][0]["generalita"]["cognome"] == "VERDI"
    (unknown,) = result.unknown_elements
    assert unknown.path.endswith("testataRisposta/campoDiUnaVersioneFutura")
    assert "<dettaglio>nuovo</dettaglio>" in unknown.xml


def _mtom_6001(pdf: bytes) -> tuple[bytes, str]:
    envelope = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<ns2:Risposta6001 xmlns:ns2="http://sogei.it/ANPR/6001certificazione"><ns2:Risposta6001OK>
<testataRisposta><idOperazioneComune>REC6001A</idOperazioneComune><codMittente>058091</codMittente>
<codDestinatario>ANPR05</codDestinatario><operazioneRichiesta>6001</operazioneRichiesta>
<dataOraRichiesta>2026-11-20T10:15:00.000+01:00</dataOraRichiesta>
<idOperazioneANPR>4416001</idOperazioneANPR>
<esitoOperazione>0000</esitoOperazione></testataRisposta>
<file><certificatoPdf>
<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:cert-1%40apache.org"/>
</certificatoPdf></file>
</ns2:Risposta6001OK></ns2:Risposta6001></soap:Body></soap:Envelope>"""
    return build_related(envelope, {"cert-1@apache.org": ("application/pdf", pdf)})


def test_mtom_answer_with_a_pdf_attachment(settings: Settings) -> None:
    pdf = b"%PDF-1.4\r\n\x00\xff binary \r\n--not-a-boundary\r\n%%EOF"
    body, content_type = _mtom_6001(pdf)
    client = Client(settings, transport=answering(body, content_type=content_type), journal=None)
    result = client.read("6001", HttpResponse(200, {"content-type": content_type}, body))
    assert result.outcome == "Risposta6001OK"
    assert result.id_operazione_anpr == "4416001"
    import base64

    assert base64.b64decode(result.value["file"]["certificatoPdf"]) == pdf
    (attachment,) = result.attachments.values()
    assert attachment.data == pdf
    assert attachment.content_type == "application/pdf"


def test_mtom_as_cxf_writes_it(settings: Settings) -> None:
    """A hand-written multipart body in Apache CXF's layout (not produced by our builder)."""
    pdf = b"%PDF-1.7 fake"
    root = _mtom_6001(pdf)[0].split(b"\r\n\r\n", 1)[1].split(b"\r\n--uuid:", 1)[0]
    body = (
        b"\r\n--uuid:7a1f\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n'
        b"Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n"
        + root
        + b"\r\n--uuid:7a1f\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: binary\r\nContent-ID: <cert-1@apache.org>\r\n\r\n"
        + pdf
        + b"\r\n--uuid:7a1f--"
    )
    ctype = (
        'multipart/related; type="application/xop+xml"; boundary="uuid:7a1f"; '
        'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    result = Client(settings, journal=None).read(
        "6001", HttpResponse(200, {"content-type": ctype}, body)
    )
    assert result.attachments["cert-1@apache.org"].data == pdf


def test_gateway_fault_becomes_a_typed_exception(settings: Settings) -> None:
    client = Client(
        settings, transport=answering(recorded("fault_internal_error.xml"), 500), journal=None
    )
    with pytest.raises(SoapFault) as info:
        client.call("3002", search_payload())
    assert isinstance(info.value, InternalErrorFromClient)
    assert info.value.faultstring == "Internal Error (from client)"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (502, b"<html>Bad gateway</html>", ServerUnavailable),
        (503, b"", ServerUnavailable),
        (200, b"not xml at all", ProtocolError),
        (200, b"<a>not soap</a>", ProtocolError),
        (200, b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', ProtocolError),
    ],
)
def test_unreadable_answers_raise_typed_errors(
    settings: Settings, status: int, body: bytes, expected: type[Exception]
) -> None:
    client = Client(settings, transport=answering(body, status), journal=None)
    with pytest.raises(expected):
        client.call("3002", search_payload())


def test_server_unavailable_says_the_outcome_is_unknown(settings: Settings) -> None:
    client = Client(settings, transport=answering(b"", 504), journal=None)
    with pytest.raises(ServerUnavailable) as info:
        client.call("3002", search_payload())
    assert info.value.outcome_unknown
    assert info.value.status == 504


def test_answer_to_another_operation_is_refused(settings: Settings) -> None:
    client = Client(settings, transport=answering(recorded("ok_3002.xml")), journal=None)
    with pytest.raises(ProtocolError, match="expected Risposta3001"):
        client.read("3001", HttpResponse(200, {}, recorded("ok_3002.xml")))


def test_over_real_tls_on_loopback(settings: Settings, loopback: LoopbackServer) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    cfg = settings.replace(base_url=loopback.url, ca_bundle=loopback.ca_pem)
    with Client(cfg, journal=None) as client:
        result = client.call("3002", search_payload())
    assert result.id_operazione_anpr == "4411002"
    ((path, headers, sent),) = loopback.canned.received
    assert path == "/ANPR3000ServiziConsultazione/AnprService3000"
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["SOAPAction"] == '""'
    assert b"<idOperazioneComune>" in sent


def test_rejection_is_an_anpr_error(settings: Settings) -> None:
    client = Client(settings, transport=answering(recorded("ko_3002_several.xml")), journal=None)
    with pytest.raises(AnprRejected):
        client.call("3002", search_payload())


def test_an_empty_answer_is_a_protocol_error(settings: Settings) -> None:
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<ns2:Risposta3002 xmlns:ns2="http://sogei.it/ANPR/3000consultazione"/>'
        b"</soap:Body></soap:Envelope>"
    )
    with pytest.raises(ProtocolError, match="empty Risposta3002"):
        Client(settings, journal=None).read("3002", HttpResponse(200, {}, body))


def _answer_5021(branch: str) -> bytes:
    """A 5021 answer: ``branch`` beside the ``tipoMutazione`` every 5021 answer carries."""
    return f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <ns2:Risposta5021 xmlns:ns2="http://sogei.it/ANPR/5000mutazione"
        xmlns:ns3="http://sogei.it/ANPR/rispostaComune">
      {branch}
      <tipoMutazione>12</tipoMutazione>
    </ns2:Risposta5021>
  </soap:Body>
</soap:Envelope>""".encode()


_TESTATA_5021 = """<testataRisposta>
          <idOperazioneComune>REC5021</idOperazioneComune>
          <codMittente>058091</codMittente>
          <codDestinatario>ANPR05</codDestinatario>
          <operazioneRichiesta>5021</operazioneRichiesta>
          <dataOraRichiesta>2026-11-20T10:15:00.000+01:00</dataOraRichiesta>
          <idOperazioneANPR>4415021</idOperazioneANPR>
          <esitoOperazione>{esito}</esitoOperazione>
        </testataRisposta>"""


def test_a_ko_beside_other_elements_raises_the_rejection(settings: Settings) -> None:
    body = _answer_5021(
        "<ns2:rispostaKO>"
        + _TESTATA_5021.format(esito="XXXX")
        + "<listaErrori><errore><codiceErroreAnomalia>ES003</codiceErroreAnomalia>"
        "<tipoErroreAnomalia>E</tipoErroreAnomalia>"
        "<testoErroreAnomalia>recorded error</testoErroreAnomalia></errore></listaErrori>"
        "</ns2:rispostaKO>"
    )
    client = Client(settings, transport=answering(body), journal=None)
    response = HttpResponse(200, {"content-type": "text/xml"}, body)
    with pytest.raises(AnprRejected) as info:
        client.read("5021", response)
    assert info.value.codes == ("ES003",)
    assert info.value.id_operazione_anpr == "4415021"


def test_an_ok_beside_other_elements_stays_ok(settings: Settings) -> None:
    body = _answer_5021(
        "<ns3:Risposta_Comune>" + _TESTATA_5021.format(esito="0000") + "</ns3:Risposta_Comune>"
    )
    client = Client(settings, transport=answering(body), journal=None)
    result = client.read("5021", HttpResponse(200, {"content-type": "text/xml"}, body))
    assert result.outcome == "Risposta5021"
    assert result.value["tipoMutazione"] == "12"
    assert result.value["Risposta_Comune"]["testataRisposta"]["esitoOperazione"] == "0000"
    assert result.id_operazione_anpr == "4415021"
    assert result.esito_operazione == "0000"
