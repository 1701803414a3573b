"""What every operation handler receives and returns.

A handler is a function ``(ctx: Context, req: Request) -> OkAnswer``. It reads the decoded
request (``req.payload``, ``req.header``), reads and writes the registry through ``ctx``
(inside the operation's transaction: raising rolls everything back), and returns the answer
branch to send; the application fills ``testataRisposta``, encodes, validates against the XSD,
records and answers. To answer KO, raise :class:`Rejected` with ANPR error entries (codes from
the error catalogue, texts of our own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ...soap.bundle import Bundle, Operation
from ...soap.testata import operation_id

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import SimulatorConfig
    from ..db import Database
    from ..ledger import Ledger
    from ..notifications import Notifier
    from ..store import Registry

__all__ = [
    "INTERFACE_VERSION",
    "Context",
    "Entry",
    "Handler",
    "OkAnswer",
    "Rejected",
    "Request",
    "entry",
]


INTERFACE_VERSION: Final = "ANPR05"
"""The ``codDestinatario`` (interface version) this simulated ANPR serves."""


@dataclass(frozen=True)
class Entry:
    """One ``tipoErroriAnomalia`` entry."""

    code: str
    text: str
    severity: str = "E"
    field: str | None = None
    value: str | None = None
    object: str | None = None

    def payload(self) -> dict[str, str]:
        out = {
            "codiceErroreAnomalia": self.code,
            "tipoErroreAnomalia": self.severity,
            "testoErroreAnomalia": self.text[:240],
        }
        if self.object:
            out["oggettoErroreAnomalia"] = self.object[:100]
        if self.field:
            out["campoErroreAnomalia"] = self.field[:100]
        if self.value:
            out["valoreErroreAnomalia"] = self.value[:100]
        return out


def entry(
    code: str, text: str, *, field: str | None = None, value: object = None, severity: str = "E"
) -> Entry:
    return Entry(code, text, severity, field, None if value is None else str(value))


class Rejected(Exception):
    """Answer KO with these entries (the operation's effects are rolled back)."""

    def __init__(self, *entries: Entry):
        if not entries:
            raise ValueError("a KO answer needs at least one entry")
        super().__init__("; ".join(f"{e.code} {e.text}" for e in entries))
        self.entries: tuple[Entry, ...] = entries


@dataclass(frozen=True)
class Request:
    """A request that passed the gateway, decoded."""

    operation: Operation
    comune: str
    """``codMittente``: the requesting Comune."""
    header: Mapping[str, Any]
    """The decoded ``testataRichiesta``."""
    payload: Mapping[str, Any]
    """The decoded request, without ``testataRichiesta``."""
    id_operazione_anpr: str
    received_at: dt.datetime
    operator: str | None = None

    @property
    def id_operazione_comune(self) -> str:
        """``idOperazioneComune`` (``idOperazioneClient`` for the E00x services)."""
        return operation_id(self.header) or ""

    @property
    def effective_date(self) -> dt.date | None:
        value = self.header.get("dataDecorrenza")
        return parse_date(value) if value else None


@dataclass(frozen=True)
class OkAnswer:
    """A successful answer: the branch element name and its content (without testata).

    A KO answer is the exception :class:`Rejected`."""

    branch: str | None
    """The child of the response element to fill (``Risposta3002_OK``); ``None``: the
    response element itself (TestConn)."""
    content: Mapping[str, Any] = field(default_factory=dict)
    beside: Mapping[str, Any] = field(default_factory=dict)
    """Children of the response element beside the branch (5014's
    ``tipoRispostaRettifica``)."""
    mtom: Sequence[tuple[str, str]] = ()
    """(element local name, content type) of base64 fields sent as MTOM attachments."""
    after_commit: Sequence[Callable[[], None]] = ()
    """Work to do once the operation is committed (e.g. wake the notification pusher)."""


@dataclass
class Context:
    """The simulator's services, as a handler sees them."""

    registry: Registry
    ledger: Ledger
    notifier: Notifier
    clock: Clock
    config: SimulatorConfig
    db: Database
    bundle: Bundle | None = None
    """The WSDL/XSD bundle the simulator serves (the response models of shape-only answers)."""
    extras: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Context, Request], OkAnswer]


def parse_date(value: object) -> dt.date:
    """An ``xs:date`` (possibly with a timezone, e.g. ``2019-06-28+02:00``) as a date."""
    text = str(value).strip()
    if len(text) > 10:
        text = text[:10]
    return dt.date.fromisoformat(text)


def parse_datetime(value: object) -> dt.datetime:
    """An ``xs:dateTime``, aware (naive values are taken as the host's local time)."""
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:
        # Python accepts at most 6 fractional digits; ANPR clients send up to 7 (italia/anpr#5256).
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.astimezone()
