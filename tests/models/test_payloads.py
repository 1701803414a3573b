"""Payloads ⇄ models for every operation, and answers read tolerantly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

import pytest
from lxml import etree

from anpr_client.errors import ModelError
from anpr_client.models import (
    common,
    from_payload,
    ok_types,
    request_type,
    response_type,
    to_payload,
    violations,
)
from anpr_client.models import consultazione as c3000
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import encode
from tests.samples import sample_payload

BUNDLE = get_bundle()
CODES = sorted(BUNDLE.operations)
SEEDS = (None, 1, 2, 3)  # the minimal sample, then varied ones


def _same_values(written: Any, original: Any) -> bool:
    """``written`` says what ``original`` says; a dateTime may be spelled another way
    (``…:26+01:00`` is written ``…:26.000+01:00``, ``Z`` as ``+00:00``)."""
    if isinstance(original, dict):
        return (
            isinstance(written, dict)
            and written.keys() == original.keys()
            and all(_same_values(written[k], v) for k, v in original.items())
        )
    if isinstance(original, list):
        return (
            isinstance(written, list)
            and len(written) == len(original)
            and all(_same_values(w, o) for w, o in zip(written, original, strict=True))
        )
    if written == original:
        return True
    try:
        return bool(dt.datetime.fromisoformat(written) == dt.datetime.fromisoformat(original))
    except (TypeError, ValueError):
        return False


def _check_round_trip(code: str, element: etree.QName, cls: type[Any], include: set[str]) -> None:
    op = BUNDLE.operation(code)
    node = BUNDLE.request_model(op) if element == op.request else BUNDLE.response_model(op)
    for seed in SEEDS:
        rng = None if seed is None else random.Random(seed)
        payload = sample_payload(op.wsdl, element, rng=rng, include=include)
        model = from_payload(cls, payload, strict=True)
        assert violations(model) == ()
        written = to_payload(model)
        assert _same_values(written, payload), (code, seed)
        assert from_payload(cls, written, strict=True) == model
        root, problems = encode(node, written)
        assert problems == []
        schema = BUNDLE.schema(op.family)
        assert schema.validate(root), (code, seed, str(schema.error_log))


@pytest.mark.parametrize("code", CODES)
def test_every_request_round_trips(code: str) -> None:
    op = BUNDLE.operation(code)
    _check_round_trip(code, op.request, request_type(code), set())


@pytest.mark.parametrize("code", CODES)
def test_every_answer_round_trips(code: str) -> None:
    op = BUNDLE.operation(code)
    ok = {name for name in ok_types(code) if name != op.response.localname}
    _check_round_trip(code, op.response, response_type(code), ok)
    if "rispostaKO" in {f.name for f in dataclasses.fields(response_type(code))}:
        _check_round_trip(code, op.response, response_type(code), {"rispostaKO"})


# ----------------------------------------------------------------------------- tolerance


def _testata(**changes: str) -> dict[str, str]:
    testata = {
        "idOperazioneComune": "REC1",
        "codMittente": "058091",
        "codDestinatario": "ANPR05",
        "operazioneRichiesta": "3002",
        "dataOraRichiesta": "2026-11-20T10:15:00.000+01:00",
        "idOperazioneANPR": "4411",
        "esitoOperazione": "0000",
    }
    testata.update(changes)
    return testata


def _answer(**generalita: str) -> dict[str, Any]:
    return {
        "testataRisposta": _testata(),
        "listaSoggetti": {"datiSoggetto": [{"generalita": generalita}]},
    }


def test_an_answer_missing_a_required_field_reads_and_says_so() -> None:
    answer = _answer(cognome="ROSSI", nome="MARIO")
    del answer["testataRisposta"]["esitoOperazione"]
    model = from_payload(c3000.Risposta3002OK, answer, path="Risposta3002_OK")
    # The field's type says str: a missing required element is the one place it holds None.
    assert vars(model.testataRisposta)["esitoOperazione"] is None
    assert model.testataRisposta.idOperazioneANPR == "4411"
    (problem,) = violations(model)
    assert problem.path == "Risposta3002_OK/testataRisposta/esitoOperazione"
    assert problem.rule == "required"
    with pytest.raises(ModelError) as info:
        from_payload(c3000.Risposta3002OK, answer, strict=True)
    path = "Risposta3002OK/testataRisposta/esitoOperazione"  # the class names an unnamed root
    assert info.value.violations == (dataclasses.replace(problem, path=path),)


def test_values_that_do_not_follow_the_schema_are_kept_and_reported() -> None:
    answer = _answer(cognome="ROSSI", senzaCognome="1", nome="MARIO", sesso="X")
    answer["listaSoggetti"]["datiSoggetto"][0]["generalita"]["dataNascita"] = "31/12/1980"
    model = from_payload(c3000.Risposta3002OK, answer)
    assert model.listaSoggetti is not None
    person = model.listaSoggetti.datiSoggetto[0].generalita
    assert (person.cognome, person.senzaCognome, person.sesso) == ("ROSSI", "1", "X")
    assert person.dataNascita == "31/12/1980"  # the text as received
    rules = {v.rule: v.path.rsplit("/", 1)[1] for v in violations(model)}
    assert rules == {
        "choice": "(cognome | senzaCognome)",
        "enumeration": "sesso",
        "type": "dataNascita",
    }


def test_a_key_that_is_no_field_is_reported_in_a_payload() -> None:
    given = {"nomeComune": "ROMA", "siglaProvinciaIstat": "RM", "codiceIstatt": "058091"}
    model = from_payload(common.TipoComune, given)
    (problem,) = violations(model)
    assert (problem.path, problem.rule) == ("TipoComune/codiceIstatt", "unknown-element")
    with pytest.raises(ModelError, match="codiceIstatt"):
        from_payload(common.TipoComune, given, strict=True)


def test_a_payload_that_is_not_an_object_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="expected an object"):
        from_payload(common.TipoComune, ["ROMA"])  # type: ignore[arg-type]
    model = from_payload(c3000.Risposta3002OK, {"testataRisposta": "text", "listaSoggetti": {}})
    assert {v.rule for v in violations(model)} == {"type", "required"}


def test_python_values_are_taken_as_they_are() -> None:
    day = dt.date(1980, 1, 1)
    model = from_payload(
        common.TipoGeneralita, {"cognome": "ROSSI", "nome": "M", "dataNascita": day}
    )
    assert model.dataNascita is day
    assert violations(model) == ()
    wrong = from_payload(common.TipoGeneralita, {"cognome": 7, "nome": "M"})
    assert [v.rule for v in violations(wrong)] == ["type"]


def test_a_model_built_by_its_constructor_has_no_violations() -> None:
    assert violations(common.TipoComune(nomeComune="ROMA", siglaProvinciaIstat="RM")) == ()
