"""Bad input never crashes: whatever a caller passes, the library raises only our errors.

Every junk-feeding test goes through :func:`only_anpr_errors`, which fails on any exception
that is not an :class:`~anpr_client.errors.AnprError` and names its class.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from anpr_client.client import Client
from anpr_client.endpoints import family_path
from anpr_client.errors.catalogue import explain, lookup, rejection_for
from anpr_client.errors.exceptions import AnprError, ErrorItem
from anpr_client.errors.faults import fault_exception
from anpr_client.safexml import parse_xml
from anpr_client.security.algorithms import DigestMethod, SignatureMethod
from anpr_client.security.policy import SecurityPolicy
from anpr_client.settings import SecuritySettings, Settings, load_settings
from anpr_client.soap.bundle import get_bundle
from anpr_client.transport import HttpResponse
from tests.client.support import recorded


@contextlib.contextmanager
def only_anpr_errors() -> Iterator[list[AnprError]]:
    """Let the block raise an :class:`AnprError` (recorded in the list it yields) and fail the
    test, naming the class, on any other exception."""
    raised: list[AnprError] = []
    try:
        yield raised
    except AnprError as exc:
        raised.append(exc)
    except Exception as exc:  # the point of the test
        pytest.fail(f"raised {type(exc).__module__}.{type(exc).__qualname__}, not an AnprError")


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
    with only_anpr_errors():
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
    with only_anpr_errors():
        CLIENT.read("3002", response)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300))
def test_read_of_arbitrary_bytes(body: bytes) -> None:
    with only_anpr_errors():
        CLIENT.read("3002", HttpResponse(200, {}, body))


def test_the_guard_fails_on_a_foreign_exception_and_names_it() -> None:
    with (
        pytest.raises(pytest.fail.Exception, match=r"builtins\.KeyError, not an AnprError"),
        only_anpr_errors(),
    ):
        raise KeyError("x")
    with only_anpr_errors() as raised:
        family_path("9999")
    assert [type(e).__name__ for e in raised] == ["ConfigurationError"]


# --------------------------------------------------------------------------- other entry points

TEXT = st.text(max_size=40) | st.sampled_from(["3000", "TestConn", "rsa-sha1", "EN122", " "])
ANY = TEXT | st.none() | st.integers() | st.floats() | st.binary(max_size=20) | st.builds(object)
ENTRY_POINTS: dict[str, Callable[[Any, Any], object]] = {
    "family_path": lambda text, _: family_path(text),
    "bundle.operation": lambda text, _: get_bundle().operation(text),
    "Settings": lambda text, other: Settings(
        codice_istat=text, cod_destinatario=other if isinstance(other, str) else "ANPR05"
    ),
    "Settings.environment": lambda text, _: Settings(codice_istat="058091", environment=text),
    "Settings.base_url": lambda text, _: Settings(codice_istat="058091", base_url=text),
    "SecuritySettings": lambda _, other: SecuritySettings(signature=other),
    "SignatureMethod.from_name": lambda _, other: SignatureMethod.from_name(other),
    "DigestMethod.from_name": lambda _, other: DigestMethod.from_name(other),
    "SecurityPolicy": lambda text, other: SecurityPolicy(
        signature_methods=frozenset({text}),
        digest_methods=frozenset({str(other)}),  # type: ignore[arg-type]  # strings are accepted
    ),
    "parse_xml": lambda text, _: parse_xml(text.encode("utf-8", "surrogatepass")),
    "fault_exception": lambda text, other: fault_exception(
        text, faultcode=text, http_status=other if isinstance(other, int) else None
    ),
    "rejection_for+explain": lambda text, _: explain(
        rejection_for([ErrorItem(text, text[:1] or "E", text)], operation=text)
    ),
    "lookup": lambda _, other: lookup(other),
}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(ENTRY_POINTS)), text=TEXT, other=ANY)
def test_public_entry_points_raise_only_anpr_errors(name: str, text: str, other: Any) -> None:
    with only_anpr_errors():
        ENTRY_POINTS[name](text, other)


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=200) | TEXT.map(lambda t: f"[security]\nsignature = {t!r}"))
def test_a_settings_file_of_junk_raises_only_anpr_errors(content: bytes | str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "anpr.toml"
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        path.write_bytes(data)
        with only_anpr_errors():
            load_settings(path, env={})
