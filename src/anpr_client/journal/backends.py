"""The public entry point to a journal of either backend: :func:`open_journal` takes a SQLite
file (a path) or a PostgreSQL database (a ``postgresql://`` URL). Importing this module
registers both backends; each says which locations it takes (``_accepts``), and
:meth:`SqlJournal.at <anpr_client.journal.sql.SqlJournal.at>` — which the settings, the client
and ``anpr journal`` go through — asks them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final

from .postgresql import PostgresJournal
from .sql import SqlJournal
from .sqlite import Journal

__all__ = ["open_journal"]

_REGISTERED: Final = (Journal, PostgresJournal)
"""The backends :meth:`SqlJournal.at` chooses from (importing them registers them)."""


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
    return SqlJournal.at(location, secret=secret, env=env, create=create)
