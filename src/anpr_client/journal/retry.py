"""The retry policy: what each failure means for the operation, and how long to wait.

=================================  ==================  ==========================================
what happened                      :class:`Disposition`  what the journaled call does
=================================  ==================  ==========================================
a local failure: the settings or   FAILED_LOCALLY      final, never retried: recorded as not
keys cannot be used (a missing CA                      delivered (nothing left the machine)
bundle, an unreadable key), or the
server's certificate does not
verify against ``ca_bundle``
any failure before the request's   NOT_DELIVERED       resend (same id and testata: nothing
last byte was written: refused,                        reached ANPR)
TLS handshake, timeouts, a break
while writing (``delivered`` is
``False``)
any failure after it: read         OUTCOME_UNKNOWN     resend with the **same** id and testata
timeout, connection lost, TLS                          (ANPR replays its stored answer), or
error after sending, an answer                         first look it up with 3003 (``reconcile``)
over the limits or unreadable,
5xx, "(from server)" fault, an
answer that does not echo the
request
EN148 on a resend                  IN_PROGRESS         the first request is still running at
                                                       ANPR: wait, then resend
ANPR answered KO                   REJECTED            final: recorded and raised
gateway fault "(from client)",     REFUSED             final: not applied; recorded and raised
HTTP 4xx
=================================  ==================  ==========================================

The transport decides ``delivered`` by the stage the attempt had reached
(:class:`anpr_client.transport.Stage`), never by the kind of failure: a TLS error while the
answer is read is as unknown as a reset.

A new id is never allocated for the same logical operation. Attempts are bounded
(``max_attempts`` sends) and spaced by exponential backoff with jitter: the n-th wait is
``min(max_backoff, backoff·2ⁿ⁻¹)`` scaled by a random factor in [0.5, 1].
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..errors.exceptions import (
    AnprRejected,
    CertificateVerificationError,
    ConfigurationError,
    CredentialError,
    HTTPStatusError,
    OperationNotAllowedError,
    SoapFault,
    TransportError,
)
from ..settings import RetrySettings

__all__ = ["Disposition", "RetryPolicy", "classify"]


class Disposition(enum.Enum):
    FAILED_LOCALLY = "failed_locally"
    """Nothing reached ANPR and sending again cannot help (the settings, the keys, the trust)."""
    NOT_DELIVERED = "not_delivered"
    OUTCOME_UNKNOWN = "outcome_unknown"
    IN_PROGRESS = "in_progress"
    REJECTED = "rejected"
    REFUSED = "refused"


def classify(exc: BaseException, *, resend: bool) -> Disposition:
    """What ``exc``, raised by sending or reading an attempt, means for the operation.

    ``resend`` tells whether the attempt re-sent an id already sent: only then is EN148 "the
    same id is still being processed" (on a first send it is a plain refusal).
    """
    if isinstance(exc, ConfigurationError | CredentialError | CertificateVerificationError):
        # Raised on this machine before the request could leave it (the transport is made,
        # its CA bundle read and the server's certificate verified before the first byte).
        return Disposition.FAILED_LOCALLY
    if isinstance(exc, TransportError) and exc.delivered is False:
        return Disposition.NOT_DELIVERED
    if getattr(exc, "outcome_unknown", False):
        return Disposition.OUTCOME_UNKNOWN
    if isinstance(exc, OperationNotAllowedError) and resend:
        return Disposition.IN_PROGRESS
    if isinstance(exc, AnprRejected):
        return Disposition.REJECTED
    if isinstance(exc, SoapFault):
        return Disposition.REFUSED
    if isinstance(exc, HTTPStatusError) and exc.status < 500:
        return Disposition.REFUSED
    # Anything else after the bytes may have left (an unreadable answer, a failed response
    # check, an interruption, a bug): we cannot know what ANPR did.
    return Disposition.OUTCOME_UNKNOWN


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and pacing of the journaled call (from ``[retry]`` in the settings).

    :param max_attempts: sends per call, the first included (≥ 1).
    :param backoff: the first wait in seconds; doubled after each attempt.
    :param max_backoff: the longest wait.
    :param reconcile: on an unknown outcome, look the operation up with 3003 before resending
        (for operations 3003 knows: registrations, changes, certificates — not consultations).
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    reconcile: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigurationError(
                f"setting 'retry.max_attempts' = {self.max_attempts!r} must be at least 1",
                setting="retry.max_attempts",
                rule=">= 1",
            )
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError(
                "settings 'retry.backoff' and 'retry.max_backoff' must not be negative",
                setting="retry.backoff",
                rule=">= 0",
            )

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            reconcile=settings.reconcile,
        )

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based), jitter included."""
        base = min(self.max_backoff, self.backoff * 2.0 ** max(0, attempt - 1))
        return float(base * (0.5 + rng() / 2))

    def total_wait(self) -> float:
        """The longest time all waits of one call can take (for leases)."""
        return float(
            sum(
                min(self.max_backoff, self.backoff * 2.0 ** (n - 1))
                for n in range(1, self.max_attempts + 1)
            )
        )
