"""Fault injection: make the simulator fail the way networks and ANPR's back end fail.

A :class:`Fault` names what happens, to which operation (``None``: any) and how many times::

    sim.faults.inject(Fault("commit_then_lose_response", operation="5005"))
    sim.faults.inject(Fault("latency", seconds=2.0, times=3))
    sim.faults.clear()

===================================  ==========================================================
kind                                 what the simulator does
===================================  ==========================================================
``latency``                          waits ``seconds`` while the operation is *in progress*
                                     (a duplicate meanwhile gets EN148), then processes it
``refuse``                           drops the TCP connection before reading the request (with
                                     an ``operation``, the request must be read to know it: it
                                     is then dropped unread by the application)
``drop_before_commit``               reads the request, closes the connection, applies nothing
``commit_then_lose_response``        applies and commits, then closes without answering
``timeout_after_commit``             applies and commits, then waits ``seconds`` before answering
``http_5xx``                         answers HTTP ``status`` with no SOAP body; applies nothing
``http_5xx_after_commit``            applies and commits, then answers HTTP ``status``
``internal_error_from_server``       answers the SOAP fault ``Internal Error (from server)``;
                                     applies nothing
``internal_error_from_server_after_  applies and commits, then answers that fault
commit``
===================================  ==========================================================

Each injected fault fires ``times`` times, on the first matching requests, then is spent.
Replays (a repeated ``idOperazioneComune``) are answers too: an after-commit fault may hit them.
Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from ..errors.exceptions import ConfigurationError

__all__ = ["FIRED", "Fault", "FaultInjector", "FaultKnob", "Stage"]

FaultKnob = Literal[
    "latency",
    "refuse",
    "drop_before_commit",
    "commit_then_lose_response",
    "timeout_after_commit",
    "http_5xx",
    "http_5xx_after_commit",
    "internal_error_from_server",
    "internal_error_from_server_after_commit",
]
"""The faults the simulator can inject, its knobs (the table above). Not to be confused with
:class:`anpr_client.errors.faults.FaultKind`, the client's diagnosis of a fault it received."""

Stage = Literal["connection", "received", "processing", "committed"]
"""Where a fault fires: before reading (connection), after reading and before the gateway
(received), while the operation is in progress (processing), after the commit (committed)."""

_STAGES: Final[dict[str, tuple[Stage, ...]]] = {
    "refuse": ("connection", "received"),
    "drop_before_commit": ("received",),
    "http_5xx": ("received",),
    "internal_error_from_server": ("received",),
    "latency": ("processing",),
    "commit_then_lose_response": ("committed",),
    "timeout_after_commit": ("committed",),
    "http_5xx_after_commit": ("committed",),
    "internal_error_from_server_after_commit": ("committed",),
}

FIRED: Final = "fired"


@dataclass(frozen=True)
class Fault:
    """One fault to inject (see the module docstring for the kinds)."""

    kind: FaultKnob
    operation: str | None = None
    """The ANPR operation code it applies to (``"5005"``, ``"TestConn"``); ``None``: any."""
    times: int = 1
    seconds: float = 0.0
    """For ``latency`` and ``timeout_after_commit``."""
    status: int = 503
    """For the ``http_5xx`` kinds."""

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKnob):
            raise ConfigurationError(
                f"unknown fault kind {self.kind!r}; known: {', '.join(get_args(FaultKnob))}",
                setting="fault.kind",
                rule="a fault knob",
            )
        if not isinstance(self.times, int) or self.times < 1:
            raise ConfigurationError(
                f"fault times {self.times!r} must be a positive integer",
                setting="fault.times",
                rule=">= 1",
            )
        if self.seconds < 0:
            raise ConfigurationError(
                "fault seconds must be >= 0", setting="fault.seconds", rule=">= 0"
            )
        if not 500 <= self.status <= 599:
            raise ConfigurationError(
                f"fault status {self.status} must be a 5xx code",
                setting="fault.status",
                rule="500..599",
            )

    @property
    def stages(self) -> tuple[Stage, ...]:
        return _STAGES[self.kind]

    def matches(self, operation: str | None) -> bool:
        if self.operation is None:
            return True
        return operation is not None and self.operation.lower() == operation.lower()


@dataclass
class _Armed:
    fault: Fault
    remaining: int


@dataclass(frozen=True)
class FiredFault:
    """A record of a fault that fired (for tests and logs)."""

    fault: Fault
    stage: Stage
    operation: str | None


@dataclass
class FaultInjector:
    """The armed faults of one simulator."""

    _armed: list[_Armed] = field(default_factory=list)
    _fired: list[FiredFault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault) -> None:
        """Arm ``fault``; it fires on the next ``fault.times`` matching requests."""
        if not isinstance(fault, Fault):
            raise ConfigurationError("inject() takes a Fault", setting="fault", rule="Fault")
        with self._lock:
            self._armed.append(_Armed(fault, fault.times))

    def clear(self) -> None:
        """Disarm every fault (the record of fired faults is kept)."""
        with self._lock:
            self._armed.clear()

    @property
    def pending(self) -> tuple[Fault, ...]:
        """Faults still armed."""
        with self._lock:
            return tuple(a.fault for a in self._armed)

    @property
    def fired(self) -> tuple[FiredFault, ...]:
        with self._lock:
            return tuple(self._fired)

    def take(
        self,
        stage: Stage,
        operation: str | None,
        *,
        any_operation_only: bool = False,
    ) -> Fault | None:
        """The first armed fault for ``stage`` and ``operation``, consumed once; or ``None``.

        ``any_operation_only`` restricts the match to faults without an operation (used before
        the request is read, when its operation is not known yet).
        """
        with self._lock:
            for armed in self._armed:
                fault = armed.fault
                if stage not in fault.stages:
                    continue
                if any_operation_only and fault.operation is not None:
                    continue
                if not fault.matches(operation):
                    continue
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
                self._fired.append(FiredFault(fault, stage, operation))
                return fault
        return None

    def __repr__(self) -> str:
        return f"<FaultInjector armed={len(self._armed)} fired={len(self._fired)}>"
