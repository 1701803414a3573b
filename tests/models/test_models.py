"""The generated models: one class per shared type, every operation by code, the field rules,
choices refused at construction, and an import of ``anpr_client`` that loads no family."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import typing
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from anpr_client import UnknownOperationError
from anpr_client.errors import ChoiceError
from anpr_client.models import (
    Model,
    Request,
    common,
    enti,
    from_payload,
    iscrizione,
    mutazione,
    ok_types,
    request_type,
    response_type,
    to_payload,
    violations,
)
from anpr_client.models import consultazione as c3000
from anpr_client.soap.bundle import get_bundle

BUNDLE = get_bundle()
CODES = sorted(BUNDLE.operations)


# ----------------------------------------------------------------------------- one class per type


def test_the_shared_types_are_one_class_across_families() -> None:
    ko_3002 = c3000.Risposta3002.__dataclass_fields__["rispostaKO"]
    ko_5005 = mutazione.Risposta5005.__dataclass_fields__["rispostaKO"]
    assert ko_3002.type == ko_5005.type == "RispostaKO | None"
    assert c3000.RispostaKO is mutazione.RispostaKO is iscrizione.RispostaKO is common.RispostaKO
    # Each family declares tipoTestataRichiesta/Risposta as an extension adding nothing to
    # tipoDato's: the same class under the family's name.
    assert c3000.TipoTestataRichiesta is mutazione.TipoTestataRichiesta
    assert c3000.TipoTestataRichiesta is common.TipoDatoTestataRichiesta
    assert c3000.TipoTestataRisposta is mutazione.TipoTestataRisposta
    assert c3000.TipoListaErrori is mutazione.TipoListaErrori is common.TipoListaErrori
    ko = iscrizione.RispostaKO(
        testataRisposta=_testata_risposta(),
        listaErrori=common.TipoListaErrori(
            errore=[
                common.TipoErroriAnomalia(
                    codiceErroreAnomalia="EN122", tipoErroreAnomalia="E", testoErroreAnomalia="x"
                )
            ]
        ),
    )
    assert isinstance(ko, c3000.RispostaKO)
    assert isinstance(ko.listaErrori.errore[0], mutazione.TipoErroriAnomalia)


def test_a_family_type_of_another_content_keeps_its_own_class() -> None:
    # E000's rispostaKO lists its errors directly: not the same type as everyone else's.
    assert not issubclass(enti.RispostaKO, common.RispostaKO)
    hints = typing.get_type_hints(enti.RispostaKO)
    assert hints["listaErrori"] == Sequence[common.TipoErroriAnomalia]


def test_an_extension_that_adds_elements_is_a_subclass() -> None:
    assert issubclass(common.TipoLegameSoggettoCompleto, common.TipoLegameSoggetto)
    inherited = set(common.TipoLegameSoggetto.__dataclass_fields__)
    assert inherited < set(common.TipoLegameSoggettoCompleto.__dataclass_fields__)


# ----------------------------------------------------------------------------- by code


@pytest.mark.parametrize("code", CODES)
def test_every_operation_has_its_classes_by_code(code: str) -> None:
    op = BUNDLE.operation(code)
    request, response = request_type(code), response_type(code)
    assert issubclass(request, Request)
    assert issubclass(response, Model)
    assert code == request.OPERATION
    assert code in (request.__doc__ or "")
    assert request.__name__ == op.request.localname.replace("_", "")
    assert response.__name__ == op.response.localname.replace("_", "")
    branches = ok_types(code)
    assert branches
    for outcome, cls in branches.items():
        assert issubclass(cls, Model)
        fields = {f.name for f in dataclasses.fields(response)}
        assert outcome == op.response.localname or outcome in fields


def test_there_are_56_operations_by_code() -> None:
    assert len(CODES) == 56


def test_codes_are_looked_up_like_the_bundle_does() -> None:
    assert request_type("testconn") is request_type("TestConn")
    assert request_type("cie2") is request_type("CIE2")
    with pytest.raises(UnknownOperationError, match="9999"):
        request_type("9999")
    with pytest.raises(UnknownOperationError):
        response_type("")


def test_the_ok_branches_of_answers_with_several() -> None:
    assert set(ok_types("1001")) == {"Risposta_Comune", "RispostaMultipla1001"}
    assert ok_types("3002") == {"Risposta3002_OK": c3000.Risposta3002OK}
    # TestConn's answer has no OK message of its own: the answer element is the result.
    from anpr_client.models.connessione import RispostaConnessione

    assert ok_types("TestConn") == {"RispostaConnessione": RispostaConnessione}
    # Risposta6001KO is a KO branch, whatever its name says about the others.
    assert set(ok_types("6001")) == {"Risposta6001OK"}


# ----------------------------------------------------------------------------- field rules


def _testata_risposta() -> common.TipoDatoTestataRisposta:
    return common.TipoDatoTestataRisposta(
        idOperazioneComune="X1",
        codMittente="058091",
        codDestinatario="ANPR05",
        operazioneRichiesta="3002",
        dataOraRichiesta=dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.UTC),
        idOperazioneANPR="4411",
        esitoOperazione="0000",
    )


def test_required_elements_have_no_default_and_optional_ones_are_none() -> None:
    fields = {f.name: f for f in dataclasses.fields(c3000.TipoDatiRichiesta)}
    # schedaAnagraficaRichiesta and dataRiferimentoRichiesta have minOccurs 1
    assert fields["schedaAnagraficaRichiesta"].default is dataclasses.MISSING
    assert fields["dataRiferimentoRichiesta"].default is dataclasses.MISSING
    assert fields["ricercaNazionale"].default is None
    assert fields["datiAnagraficiRichiesti"].default == ()  # repeated, minOccurs 0
    with pytest.raises(TypeError, match="dataRiferimentoRichiesta"):
        c3000.TipoDatiRichiesta(schedaAnagraficaRichiesta="1")  # type: ignore[call-arg]


def test_a_repeated_element_with_min_occurs_one_is_required() -> None:
    (errore,) = dataclasses.fields(common.TipoListaErrori)
    assert errore.default is dataclasses.MISSING
    assert (
        typing.get_type_hints(common.TipoListaErrori)["errore"]
        == Sequence[common.TipoErroriAnomalia]
    )


def test_a_request_testata_is_optional_because_the_client_fills_it() -> None:
    request = c3000.Richiesta3004(
        parametriRicerca3004=c3000.TipoParametriRicerca3004(numeroPraticaComune="P1")
    )
    assert request.testataRichiesta is None
    hint = typing.get_type_hints(c3000.Richiesta3004)["testataRichiesta"]
    assert hint == common.TipoDatoTestataRichiesta | None


def test_enumerations_are_literals_of_their_wire_values() -> None:
    assert typing.get_args(common.TipoSesso) == ("M", "F", "N", "m", "f", "n")
    assert typing.get_args(common.TipoSN1) == ("S", "N", "s", "n")
    hints = typing.get_type_hints(common.TipoGeneralita)
    assert hints["sesso"] == common.TipoSesso | None
    assert hints["dataNascita"] == dt.date | None
    text = Path(common.__file__ or "").read_text(encoding="utf-8")
    assert '"""XSD simple type ``tipoSesso``' in text  # documented beside the alias


# ----------------------------------------------------------------------------- choices


def test_two_branches_of_a_choice_are_refused_at_construction() -> None:
    with pytest.raises(ChoiceError) as info:
        common.TipoGeneralita(cognome="ROSSI", senzaCognome="1", nome="MARIO")  # type: ignore[call-overload]
    error = info.value
    assert error.model == "TipoGeneralita"
    assert error.choice == ("cognome", "senzaCognome")
    assert error.given == ("cognome", "senzaCognome")
    assert "cognome | senzaCognome" in str(error)


def test_a_required_choice_needs_one_branch() -> None:
    with pytest.raises(ChoiceError) as info:
        mutazione.TipoRichiestaRettifica()  # type: ignore[call-overload]
    assert info.value.required
    assert info.value.given == ()
    assert len(info.value.choice) == 5


def test_an_optional_choice_may_be_empty_but_not_doubled() -> None:
    assert common.TipoNumeroCivico().numero is None
    assert common.TipoNumeroCivico(numero="10").numero == "10"
    with pytest.raises(ChoiceError):
        common.TipoNumeroCivico(numero="10", metrico="5")  # type: ignore[call-overload]


def test_one_branch_of_each_choice_builds() -> None:
    person = common.TipoGeneralita(senzaCognome="1", nome="MARIO", sesso="M")
    assert (person.cognome, person.senzaCognome, person.nome) == (None, "1", "MARIO")


# ----------------------------------------------------------------------------- wire forms


def test_to_payload_writes_the_wire_forms() -> None:
    payload = to_payload(
        common.TipoGeneralita(
            cognome="ROSSI", nome="MARIO", sesso="M", dataNascita=dt.date(1980, 1, 1)
        )
    )
    assert payload == {
        "cognome": "ROSSI",
        "nome": "MARIO",
        "sesso": "M",
        "dataNascita": "1980-01-01",
    }
    aware = dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    testata = to_payload(dataclasses.replace(_testata_risposta(), dataOraRichiesta=aware))
    assert testata["dataOraRichiesta"] == "2026-11-20T10:15:00.000+01:00"
    precise = aware.replace(microsecond=123456)
    testata = to_payload(dataclasses.replace(_testata_risposta(), dataOraRichiesta=precise))
    assert testata["dataOraRichiesta"] == "2026-11-20T10:15:00.123456+01:00"


def test_to_payload_of_a_model_read_with_deviations_leaves_its_violations_out() -> None:
    read = from_payload(
        common.TipoGeneralita, {"nome": "MARIO", "sesso": "X", "dataNascita": "1980-01-01"}
    )
    assert violations(read)  # the cognome/senzaCognome choice, the sex outside its Literal
    assert to_payload(read) == {"nome": "MARIO", "sesso": "X", "dataNascita": "1980-01-01"}


def test_to_payload_writes_any_dataclass_and_every_value_type() -> None:
    @dataclasses.dataclass
    class Plain:  # not a generated model: read field by field
        flag: bool
        amount: Any
        blob: bytes
        days: Sequence[Any]
        nested: Any = None
        other: Any = None

    inner = common.TipoCodiceFiscale(codFiscale="RSSMRA80A01H501U")
    payload = to_payload(
        Plain(
            flag=True,
            amount=Decimal("1.50"),
            blob=b"\x00\x01",
            days=[dt.date(2026, 1, 2), "2026-01-03"],
            nested=[inner, [dt.date(2026, 1, 4)]],
            other=object,  # not a wire value: left for the encoder to report
        )
    )
    assert payload == {
        "flag": "true",
        "amount": "1.50",
        "blob": "AAE=",
        "days": ["2026-01-02", "2026-01-03"],
        "nested": [{"codFiscale": "RSSMRA80A01H501U"}, ["2026-01-04"]],
        "other": object,
    }


def test_a_naive_datetime_gets_the_local_offset() -> None:
    naive = dt.datetime(2026, 11, 20, 10, 15)
    testata = to_payload(dataclasses.replace(_testata_risposta(), dataOraRichiesta=naive))
    written = dt.datetime.fromisoformat(testata["dataOraRichiesta"])
    assert written.utcoffset() is not None
    assert written.replace(tzinfo=None) == naive


# ----------------------------------------------------------------------------- lazy import


def test_importing_the_package_imports_no_family_models() -> None:
    code = (
        "import sys, anpr_client; "
        "from anpr_client import Client; "
        "print(sorted(m for m in sys.modules if m.startswith('anpr_client.models')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded: Any = eval(out)  # noqa: S307 - our own subprocess prints a list literal
    assert [m for m in loaded if m.rpartition(".")[2] not in ("models", "_base", "_index")] == []


def test_looking_up_one_operation_loads_its_family_only() -> None:
    code = (
        "import sys; from anpr_client.models import request_type; request_type('3002'); "
        "print(sorted(m for m in sys.modules if m.startswith('anpr_client.models.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert eval(out) == [  # noqa: S307 - our own subprocess prints a list literal
        "anpr_client.models._base",
        "anpr_client.models._index",
        "anpr_client.models.common",
        "anpr_client.models.consultazione",
    ]
