"""The typed reading in the decoder's walk (:func:`anpr_client.soap.codec.decode_typed`, what
``Client.typed_call`` uses) held against the careful one (:func:`anpr_client.models.from_payload`
on :func:`~anpr_client.soap.codec.decode`'s dict): the same dict and unknown elements, and the
same model, field for field and in the same order; or no model at all, when the careful
reading finds a deviation to report. The walk must give a model for every sample answer, so
these tests fail if it is switched off."""

from __future__ import annotations

import copy
import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client import Client
from anpr_client.models import (
    Model,
    answer_plan,
    from_payload,
    ok_types,
    response_type,
    to_payload,
    violations,
)
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import NO_MODEL, decode, decode_typed
from tests.models.test_typed_call import _answering, _sample_answer, _sample_request, _settings

BUNDLE = get_bundle()
HERE = Path(__file__).parent
RECORDED = sorted((HERE / "recorded").glob("ok_*.xml")) + sorted(
    (HERE.parent / "client" / "recorded").glob("ok_*.xml")
)
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


def _same(a: Any, b: Any) -> bool:
    """``a`` and ``b`` alike to the types and the order of each model's ``__dict__``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Model):
        left, right = vars(a), vars(b)
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if type(a) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _answer(body: bytes) -> etree._Element:
    envelope = etree.fromstring(body)
    found = envelope.find(SOAP_BODY)
    assert found is not None
    return found[0]


def _code_of(answer: etree._Element) -> str:
    local = etree.QName(answer).localname
    return next(op.code for op in BUNDLE if op.response.localname == local)


def _both(code: str, answer: etree._Element) -> tuple[Any, Any]:
    """The walk's model and the careful one, after checking that the dict and the unknown
    elements are decode's."""
    node = BUNDLE.response_model(BUNDLE.operation(code))
    decoded, unknown = decode(node, answer)
    again, unknown_again, model = decode_typed(node, answer, answer_plan(code))
    assert again == decoded
    assert unknown_again == unknown
    careful = from_payload(response_type(code), decoded)
    return model, careful


def _held_together(code: str, answer: etree._Element) -> Any:
    model, careful = _both(code, answer)
    if model is NO_MODEL:
        assert violations(careful) != (), "the walk gave up on an answer with no deviation"
    else:
        assert violations(careful) == ()
        assert _same(model, careful)
    return model


@pytest.mark.parametrize("code", sorted(BUNDLE.operations))
def test_every_sample_answer_reads_into_the_same_models(code: str) -> None:
    for outcome in ok_types(code):
        model = _held_together(code, _answer(_sample_answer(code, outcome)))
        assert model is not NO_MODEL


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_recorded_answers_read_into_the_same_models(path: Path) -> None:
    answer = _answer(path.read_bytes())
    assert _held_together(_code_of(answer), answer) is not NO_MODEL


def _3002() -> etree._Element:
    return _answer((HERE.parent / "client" / "recorded" / "ok_3002.xml").read_bytes())


def _first(answer: etree._Element, local: str) -> etree._Element:
    found = next((e for e in answer.iter() if etree.QName(e).localname == local), None)
    assert found is not None, local
    return found


def _set_text(local: str, text: str) -> Callable[[etree._Element], None]:
    def change(answer: etree._Element) -> None:
        _first(answer, local).text = text

    return change


def _remove(local: str) -> Callable[[etree._Element], None]:
    def change(answer: etree._Element) -> None:
        el = _first(answer, local)
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)

    return change


def _insert_after(local: str, xml: str) -> Callable[[etree._Element], None]:
    def change(answer: etree._Element) -> None:
        _first(answer, local).addnext(etree.fromstring(xml))

    return change


def _repeat(local: str) -> Callable[[etree._Element], None]:
    def change(answer: etree._Element) -> None:
        el = _first(answer, local)
        el.addnext(copy.deepcopy(el))

    return change


def _comment_in(local: str) -> Callable[[etree._Element], None]:
    def change(answer: etree._Element) -> None:
        el = _first(answer, local)
        text = el.text or ""
        el.text = text[:2]
        comment = etree.Comment("x")
        comment.tail = text[2:]
        el.append(comment)

    return change


# What each change must give: a model read in the walk (True), or none, the careful reading
# reporting the deviation (False).
CHANGES: dict[str, tuple[Callable[[etree._Element], None], bool]] = {
    "a date that is no date": (_set_text("dataNascita", "31/03/2002"), False),
    "a value outside the enumeration": (_set_text("sesso", "X"), False),
    "a required element missing": (_remove("testataRisposta"), False),
    "an element of a newer version": (
        _insert_after("cognome", "<anncsu><verificato>s</verificato></anncsu>"),
        True,
    ),
    "an element the schema allows once, twice": (_repeat("dataNascita"), True),
    "a comment inside a value": (_comment_in("cognome"), True),
    "a second branch of a choice": (
        _insert_after("cognome", "<senzaCognome>S</senzaCognome>"),
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_an_answer_off_the_schema_reads_as_the_careful_reading_says(name: str) -> None:
    change, read_in_the_walk = CHANGES[name]
    answer = _3002()
    change(answer)
    model = _held_together("3002", answer)
    assert (model is not NO_MODEL) is read_in_the_walk


def test_an_element_inside_a_value_is_kept_aside_and_the_text_read() -> None:
    answer = _3002()
    _first(answer, "cognome").append(etree.fromstring("<x/>"))
    model, careful = _both("3002", answer)
    assert model is not NO_MODEL
    assert _same(model, careful)


CAREFUL = "anpr_client.services._typed.from_payload"


def _refuse_the_careful_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the careful reading ran")

    monkeypatch.setattr(CAREFUL, refused)


def _typed_call(body: bytes, *, journal: Any = None) -> Any:
    client = Client(_settings(), transport=_answering(body), journal=journal)
    try:
        return client.typed_call("3002", _sample_request("3002"))
    finally:
        client.close()


def test_typed_call_takes_the_walk_on_an_answer_that_follows_the_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = (HERE.parent / "client" / "recorded" / "ok_3002.xml").read_bytes()
    _refuse_the_careful_reading(monkeypatch)
    result = _typed_call(body)
    careful = from_payload(ok_types("3002")[result.outcome], _plain(body).value)
    assert violations(result.value) == ()
    assert _same(_without_ids(result.value), _without_ids(careful))


def test_typed_call_reads_a_deviating_answer_the_careful_way() -> None:
    answer = _3002()
    _first(answer, "dataNascita").text = "31/03/2002"
    body = etree.tostring(answer.getroottree())
    result = _typed_call(body)
    (found,) = violations(result.value)
    assert found.rule == "type"
    assert found.path.endswith("generalita/dataNascita")
    (subject,) = result.value.listaSoggetti.datiSoggetto
    assert subject.generalita.dataNascita == "31/03/2002"  # the text as received


def test_the_journal_path_takes_the_walk_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anpr_client.journal.backends import open_journal

    body = (HERE.parent / "client" / "recorded" / "ok_3002.xml").read_bytes()
    _refuse_the_careful_reading(monkeypatch)
    result = _typed_call(body, journal=open_journal(tmp_path / "journal.db"))
    assert violations(result.value) == ()
    assert result.value.testataRisposta.idOperazioneComune == result.id_operazione_comune


def _plain(body: bytes) -> Any:
    client = Client(_settings(), transport=_answering(body))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.call("3002", to_payload(_sample_request("3002")))


def _without_ids(model: Any) -> Any:
    """``model`` with its testata's echoed id blanked (each call allocates its own)."""
    testata = vars(model)["testataRisposta"]
    blank = copy.copy(testata)
    vars(blank)["idOperazioneComune"] = ""
    other = copy.copy(model)
    vars(other)["testataRisposta"] = blank
    return other


def test_a_date_read_in_the_walk_is_a_date(monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_the_careful_reading(monkeypatch)
    result = _typed_call((HERE.parent / "client" / "recorded" / "ok_3002.xml").read_bytes())
    (subject,) = result.value.listaSoggetti.datiSoggetto
    assert isinstance(subject.generalita.dataNascita, dt.date)
