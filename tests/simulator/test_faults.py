"""Each injected fault does what the contract says, seen from a real client over TLS.

"Applied" is checked in the registry and the ledger, not in the answer: a fault before the
commit leaves no trace; a fault after it leaves the operation applied, and resending with the
same idOperazioneComune replays the stored answer without applying it again.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    AnprError,
    ConfigurationError,
    ConnectError,
    ConnectionLost,
    OutcomeUnknown,
    ReadTimeout,
    ServerFault,
    ServerUnavailable,
    TransportError,
)
from anpr_client.settings import Timeouts
from anpr_client.simulator import Fault, Simulator
from anpr_client.simulator.faults import FaultInjector

from .conftest import MakeSimulator
from .support import A, B, singles, transfer_payload

TODAY = {"dataDecorrenza": dt.date.today()}


def _move(client: Client, sim: Simulator, op_id: str, index: int = 0) -> Any:
    person = singles(sim)[index]
    prepared = client.prepare(
        "5005", transfer_payload([person]), header={"idOperazioneComune": op_id, **TODAY}
    )
    return person, prepared


def _applied(sim: Simulator, op_id: str) -> int:
    return sum(
        r.times_applied for r in sim.ledger.operations(B, "5005") if r.id_operazione_comune == op_id
    )


@pytest.fixture
def sim(make_simulator: MakeSimulator) -> Simulator:
    return make_simulator()


@pytest.fixture
def client(sim: Simulator) -> Client:
    return sim.client(B, journal=None)


def test_latency_delays_then_processes(sim: Simulator, client: Client) -> None:
    client.test_connection()  # warm the connection and the schemas
    sim.faults.inject(Fault("latency", operation="TestConn", seconds=0.4))
    started = time.monotonic()
    assert client.test_connection().esito_operazione == "0000"
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    client.test_connection()
    assert time.monotonic() - started < 0.4  # fired once


@pytest.mark.parametrize("operation", [None, "5005"])
def test_refuse_drops_the_connection_and_applies_nothing(
    sim: Simulator, client: Client, operation: str | None
) -> None:
    client.test_connection()  # a kept-alive connection exists: the fault must still apply
    person, prepared = _move(client, sim, "REF1")
    sim.faults.inject(Fault("refuse", operation=operation))
    with pytest.raises(TransportError):
        client.send(prepared)
    assert _applied(sim, "REF1") == 0
    assert sim.store.person(person.codice_fiscale).comune == A  # type: ignore[union-attr]
    assert client.send(prepared).esito_operazione == "0000"  # the next attempt goes through
    assert _applied(sim, "REF1") == 1


def test_drop_before_commit_loses_the_request(sim: Simulator, client: Client) -> None:
    person, prepared = _move(client, sim, "DROP1")
    sim.faults.inject(Fault("drop_before_commit", operation="5005"))
    with pytest.raises(ConnectionLost):
        client.send(prepared)
    assert _applied(sim, "DROP1") == 0
    assert sim.store.person(person.codice_fiscale).comune == A  # type: ignore[union-attr]


def test_commit_then_lose_response_applies_once(sim: Simulator, client: Client) -> None:
    person, prepared = _move(client, sim, "LOST1")
    sim.faults.inject(Fault("commit_then_lose_response", operation="5005"))
    with pytest.raises(ConnectionLost) as lost:
        client.send(prepared)
    assert isinstance(lost.value, OutcomeUnknown)
    assert _applied(sim, "LOST1") == 1
    assert sim.store.person(person.codice_fiscale).comune == B  # type: ignore[union-attr]
    replayed = client.send(prepared)  # the same idOperazioneComune
    (record,) = sim.ledger.operations(B, "5005")
    assert replayed.id_operazione_anpr == record.id_operazione_anpr
    assert _applied(sim, "LOST1") == 1


def test_timeout_after_commit(sim: Simulator) -> None:
    from anpr_client.client import Client

    impatient = Client(sim.settings(B, timeouts=Timeouts(connect=5, read=0.5)), journal=None)
    _, prepared = _move(impatient, sim, "SLOW2")
    sim.faults.inject(Fault("timeout_after_commit", operation="5005", seconds=1.5))
    with pytest.raises(ReadTimeout):
        impatient.send(prepared)
    assert _applied(sim, "SLOW2") == 1
    time.sleep(1.2)  # let the delayed answer go
    assert impatient.send(prepared).esito_operazione == "0000"
    assert _applied(sim, "SLOW2") == 1


@pytest.mark.parametrize("after", [False, True])
def test_http_5xx(sim: Simulator, client: Client, after: bool) -> None:
    _, prepared = _move(client, sim, "HTTP1")
    kind = "http_5xx_after_commit" if after else "http_5xx"
    sim.faults.inject(Fault(kind, operation="5005", status=502))  # type: ignore[arg-type]
    with pytest.raises(ServerUnavailable) as unavailable:
        client.send(prepared)
    assert unavailable.value.status == 502
    assert _applied(sim, "HTTP1") == (1 if after else 0)
    assert client.send(prepared).esito_operazione == "0000"
    assert _applied(sim, "HTTP1") == 1


@pytest.mark.parametrize("after", [False, True])
def test_internal_error_from_server(sim: Simulator, client: Client, after: bool) -> None:
    _, prepared = _move(client, sim, "SRV1")
    kind = "internal_error_from_server_after_commit" if after else "internal_error_from_server"
    sim.faults.inject(Fault(kind, operation="5005"))  # type: ignore[arg-type]
    with pytest.raises(ServerFault) as fault:
        client.send(prepared)
    assert fault.value.faultstring == "Internal Error (from server)"
    assert _applied(sim, "SRV1") == (1 if after else 0)
    assert client.send(prepared).esito_operazione == "0000"
    assert _applied(sim, "SRV1") == 1


def test_times_and_operation_matching(sim: Simulator, client: Client) -> None:
    sim.faults.inject(Fault("http_5xx", operation="3002", times=2))
    sim.faults.inject(Fault("http_5xx", times=1))
    with pytest.raises(ServerUnavailable):
        client.test_connection()  # the operation-less fault matches anything
    # the 3002 fault does not match TestConn
    assert client.test_connection().esito_operazione == "0000"
    assert [f.operation for f in sim.faults.pending] == ["3002"]
    sim.faults.clear()
    assert sim.faults.pending == ()
    assert len(sim.faults.fired) == 1


def test_faults_in_process_raise_what_a_client_would_see(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(start=False)
    client = sim.wsgi_client(B, journal=None)
    sim.faults.inject(Fault("refuse"))
    with pytest.raises(ConnectError):
        client.test_connection()
    sim.faults.inject(Fault("commit_then_lose_response"))
    with pytest.raises(ConnectionLost):
        client.test_connection()
    assert client.test_connection().esito_operazione == "0000"


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"kind": "explode"}, "fault.kind"),
        ({"kind": "latency", "times": 0}, "fault.times"),
        ({"kind": "latency", "seconds": -1}, "fault.seconds"),
        ({"kind": "http_5xx", "status": 404}, "fault.status"),
    ],
)
def test_bad_faults_are_refused(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Fault(**kwargs)
    assert refused.value.setting == setting


def test_inject_takes_only_faults() -> None:
    with pytest.raises(AnprError):
        FaultInjector().inject("latency")  # type: ignore[arg-type]
