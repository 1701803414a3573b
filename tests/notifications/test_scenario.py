"""Issue 6's scenario with the simulator: B records the move of a family coming from A.

A runs this library's receiver (from the settings file the simulator wrote for it, over real
HTTP) and its poller (4005 over TLS). A gets one N010 per family member by push, the same
notifications by pull, and each is exactly once in A's inbox; A's handler sees each person once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.notifications import (
    Dispatcher,
    Handlers,
    Inbox,
    NotificationReceiver,
    Poller,
    ResidenceChanged,
)
from anpr_client.notifications.server import ReceiverServer, make_server

simulator = pytest.importorskip("anpr_client.simulator", reason="the ANPR simulator is missing")
support = pytest.importorskip("tests.simulator.support", reason="the simulator's test helpers")

A = "058091"
B = "015146"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Any]:
    config = simulator.SimulatorConfig(
        state_dir=tmp_path / "anpr", comuni=(A, B), extraction_delay=0.3
    )
    with simulator.running_simulator(config) as running:
        yield running


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _content(event: object) -> object:
    """The event without what only the push's testataNotifica carries (``codMittente``,
    ``dataOraRichiesta``): a 4005 result item has neither."""
    assert isinstance(event, ResidenceChanged)
    return dataclasses.replace(event, sender=None, sent_at=None)


@pytest.fixture
def endpoint(sim: Any) -> Iterator[tuple[NotificationReceiver, ReceiverServer]]:
    receiver = NotificationReceiver.from_settings(sim.settings(A))
    server = make_server(receiver, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, server
    finally:
        server.close()
        thread.join(10)
        receiver.inbox.close()


def test_family_transfer_reaches_a_by_push_and_pull_exactly_once(
    sim: Any, endpoint: tuple[NotificationReceiver, ReceiverServer], tmp_path: Path
) -> None:
    s = sim  # typed loosely: the simulator is optional (importorskip)
    receiver, server = endpoint
    s.register_notification_endpoint(A, f"http://127.0.0.1:{server.port}/n000")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    household = s.store.households(A)[0]
    persons = list(household.members)
    assert len(persons) >= 2
    codes = {p.codice_fiscale for p in persons}

    with s.client(B, journal=None) as client_b:
        result = client_b.call(
            "5005",
            support.transfer_payload(persons, to=B),
            header={"dataDecorrenza": dt.date.today()},
        )
    assert result.esito_operazione == "0000"

    # Push: one N010 per member, verified, decrypted and stored by A's receiver.
    inbox = receiver.inbox
    _wait(lambda: inbox.count() == len(codes))
    _wait(lambda: all(n.state == "delivered" for n in s.notifications.pending(A)))
    pushed = inbox.entries()
    assert {e.channel for e in pushed} == {"push"}
    events = [e.event for e in pushed]
    assert all(isinstance(e, ResidenceChanged) for e in events)
    assert {e.codice_fiscale for e in events if e is not None} == codes
    for event in events:
        assert isinstance(event, ResidenceChanged)
        assert event.requesting_comune.codice_istat == B
        assert event.id_operazione_anpr == result.id_operazione_anpr
        assert event.recipient == A

    # Pull: A's poller (4005 over TLS) finds the same notifications; none is stored twice.
    with s.client(A, journal=None) as client_a:
        report = Poller(client_a, inbox, skew=0, poll_interval=0.1).pull(since)
    assert report.complete
    assert report.received == len(codes)
    assert report.added == 0
    assert sorted(e.key for e in inbox.entries()) == sorted(e.key for e in pushed)

    # The pull alone yields the same events (another inbox, as if the push had failed).
    with Inbox(tmp_path / "pull-only.sqlite", durable=False) as pulled_box:
        with s.client(A, journal=None) as client_a:
            Poller(client_a, pulled_box, skew=0, poll_interval=0.1).pull(since)
        pulled = {e.key: _content(e.event) for e in pulled_box.entries()}
        documents = [e.raw for e in pulled_box.entries()]
    assert pulled == {e.key: _content(e.event) for e in pushed}
    # Pulled as ANPR sends them: one bare document per notification, no wrapper.
    assert len(documents) == len(codes)
    for document in documents:
        assert document.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\r\n')
        assert b"<p:NotificaN010 " in document

    # A's application sees each person leave exactly once.
    seen: list[str | None] = []
    handlers = Handlers()
    handlers.on_residence_left(lambda event: seen.append(event.codice_fiscale))
    Dispatcher(inbox, handlers).run_pending()
    Dispatcher(inbox, handlers).run_pending()
    assert sorted(cf or "" for cf in seen) == sorted(codes)
    assert receiver.stats["1"] == len(codes)


def test_pull_command_against_the_simulator(sim: Any) -> None:
    from click.testing import CliRunner

    from anpr_client.cli.main import cli

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    household = sim.store.households(A)[0]
    persons = list(household.members)
    with sim.client(B, journal=None) as client_b:
        result = client_b.call(
            "5005",
            support.transfer_payload(persons, to=B),
            header={"dataDecorrenza": dt.date.today()},
        )
    assert result.esito_operazione == "0000"
    config = str(sim.settings_path(A))
    runner = CliRunner()
    args = ["notifications", "pull", "--config", config, "--since", since, "--skew", "0", "--json"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["added"] == len(persons)
    assert summary["waitingUntil"] is None
    again = runner.invoke(cli, ["notifications", "pull", "--config", config, "--skew", "0"])
    assert again.exit_code == 0, again.output
    assert "0 new" in again.output
    listing = runner.invoke(cli, ["notifications", "inbox", "--json", "--config", config])
    rows = json.loads(listing.output)
    assert sorted(r["codiceFiscale"] for r in rows) == sorted(p.codice_fiscale for p in persons)
    assert {r["channel"] for r in rows} == {"pull"}
