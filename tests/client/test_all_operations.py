"""Every request the client builds, for every operation, is valid for ANPR's official XSDs."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.settings import Settings
from anpr_client.soap.bundle import get_bundle
from tests.samples import sample_payload

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("ANPR_REFERENCE_DIR", ROOT.parent / "shared" / "anpr"))
OURS = get_bundle()
OFFICIAL_CODES = sorted(code for code in OURS.operations if code != "TestConn")

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"official reference bundle not found at {REFERENCE}"
)


@pytest.fixture(scope="module")
def official() -> object:
    return get_bundle(REFERENCE)


def _request_element(envelope: bytes) -> etree._Element:
    body = etree.fromstring(envelope).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    return body[0]


def _payload(code: str, rng: random.Random | None) -> dict[str, object]:
    op = OURS.operation(code)
    payload = sample_payload(op.wsdl, op.request, rng=rng)
    payload.pop("testataRichiesta", None)  # the client fills it
    return payload


def test_there_are_55_official_operations() -> None:
    assert len(OFFICIAL_CODES) == 55


@pytest.mark.parametrize("code", OFFICIAL_CODES)
def test_minimal_request_is_valid_for_the_official_schema(
    code: str, settings: Settings, official: object
) -> None:
    client = Client(settings, journal=None)
    prepared = client.prepare(code, _payload(code, None), check=False)
    element = _request_element(prepared.envelope)
    op = official.operation(code)  # type: ignore[attr-defined]
    schema = official.schema(op.family)  # type: ignore[attr-defined]
    assert etree.QName(element).text == op.request.text
    assert schema.validate(element), [e.message for e in schema.error_log]


@pytest.mark.parametrize("code", OFFICIAL_CODES)
def test_varied_requests_are_valid_for_the_official_schema(
    code: str, settings: Settings, official: object
) -> None:
    client = Client(settings, journal=None)
    op = official.operation(code)  # type: ignore[attr-defined]
    schema = official.schema(op.family)  # type: ignore[attr-defined]
    for seed in (1, 2):
        element = _request_element(
            client.prepare(code, _payload(code, random.Random(seed)), check=False).envelope
        )
        assert schema.validate(element), (seed, [e.message for e in schema.error_log])
