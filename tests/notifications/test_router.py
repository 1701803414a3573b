"""One N000 endpoint for many Comuni (issue 17 point 3), with the simulator's pusher.

The simulator serves three Comuni and pushes to one server of ours that serves two of them:
A's pushes come to ``/n000/<A>`` (routed by the path), B's to ``/n000`` (routed by their
``codDestinatario``), and the third Comune's to ``/n000`` too: refused, since it is not served.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anpr_client import ComuneRegistry
from anpr_client.notifications import Inbox, NotificationRouter, ReplyCode
from anpr_client.notifications.server import make_server
from anpr_client.simulator import Simulator, SimulatorConfig, running_simulator
from anpr_client.simulator.notifications import NotificationRecord
from anpr_client.simulator.store import ComuneInfo

OTHER = "001272"
A = "058091"
B = "015146"
MILANO = ComuneInfo(B, "MILANO", "MI", "F205", subentrato=True)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    config = SimulatorConfig(
        state_dir=tmp_path / "anpr", comuni=(OTHER, A, B), population=4, notification_attempts=2
    )
    with running_simulator(config) as running:
        yield running


@pytest.fixture
def registry(sim: Simulator, tmp_path: Path) -> Iterator[ComuneRegistry]:
    folder = tmp_path / "served"
    folder.mkdir()
    for code in (A, B):
        (folder / f"{code}.toml").symlink_to(sim.settings_path(code))
    with ComuneRegistry.from_path(folder) as served:
        yield served


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _notify(sim: Simulator, recipient: str, operation: str) -> NotificationRecord:
    """An N010 for ``recipient``: one of its residents moved to Milano."""
    person = sim.store.households(recipient)[0].head
    return sim.notifications.residence_left(
        recipient=recipient,
        person=person,
        requesting=MILANO,
        operation=operation,
        effective_date=dt.date.today(),
    )


def _state(sim: Simulator, record: NotificationRecord) -> str | None:
    now = sim.notifications.get(record.id)
    return None if now is None else now.state


def test_each_push_reaches_its_comunes_keys_and_inbox(
    sim: Simulator, registry: ComuneRegistry
) -> None:
    router = NotificationRouter.from_registry(registry)
    server = make_server(router, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.port}/n000"
    try:
        sim.register_notification_endpoint(A, f"{url}/{A}")
        sim.register_notification_endpoint(B, url)
        sim.register_notification_endpoint(OTHER, url)
        to_a = _notify(sim, A, "700000101")
        to_b = _notify(sim, B, "700000102")
        to_other = _notify(sim, OTHER, "700000103")
        sim.notifications.kick()
        _wait(lambda: _state(sim, to_a) == _state(sim, to_b) == "delivered")
        _wait(lambda: _state(sim, to_other) == "failed")
    finally:
        server.close()
        thread.join(10)
        router.close()
    refused = sim.notifications.get(to_other.id)
    assert refused is not None
    assert refused.last_error == "outcome 5"
    assert router.stats["refused"] == 2  # both attempts
    for code, record in ((A, to_a), (B, to_b)):
        store = registry.settings(code).notifications.store
        assert store is not None
        with Inbox(store, durable=False) as inbox:
            (entry,) = inbox.entries()
            assert entry.event is not None
            assert entry.event.recipient == code
            assert entry.event.id_notifica == record.id
            assert entry.channel == "push"
    assert sim.internal_errors == ()


def test_the_path_and_the_body_must_name_the_same_comune(
    sim: Simulator, registry: ComuneRegistry
) -> None:
    """Routed by its path to A, a push whose verified codDestinatario is B is refused by A's
    receiver: the path chooses the keys, the signed body decides."""
    record = _notify(sim, B, "700000201")
    body = sim.notifications.build_push(record)
    router = NotificationRouter.from_registry(registry)
    try:
        assert router.recipient(body) == B
        refused = router.receive(body, recipient=A)
        assert refused.outcome is ReplyCode.NOT_CONFORMING
        assert refused.reason is not None
        assert "not served here" in refused.reason
        taken = router.receive(body)
        assert taken.outcome is ReplyCode.ACQUIRED
        assert taken.event is not None
        assert taken.event.recipient == B
        assert router.receive(b"<not-xml").outcome is ReplyCode.NOT_CONFORMING
        assert router.receive(body, recipient=OTHER).outcome is ReplyCode.NOT_CONFORMING
        assert router.stats["refused"] == 2
    finally:
        router.close()


def test_past_max_open_a_comunes_receiver_is_closed(
    sim: Simulator, registry: ComuneRegistry
) -> None:
    router = NotificationRouter.from_registry(registry, max_open=1)
    try:
        for code, operation in ((A, "700000301"), (B, "700000302"), (A, "700000303")):
            body = sim.notifications.build_push(_notify(sim, code, operation))
            assert router.receive(body).outcome is ReplyCode.ACQUIRED
            assert router.open_count == 1
    finally:
        router.close()
    assert router.open_count == 0
