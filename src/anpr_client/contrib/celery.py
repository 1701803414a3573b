"""ANPR calls as Celery tasks: a task delivered twice, or retried after its worker died
mid-call, sends one operation.

The rule that makes it safe: the ``idOperazioneComune`` is taken from the Comune's journal
*before* the task is queued, and travels in the task's arguments (:func:`enqueue`). Every run
of the task — the first, a redelivery, a retry after the worker was killed — then calls with
that same id, and the journal (:mod:`anpr_client.journal.reliable`) continues the one
operation it names: a settled operation returns its recorded answer without sending anything;
one whose sender died is taken over and resent with the same id and testata, so ANPR replays
its first answer instead of applying it twice; one another live worker is sending right now
is refused with :class:`~anpr_client.errors.OperationHeld`, and the task retries later.

>>> app = Celery("registry", broker="redis://localhost:6379/0")         # doctest: +SKIP
>>> call = register_call_task(app, registry)                            # doctest: +SKIP
>>> enqueue(call, registry, "058091", "5005", payload)                  # doctest: +SKIP

The task is registered with ``acks_late`` and ``reject_on_worker_lost``: a message is
acknowledged only once the call has ended, so the broker delivers again a task whose worker
died (with Redis, after the ``visibility_timeout`` of ``broker_transport_options``). Celery is
imported by the caller's code, never by this module: ``pip install celery[redis]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors.exceptions import (
    AnprError,
    ConfigurationError,
    JournalUnavailable,
    OperationHeld,
    OutcomeUnknown,
)

if TYPE_CHECKING:
    from ..multi import ComuneRegistry
    from ..results import Result

__all__ = ["DEFAULT_TASK_NAME", "Queued", "answer_summary", "enqueue", "register_call_task"]

DEFAULT_TASK_NAME: Final = "anpr_client.call"


@dataclass(frozen=True)
class Queued:
    """A queued call: its journal id (``anpr journal show ID``) and Celery's ``AsyncResult``."""

    id_operazione_comune: str
    result: Any


def answer_summary(result: Result[Any]) -> dict[str, Any]:
    """What the task returns (JSON, for any result backend): the operation's identifiers and
    outcome. The whole answer stays in the journal (``anpr journal show ID``)."""
    return {
        "operation": result.operation,
        "idOperazioneComune": result.id_operazione_comune,
        "idOperazioneANPR": result.id_operazione_anpr,
        "outcome": result.outcome,
    }


def register_call_task(
    app: Any,
    registry: ComuneRegistry,
    *,
    name: str = DEFAULT_TASK_NAME,
    retry_delay: float = 10.0,
    max_retries: int = 30,
) -> Any:
    """Register on the Celery ``app`` the task that calls ANPR for one of ``registry``'s
    Comuni with the ``idOperazioneComune`` :func:`enqueue` took; return the task.

    The task is ``task(comune, operation, payload, id_operazione_comune, desk=None,
    operator=None)`` and returns :func:`answer_summary`. It retries (after ``retry_delay``
    seconds, at most ``max_retries`` times) when another worker is sending the same operation
    (:class:`~anpr_client.errors.OperationHeld`), when the journal's database failed
    (:class:`~anpr_client.errors.JournalUnavailable`) or when the outcome stayed unknown after
    the client's own attempts: each retry continues the same operation, it never starts
    another. An answer KO (:class:`~anpr_client.errors.AnprRejected`), or a journal refusal
    that a retry cannot change (the id used for another request), fails the task at once.
    """

    @app.task(  # type: ignore[untyped-decorator]  # Celery is untyped
        name=name,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=max_retries,
    )
    def call(
        task: Any,
        comune: str,
        operation: str,
        payload: Mapping[str, Any] | None,
        id_operazione_comune: str,
        desk: str | None = None,
        operator: str | None = None,
    ) -> dict[str, Any]:
        try:
            with registry.use(comune, desk=desk, operator=operator) as client:
                if client.journal is None:
                    raise _no_journal(comune)
                result = client.call(
                    operation, payload, header={"idOperazioneComune": id_operazione_comune}
                )
        except AnprError as exc:
            if not isinstance(exc, OperationHeld | JournalUnavailable | OutcomeUnknown):
                raise  # a KO, a refusal, an id reused: retrying would get the same answer
            raise task.retry(exc=exc, countdown=retry_delay) from None
        return answer_summary(result)

    return call


def enqueue(
    task: Any,
    registry: ComuneRegistry,
    comune: str,
    operation: str,
    payload: Mapping[str, Any] | None = None,
    *,
    desk: str | None = None,
    operator: str | None = None,
    **options: Any,
) -> Queued:
    """Take the ``idOperazioneComune`` of a new operation from ``comune``'s journal and queue
    ``task`` (from :func:`register_call_task`) with it; return both (:class:`Queued`).
    ``options`` go to ``apply_async`` (``countdown``, ``queue``…).

    The id is recorded as taken before the task exists, so no other call gets it; queue the
    same operation twice and it is two operations: call this once per operation you mean.
    """
    with registry.use(comune) as client:
        if client.journal is None:
            raise _no_journal(comune)
        id_operazione_comune = client.journal.allocate_id(comune)
    result = task.apply_async(
        args=(comune, operation, dict(payload or {}), id_operazione_comune),
        kwargs={"desk": desk, "operator": operator},
        **options,
    )
    return Queued(id_operazione_comune, result)


def _no_journal(comune: str) -> ConfigurationError:
    return ConfigurationError(
        f"Comune {comune}'s settings switch the journal off: a task cannot be retried safely "
        "without it",
        setting="journal",
        rule="a journal, shared by the workers",
    )
