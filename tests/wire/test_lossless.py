"""No silent loss when reading: what the value cannot hold is kept, with its path.

Built on the corpus's 3002 answer, each test adds one defect or oddity: an element repeated
where the bundle allows one, an element in another namespace under a known name, markup inside
a simple value, comments inside text."""

from __future__ import annotations

import warnings
from typing import Any

from anpr_client.results import Result
from anpr_client.soap.binding import Binding
from anpr_client.soap.codec import REPEATED, UNKNOWN
from anpr_client.transport import HttpResponse

from .corpus import fixture

ROOT = "Risposta3002/Risposta3002_OK"
SUBJECT = "listaSoggetti/datiSoggetto[0]"


def read(binding: Binding, old: bytes, new: bytes) -> Result[dict[str, Any]]:
    body = fixture("answers/ok-3002-lista-anomalie.xml").data()
    assert old in body
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return binding.read(
            "3002", HttpResponse(200, {"content-type": "text/xml"}, body.replace(old, new, 1))
        )


def test_a_repeated_single_element_keeps_the_first_and_sets_the_others_aside(
    binding: Binding,
) -> None:
    """Before, the last occurrence silently overwrote the first."""
    result = read(
        binding,
        b"<idOperazioneANPR>771000123</idOperazioneANPR>",
        b"<idOperazioneANPR>771000123</idOperazioneANPR><idOperazioneANPR>771000999</idOperazioneANPR>",
    )
    assert result.id_operazione_anpr == "771000123"
    (kept,) = result.unknown_elements
    assert (kept.path, kept.reason) == (f"{ROOT}/testataRisposta/idOperazioneANPR[1]", REPEATED)
    assert kept.element.text == "771000999"
    assert result.unknown_element("testataRisposta/idOperazioneANPR[1]") is kept


def test_a_repeated_person_block_is_kept_whole(binding: Binding) -> None:
    second = b"<generalita><cognome>ALTRA</cognome><nome>PERSONA</nome></generalita>"
    result = read(binding, b"</generalita>", b"</generalita>" + second)
    subject = result.value["listaSoggetti"]["datiSoggetto"][0]
    assert subject["generalita"]["cognome"] == "BIANCHI"
    (kept,) = result.unknown_elements
    assert kept.path == f"{ROOT}/{SUBJECT}/generalita[1]"
    assert kept.reason == REPEATED
    assert kept.element.findtext("cognome") == "ALTRA"


def test_an_element_the_schema_lets_repeat_becomes_a_list(binding: Binding) -> None:
    """italia/anpr#2107: 3002 once sent two residenza for one subject; both are kept."""
    residences = (
        b"<residenza><tipoIndirizzo>1</tipoIndirizzo></residenza>"
        b"<residenza><tipoIndirizzo>2</tipoIndirizzo></residenza>"
    )
    result = read(binding, b"</generalita>", b"</generalita>" + residences)
    subject = result.value["listaSoggetti"]["datiSoggetto"][0]
    assert [r["tipoIndirizzo"] for r in subject["residenza"]] == ["1", "2"]
    assert result.unknown_elements == ()


def test_an_element_in_another_namespace_is_not_taken_for_the_schemas(binding: Binding) -> None:
    """Elements are matched on {namespace}localname, never on the local name alone."""
    result = read(
        binding,
        b"<nome>LAURA</nome>",
        b'<nome>LAURA</nome><x:sesso xmlns:x="urn:example:other">X</x:sesso>',
    )
    person = result.value["listaSoggetti"]["datiSoggetto"][0]["generalita"]
    assert person["sesso"] == "F"  # the schema's own sesso, after it, is still read
    (kept,) = result.unknown_elements
    assert (kept.path, kept.tag, kept.reason) == (
        f"{ROOT}/{SUBJECT}/generalita/sesso",
        "{urn:example:other}sesso",
        UNKNOWN,
    )


def test_markup_inside_a_simple_value_is_kept_aside(binding: Binding) -> None:
    result = read(binding, b"<nome>LAURA</nome>", b"<nome>LAU<b>nuovo</b>RA</nome>")
    person = result.value["listaSoggetti"]["datiSoggetto"][0]["generalita"]
    assert person["nome"] == "LAURA"  # the text on both sides of the element
    (kept,) = result.unknown_elements
    assert kept.path == f"{ROOT}/{SUBJECT}/generalita/nome/b"
    assert kept.xml == "<b>nuovo</b>"


def test_text_around_comments_is_read_whole(binding: Binding) -> None:
    """ANPR's 4005 samples carry comments inside the payload (italia/anpr, commit 9d58368)."""
    result = read(binding, b"<cognome>BIANCHI</cognome>", b"<cognome>BIAN<!-- x -->CHI</cognome>")
    assert result.value["listaSoggetti"]["datiSoggetto"][0]["generalita"]["cognome"] == "BIANCHI"
    assert result.unknown_elements == ()


def test_unknown_elements_repeated_get_their_index(binding: Binding) -> None:
    result = read(
        binding,
        b"<esitoOperazione>0000</esitoOperazione>",
        b"<esitoOperazione>0000</esitoOperazione><nuovo>1</nuovo><nuovo>2</nuovo>",
    )
    assert [(u.path, u.element.text) for u in result.unknown_elements] == [
        (f"{ROOT}/testataRisposta/nuovo", "1"),
        (f"{ROOT}/testataRisposta/nuovo[1]", "2"),
    ]
