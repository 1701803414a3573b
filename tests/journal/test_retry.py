"""The retry policy: classification of every failure, backoff bounds, settings."""

from __future__ import annotations

import pytest

from anpr_client.errors.exceptions import (
    ConfigurationError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    ErrorItem,
    HTTPStatusError,
    InternalErrorFromClient,
    NotFoundError,
    OperationNotAllowedError,
    ProtocolError,
    ReadTimeout,
    RejectedByPolicy,
    ServerFault,
    ServerUnavailable,
    ServiceUnavailableError,
    TLSError,
)
from anpr_client.journal import Disposition, RetryPolicy, classify
from anpr_client.settings import RetrySettings


def _ko(cls: type, code: str) -> Exception:
    return cls([ErrorItem(code, "E", "text")], operation="5005")  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("exc", "first", "resend"),
    [
        (ConnectError("x"), Disposition.NOT_DELIVERED, Disposition.NOT_DELIVERED),
        (TLSError("x"), Disposition.NOT_DELIVERED, Disposition.NOT_DELIVERED),
        (ConnectTimeout("x"), Disposition.NOT_DELIVERED, Disposition.NOT_DELIVERED),
        (ReadTimeout("x"), Disposition.OUTCOME_UNKNOWN, Disposition.OUTCOME_UNKNOWN),
        (ConnectionLost("x"), Disposition.OUTCOME_UNKNOWN, Disposition.OUTCOME_UNKNOWN),
        (
            ServerUnavailable("x", status=503),
            Disposition.OUTCOME_UNKNOWN,
            Disposition.OUTCOME_UNKNOWN,
        ),
        (
            ServerFault("Internal Error (from server)"),
            Disposition.OUTCOME_UNKNOWN,
            Disposition.OUTCOME_UNKNOWN,
        ),
        (ProtocolError("not xml"), Disposition.OUTCOME_UNKNOWN, Disposition.OUTCOME_UNKNOWN),
        (RuntimeError("a bug"), Disposition.OUTCOME_UNKNOWN, Disposition.OUTCOME_UNKNOWN),
        (HTTPStatusError("x", status=404), Disposition.REFUSED, Disposition.REFUSED),
        (RejectedByPolicy("Rejected by policy"), Disposition.REFUSED, Disposition.REFUSED),
        (InternalErrorFromClient("Internal Error"), Disposition.REFUSED, Disposition.REFUSED),
        (
            _ko(OperationNotAllowedError, "EN148"),
            Disposition.REJECTED,
            Disposition.IN_PROGRESS,
        ),
        (_ko(NotFoundError, "EN122"), Disposition.REJECTED, Disposition.REJECTED),
        (_ko(ServiceUnavailableError, "998"), Disposition.REJECTED, Disposition.REJECTED),
    ],
)
def test_classify(exc: Exception, first: Disposition, resend: Disposition) -> None:
    assert classify(exc, resend=False) is first
    assert classify(exc, resend=True) is resend


def test_backoff_doubles_with_bounded_jitter() -> None:
    policy = RetryPolicy(max_attempts=6, backoff=0.5, max_backoff=3.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert [policy.delay(n, lambda: 0.0) for n in range(1, 4)] == [0.25, 0.5, 1.0]
    assert policy.total_wait() == 0.5 + 1 + 2 + 3 + 3 + 3


def test_policy_from_settings() -> None:
    policy = RetryPolicy.from_settings(
        RetrySettings(max_attempts=2, backoff=1.0, max_backoff=5.0, reconcile=True)
    )
    assert policy == RetryPolicy(2, 1.0, 5.0, True)
    with pytest.raises(ConfigurationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError, match="negative"):
        RetryPolicy(backoff=-1)
