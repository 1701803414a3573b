"""The journaled call: record, send, retry safely, settle; and the resolution of what is left.

:func:`journaled_call` is what :meth:`Client.call <anpr_client.client.Client.call>` runs when the
client has a journal:

1. take an ``idOperazioneComune`` from the journal (unless the caller gave one), build and sign
   the request, record it (``prepared``);
2. record the attempt with its exact envelope (``sending``, flushed to disk), then send it;
3. read the answer and apply :mod:`.retry`: an OK answer settles ``answered``, a KO answer
   ``rejected`` (raised); a failure that cannot have reached ANPR is retried; an *outcome
   unknown* is resent with the **same id and testata** (re-signed: a fresh Timestamp), so ANPR
   replays its stored first answer — or, with ``reconcile``, looked up first with 3003;
   EN148 on a resend means the first request is still running: wait and resend;
4. when attempts run out, the operation stays ``outcome_unknown`` in the journal and the last
   error is raised with a note naming it; :func:`resolve` (``anpr journal resolve``) settles it
   later.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from lxml import etree
from requests.structures import CaseInsensitiveDict

from ..errors.exceptions import AnprError, AnprRejected, JournalError, NotFoundError
from ..results import PreparedRequest, Result
from ..safexml import NS, parse_xml
from ..soap.bundle import Operation
from ..soap.envelope import CONTENT_TYPE, read_answer
from ..soap.testata import build_header
from ..transport import HttpResponse
from .retry import Disposition, RetryPolicy, classify
from .store import AttemptEnd, AttemptState, Journal, OperationRecord, Settlement, State

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["LOOKUP_FAMILIES_EXCLUDED", "Resolution", "journaled_call", "lookupable", "resolve"]

LOOKUP_FAMILIES_EXCLUDED: Final = frozenset(
    {"3000", "4000", "7001", "E001", "E002", "E003", "E004", "TestConn", "N000"}
)
"""Families whose operations 3003 does not return (consultations, extractions, tables)."""

_LEASE_MARGIN: Final = 30.0
_ANSWER_TYPE: Final = "application/xml"
"""``response_type`` of an answer taken from 3003's ``xmlRisposta`` (no SOAP envelope)."""

Sleep = Callable[[float], None]


def lookupable(operation: Operation) -> bool:
    """Whether 3003 can tell the outcome of ``operation`` (registrations, changes,
    certificates: operations with an effect on the registry)."""
    return operation.family not in LOOKUP_FAMILIES_EXCLUDED


def _id_key(header: Mapping[str, Any]) -> str:
    return "idOperazioneClient" if "idOperazioneClient" in header else "idOperazioneComune"


def _explicit_id(payload: Any, header: Mapping[str, Any] | None) -> str | None:
    for source in (header, _payload_testata(payload)):
        if source is None:
            continue
        for name in ("idOperazioneComune", "idOperazioneClient"):
            value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
            if value:
                return str(value)
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
    return HttpResponse(200, CaseInsensitiveDict({"Content-Type": CONTENT_TYPE}), xml)


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
        client: Client,
        journal: Journal,
        op: Operation,
        record: OperationRecord,
        policy: RetryPolicy,
        *,
        resolving: bool,
        lookup: bool,
        sleep: Sleep,
        rng: Callable[[], float],
    ):
        self.client = client
        self.journal = journal
        self.op = op
        self.record = record
        self.key = record.key
        self.policy = policy
        self.resolving = resolving
        self.lookup = lookup and lookupable(op)
        self.sleep = sleep
        self.rng = rng
        timeouts = client.settings.timeouts
        self.lease = timeouts.connect + timeouts.read + policy.max_backoff + _LEASE_MARGIN

    # ------------------------------------------------------------------ settling

    def _settled_state(self, ok: bool) -> State:
        if self.resolving:
            return State.RESOLVED
        return State.ANSWERED if ok else State.REJECTED

    def _ok(self, result: Result[dict[str, Any]], body: bytes, ctype: str, how: str) -> Settlement:
        return Settlement(
            state=self._settled_state(True),
            outcome="ok",
            resolution=how,
            id_operazione_anpr=result.id_operazione_anpr,
            esito=result.esito_operazione,
            response=body,
            response_type=ctype,
            error_codes=tuple(w.code for w in result.anomalies),
        )

    def _ok_raw(self, body: bytes, ctype: str, response: HttpResponse, how: str) -> Settlement:
        """An OK settlement from the answer's testata alone (no :class:`Result` at hand)."""
        header: dict[str, str] = {}
        try:
            answer = read_answer(response, operation=self.op.code)
        except AnprError:
            answer = None
        if answer is not None:
            testata = next(answer.payload.iter("testataRisposta"), None)
            if testata is not None:
                header = {etree.QName(c).localname: (c.text or "") for c in testata}
        return Settlement(
            state=self._settled_state(True),
            outcome="ok",
            resolution=how,
            id_operazione_anpr=header.get("idOperazioneANPR"),
            esito=header.get("esitoOperazione"),
            response=body,
            response_type=ctype,
        )

    def _ko(self, exc: AnprRejected, body: bytes | None, ctype: str | None, how: str) -> Settlement:
        return Settlement(
            state=self._settled_state(False),
            outcome="ko",
            resolution=how,
            id_operazione_anpr=exc.id_operazione_anpr,
            esito=exc.esito_operazione,
            response=body,
            response_type=ctype,
            error_type=type(exc).__name__,
            error_codes=exc.codes,
            error=str(exc),
        )

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
        generated = build_header(self.client.settings, self.op.header_code)
        header = dict.fromkeys(generated) | dict(record.header)
        prepared = self.client.prepare(self.op, dict(record.payload), header=header)
        if prepared.url != record.url:
            raise JournalError(
                f"operation {record.id_operazione_comune} was sent to {record.url}; the settings "
                f"now point to {prepared.url}. Resolve it with the settings it was sent with",
                id_operazione_comune=record.id_operazione_comune,
            )
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
                response = self.client.transmit(prepared)
                result = self.client.read(self.op, response)
            except Warning as warning:
                if response is None or response.status != 200:
                    raise
                # The answer is OK, but its ANPR warnings were turned into errors by the
                # caller's warning filters: record the truth, then let the warning out.
                how = "replay" if resend else "answer"
                self.journal.end_attempt(
                    self.key,
                    number,
                    AttemptEnd(
                        state="answered",
                        http_status=response.status,
                        response=response.body,
                        response_type=response.content_type,
                        error_type=type(warning).__name__,
                        error=str(warning),
                    ),
                    elapsed=time.monotonic() - started,
                    settle=self._ok_raw(response.body, response.content_type, response, how),
                )
                raise
            except BaseException as exc:
                elapsed = time.monotonic() - started
                disposition = (
                    classify(exc, resend=resend)
                    if isinstance(exc, Exception)
                    else Disposition.OUTCOME_UNKNOWN
                )
                end = _attempt_end(disposition, exc, response)
                if isinstance(exc, AnprRejected) and disposition is Disposition.REJECTED:
                    how = "replay" if resend else "answer"
                    body = response.body if response is not None else None
                    ctype = response.content_type if response is not None else None
                    self.journal.end_attempt(
                        self.key,
                        number,
                        end,
                        elapsed=elapsed,
                        settle=self._ko(exc, body, ctype, how),
                    )
                    raise
                if disposition is Disposition.REFUSED and not reached:
                    self.journal.end_attempt(
                        self.key,
                        number,
                        end,
                        elapsed=elapsed,
                        settle=Settlement(
                            state=State.FAILED,
                            outcome="not_applied",
                            resolution="answer",
                            error_type=type(exc).__name__,
                            error=str(exc),
                        ),
                    )
                    raise
                self.journal.end_attempt(self.key, number, end, elapsed=elapsed)
                if not isinstance(exc, Exception) or disposition is Disposition.REFUSED:
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
            how = "replay" if resend else "answer"
            self.journal.end_attempt(
                self.key,
                number,
                AttemptEnd(
                    state="answered",
                    http_status=response.status,
                    response=response.body,
                    response_type=response.content_type,
                    error_codes=tuple(w.code for w in result.anomalies),
                ),
                elapsed=elapsed,
                settle=self._ok(result, response.body, response.content_type, how),
            )
            return result
        assert last is not None
        if not reached:
            self.record = self.journal.settle(
                self.key,
                Settlement(
                    state=State.FAILED_NOT_DELIVERED,
                    outcome="not_applied",
                    resolution="answer",
                    error_type=type(last).__name__,
                    error=str(last),
                ),
            )
            raise last
        # Raise what says "may have been applied" (an EN148 answer alone would read as a KO).
        final = last_unknown or last
        self._give_up(final)
        raise final

    def _give_up(self, exc: BaseException) -> None:
        self.journal.release(self.key)
        r = self.record
        exc.add_note(
            f"anpr journal: operation {r.operation} {r.id_operazione_comune} (Comune {r.comune}) "
            f"may have been applied by ANPR; it is recorded as outcome_unknown in "
            f"{self.journal.path}. Settle it with `anpr journal resolve "
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
            prepared = self.client.prepare(
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
            response = self.client.transmit(prepared)
            found = self.client.read("3003", response)
        except NotFoundError as exc:
            self.journal.end_attempt(
                self.key,
                number,
                _attempt_end(Disposition.REJECTED, exc, response, state="not_found"),
                elapsed=time.monotonic() - started,
            )
            return None
        except Exception as exc:
            disposition = classify(exc, resend=False)
            self.journal.end_attempt(
                self.key,
                number,
                _attempt_end(disposition, exc, response),
                elapsed=time.monotonic() - started,
            )
            return None
        elapsed = time.monotonic() - started
        xml = _stored_answer(found.value, record.operation)
        base_end = AttemptEnd(
            state="answered",
            http_status=response.status,
            response=response.body,
            response_type=response.content_type,
        )
        if xml is None:
            self.journal.end_attempt(
                self.key,
                number,
                AttemptEnd(
                    state="in_progress",
                    http_status=response.status,
                    response=response.body,
                    response_type=response.content_type,
                ),
                elapsed=elapsed,
            )
            return None
        try:
            result = self.client.read(self.op, _answer_response(xml))
        except Warning as warning:  # an OK answer whose warnings the caller made errors
            self.journal.end_attempt(
                self.key,
                number,
                base_end,
                elapsed=elapsed,
                settle=self._ok_raw(xml, _ANSWER_TYPE, _answer_response(xml), "lookup"),
            )
            raise warning from None
        except AnprRejected as ko:
            self.journal.end_attempt(
                self.key,
                number,
                base_end,
                elapsed=elapsed,
                settle=self._ko(ko, xml, _ANSWER_TYPE, "lookup"),
            )
            raise
        except AnprError as exc:
            self.journal.end_attempt(
                self.key,
                number,
                AttemptEnd(
                    state="outcome_unknown",
                    http_status=response.status,
                    response=response.body,
                    response_type=response.content_type,
                    error_type=type(exc).__name__,
                    error=f"the stored answer 3003 returned is unreadable: {exc}",
                ),
                elapsed=elapsed,
            )
            return None
        self.journal.end_attempt(
            self.key,
            number,
            base_end,
            elapsed=elapsed,
            settle=self._ok(result, xml, _ANSWER_TYPE, "lookup"),
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
    Disposition.NOT_DELIVERED: "not_delivered",
    Disposition.OUTCOME_UNKNOWN: "outcome_unknown",
    Disposition.IN_PROGRESS: "in_progress",
    Disposition.REJECTED: "rejected",
    Disposition.REFUSED: "refused",
}


def _attempt_end(
    disposition: Disposition,
    exc: BaseException,
    response: HttpResponse | None,
    *,
    state: AttemptState | None = None,
) -> AttemptEnd:
    status = response.status if response is not None else getattr(exc, "status", None)
    return AttemptEnd(
        state=state or _STATES[disposition],
        http_status=status if isinstance(status, int) else None,
        response=response.body if response is not None else None,
        response_type=response.content_type if response is not None else None,
        error_type=type(exc).__name__,
        error_codes=_error_codes(exc),
        error=str(exc) or type(exc).__name__,
    )


# ----------------------------------------------------------------------------- entry points


def journaled_call(
    client: Client,
    journal: Journal,
    operation: str | Operation,
    payload: Mapping[str, Any] | Any = None,
    *,
    header: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    rng: Callable[[], float] = random.random,
) -> Result[dict[str, Any]]:
    """Call ``operation`` through the journal with safe retries (see the module docstring).

    Returns the OK :class:`~anpr_client.results.Result`; raises the KO
    (:class:`~anpr_client.errors.AnprRejected`), a refusal, or — attempts spent — the last
    error (outcome unknown ones carry a note naming the journal entry to resolve).
    """
    op = client.operation(operation)
    policy = policy or RetryPolicy.from_settings(client.settings.retry)
    if "testataRichiesta" not in client.bundle.request_model(op).children:
        # Nothing to key the operation on (N000, a message ANPR sends, not a Comune).
        return client.send(client.prepare(op, payload, header=header))
    comune = client.settings.codice_istat
    overrides = dict(header or {})
    if _explicit_id(payload, overrides) is None:
        overrides["idOperazioneComune"] = journal.allocate_id(comune)
    prepared = client.prepare(op, payload, header=overrides)
    ident = str(prepared.header[_id_key(prepared.header)])
    timeouts = client.settings.timeouts
    lease = timeouts.connect + timeouts.read + policy.max_backoff + _LEASE_MARGIN
    record, created = journal.open_operation(
        comune=comune,
        service=op.family,
        operation=op.code,
        id_operazione_comune=ident,
        url=prepared.url,
        header=prepared.header,
        payload=prepared.payload,
        lease=lease,
        envelope=prepared.envelope,  # a new operation is recorded with its first attempt
    )
    run = _Run(
        client,
        journal,
        op,
        record,
        policy,
        resolving=False,
        lookup=policy.reconcile,
        sleep=sleep,
        rng=rng,
    )
    if created:
        return run.run(prepared, recorded=1)
    # The caller's id names an operation the journal knows: continue it, never duplicate it.
    if record.state in (State.ANSWERED, State.REJECTED, State.RESOLVED):
        return recorded_answer(client, record)
    run.record = journal.claim(record.key, lease=run.lease)
    return run.run(None)


def recorded_answer(client: Client, record: OperationRecord) -> Result[dict[str, Any]]:
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
        headers = CaseInsensitiveDict({"Content-Type": record.response_type or CONTENT_TYPE})
        response = HttpResponse(200, headers, record.response)
    return client.read(record.operation, response)


def resolve(
    client: Client,
    journal: Journal,
    record: OperationRecord,
    *,
    lookup: bool | None = None,
    policy: RetryPolicy | None = None,
    force: bool = False,
    sleep: Sleep = time.sleep,
    rng: Callable[[], float] = random.random,
) -> Resolution:
    """Settle an operation the journal holds unsettled.

    - ``prepared`` (never sent, or every attempt certainly undelivered): settled
      ``failed_not_delivered`` with resolution ``abandoned`` — nothing reached ANPR, and
      sending it now could duplicate whatever the user did after the failure;
    - ``sending`` / ``outcome_unknown``: with ``lookup`` (default: ``[retry] reconcile``) asked
      to 3003 first; then resent with the same id and testata, so ANPR replays its stored
      answer if it has one, or applies it now (exactly once) if it never got it.

    An operation a live process is still sending is refused (:class:`JournalError`) unless
    ``force``. The client must be set up for the same Comune and environment.
    """
    op = client.operation(record.operation)
    policy = policy or RetryPolicy.from_settings(client.settings.retry)
    if record.settled:
        return Resolution(record)
    if client.settings.codice_istat != record.comune:
        raise JournalError(
            f"operation {record.id_operazione_comune} belongs to Comune {record.comune}; this "
            f"client is set up for {client.settings.codice_istat}",
            id_operazione_comune=record.id_operazione_comune,
        )
    url = client.settings.url_for(op.family)
    if url != record.url:
        raise JournalError(
            f"operation {record.id_operazione_comune} was sent to {record.url}; the settings "
            f"now point to {url}. Resolve it with the settings it was sent with",
            id_operazione_comune=record.id_operazione_comune,
        )
    run = _Run(
        client,
        journal,
        op,
        record,
        policy,
        resolving=True,
        lookup=policy.reconcile if lookup is None else lookup,
        sleep=sleep,
        rng=rng,
    )
    run.record = journal.claim(record.key, lease=run.lease, force=force)
    if run.record.settled:
        return Resolution(run.record)
    if run.record.state is State.PREPARED:
        settled = journal.settle(
            record.key,
            Settlement(
                state=State.FAILED_NOT_DELIVERED,
                outcome="not_applied",
                resolution="abandoned",
                error="never reached ANPR; resolve does not send it for the first time",
            ),
        )
        return Resolution(settled)
    try:
        result = run.run(None)
    except JournalError:
        raise
    except AnprError as exc:
        return Resolution(journal.get_by_key(record.key) or run.record, error=exc)
    return Resolution(journal.get_by_key(record.key) or run.record, result=result)
