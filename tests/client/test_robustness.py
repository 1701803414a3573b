"""Bad input never crashes: whatever a caller passes, prepare() raises only our errors."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprError
from anpr_client.settings import Settings
from anpr_client.transport import HttpResponse
from tests.client.support import recorded

CLIENT = Client(Settings(codice_istat="058091"), journal=None)
NAMES = st.sampled_from(
    [
        "testataRichiesta",
        "criteriRicerca",
        "datiRichiesta",
        "codiceFiscale",
        "cognome",
        "schedaAnagraficaRichiesta",
        "dataRiferimentoRichiesta",
        "idOperazioneComune",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.binary(max_size=32)
    | st.dates()
    | st.datetimes()
    | st.decimals(allow_nan=True)
    | st.builds(object)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(NAMES | st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operation=st.sampled_from(["3002", "3001", "5005", "1001", "6001", "TestConn", "N000"]),
    payload=st.dictionaries(NAMES, VALUES, max_size=4) | VALUES,
    header=st.none() | st.dictionaries(NAMES, VALUES, max_size=3) | VALUES,
)
def test_prepare_raises_only_anpr_errors(operation: str, payload: Any, header: Any) -> None:
    with contextlib.suppress(AnprError):  # anything else fails the test
        CLIENT.prepare(operation, payload, header=header)


@pytest.mark.parametrize(
    "bad",
    [
        {"criteriRicerca": {"codiceFiscale": "AB\x00CD"}},
        {"criteriRicerca": {"codiceFiscale": "\ud800"}},
        {"criteriRicerca": {"codiceFiscale": 10**5000}},
        {"testataRichiesta": "x"},
        {"criteriRicerca": {"codiceFiscale": Decimal("NaN")}, "datiRichiesta": dt.date.today()},
    ],
)
def test_the_examples_that_escaped_before(bad: dict[str, Any]) -> None:
    with pytest.raises(AnprError, match="nothing was sent"):
        CLIENT.prepare("3002", bad)


ANSWERS = [
    recorded(name)
    for name in (
        "ok_3002.xml",
        "ko_3002_several.xml",
        "ok_3002_unknown_mid.xml",
        "fault_internal_error.xml",
    )
]


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(ANSWERS),
    cuts=st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=12)), max_size=4),
    status=st.sampled_from([200, 200, 500, 502]),
    content_type=st.sampled_from(
        [
            "text/xml",
            "",
            "multipart/related; boundary=zz",
            'multipart/related; boundary="b"; start="<x>"',
        ]
    ),
)
def test_read_raises_only_anpr_errors(
    base: bytes, cuts: list[tuple[int, bytes]], status: int, content_type: str
) -> None:
    body = base
    for at, junk in cuts:  # splice garbage into a real answer
        at = min(at, len(body))
        body = body[:at] + junk + body[at + len(junk) :]
    response = HttpResponse(status, CaseInsensitiveDict({"content-type": content_type}), body)
    with contextlib.suppress(AnprError):  # anything else fails the test
        CLIENT.read("3002", response)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300))
def test_read_of_arbitrary_bytes(body: bytes) -> None:
    with contextlib.suppress(AnprError):
        CLIENT.read("3002", HttpResponse(200, {}, body))
