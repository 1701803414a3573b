"""The files ANPR produces for a Comune, downloaded with 7002 (*download file*).

An extraction from the registry (4001–4004) is asynchronous on ANPR: the request is answered
with its ``idOperazioneANPR`` only, ANPR elaborates it, and the Comune downloads the result
with 7002 giving that id (italia/anpr#779, #1696, #2982). The simulator elaborates at once,
stores the file here and makes it available ``extraction_delay`` seconds later; a file of
nothing (no subject matched) is stored as ``None``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .clock import utc_iso
from .db import Database

__all__ = ["ProducedFile", "find_file", "pending_file", "store_file"]


@dataclass(frozen=True)
class ProducedFile:
    """A file of an elaboration: who it is for, when it is ready, what it holds."""

    id_anpr: str
    comune: str
    service: str
    ready_at: dt.datetime
    format: str
    content: bytes | None


def store_file(
    db: Database,
    *,
    id_anpr: str,
    comune: str,
    service: str,
    ready_at: dt.datetime,
    format: str,
    content: bytes | None,
) -> None:
    """Record the file the request ``id_anpr`` produced (in the caller's transaction)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO files (id_anpr, comune, service, ready_at, format, content) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (id_anpr, comune, service, utc_iso(ready_at), format, content),
        )


def find_file(db: Database, id_anpr: str) -> ProducedFile | None:
    """The file produced by the request ``id_anpr``, or ``None``."""
    with db.read() as conn:
        row = conn.execute("SELECT * FROM files WHERE id_anpr = ?", (id_anpr,)).fetchone()
    if row is None:
        return None
    return ProducedFile(
        row["id_anpr"],
        row["comune"],
        row["service"],
        dt.datetime.fromisoformat(row["ready_at"]),
        row["format"],
        None if row["content"] is None else bytes(row["content"]),
    )


def pending_file(db: Database, comune: str, service: str, now: dt.datetime) -> str | None:
    """The ``idOperazioneANPR`` of a request of ``service`` by ``comune`` still being
    elaborated at ``now``, or ``None``."""
    with db.read() as conn:
        row = conn.execute(
            "SELECT id_anpr FROM files WHERE comune = ? AND service = ? AND ready_at > ? "
            "ORDER BY ready_at LIMIT 1",
            (comune, service, utc_iso(now)),
        ).fetchone()
    return None if row is None else str(row["id_anpr"])
