"""A face for every family: every operation a Comune sends has one method, named after the act,
that takes its request model and returns its OK branch's model."""

from __future__ import annotations

import inspect
import typing
import warnings

import pytest

from anpr_client import Client, Settings
from anpr_client.errors import PayloadError
from anpr_client.models import ok_types, request_type
from anpr_client.services import FACES, Face, face_class, face_methods

from .support import BUNDLE, Recorder, recorded_client, sample_answer, sample_request

#: Operations without a face method: ANPR sends N000 to the Comune (the receiver takes it);
#: TestConn is Client.test_connection.
NO_FACE = {"N000", "TestConn"}

MODEL_METHODS = {
    method.code: (attribute, method.name)
    for attribute in FACES
    for method in face_methods(attribute)
    if not method.convenience
}


def _family_of_face(code: str) -> str:
    family = BUNDLE.operation(code).family
    return "E000" if family.startswith("E00") else family


def test_every_operation_has_exactly_one_model_method() -> None:
    codes = [m.code for a in FACES for m in face_methods(a) if not m.convenience]
    assert len(codes) == len(set(codes)), "an operation with two model methods"
    assert set(codes) == set(BUNDLE.operations) - NO_FACE


@pytest.mark.parametrize("attribute", sorted(FACES))
def test_the_client_property_is_the_face(attribute: str) -> None:
    client = Client(Settings(codice_istat="058091"), journal=None)
    face = getattr(client, attribute)
    assert type(face) is face_class(attribute)
    assert isinstance(face, Face)
    family = FACES[attribute][0]
    assert family == face.FAMILY
    for method in face_methods(attribute):
        assert _family_of_face(method.code) == family, (attribute, method.name)


@pytest.mark.parametrize("code", sorted(MODEL_METHODS))
def test_a_model_method_says_its_operation_and_takes_its_request(code: str) -> None:
    attribute, name = MODEL_METHODS[code]
    function = getattr(face_class(attribute), name)
    doc = inspect.getdoc(function) or ""
    op = BUNDLE.operation(code)
    assert doc.startswith(f"{code} ``{op.name}``"), doc
    hints = typing.get_type_hints(function)
    assert hints["request"] is request_type(code)
    assert name.isidentifier()
    assert name.islower()  # English snake_case, the act


@pytest.mark.parametrize("code", sorted(MODEL_METHODS))
def test_a_model_method_returns_the_ok_branch_model(code: str) -> None:
    """Against answers shaped like ANPR's (see ``support``), every OK branch of every
    operation: the face's value is the branch's model."""
    attribute, name = MODEL_METHODS[code]
    for outcome, model in ok_types(code).items():
        recorder = Recorder(sample_answer(code, outcome))
        client = recorded_client(recorder)
        method = getattr(getattr(client, attribute), name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sample answers may carry W entries
            result = method(sample_request(code))
        assert result.outcome == outcome
        assert type(result.value) is model
        (sent,) = recorder.sent
        assert recorder.body().tag.endswith(BUNDLE.operation(code).request.localname)
        assert sent.url == client.settings.url_for(BUNDLE.operation(code).family)


def test_a_face_refuses_another_operations_request_before_sending() -> None:
    recorder = Recorder(b"")
    client = recorded_client(recorder)
    with pytest.raises(PayloadError, match="operation 1001 takes Richiesta1001"):
        client.registrations.register_birth(sample_request("1002"))
    assert recorder.sent == []


def test_the_header_reaches_the_testata() -> None:
    recorder = Recorder(sample_answer("7001", "RispostaMultipla7001"))
    client = recorded_client(recorder)
    client.tables.download_tables(sample_request("7001"), header={"protocolloComune": "P-42"})
    assert recorder.body().findtext("testataRichiesta/protocolloComune") == "P-42"


DAILY_ACTS = {"1001", "1002", "2001", "2003", "5005", "5001", "5014", "6001", "A001", "A002"}
DAILY_ACTS |= {"7001", "4005", "3002"}


def test_the_daily_acts_have_methods_with_plain_values() -> None:
    conveniences = {m.code for a in FACES for m in face_methods(a) if m.convenience}
    assert conveniences == DAILY_ACTS
    for attribute in FACES:
        for method in face_methods(attribute):
            if method.convenience:
                models = {m.code for m in face_methods(attribute) if not m.convenience}
                assert method.code in models, (attribute, method.name)
                doc = inspect.getdoc(method.function) or ""
                assert method.code in doc.split(":")[0], (attribute, method.name)
