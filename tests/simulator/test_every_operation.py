"""Every operation of the bundle is answered: OK, or KO by a rule docs/simulator.md documents,
never EN379 "not simulated" — and the answer is valid for ANPR's official schema."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.samples import sample_payload

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected
from anpr_client.simulator import Simulator
from anpr_client.soap.bundle import Bundle, get_bundle

from .support import A, raw_client, send_raw, started_simulator

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))
DOCUMENTED = frozenset(
    re.findall(r"\b(?:E[A-Z]{0,2}\d{2,3}|XXXX)\b", (REPO / "docs" / "simulator.md").read_text())
)
# N000 is the Comuni's service (ANPR calls it to push notifications), not ANPR's.
CODES = sorted(op.code for op in get_bundle() if op.code != "N000")


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("every-operation-state")
    with started_simulator(pki_template, state, extraction_delay=0.0) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[Client]:
    made = raw_client(sim, A)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def official() -> Bundle:
    if not (REFERENCE / "wsdl").is_dir():
        pytest.skip(f"official ANPR reference bundle not found at {REFERENCE}")
    return get_bundle(REFERENCE)


def _row(code: str) -> str:
    """The operation's row of the table of operations in docs/simulator.md."""
    text = (REPO / "docs" / "simulator.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(rf"\| [^|]*\b{code}\b[^|]* \|", line)]
    return "\n".join(rows)


def test_the_list_covers_the_bundle() -> None:
    assert len(CODES) == 55
    assert "EHR97" in DOCUMENTED
    assert "EN379" in DOCUMENTED


@pytest.mark.parametrize(
    "code",
    CODES,
)
def test_a_minimal_request_gets_a_schema_valid_answer(
    code: str, sim: Simulator, client: Client, official: Bundle
) -> None:
    op = client.bundle.operation(code)
    payload: dict[str, Any] = sample_payload(op.wsdl, op.request)
    payload.pop("testataRichiesta", None)  # the client fills it
    ident = f"EVERY{code}"
    bugs = len(sim.internal_errors)
    codes: tuple[str, ...] = ()
    try:
        result = client.call(code, payload, header={"idOperazioneComune": ident})
    except AnprRejected as ko:
        codes = ko.codes
    else:
        assert result.esito_operazione == "0000"
    # An operation is simulated; some of its sub-types may not be, and its row says so.
    assert "EN379" not in codes or "not simulated (EN379)" in _row(code), codes
    assert set(codes) <= DOCUMENTED, (codes, "undocumented in docs/simulator.md")
    assert sim.internal_errors[bugs:] == ()
    record = sim.ledger.find(A, id_operazione_comune=ident)
    assert record is not None
    answer = etree.fromstring(record.response_xml)
    schema = official.schema(official.operation(code).family)
    assert schema.validate(answer), [e.message for e in schema.error_log]  # type: ignore[attr-defined]


def test_n000_is_not_served_by_anpr(sim: Simulator) -> None:
    answer = send_raw(sim, "N000", b"<x/>")
    assert answer.status == 404
