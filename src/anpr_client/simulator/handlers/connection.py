"""TestConn: the connectivity test. Passing the gateway is the test; the answer is the testata."""

from __future__ import annotations

from .base import Context, OkAnswer, Request

__all__ = ["test_connection"]


def test_connection(ctx: Context, req: Request) -> OkAnswer:
    """Answer ``RispostaConnessione`` with ``testataRisposta`` (esito 0000)."""
    return OkAnswer(branch=None)
