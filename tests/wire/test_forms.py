"""Lexical forms seen on the wire, read as they come: every ``dataOraRichiesta`` form, dates
with an offset, echoed verbatim in ``Result.header`` and parsed by the typed models."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from anpr_client.models import from_payload
from anpr_client.models.consultazione import Risposta3002OK
from anpr_client.soap.binding import Binding
from anpr_client.transport import HttpResponse

from .corpus import fixture

TEMPLATE = "answers/ok-3002-lista-anomalie.xml"
ECHOED = b"<dataOraRichiesta>2024-11-05T10:15:00.000+01:00</dataOraRichiesta>"
PLUS1 = dt.timezone(dt.timedelta(hours=1))
PLUS2 = dt.timezone(dt.timedelta(hours=2))

FORMS = [
    # (the form, where it was seen, the instant it means)
    (
        "2019-05-20T12:15:40.053+02:00",
        "#1782, ANPR's 4005 samples",
        dt.datetime(2019, 5, 20, 12, 15, 40, 53000, PLUS2),
    ),
    (
        "2018-11-07T17:18:46.904+01:00",
        "#1582 (N000)",
        dt.datetime(2018, 11, 7, 17, 18, 46, 904000, PLUS1),
    ),
    ("2020-02-03T11:21:00+01:00", "#1903, #1820", dt.datetime(2020, 2, 3, 11, 21, 0, 0, PLUS1)),
    ("2021-05-31T17:11:17", "#2688, #1282, #2437", dt.datetime(2021, 5, 31, 17, 11, 17)),
    ("2026-01-20T00:00:00.257", "ansc#2625, ansc#1683", dt.datetime(2026, 1, 20, 0, 0, 0, 257000)),
    (
        "2026-04-15T17:50:01.1774041",
        "#5279 (echoed verbatim)",
        dt.datetime(2026, 4, 15, 17, 50, 1, 177404),
    ),
    (
        "2022-05-02T16:13:48.7761334+02:00",
        "#3361",
        dt.datetime(2022, 5, 2, 16, 13, 48, 776133, PLUS2),
    ),
    ("2018-12-06T14:53:47.577179Z", "#988", dt.datetime(2018, 12, 6, 14, 53, 47, 577179, dt.UTC)),
]


def _read(binding: Binding, body: bytes) -> tuple[dict[str, object], Risposta3002OK]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the template's EN141 warning
        result = binding.read("3002", HttpResponse(200, {"content-type": "text/xml"}, body))
    return dict(result.header), from_payload(Risposta3002OK, result.value)


@pytest.mark.parametrize(("form", "seen", "instant"), FORMS, ids=[f[0] for f in FORMS])
def test_every_data_ora_richiesta_form_is_echoed_verbatim_and_parsed(
    binding: Binding, form: str, seen: str, instant: dt.datetime
) -> None:
    body = fixture(TEMPLATE).data()
    assert ECHOED in body
    header, typed = _read(
        binding, body.replace(ECHOED, f"<dataOraRichiesta>{form}</dataOraRichiesta>".encode())
    )
    assert header["dataOraRichiesta"] == form, seen  # as ANPR sent it, for the journal
    assert typed.testataRisposta is not None
    assert typed.testataRisposta.dataOraRichiesta == instant
    # without an offset the value stays naive: it is not known to be UTC (ANPR's clients
    # write Italian local time there, e.g. #2688's idOperazioneComune 20210531171117943)
    assert (typed.testataRisposta.dataOraRichiesta.tzinfo is None) == (instant.tzinfo is None)


@pytest.mark.parametrize(
    ("form", "seen"),
    [("2018-10-18+02:00", "#876"), ("2022-11-29+01:00", "#3679"), ("2019-06-10", "#2060")],
)
def test_dates_with_an_offset_are_read(binding: Binding, form: str, seen: str) -> None:
    body = (
        fixture(TEMPLATE)
        .data()
        .replace(
            b"<idOperazioneANPR>",
            f"<dataDecorrenza>{form}</dataDecorrenza><idOperazioneANPR>".encode(),
            1,
        )
    )
    header, typed = _read(binding, body)
    assert header["dataDecorrenza"] == form, seen
    assert typed.testataRisposta is not None
    assert typed.testataRisposta.dataDecorrenza == dt.date.fromisoformat(form[:10])
