"""ANPR's answers as published, read by the client: every value asserted.

KO answers become the exception their most specific code picks, with every entry kept in
ANPR's order and words (trailing spaces, ``&#13;``, empty texts); OK answers keep their
warnings, their newer-version elements (by path) and their MTOM attachments.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import pytest

from anpr_client.errors.exceptions import (
    AnprRejected,
    AnprWarning,
    BusinessRuleError,
    InconsistentDataError,
    NotFoundError,
    PrivilegeError,
    ProtocolError,
    RevenueAgencyError,
    ServiceError,
)
from anpr_client.results import Result
from anpr_client.soap.binding import Binding

from .corpus import fixture

EN527 = "Informazioni sull'operazione da fornire in caso di assistenza : data "
PRIVILEGE = "L'utente non dispone dei privilegi per eseguire l' operazione "


def rejection(binding: Binding, path: str) -> AnprRejected:
    entry = fixture(path)
    with pytest.raises(AnprRejected) as info:
        binding.read(entry.operation, entry.response())
    assert info.value.operation == entry.operation
    assert info.value.esito_operazione == "XXXX"
    assert info.value.raw == entry.response().body  # the answer as received, for the record
    return info.value


def entries(exc: AnprRejected) -> list[tuple[str, str, str]]:
    return [(e.code, e.severity, e.text) for e in exc.errors]


# ----------------------------------------------------------------------------- KO answers

KO = [
    (
        "answers/ko-3002-en122.xml",
        NotFoundError,
        ("20200203112987", "2373698"),
        [("EN122", "E", "La richiesta effettuata non produce alcun risultato")],
    ),
    (
        "answers/ko-4001-en179-cr.xml",
        BusinessRuleError,
        ("20210531171117981", "545557412"),
        [
            (
                "EN179",
                "E",
                "Richiesta non effettuabile: e' presente una richiesta dello stesso tipo non "
                "ancora lavorata \r\n",  # &#13; then the line feed: kept as sent (#2688)
            )
        ],
    ),
    (
        "answers/ko-5008-two-errors.xml",
        RevenueAgencyError,
        ("20200430084946077", "241823799"),
        [
            ("AEE96", "E", "Operazione non effettuabile "),
            ("EN527", "E", EN527 + "2020-04-30 08:50:06 , idOperazioneANPR 241823799"),
        ],
    ),
    (
        "answers/ko-1002-three-errors.xml",
        InconsistentDataError,
        ("20191211154300", "2328099"),
        [
            (
                "ES034",
                "E",
                "Comune della scheda individuale diverso dal comune che richiede l'operazione",
            ),
            (
                "EF001",
                "E",
                "Identificativo scheda famiglia/convivenza attribuito dal comune non trovato o "
                "scheda famiglia archiviata",
            ),
            ("EN527", "E", ""),  # cut in the excerpt: no type (blocking by default), no text
        ],
    ),
    (
        "answers/ko-2009-en493.xml",
        PrivilegeError,
        ("571", "0"),
        [("EN493", "E", PRIVILEGE + " [Va implementato il gestore accessi per la richiesta 2009]")],
    ),
    ("answers/ko-5001-en493.xml", PrivilegeError, ("5399", "0"), [("EN493", "E", PRIVILEGE)]),
    ("answers/ko-3003-empty-lista-errori.xml", AnprRejected, ("2019305199", "73292699"), []),
    (
        "answers/ko-5011-xxxx-code.xml",
        AnprRejected,
        ("88699", "3010000199"),
        [
            ("XXXX", "E", "Utente non abilitato 5"),
            (
                "EN527",
                "E",
                EN527 + "2022-07-01 12:52:07 , mittente 076099 , idOperazioneComune 88699",
            ),
        ],
    ),
    (
        "answers/ko-5005-en493.xml",
        PrivilegeError,
        ("8049899", "390000199"),
        [
            ("EN493", "E", PRIVILEGE),
            (
                "EN527",
                "E",
                EN527 + "2020-10-21 12:44:53 , mittente 063099 , idOperazioneComune 8049899",
            ),
        ],
    ),
    (
        "answers/ko-1014-999.xml",
        ServiceError,
        ("JD2306141521159999", "1800000199"),
        [
            ("999", "E", "Operazione non effettuabile"),
            (
                "EN527",
                "E",
                EN527
                + "2023-06-14 15:21:11 , mittente 017199 , idOperazioneComune JD2306141521159999",
            ),
        ],
    ),
    (
        "answers/ko-5008-en413.xml",
        BusinessRuleError,
        ("76504999", "76504599"),
        [
            ("EN413", "E", "Il soggetto risulta cancellato"),
            ("EN527", "E", EN527 + "2019-04-20 10:59:17 , idOperazioneANPR 76504599"),
        ],
    ),
    (
        "answers/ko-A002-eav92.xml",
        RevenueAgencyError,
        ("947699", "94769699"),
        [
            ("EAV92", "E", "Errore di congruenza"),
            ("EN527", "E", EN527 + "2019-06-11 10:51:31 , idOperazioneANPR 94769699"),
        ],
    ),
    (
        "answers/ko-A001-empty-text.xml",
        RevenueAgencyError,
        ("106199", "50000199"),
        [("EAA0A", "E", "")],
    ),
    (
        "answers/ko-3002-id-above-2-31.xml",
        ServiceError,
        ("20250116101500123", "4491401699"),
        [
            ("999", "E", "Operazione non effettuabile"),
            ("EN527", "E", EN527 + "2025-01-16 10:15:02 , idOperazioneANPR 4491401699"),
        ],
    ),
]


@pytest.mark.parametrize(("path", "cls", "ids", "expected"), KO, ids=[k[0] for k in KO])
def test_ko_answers_keep_every_entry_in_anpr_words(
    binding: Binding,
    path: str,
    cls: type[AnprRejected],
    ids: tuple[str, str],
    expected: list[tuple[str, str, str]],
) -> None:
    exc = rejection(binding, path)
    assert type(exc) is cls
    assert (exc.id_operazione_comune, exc.id_operazione_anpr) == ids
    assert entries(exc) == expected
    assert exc.codes == tuple(code for code, _, _ in expected)


def test_an_empty_lista_errori_is_a_rejection_with_no_entry(binding: Binding) -> None:
    """italia/anpr#1282: XXXX with ``<listaErrori/>``: still a KO, not an OK, not a crash."""
    exc = rejection(binding, "answers/ko-3003-empty-lista-errori.xml")
    assert exc.errors == ()
    assert exc.primary is None


def test_an_id_past_2_31_is_kept_whole(binding: Binding) -> None:
    exc = rejection(binding, "answers/ko-3002-id-above-2-31.xml")
    assert exc.id_operazione_anpr is not None
    assert int(exc.id_operazione_anpr) == 4491401699 > 2**31


def test_the_id_0_of_an_unregistered_ko_is_kept(binding: Binding) -> None:
    """italia/anpr#816, #876: nothing was registered, so ANPR's id is 0; it is still there."""
    assert rejection(binding, "answers/ko-2009-en493.xml").id_operazione_anpr == "0"


# ----------------------------------------------------------------------------- OK answers


def read_ok(binding: Binding, path: str) -> tuple[Result[dict[str, Any]], list[AnprWarning]]:
    entry = fixture(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = binding.read(entry.operation, entry.response())
    emitted = [w.message for w in caught if isinstance(w.message, AnprWarning)]
    assert result.operation == entry.operation
    assert result.esito_operazione == "0000"
    return result, emitted


def test_a_3002_warning_in_lista_anomalie_is_kept_and_emitted(binding: Binding) -> None:
    result, emitted = read_ok(binding, "answers/ok-3002-lista-anomalie.xml")
    assert result.outcome == "Risposta3002_OK"
    assert [(w.code, w.severity, w.text) for w in result.warnings] == [
        ("EN141", "W", "Soggetto non validato")
    ]
    assert [w.item for w in emitted] == list(result.warnings)
    person = result.value["listaSoggetti"]["datiSoggetto"][0]["generalita"]
    assert (person["cognome"], person["nome"], person["dataNascita"]) == (
        "BIANCHI",
        "LAURA",
        "1985-08-01",
    )
    assert result.header["dataOraRichiesta"] == "2024-11-05T10:15:00.000+01:00"
    assert result.unknown_elements == ()


def test_a_risposta_comune_warning_is_kept(binding: Binding) -> None:
    result, emitted = read_ok(binding, "answers/ok-5005-lista-anomalie.xml")
    assert result.outcome == "Risposta_Comune"
    assert [(w.code, w.severity) for w in result.warnings] == [("CN558", "W")]
    assert len(emitted) == 1
    assert result.header["dataDecorrenza"] == "2025-03-12"
    subject = result.value["listaSoggettiVariati"]["datiSoggetto"][0]
    assert subject["identificativi"] == {"idANPR": "AB12345CD"}


def test_an_empty_dati_soggetto_and_an_empty_lista_anomalie(binding: Binding) -> None:
    """italia/anpr#1165: ``<datiSoggetto/>`` inside listaSoggettiVariati."""
    result, emitted = read_ok(binding, "answers/ok-1014-empty-dati-soggetto.xml")
    assert result.value["listaSoggettiVariati"] == {"datiSoggetto": [{}]}
    assert result.value["listaAnomalie"] == {}
    assert result.warnings == () == result.anomalies
    assert emitted == []
    assert result.header["codDestinatario"] == "ANPR02"


@pytest.mark.parametrize("operation", ["1002", "5001", "5005", "5014"])
def test_the_anncsu_section_of_anpr_9_2_is_kept_by_path(binding: Binding, operation: str) -> None:
    """italia/anpr#5011, #5047: 9.2 added ``anncsu`` to these answers; our bundle (9.0.3)
    does not know it, so it is kept aside with its path, and read back by that path."""
    result, _ = read_ok(binding, f"answers/ok-{operation}-anncsu.xml")
    (kept,) = result.unknown_elements
    path = f"Risposta{operation}/Risposta_Comune/listaSoggettiVariati/datiSoggetto[0]/anncsu"
    assert (kept.path, kept.tag, kept.reason, kept.localname) == (
        path,
        "anncsu",
        "unknown",
        "anncsu",
    )
    assert result.unknown_element("listaSoggettiVariati/datiSoggetto[0]/anncsu") is kept
    assert result.unknown_element(path) is kept
    assert result.unknown_element("listaSoggettiVariati/datiSoggetto[1]/anncsu") is None
    element = kept.element
    assert element.tag == "anncsu"
    assert [child.tag for child in element] == ["verificato"]
    subject = result.value["listaSoggettiVariati"]["datiSoggetto"][0]
    assert "anncsu" not in subject
    assert subject["generalitaAttuali"]["codiceFiscale"] == {"codFiscale": "RSSMRA80A01H501U"}
    assert result.header["operazioneRichiesta"] == operation


# ----------------------------------------------------------------------------- MTOM

PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PDF_CID = "5f0e9c3a7b2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f@apache.org"


def test_a_6001_mtom_answer_in_cxf_layout(binding: Binding) -> None:
    result, _ = read_ok(binding, "answers/ok-6001-mtom.mime")
    assert result.outcome == "Risposta6001OK"
    (attachment,) = result.attachments.values()
    assert (attachment.content_id, attachment.content_type, attachment.data) == (
        PDF_CID,
        "application/pdf",
        PDF,
    )
    assert base64.b64decode(result.value["file"]["certificatoPdf"]) == PDF
    assert result.value["linguaCertificato"] == {"tipoLinguaCertificato": ["IT"]}
    assert result.value["listaTipiCertificato"] == {"tipoCertificato": ["01"]}
    assert result.header["protocolloComune"] == "202160010099"
    assert result.header["dataOraRichiesta"] == "2021-01-14T16:58:53"
    assert result.raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope')
    assert b"xop:Include" in result.raw  # raw is the root part as received


def test_a_6001_answer_without_the_pdf(binding: Binding) -> None:
    """Previews and replays come without ``file`` (italia/anpr#5069)."""
    result, _ = read_ok(binding, "answers/ok-6001-without-file.xml")
    assert "file" not in result.value
    assert result.attachments == {}
    assert result.value["soggettoIntestatario"]["generalita"] == {"cognome": "NERI", "nome": "ANNA"}


def test_a_7001_table_as_an_mtom_attachment(binding: Binding) -> None:
    """italia/anpr#840: 7001's xmlFile arrives as an xop:Include attachment."""
    result, _ = read_ok(binding, "answers/ok-7001-mtom.mime")
    assert result.outcome == "RispostaMultipla7001"
    files = result.value["datiDettaglioRisposta"]["xmlFile"]
    assert [base64.b64decode(f) for f in files] == [b"codice,descrizione\n001,CELIBE/NUBILE\n"]
    (attachment,) = result.attachments.values()
    assert attachment.content_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("answers/broken-6001-include-without-part.mime", "carries no MIME part"),
        ("answers/broken-6001-include-not-mtom.xml", "is not MTOM"),
    ],
)
def test_an_include_without_its_part_is_a_protocol_error(
    binding: Binding, path: str, reason: str
) -> None:
    """Before, the Include was dropped and certificatoPdf read as blank: a silent loss."""
    entry = fixture(path)
    with pytest.raises(ProtocolError, match=reason) as info:
        binding.read(entry.operation, entry.response())
    assert f"cid:{PDF_CID}" in str(info.value)
