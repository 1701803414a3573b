"""The journal suites run against both backends: ``make_journal`` opens a SQLite file or a
PostgreSQL schema of the session's ephemeral cluster (``postgres``, see ``tests/postgres.py``),
and ``raw`` changes a journal's tables behind its back, as a damaged store or another
program would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.journal import Journal, PostgresJournal, SqlJournal
from tests.journal.stores import MakeJournal, Raw, raw_sql

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_journal(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MakeJournal]:
    """``make_journal(name="journal", **options)``: the journal called ``name`` of this test
    (the same name opens the same store again)."""
    urls: dict[str, str] = {}
    lock = threading.Lock()  # threads of one test open one store per name
    opened: list[SqlJournal] = []
    cluster = request.getfixturevalue("postgres") if backend == "postgresql" else None

    def make(name: str = "journal", **options: Any) -> SqlJournal:
        journal: SqlJournal
        if cluster is None:
            journal = Journal(tmp_path / f"{name}.sqlite", **options)
        else:
            with lock:
                if name not in urls:
                    urls[name] = cluster.fresh_url(name)
            journal = PostgresJournal(urls[name], **options)
        with lock:
            opened.append(journal)
        return journal

    yield make
    for journal in opened:
        journal.close()


@pytest.fixture
def location(make_journal: MakeJournal) -> Callable[[str], str]:
    """``location(name)``: what settings or ``ANPR_JOURNAL`` would say for that journal."""

    def where(name: str = "journal") -> str:
        journal = make_journal(name, id_marks=False)
        journal.close()
        if isinstance(journal, Journal):
            return journal.path.as_posix()
        assert isinstance(journal, PostgresJournal)
        return journal.url

    return where


@pytest.fixture
def raw() -> Raw:
    return raw_sql
