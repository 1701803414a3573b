"""Application callbacks per notification type, and the dispatcher that runs the inbox.

Register callbacks on a :class:`Handlers` registry (decorator or call form)::

    handlers = Handlers()

    @handlers.on_residence_left
    def moved_away(event: ResidenceChanged) -> None:
        registry.close_record(event.codice_fiscale, event.effective_date)

    dispatcher = Dispatcher(inbox, handlers)
    dispatcher.run_pending()          # or run_forever(stop) in a thread next to the receiver

An event is marked ``done`` only when **every** handler registered for its type has returned.
A handler that raises leaves the event ``pending`` with ``attempts`` and ``last_error`` set;
the next run tries it again (so handlers must be idempotent: at-least-once delivery). Events of
a type with no handler stay ``pending`` until one is registered: nothing is dropped silently.
4005 results of other kinds (:class:`~anpr_client.notifications.events.ResultItem`: ``5008``,
``NA01``, ``8046``…) go to the handlers registered for their kind (``on("NA01")``).
Exceptions from handlers are logged by type and message; event reprs carry no personal data.

One dispatcher at a time per inbox (run it in one process); the receiver may run elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .events import (
    FilesAvailable,
    Notification,
    OperationResult,
    ResidenceChanged,
    ResidenceRestored,
    SubentroCompleted,
    SupplyNotice,
)
from .inbox import Inbox, InboxEntry

__all__ = ["DispatchReport", "Dispatcher", "Handlers"]

logger = logging.getLogger("anpr_client.notifications")

E = TypeVar("E", bound=Notification)
Handler = Callable[[Any], object]


class Handlers:
    """Callbacks by notification type (``tipoNotifica``), in registration order."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[Handler]] = {}

    def on(self, *kinds: str) -> Callable[[Callable[[E], object]], Callable[[E], object]]:
        """Decorator: call the function for notifications of these types (``"N010"``…)."""

        def register(callback: Callable[[E], object]) -> Callable[[E], object]:
            for kind in kinds:
                self._by_kind.setdefault(kind, []).append(callback)
            return callback

        return register

    def on_residence_left(
        self, callback: Callable[[ResidenceChanged], object]
    ) -> Callable[[ResidenceChanged], object]:
        """N010: a resident moved to another Comune (the record left your competence)."""
        return self.on("N010")(callback)

    def on_residence_restored(
        self, callback: Callable[[ResidenceRestored], object]
    ) -> Callable[[ResidenceRestored], object]:
        """N014/N015: a restoration."""
        return self.on("N014", "N015")(callback)

    def on_supply(self, callback: Callable[[SupplyNotice], object]) -> Callable[..., object]:
        """N030."""
        return self.on("N030")(callback)

    def on_subentro(self, callback: Callable[[SubentroCompleted], object]) -> Callable[..., object]:
        """N031."""
        return self.on("N031")(callback)

    def on_files(self, callback: Callable[[FilesAvailable], object]) -> Callable[..., object]:
        """N032."""
        return self.on("N032")(callback)

    def on_operation_result(
        self, callback: Callable[[OperationResult], object]
    ) -> Callable[..., object]:
        """NRIS: the answer of an operation done through the web app."""
        return self.on("NRIS")(callback)

    def for_kind(self, kind: str) -> tuple[Handler, ...]:
        return tuple(self._by_kind.get(kind, ()))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for k, v in self._by_kind.items() if v)


@dataclass
class DispatchReport:
    """What one :meth:`Dispatcher.run_pending` did."""

    done: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    """``(kind, id_notifica, error)`` of events whose handler raised (still pending)."""
    unhandled: list[tuple[str, str]] = field(default_factory=list)
    """Events with no handler for their type (still pending)."""


class Dispatcher:
    """Runs pending inbox events through their handlers; marks them done when all returned."""

    def __init__(self, inbox: Inbox, handlers: Handlers):
        self.inbox = inbox
        self.handlers = handlers
        self._wake = threading.Event()

    def wake(self) -> None:
        """Ask :meth:`run_forever` to run now (e.g. from the receiver's ``on_persisted``)."""
        self._wake.set()

    def run_pending(self, *, limit: int | None = None) -> DispatchReport:
        """One pass over the pending events, oldest first."""
        report = DispatchReport()
        for entry in self.inbox.pending(limit):
            self._dispatch(entry, report)
        return report

    def _dispatch(self, entry: InboxEntry, report: DispatchReport) -> None:
        callbacks = self.handlers.for_kind(entry.kind)
        if not callbacks or entry.event is None:
            report.unhandled.append(entry.key)
            return
        try:
            for callback in callbacks:
                callback(entry.event)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "notification %s %s: handler failed (attempt %d): %s",
                entry.kind,
                entry.id_notifica,
                entry.attempts + 1,
                error,
            )
            self.inbox.mark_failed(entry.kind, entry.id_notifica, error)
            report.failed.append((entry.kind, entry.id_notifica, error))
            return
        self.inbox.mark_done(entry.kind, entry.id_notifica)
        report.done.append(entry.key)

    def run_forever(self, stop: threading.Event, *, interval: float = 30.0) -> None:
        """Run passes until ``stop`` is set: after each :meth:`wake`, and every ``interval``
        seconds (to retry failed handlers)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:  # the inbox failed: log, wait, try again
                logger.exception("notification dispatcher: pass failed")
            self._wake.wait(interval)
