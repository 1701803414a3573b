"""``testataRichiesta``: the fields generated, the id's two names, fitting a family's testata."""

from __future__ import annotations

import re
from dataclasses import dataclass

from anpr_client.settings import ApplicationIdentity, Settings
from anpr_client.soap.testata import (
    ID_FIELDS,
    ID_PATTERN,
    build_header,
    fit_header,
    generated_fields,
    id_field,
    new_operation_id,
    operation_id,
)

BARE = Settings(codice_istat="058091")
WITH_APP = BARE.replace(application=ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL"))


def test_generated_fields_are_what_build_header_fills() -> None:
    for settings in (BARE, WITH_APP):
        assert tuple(build_header(settings, "3002")) == generated_fields(settings)
    assert "nomeApplicativo" not in generated_fields(BARE)
    assert generated_fields(WITH_APP)[-3:] == (
        "nomeApplicativo",
        "versioneApplicativo",
        "fornitoreApplicativo",
    )


def test_an_override_of_none_leaves_a_generated_field_out() -> None:
    header = build_header(WITH_APP, "3002", {"nomeApplicativo": None, "tipoOperazione": "V"})
    assert "nomeApplicativo" not in header
    assert header["tipoOperazione"] == "V"


def test_the_id_has_28_characters_as_the_docstring_says() -> None:
    ident = new_operation_id()
    assert len(ident) == 28
    assert re.fullmatch(r"[0-9]{20}[0-9A-Z]{8}", ident)
    assert ID_PATTERN.fullmatch(ident)


def test_the_id_under_either_name() -> None:
    assert ID_FIELDS == ("idOperazioneComune", "idOperazioneClient")
    assert operation_id({"idOperazioneComune": "A1"}) == "A1"
    assert operation_id({"idOperazioneClient": "B2"}) == "B2"
    assert operation_id({"idOperazioneComune": "", "idOperazioneClient": "B2"}) == "B2"
    assert operation_id({"codMittente": "058091"}) is None

    @dataclass
    class Testata:
        idOperazioneClient: str | None = None  # the XSD's name

    assert operation_id(Testata("C3")) == "C3"
    assert operation_id(Testata()) is None
    assert operation_id(None) is None


def test_fitting_renames_the_id_for_the_e00x_testata() -> None:
    generated = build_header(BARE, "E001", operation_id="X1")
    e00x = {"idOperazioneClient", "codMittente", "dataOraRichiesta"}
    assert id_field(e00x) == "idOperazioneClient"
    fitted = fit_header(generated, e00x, {})
    assert fitted == {
        "idOperazioneClient": "X1",
        "codMittente": "058091",
        "dataOraRichiesta": generated["dataOraRichiesta"],
    }
    assert generated["idOperazioneComune"] == "X1"  # the generated header is left as it was
    # a Comune's testata keeps the name; a caller's own unknown field stays for the XSD to judge
    comune = set(generated)
    assert id_field(comune) == "idOperazioneComune"
    assert fit_header(generated, comune, {"mine": 1}) == generated
    assert fit_header({**generated, "mine": 1}, comune, {"mine": 1})["mine"] == 1
