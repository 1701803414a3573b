"""Which journal a location names: a SQLite file (a path) or a PostgreSQL database (a
``postgresql://`` URL). The one place that chooses; settings, client and ``anpr journal``
all go through :func:`open_journal`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ..settings import is_database_url
from .sql import SqlJournal

__all__ = ["open_journal"]


def open_journal(
    location: str | os.PathLike[str],
    *,
    secret: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
    create: bool = True,
) -> SqlJournal:
    """The journal at ``location``: :class:`~anpr_client.journal.postgresql.PostgresJournal`
    for a ``postgresql://`` URL, else the SQLite :class:`~anpr_client.journal.sqlite.Journal`
    at that path; with its key and marks as ``Journal.open`` finds them.

    :param location: a path, or a database URL.
    :param secret: asked for the key of an encrypted journal when ``$ANPR_JOURNAL_KEY`` is
        not set.
    :param env: the environment to read (default: ``os.environ``).
    :param create: ``False``: a missing journal is an error instead of a new one.
    """
    if is_database_url(location):
        from .postgresql import PostgresJournal

        return PostgresJournal.open(str(location), secret=secret, env=env, create=create)
    from .sqlite import Journal

    return Journal.open(Path(location), secret=secret, env=env, create=create)
