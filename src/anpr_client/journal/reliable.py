"""The journaled call: record, send, retry safely, settle; and the resolution of what is left.

:func:`journaled_call` is what :meth:`Client.call <anpr_client.client.Client.call>` runs when the
client has a journal. It drives the client's :class:`~anpr_client.soap.binding.Binding` (build,
send, read) and the journal, and never calls back into the client:

1. take an ``idOperazioneComune`` from the journal (unless the caller gave one), build and sign
   the request;
2. record the operation with its first attempt and exact envelope (``sending``, one transaction
   flushed to disk), then send it; every later attempt is recorded the same way before it goes
   out;
3. read the answer and apply :mod:`.retry`: an OK answer settles ``answered``, a KO answer
   ``rejected`` (raised); a failure that cannot have reached ANPR is retried; an *outcome
   unknown* is resent with the **same id and testata** (re-signed: a fresh Timestamp), so ANPR
   replays its stored first answer — or, with ``reconcile``, looked up first with 3003;
   EN148 on a resend means the first request is still running: wait and resend;
4. when attempts run out, the operation stays ``outcome_unknown`` in the journal and the last
   error is raised with a note naming it; :func:`resolve` (``anpr journal resolve``) settles it
   later. A read-only operation (:data:`READ_ONLY_FAMILIES`: consultations, extractions,
   tables) is settled ``resolved`` instead (outcome ``not_applied``, resolution
   ``read_only``): it changes nothing, so there is nothing to resolve;
5. a local failure (the settings or keys cannot be used, a missing CA bundle, a server
   certificate that does not verify against ``ca_bundle``) is never retried: nothing left the
   machine, and the operation is settled ``failed_not_delivered`` (resolution
   ``failed_locally``).

A caller may pass its own ``idOperazioneComune`` (in ``header`` or the payload's testata): it
then works as an idempotency key. Calling again with the same id and the same request continues
the same operation (a settled one returns its recorded answer without sending anything); the
same id with another request or operation is refused with
:class:`~anpr_client.errors.JournalError`.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from lxml import etree
from urllib3 import HTTPHeaderDict

from ..errors.exceptions import AnprError, AnprRejected, JournalError, NotFoundError
from ..results import PreparedRequest, Result
from ..safexml import NS, parse_xml
from ..settings import Settings
from ..soap.binding import Binding
from ..soap.bundle import Operation
from ..soap.envelope import CONTENT_TYPE, read_answer
from ..soap.testata import generated_fields, operation_id
from ..transport import HttpResponse
from .records import AttemptEnd, OperationRecord, Settlement
from .repository import Repository
from .retry import Disposition, RetryPolicy, classify
from .states import AttemptState, Outcome, State

__all__ = [
    "LOOKUP_FAMILIES_EXCLUDED",
    "READ_ONLY_FAMILIES",
    "Exchange",
    "HasBinding",
    "Resolution",
    "journaled_call",
    "lookupable",
    "read_only",
    "recorded_answer",
    "resolve",
]

READ_ONLY_FAMILIES: Final = frozenset(
    {"3000", "4000", "7001", "E001", "E002", "E003", "E004", "TestConn"}
)
"""Families whose operations change nothing in the registry (consultations, extractions,
tables, the connection test): an unknown outcome of theirs needs no resolving."""

LOOKUP_FAMILIES_EXCLUDED: Final = READ_ONLY_FAMILIES | {"N000"}
"""Families whose operations 3003 does not return (consultations, extractions, tables)."""

_LEASE_MARGIN: Final = 30.0
_ANSWER_TYPE: Final = "application/xml"
"""``response_type`` of an answer taken from 3003's ``xmlRisposta`` (no SOAP envelope)."""

Sleep = Callable[[float], None]


class HasBinding(Protocol):
    """Anything that holds a binding (a :class:`~anpr_client.client.Client` does)."""

    @property
    def binding(self) -> Binding: ...


Exchange = Binding | HasBinding
"""What the entry points drive: a binding, or a client (whose binding is used, nothing else)."""


def _binding(exchange: Exchange) -> Binding:
    return exchange if isinstance(exchange, Binding) else exchange.binding


def _lease(settings: Settings, policy: RetryPolicy) -> float:
    """How long one drive may hold an operation: one attempt (its deadline), a wait, a
    margin."""
    timeouts = settings.timeouts
    attempt = max(timeouts.connect + timeouts.read, settings.limits.deadline(timeouts))
    return attempt + policy.max_backoff + _LEASE_MARGIN


def _check_url(record: OperationRecord, url: str) -> None:
    """Refuse to send ``record`` anywhere but where it was sent first."""
    if url != record.url:
        raise JournalError(
            f"operation {record.id_operazione_comune} was sent to {record.url}; the settings "
            f"now point to {url}. Resolve it with the settings it was sent with",
            id_operazione_comune=record.id_operazione_comune,
        )


def read_only(operation: Operation) -> bool:
    """Whether ``operation`` changes nothing at ANPR (:data:`READ_ONLY_FAMILIES`)."""
    return operation.family in READ_ONLY_FAMILIES


def lookupable(operation: Operation) -> bool:
    """Whether 3003 can tell the outcome of ``operation`` (registrations, changes,
    certificates: operations with an effect on the registry)."""
    return operation.family not in LOOKUP_FAMILIES_EXCLUDED


def _explicit_id(payload: Any, header: Mapping[str, Any] | None) -> str | None:
    """The caller's own id, from ``header`` or the payload's testata (else ``None``)."""
    for source in (header, _payload_testata(payload)):
        if source is not None and (ident := operation_id(source)) is not None:
            return ident
    return None


def _payload_testata(payload: Any) -> Any:
    if isinstance(payload, Mapping):
        return payload.get("testataRichiesta")
    return getattr(payload, "testataRichiesta", None)


def _error_codes(exc: BaseException) -> tuple[str, ...]:
    return exc.codes if isinstance(exc, AnprRejected) else ()


def _answer_response(xml: bytes) -> HttpResponse:
    """An HTTP answer carrying ``xml``: as is when it is a SOAP envelope, else wrapped in one
    (3003's ``xmlRisposta`` holds the answer element itself)."""
    if parse_xml(xml).tag != f"{{{NS['soap']}}}Envelope":
        body = xml
        if body.startswith(b"<?xml"):
            body = body.split(b"?>", 1)[1]
        xml = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<soap:Envelope xmlns:soap="'
            + NS["soap"].encode()
            + b'"><soap:Body>'
            + body.strip()
            + b"</soap:Body></soap:Envelope>"
        )
    return HttpResponse(200, HTTPHeaderDict({"Content-Type": CONTENT_TYPE}), xml)


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` did with one operation."""

    record: OperationRecord
    """The operation as the journal now records it."""
    result: Result[dict[str, Any]] | None = None
    """ANPR's OK answer, when it settled OK."""
    error: AnprError | None = None
    """The KO answer (settled ``ko``), or the error that left it unresolved."""

    @property
    def settled(self) -> bool:
        return self.record.settled


class _Run:
    """One drive of an operation to a settled state (or to the end of its attempts)."""

    def __init__(
        self,
        binding: Binding,
        journal: Repository,
        op: Operation,
        record: OperationRecord,
        policy: RetryPolicy,
        sleep: Sleep,
        rng: Callable[[], float],
        *,
        resolving: bool = False,
        lookup: bool | None = None,
    ):
        self.binding = binding
        self.journal = journal
        self.op = op
        self.record = record
        self.key = record.key
        self.policy = policy
        self.resolving = resolving
        self.lookup = (policy.reconcile if lookup is None else lookup) and lookupable(op)
        self.sleep = sleep
        self.rng = rng
        self.lease = _lease(binding.settings, policy)

    # ------------------------------------------------------------------ settling

    def _answered(
        self,
        testata: Mapping[str, Any],
        body: bytes,
        ctype: str,
        how: str,
        codes: Sequence[str] = (),
    ) -> Settlement:
        """An OK answer settles the operation (``resolved`` when resolving)."""
        return _settlement(
            State.RESOLVED if self.resolving else State.ANSWERED,
            "ok",
            how,
            testata=testata,
            body=body,
            ctype=ctype,
            codes=codes,
        )

    def _answered_raw(
        self, body: bytes, ctype: str, response: HttpResponse, how: str
    ) -> Settlement:
        """An OK settlement from the answer's testata alone (no :class:`Result` at hand)."""
        testata: dict[str, str] = {}
        try:
            answer = read_answer(response, operation=self.op.code)
        except AnprError:
            answer = None
        if answer is not None:
            found = next(answer.payload.iter("testataRisposta"), None)
            if found is not None:
                testata = {etree.QName(c).localname: (c.text or "") for c in found}
        return self._answered(testata, body, ctype, how)

    def _rejected(
        self, exc: AnprRejected, body: bytes | None, ctype: str | None, how: str
    ) -> Settlement:
        """A KO answer settles the operation (``resolved`` when resolving)."""
        state = State.RESOLVED if self.resolving else State.REJECTED
        return _settlement(state, "ko", how, body=body, ctype=ctype, exc=exc)

    def _attempt_end(
        self,
        state: AttemptState,
        response: HttpResponse | None,
        exc: BaseException | None = None,
        *,
        codes: Sequence[str] = (),
        error: str | None = None,
    ) -> AttemptEnd:
        """How an attempt ended (see :func:`_attempt_end`), its answer cut to the journal's
        share (``limits.journal_answer_bytes``): the answer that settles is kept whole in the
        settlement."""
        limit = self.binding.settings.limits.journal_answer_bytes
        return _attempt_end(state, response, exc, codes=codes, error=error, keep=limit)

    def _end(
        self, number: int, end: AttemptEnd, elapsed: float, settle: Settlement | None = None
    ) -> None:
        self.journal.end_attempt(self.key, number, end, elapsed=elapsed, settle=settle)

    # ------------------------------------------------------------------ building

    def rebuild(self) -> PreparedRequest:
        """The recorded request again: the same testata and payload (so the same Body),
        signed anew (a fresh Timestamp)."""
        record = self.record
        if record.payload is None:
            raise JournalError(
                f"operation {record.id_operazione_comune} is sealed: the journal key is needed "
                "to send it again",
                id_operazione_comune=record.id_operazione_comune,
            )
        # Exactly the recorded testata: a field generated now but not recorded is left out.
        header = dict.fromkeys(generated_fields(self.binding.settings)) | dict(record.header)
        prepared = self.binding.prepare(self.op, dict(record.payload), header=header)
        _check_url(record, prepared.url)
        return prepared

    # ------------------------------------------------------------------ the loop

    def run(
        self, first: PreparedRequest | None, *, recorded: int | None = None
    ) -> Result[dict[str, Any]]:
        """Drive the operation; ``first`` is sent first, as attempt ``recorded`` when the
        journal already holds it as ``sending``."""
        policy = self.policy
        # Whether an attempt *before* the next one may have reached ANPR (the recorded first
        # attempt of a new operation has nothing before it).
        reached = self.record.may_have_reached and recorded is None
        looked_up = False
        sends = 0
        last: BaseException | None = None
        last_unknown: BaseException | None = None  # the latest "may have been applied"
        while True:
            if reached and self.lookup and not looked_up:
                looked_up = True
                found = self._lookup()
                if found is not None:
                    return found
            if sends >= policy.max_attempts:
                break
            prepared = first if (first is not None and sends == 0) else self.rebuild()
            resend = reached
            how = "replay" if resend else "answer"
            if recorded is not None and sends == 0:
                number = recorded
            else:
                number = self.journal.begin_attempt(
                    self.key,
                    kind="send",
                    envelope=prepared.envelope,
                    id_operazione_comune=self.record.id_operazione_comune,
                    lease=self.lease,
                )
            sends += 1
            started = time.monotonic()
            response: HttpResponse | None = None
            try:
                response = self.binding.transmit(prepared)
                result = self.binding.read(self.op, response, request=prepared)
            except Warning as warning:
                if response is None or response.status != 200:
                    raise
                # The answer is OK, but its ANPR warnings were turned into errors by the
                # caller's warning filters: record the truth, then let the warning out.
                settle = self._answered_raw(response.body, response.content_type, response, how)
                end = self._attempt_end("answered", response, warning)
                self._end(number, end, time.monotonic() - started, settle)
                raise
            except BaseException as exc:
                elapsed = time.monotonic() - started
                disposition = (
                    classify(exc, resend=resend)
                    if isinstance(exc, Exception)
                    else Disposition.OUTCOME_UNKNOWN
                )
                if disposition is Disposition.FAILED_LOCALLY and response is not None:
                    disposition = Disposition.OUTCOME_UNKNOWN  # an answer came: it was sent
                end = self._attempt_end(_STATES[disposition], response, exc)
                if isinstance(exc, AnprRejected) and disposition is Disposition.REJECTED:
                    body = response.body if response is not None else None
                    ctype = response.content_type if response is not None else None
                    self._end(number, end, elapsed, self._rejected(exc, body, ctype, how))
                    raise
                if disposition is Disposition.REFUSED and not reached:
                    refused = _settlement(State.FAILED, "not_applied", "answer", exc=exc)
                    self._end(number, end, elapsed, refused)
                    raise
                if disposition is Disposition.FAILED_LOCALLY and not reached:
                    # Nothing left the machine, and sending again cannot help: not delivered.
                    local = _settlement(
                        State.FAILED_NOT_DELIVERED, "not_applied", "failed_locally", exc=exc
                    )
                    self._end(number, end, elapsed, local)
                    raise
                self._end(number, end, elapsed)
                if not isinstance(exc, Exception) or disposition in (
                    Disposition.REFUSED,
                    Disposition.FAILED_LOCALLY,
                ):
                    # Interrupted, or refused on a resend after an unknown outcome: stop here;
                    # the journal says outcome_unknown.
                    self._give_up(exc)
                    raise
                if disposition in (Disposition.OUTCOME_UNKNOWN, Disposition.IN_PROGRESS):
                    reached = True
                    looked_up = disposition is Disposition.IN_PROGRESS and looked_up
                last = exc
                if disposition is Disposition.OUTCOME_UNKNOWN:
                    last_unknown = exc
                if sends < policy.max_attempts or (reached and self.lookup and not looked_up):
                    self.sleep(policy.delay(sends, self.rng))
                continue
            elapsed = time.monotonic() - started
            codes = tuple(w.code for w in result.anomalies)
            settle = self._answered(result.header, response.body, response.content_type, how, codes)
            end = self._attempt_end("answered", response, codes=codes)
            self._end(number, end, elapsed, settle)
            return result
        assert last is not None
        if not reached:
            self.record = self.journal.settle(
                self.key,
                _settlement(State.FAILED_NOT_DELIVERED, "not_applied", "answer", exc=last),
            )
            raise last
        # Raise what says "may have been applied" (an EN148 answer alone would read as a KO).
        final = last_unknown or last
        self._give_up(final)
        raise final

    def _give_up(self, exc: BaseException) -> None:
        r = self.record
        if read_only(self.op):
            # A consultation changes nothing at ANPR: whether it got there or not, there is
            # nothing to resolve, so it is not left pending (call it again for the answer).
            self.record = self.journal.settle(
                self.key,
                _settlement(State.RESOLVED, "not_applied", "read_only", exc=exc),
            )
            exc.add_note(
                f"anpr journal: operation {r.operation} {r.id_operazione_comune} is read-only: "
                "its outcome is unknown but it changes nothing at ANPR, so there is nothing to "
                "resolve; call it again to get the answer."
            )
            return
        self.journal.release(self.key)
        exc.add_note(
            f"anpr journal: operation {r.operation} {r.id_operazione_comune} (Comune {r.comune}) "
            f"may have been applied by ANPR; it is recorded as outcome_unknown in "
            f"{self.journal.location}. Settle it with `anpr journal resolve "
            f"{r.id_operazione_comune}`; never send it again under a new id."
        )

    # ------------------------------------------------------------------ 3003

    def _lookup(self) -> Result[dict[str, Any]] | None:
        """Ask 3003 for the operation's stored answer. Returns the OK result (settled), raises
        the KO (settled), or returns ``None`` when 3003 cannot tell (not found, still running,
        or the lookup itself failed): the caller then resends with the same id."""
        record = self.record
        lookup_id = self.journal.allocate_id(record.comune)
        try:
            prepared = self.binding.prepare(
                "3003",
                {
                    "ricercaSingolaRichiesta": {
                        "idOperazioneComune": record.id_operazione_comune,
                        "tipoOperazione": "1",
                    }
                },
                header={"idOperazioneComune": lookup_id},
            )
        except AnprError:
            return None
        number = self.journal.begin_attempt(
            self.key,
            kind="lookup",
            envelope=prepared.envelope,
            id_operazione_comune=lookup_id,
            lease=self.lease,
        )
        started = time.monotonic()
        response: HttpResponse | None = None
        try:
            response = self.binding.transmit(prepared)
            found = self.binding.read("3003", response, request=prepared)
        except NotFoundError as exc:
            end = self._attempt_end("not_found", response, exc)
            self._end(number, end, time.monotonic() - started)
            return None
        except Exception as exc:
            end = self._attempt_end(_STATES[classify(exc, resend=False)], response, exc)
            self._end(number, end, time.monotonic() - started)
            return None
        elapsed = time.monotonic() - started
        xml = _stored_answer(found.value, record.operation)
        if xml is None:
            self._end(number, self._attempt_end("in_progress", response), elapsed)
            return None
        answered = self._attempt_end("answered", response)
        try:
            # The stored answer must be this operation's: the same id, operation and Comune.
            result = self.binding.read(self.op, _answer_response(xml), request=record.header)
        except Warning as warning:  # an OK answer whose warnings the caller made errors
            settle = self._answered_raw(xml, _ANSWER_TYPE, _answer_response(xml), "lookup")
            self._end(number, answered, elapsed, settle)
            raise warning from None
        except AnprRejected as ko:
            self._end(number, answered, elapsed, self._rejected(ko, xml, _ANSWER_TYPE, "lookup"))
            raise
        except AnprError as exc:
            unreadable = f"the stored answer 3003 returned is unreadable: {exc}"
            end = self._attempt_end("outcome_unknown", response, exc, error=unreadable)
            self._end(number, end, elapsed)
            return None
        self._end(
            number, answered, elapsed, self._answered(result.header, xml, _ANSWER_TYPE, "lookup")
        )
        return result


def _stored_answer(value: Mapping[str, Any], operation: str) -> bytes | None:
    """The decoded ``xmlRisposta`` of the 3003 entry for ``operation``, if there is one."""
    entries = value.get("elencoRisposte") or []
    if isinstance(entries, Mapping):
        entries = [entries]
    found: list[tuple[str, bytes]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("xmlRisposta"):
            continue
        try:
            data = base64.b64decode(str(entry["xmlRisposta"]), validate=False)
        except (binascii.Error, ValueError):
            continue
        found.append((str(entry.get("tipoOperazione") or ""), data))
    for kind, data in found:
        if kind == operation:
            return data
    if len(found) == 1 and not found[0][0]:
        return found[0][1]
    return None


_STATES: Final[Mapping[Disposition, AttemptState]] = {
    Disposition.FAILED_LOCALLY: "not_delivered",
    Disposition.NOT_DELIVERED: "not_delivered",
    Disposition.OUTCOME_UNKNOWN: "outcome_unknown",
    Disposition.IN_PROGRESS: "in_progress",
    Disposition.REJECTED: "rejected",
    Disposition.REFUSED: "refused",
}


def _attempt_end(
    state: AttemptState,
    response: HttpResponse | None,
    exc: BaseException | None = None,
    *,
    codes: Sequence[str] = (),
    error: str | None = None,
    keep: int | None = None,
) -> AttemptEnd:
    """How an attempt ended: the answer, when one came (its first ``keep`` bytes), and the
    error raised, if any."""
    status = response.status if response is not None else getattr(exc, "status", None)
    if exc is not None:
        codes = codes or _error_codes(exc)
        error = error or str(exc) or type(exc).__name__
    return AttemptEnd(
        state=state,
        http_status=status if isinstance(status, int) else None,
        response=response.body[:keep] if response is not None else None,
        response_type=response.content_type if response is not None else None,
        error_type=type(exc).__name__ if exc is not None else None,
        error_codes=tuple(codes),
        error=error,
    )


def _settlement(
    state: State,
    outcome: Outcome,
    how: str,
    *,
    testata: Mapping[str, Any] | None = None,
    body: bytes | None = None,
    ctype: str | None = None,
    exc: BaseException | None = None,
    codes: Sequence[str] = (),
    error: str | None = None,
) -> Settlement:
    """The final word on an operation: ANPR's ids from the answer's ``testata`` (or from the
    KO raised as ``exc``), the answer that settled it, the error that ended it."""
    if isinstance(exc, AnprRejected):
        anpr_id, esito, codes = exc.id_operazione_anpr, exc.esito_operazione, exc.codes
    else:
        anpr_id = (testata or {}).get("idOperazioneANPR")
        esito = (testata or {}).get("esitoOperazione")
    return Settlement(
        state=state,
        outcome=outcome,
        resolution=how,
        id_operazione_anpr=None if anpr_id is None else str(anpr_id),
        esito=None if esito is None else str(esito),
        response=body,
        response_type=ctype,
        error_type=type(exc).__name__ if exc is not None else None,
        error_codes=tuple(codes),
        error=error if exc is None else str(exc),
    )


# ----------------------------------------------------------------------------- entry points


def journaled_call(
    exchange: Exchange,
    journal: Repository,
    operation: str | Operation,
    payload: Mapping[str, Any] | Any = None,
    *,
    header: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    rng: Callable[[], float] = random.random,
) -> Result[dict[str, Any]]:
    """Call ``operation`` through the journal with safe retries (see the module docstring).

    ``exchange`` is the :class:`~anpr_client.soap.binding.Binding` that builds, sends and
    reads (or a client, whose binding is used). Returns the OK
    :class:`~anpr_client.results.Result`; raises the KO
    (:class:`~anpr_client.errors.AnprRejected`), a refusal, or — attempts spent — the last
    error (outcome unknown ones carry a note naming the journal entry to resolve).
    """
    binding = _binding(exchange)
    settings = binding.settings
    op = binding.operation(operation)
    policy = policy or RetryPolicy.from_settings(settings.retry)
    if not binding.has_testata(op):
        # Nothing to key the operation on (N000, a message ANPR sends, not a Comune).
        return binding.send(binding.prepare(op, payload, header=header))
    comune = settings.codice_istat
    overrides = dict(header or {})
    if _explicit_id(payload, overrides) is None:
        overrides["idOperazioneComune"] = journal.allocate_id(comune)
    prepared = binding.prepare(op, payload, header=overrides)
    record, created = journal.open_operation(
        comune=comune,
        service=op.family,
        operation=op.code,
        id_operazione_comune=prepared.id_operazione_comune,
        url=prepared.url,
        header=prepared.header,
        payload=prepared.payload,
        lease=_lease(settings, policy),
        envelope=prepared.envelope,  # a new operation is recorded with its first attempt
    )
    run = _Run(binding, journal, op, record, policy, sleep, rng)
    if created:
        return run.run(prepared, recorded=1)
    # The caller's id names an operation the journal knows: continue it, never duplicate it.
    if record.state in (State.ANSWERED, State.REJECTED, State.RESOLVED):
        return recorded_answer(binding, record)
    run.record = journal.claim(record.key, lease=run.lease)
    return run.run(None)


def recorded_answer(exchange: Exchange, record: OperationRecord) -> Result[dict[str, Any]]:
    """The settled answer of ``record`` read again (raises its KO), without sending anything."""
    if record.response is None:
        raise JournalError(
            f"operation {record.id_operazione_comune} has no recorded answer to read"
            + (" (sealed: the journal key is needed)" if record.sealed else ""),
            id_operazione_comune=record.id_operazione_comune,
        )
    if record.response_type == _ANSWER_TYPE:
        response = _answer_response(record.response)
    else:
        headers = HTTPHeaderDict({"Content-Type": record.response_type or CONTENT_TYPE})
        response = HttpResponse(200, headers, record.response)
    return _binding(exchange).read(record.operation, response)


def resolve(
    exchange: Exchange,
    journal: Repository,
    record: OperationRecord,
    *,
    lookup: bool | None = None,
    policy: RetryPolicy | None = None,
    force: bool = False,
    sleep: Sleep = time.sleep,
    rng: Callable[[], float] = random.random,
) -> Resolution:
    """Settle an operation the journal holds unsettled, through ``exchange`` (a
    :class:`~anpr_client.soap.binding.Binding`, or a client whose binding is used).

    - ``prepared`` (never sent, or every attempt certainly undelivered): settled
      ``failed_not_delivered`` with resolution ``abandoned`` — nothing reached ANPR, and
      sending it now could duplicate whatever the user did after the failure;
    - ``sending`` / ``outcome_unknown``: with ``lookup`` (default: ``[retry] reconcile``) asked
      to 3003 first; then resent with the same id and testata, so ANPR replays its stored
      answer if it has one, or applies it now (exactly once) if it never got it.

    An operation a live process is still sending is refused (:class:`JournalError`) unless
    ``force``. The binding must be set up for the same Comune and environment.
    """
    binding = _binding(exchange)
    settings = binding.settings
    op = binding.operation(record.operation)
    policy = policy or RetryPolicy.from_settings(settings.retry)
    if record.settled:
        return Resolution(record)
    if settings.codice_istat != record.comune:
        raise JournalError(
            f"operation {record.id_operazione_comune} belongs to Comune {record.comune}; this "
            f"client is set up for {settings.codice_istat}",
            id_operazione_comune=record.id_operazione_comune,
        )
    _check_url(record, settings.url_for(op.family))
    run = _Run(binding, journal, op, record, policy, sleep, rng, resolving=True, lookup=lookup)
    run.record = journal.claim(record.key, lease=run.lease, force=force)
    if run.record.settled:
        return Resolution(run.record)
    if run.record.state is State.PREPARED:
        abandoned = _settlement(
            State.FAILED_NOT_DELIVERED,
            "not_applied",
            "abandoned",
            error="never reached ANPR; resolve does not send it for the first time",
        )
        return Resolution(journal.settle(record.key, abandoned))
    try:
        result = run.run(None)
    except JournalError:
        raise
    except AnprError as exc:
        return Resolution(journal.get_by_key(record.key) or run.record, error=exc)
    return Resolution(journal.get_by_key(record.key) or run.record, result=result)
