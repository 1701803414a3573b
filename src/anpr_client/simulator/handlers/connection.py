"""TestConn: the connectivity test. Passing the gateway is the test; the answer is the testata."""

from __future__ import annotations

from .base import Context, Outcome, Request

__all__ = ["test_connection"]


def test_connection(ctx: Context, req: Request) -> Outcome:
    """Answer ``RispostaConnessione`` with ``testataRisposta`` (esito 0000)."""
    return Outcome(branch=None)
