"""Every operation of the bundle is answered: OK, or KO by a rule docs/simulator.md documents,
never EN379 "not simulated" — and the answer is valid for ANPR's official schema."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.samples import sample_payload

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected
from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.soap.bundle import Bundle, get_bundle

from .support import A, raw_client, send_raw

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))
DOCUMENTED = frozenset(
    re.findall(r"\b(?:E[A-Z]{0,2}\d{2,3}|XXXX)\b", (REPO / "docs" / "simulator.md").read_text())
)
# N000 is the Comuni's service (ANPR calls it to push notifications), not ANPR's.
CODES = sorted(op.code for op in get_bundle() if op.code != "N000")
# Issue #14 gives the 5000 family and 3004-3006/3008 to another branch (sim-a): until it is
# merged they still answer EN379. strict: once they answer, this list must go.
PENDING = frozenset(
    {"3004", "3005", "3006", "3008", "5001", "5005", "5008", "5010", "5011", "5012", "5013",
     "5014", "5021"}
)  # fmt: skip


@pytest.fixture(scope="module")
def sim(pki_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("every-operation-state")
    shutil.copytree(pki_template, state / "pki")
    simulator = Simulator(SimulatorConfig(state_dir=state, extraction_delay=0.0)).start()
    try:
        yield simulator
    finally:
        simulator.close()


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


def test_the_list_covers_the_bundle() -> None:
    assert len(CODES) == 55
    assert "EHR97" in DOCUMENTED
    assert "EN379" in DOCUMENTED


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            c,
            marks=pytest.mark.xfail(strict=True, reason="issue #14: branch sim-a")
            if c in PENDING
            else (),
        )
        for c in CODES
    ],
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
    assert "EN379" not in codes
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
