"""Helpers of the two-backend journal fixtures (``conftest.py``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from anpr_client.journal import Journal, PostgresJournal, SqlJournal

MakeJournal = Callable[..., SqlJournal]
Raw = Callable[..., list[tuple[Any, ...]]]


def raw_sql(journal: SqlJournal, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``?`` placeholders) on a connection of its own, committed; its rows."""
    if isinstance(journal, Journal):
        with sqlite3.connect(journal.path) as db:
            found = db.execute(sql, args)
            return [tuple(r) for r in found.fetchall()] if found.description else []
    assert isinstance(journal, PostgresJournal)
    import psycopg

    with psycopg.connect(journal.url, autocommit=True) as db:
        cur = db.execute(journal._sql(sql), args)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []
