"""What the journal records: operations, attempts, how an attempt ended, how an operation
settled. Frozen values, free of any storage: every repository reads and writes these.

Payloads and testate are kept in *wire form* (:func:`wire_form`): every value as the element
text that went out, so a resend rebuilds a byte-identical Body.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors.exceptions import JournalError
from ..soap.codec import render_value
from .ownership import owner_alive
from .states import OPEN_STATES, SETTLED_STATES, AttemptKind, AttemptState, Outcome, State

__all__ = ["Attempt", "AttemptEnd", "OperationRecord", "Settlement", "wire_form"]


def wire_form(value: Any) -> Any:
    """A payload as JSON-ready data whose leaves are the exact element texts that get sent.

    Encoding the wire form again gives the same XML body, so a replay is byte-identical in its
    Body whatever types the caller used (dates, Decimals, enums, bytes…).
    """
    kind = type(value)
    if kind is str:  # most leaves: what render_value returns for them, without its checks
        return value
    if kind is dict or isinstance(value, Mapping):  # a dict first: the ABC check is slow
        return {str(k): wire_form(v) for k, v in value.items() if v is not None}
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [wire_form(v) for v in value]
    return render_value(value)


@dataclass(frozen=True)
class Attempt:
    """One send (or 3003 lookup) of an operation."""

    number: int
    kind: AttemptKind
    id_operazione_comune: str
    """The id that was sent: the operation's own for a send, a fresh one for a lookup."""
    state: AttemptState
    started_at: dt.datetime
    finished_at: dt.datetime | None
    elapsed: float | None
    http_status: int | None
    error_type: str | None
    error_codes: tuple[str, ...]
    error: str | None = field(repr=False)
    envelope: bytes | None = field(repr=False)
    """The exact bytes sent (``None`` when sealed and no key was given)."""
    response: bytes | None = field(repr=False)
    response_type: str | None = None

    def to_json(self, *, content: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "kind": self.kind,
            "idOperazioneComune": self.id_operazione_comune,
            "state": self.state,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            "elapsed": self.elapsed,
            "httpStatus": self.http_status,
            "errorType": self.error_type,
            "errorCodes": list(self.error_codes),
        }
        if content:
            out["error"] = self.error
            out.update(_bytes_json("envelope", self.envelope))
            out.update(_bytes_json("response", self.response))
            out["responseType"] = self.response_type
        return out


@dataclass(frozen=True)
class OperationRecord:
    """An operation as the journal knows it (attempts in order)."""

    key: int
    """The journal's row id (internal)."""
    comune: str
    service: str
    """The service family (``5000``), whose endpoint received it."""
    operation: str
    """The operation code (``5005``)."""
    id_operazione_comune: str
    state: State
    outcome: Outcome | None
    may_have_reached: bool
    """Whether any attempt may have reached ANPR (false: certainly not applied)."""
    created_at: dt.datetime
    updated_at: dt.datetime
    settled_at: dt.datetime | None
    url: str
    header: Mapping[str, Any]
    """The ``testataRichiesta`` sent (wire form): a replay sends exactly this."""
    payload: Mapping[str, Any] | None = field(repr=False)
    """The request payload without the testata (wire form); ``None`` when sealed."""
    id_operazione_anpr: str | None = None
    esito: str | None = None
    error_type: str | None = None
    error_codes: tuple[str, ...] = ()
    error: str | None = field(default=None, repr=False)
    response: bytes | None = field(default=None, repr=False)
    """The answer that settled it (the raw HTTP body, or the 3003 ``xmlRisposta``)."""
    response_type: str | None = None
    owner: str | None = None
    lease_until: float | None = None
    resolution: str | None = None
    """How it was settled: ``answer``, ``replay``, ``lookup``, ``abandoned``,
    ``failed_locally`` (nothing left the machine) or ``read_only`` (an unknown outcome of an
    operation that changes nothing)."""
    elapsed: float | None = None
    sealed: bool = False
    """The content columns are encrypted and were not opened (no key given)."""
    clock_offset: float = field(default=0.0, repr=False, compare=False)
    """How far the store's clock (the one leases are compared with: a database server's)
    was ahead of this machine's when the record was read."""
    attempts: tuple[Attempt, ...] = ()

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES

    def in_flight(self, now: float | None = None) -> bool:
        """An attempt is running in a live process (do not resolve it now)."""
        if self.owner is None or self.state not in OPEN_STATES:
            return False
        alive = owner_alive(self.owner)
        if alive is False:
            return False
        lease = self.lease_until or 0.0
        return lease > (time.time() + self.clock_offset if now is None else now)

    def to_json(self, *, content: bool = True) -> dict[str, Any]:
        """JSON-ready; ``content=False`` leaves out personal data (payload, bytes, texts)."""
        out: dict[str, Any] = {
            "comune": self.comune,
            "service": self.service,
            "operation": self.operation,
            "idOperazioneComune": self.id_operazione_comune,
            "state": str(self.state),
            "outcome": self.outcome,
            "mayHaveReachedAnpr": self.may_have_reached,
            "inFlight": self.in_flight(),
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "settledAt": self.settled_at.isoformat() if self.settled_at else None,
            "resolution": self.resolution,
            "url": self.url,
            "idOperazioneANPR": self.id_operazione_anpr,
            "esitoOperazione": self.esito,
            "errorType": self.error_type,
            "errorCodes": list(self.error_codes),
            "elapsed": self.elapsed,
            "testataRichiesta": dict(self.header),
        }
        if content:
            out["sealed"] = self.sealed
            out["payload"] = None if self.payload is None else dict(self.payload)
            out["error"] = self.error
            out.update(_bytes_json("response", self.response))
            out["responseType"] = self.response_type
        out["attempts"] = [a.to_json(content=content) for a in self.attempts]
        return out


def _bytes_json(name: str, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {name: None}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {name: None, f"{name}Base64": base64.b64encode(data).decode("ascii")}


@dataclass(frozen=True)
class AttemptEnd:
    """How an attempt ended (what :meth:`Repository.end_attempt
    <anpr_client.journal.repository.Repository.end_attempt>` records)."""

    state: AttemptState
    http_status: int | None = None
    response: bytes | None = None
    response_type: str | None = None
    error_type: str | None = None
    error_codes: Sequence[str] = ()
    error: str | None = None


@dataclass(frozen=True)
class Settlement:
    """The final word on an operation."""

    state: State
    outcome: Outcome
    resolution: str
    id_operazione_anpr: str | None = None
    esito: str | None = None
    response: bytes | None = None
    response_type: str | None = None
    error_type: str | None = None
    error_codes: Sequence[str] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        if self.state not in SETTLED_STATES:
            raise JournalError(f"{self.state} is not a settled state")
