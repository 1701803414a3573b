"""ANPR's rules for idOperazioneComune, over TLS: replay, another service, still in progress."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    BusinessRuleError,
    NotFoundError,
    OperationNotAllowedError,
)
from anpr_client.simulator import Fault, Simulator

from .conftest import MakeSimulator
from .support import A, B, certificate_payload, payload_3002, singles, transfer_payload

TODAY = {"dataDecorrenza": dt.date.today()}


def _send(client: Client, operation: str, payload: dict[str, Any], op_id: str) -> bytes:
    prepared = client.prepare(operation, payload, header={"idOperazioneComune": op_id, **TODAY})
    response = client.transmit(prepared)
    assert response.status == 200
    return response.body


def test_same_id_same_service_replays_the_stored_answer(make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    client = sim.client(B, journal=None)
    person = singles(sim)[0]
    first = _send(client, "5005", transfer_payload([person]), "MOVE1")
    again = _send(client, "5005", transfer_payload([person]), "MOVE1")
    assert again == first  # byte for byte
    (record,) = sim.ledger.operations(B, "5005")
    assert record.id_operazione_comune == "MOVE1"
    assert record.times_applied == 1
    assert [r.reason for r in sim.store.residences(person.codice_fiscale)] == ["seed", "transfer"]
    assert len(sim.notifications.pending(A)) == 1


def test_a_replayed_certificate_is_the_same_pdf_not_a_second_one(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator()
    client = sim.client(A, journal=None)
    person = sim.store.residents(A)[0]
    first = client.send(
        client.prepare("6001", certificate_payload(person), header={"idOperazioneComune": "CERT1"})
    )
    time.sleep(1.1)  # a second certificate would print another issue time
    second = client.send(
        client.prepare("6001", certificate_payload(person), header={"idOperazioneComune": "CERT1"})
    )
    (pdf1,) = first.attachments.values()
    (pdf2,) = second.attachments.values()
    assert pdf1.data.startswith(b"%PDF-")
    assert pdf2.data == pdf1.data
    assert second.raw == first.raw
    assert len(sim.store.certificates(person.codice_fiscale)) == 1


def test_a_ko_answer_is_replayed_too(anpr_simulator: Simulator) -> None:
    client = anpr_simulator.client(A, journal=None)
    payload = payload_3002("RSSMRA80A01H501U")
    op_id = f"KO{time.monotonic_ns()}"
    with pytest.raises(NotFoundError) as first:
        client.send(client.prepare("3002", payload, header={"idOperazioneComune": op_id}))
    with pytest.raises(NotFoundError) as again:
        client.send(client.prepare("3002", payload, header={"idOperazioneComune": op_id}))
    assert again.value.raw == first.value.raw
    assert again.value.id_operazione_anpr == first.value.id_operazione_anpr


def test_same_id_other_service_is_refused(anpr_simulator: Simulator) -> None:
    client = anpr_simulator.client(A, journal=None)
    op_id = f"TWO{time.monotonic_ns()}"
    client.test_connection(header={"idOperazioneComune": op_id})
    person = anpr_simulator.store.residents(A)[0]
    with pytest.raises(BusinessRuleError) as refused:
        client.send(
            client.prepare(
                "3002", payload_3002(person.codice_fiscale), header={"idOperazioneComune": op_id}
            )
        )
    assert refused.value.codes == ("EN079",)
    (record,) = [r for r in anpr_simulator.ledger.operations(A) if r.id_operazione_comune == op_id]
    assert record.service == "TestConn"


def test_duplicate_while_in_progress_gets_en148(make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    client = sim.client(B, journal=None)
    person = singles(sim)[0]
    sim.faults.inject(Fault("latency", operation="5005", seconds=1.0))
    outcome: dict[str, bytes] = {}
    first = threading.Thread(
        target=lambda: outcome.setdefault(
            "first", _send(client, "5005", transfer_payload([person]), "SLOW1")
        )
    )
    first.start()
    deadline = time.monotonic() + 5
    while not sim.ledger.in_progress():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(OperationNotAllowedError) as busy:
        client.send(
            client.prepare(
                "5005", transfer_payload([person]), header={"idOperazioneComune": "SLOW1", **TODAY}
            )
        )
    assert busy.value.codes == ("EN148",)
    first.join()
    # Once done, the same id replays the first answer; the move was applied once.
    assert _send(client, "5005", transfer_payload([person]), "SLOW1") == outcome["first"]
    (record,) = sim.ledger.operations(B, "5005")
    assert record.times_applied == 1
    moved = sim.store.person(person.codice_fiscale)
    assert moved is not None
    assert moved.comune == B
    assert [r.reason for r in sim.store.residences(person.codice_fiscale)] == ["seed", "transfer"]


def test_ids_are_per_comune(make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    a = sim.client(A, journal=None).test_connection(header={"idOperazioneComune": "SAME1"})
    b = sim.client(B, journal=None).test_connection(header={"idOperazioneComune": "SAME1"})
    assert a.id_operazione_anpr != b.id_operazione_anpr
