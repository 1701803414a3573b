"""Handlers and the dispatcher: done only when handlers return; failures stay pending."""

from __future__ import annotations

import threading

from lxml import etree

from anpr_client.notifications import (
    Dispatcher,
    EntryState,
    Handlers,
    Inbox,
    ResidenceChanged,
    ResultItem,
    decode_notification,
)
from anpr_client.notifications.events import result_item
from tests.notifications.support import CF_1, CF_2, n010_payload


def add(inbox: Inbox, id_notifica: str, cf: str = CF_1, kind: str = "N010") -> None:
    payload = etree.fromstring(n010_payload(cf, kind=kind))
    inbox.add(decode_notification(kind, payload, id_notifica=id_notifica))


def test_handler_receives_typed_events_and_marks_done(inbox: Inbox) -> None:
    add(inbox, "1")
    add(inbox, "2", CF_2)
    seen: list[str | None] = []
    handlers = Handlers()

    @handlers.on_residence_left
    def left(event: ResidenceChanged) -> None:
        seen.append(event.codice_fiscale)

    report = Dispatcher(inbox, handlers).run_pending()
    assert seen == [CF_1, CF_2]
    assert report.done == [("N010", "1"), ("N010", "2")]
    assert inbox.count(EntryState.DONE) == 2
    assert Dispatcher(inbox, handlers).run_pending().done == []  # nothing delivered twice


def test_crashing_handler_loses_nothing_and_a_later_run_completes(inbox: Inbox) -> None:
    add(inbox, "1")
    add(inbox, "2", CF_2)
    broken = {"on": True}
    calls: list[str] = []
    handlers = Handlers()

    @handlers.on("N010")
    def flaky(event: ResidenceChanged) -> None:
        calls.append(event.id_notifica)
        if broken["on"] and event.id_notifica == "1":
            raise RuntimeError("registry offline")

    report = Dispatcher(inbox, handlers).run_pending()
    assert report.failed == [("N010", "1", "RuntimeError: registry offline")]
    assert report.done == [("N010", "2")]
    entry = inbox.get("N010", "1")
    assert entry is not None
    assert (entry.state, entry.attempts, entry.last_error) == (
        EntryState.PENDING,
        1,
        "RuntimeError: registry offline",
    )
    broken["on"] = False
    # A new dispatcher (a restarted process) resumes from the inbox.
    assert Dispatcher(inbox, handlers).run_pending().done == [("N010", "1")]
    assert calls == ["1", "2", "1"]
    assert inbox.count(EntryState.PENDING) == 0


def test_every_handler_must_return_and_unhandled_types_wait(inbox: Inbox) -> None:
    add(inbox, "1")
    add(inbox, "2", kind="N014")
    handlers = Handlers()
    first: list[str] = []
    handlers.on("N010")(lambda e: first.append(e.id_notifica))

    def second(event: ResidenceChanged) -> None:
        raise ValueError("second handler failed")

    handlers.on("N010")(second)
    report = Dispatcher(inbox, handlers).run_pending()
    assert first == ["1"]
    assert report.failed[0][:2] == ("N010", "1")
    assert report.unhandled == [("N014", "2")]
    assert inbox.count(EntryState.PENDING) == 2
    restored: list[str] = []
    handlers.on_residence_restored(lambda e: restored.append(e.kind))
    assert Dispatcher(inbox, handlers).run_pending().done == [("N014", "2")]
    assert restored == ["N014"]


def test_run_forever_wakes_on_new_events(inbox: Inbox) -> None:
    handlers = Handlers()
    got = threading.Event()
    handlers.on_residence_left(lambda e: got.set())
    dispatcher = Dispatcher(inbox, handlers)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), kwargs={"interval": 60})
    thread.start()
    try:
        add(inbox, "1")
        dispatcher.wake()
        assert got.wait(10)
    finally:
        stop.set()
        dispatcher.wake()
        thread.join(10)
    assert not thread.is_alive()


def test_results_of_other_kinds_reach_the_handlers_of_their_kind(inbox: Inbox) -> None:
    inbox.add(
        result_item("5008", id_notifica="9", state="2", response=None, response_format=None),
        channel="pull",
    )
    inbox.add(
        result_item("8046", id_notifica="10", state="2", response=None, response_format=None),
        channel="pull",
    )
    seen: list[ResultItem] = []
    handlers = Handlers()
    handlers.on("5008")(seen.append)
    report = Dispatcher(inbox, handlers).run_pending()
    assert [item.key for item in seen] == [("5008", "9")]
    assert report.done == [("5008", "9")]
    assert report.unhandled == [("8046", "10")]  # waits, pending, for a handler
