"""The registry's change log: the rows each operation changed, as they were before it.

ANPR annuls a registration (1013) or a cancellation (2011) by restoring the position that the
operation changed. So, before an operation first changes a person or a household,
:func:`remember` keeps the row as it was, together with the rows that belong to it (a person's
residences and AIRE registration, a household's address abroad and convivenza data), or
``NULL`` when the operation creates it. :func:`undo` writes those images back, newest first, and
marks the operation's entries as undone by the annulment.

ANPR annuls an operation only while it is the last one on every person and household it moved
(EN077, italia/anpr#1766, #815, #1182), and answers an operation already annulled the same way
(italia/anpr#585): :func:`later_changes` lists the entries of other operations, not undone,
that came after. Operations without an ``idOperazioneANPR`` (the seed population) are not
logged. Every function runs on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["Change", "Kind", "changes_of", "later_changes", "remember", "undo"]

Kind = Literal["person", "family"]

# kind → (its table and key column, the tables of rows that belong to it and their key column)
_TABLES: Final[dict[str, tuple[tuple[str, str], tuple[tuple[str, str], ...]]]] = {
    "person": (("persons", "id"), (("residences", "person_id"), ("aire", "person_id"))),
    "family": (
        ("families", "id"),
        (("foreign_addresses", "family_id"), ("cohabitations", "family_id")),
    ),
}


@dataclass(frozen=True)
class Change:
    """One row an operation changed."""

    seq: int
    operation: str
    """The ``idOperazioneANPR`` that changed it."""
    kind: str
    """``person`` or ``family``."""
    key: str
    """The person's ``idSchedaSoggettoANPR`` or the household's ``idFamigliaConvivenzaANPR``."""
    created: bool
    """The operation created the row (annulling it removes the row)."""
    undone_by: str | None


def _change(row: sqlite3.Row) -> Change:
    return Change(
        seq=int(row["seq"]),
        operation=row["operation"],
        kind=row["kind"],
        key=row["key"],
        created=row["before"] is None,
        undone_by=row["undone_by"],
    )


def _rows(conn: sqlite3.Connection, table: str, column: str, key: str) -> list[dict[str, Any]]:
    found = conn.execute(
        f"SELECT * FROM {table} WHERE {column} = ? ORDER BY rowid",  # noqa: S608 - fixed names
        (key,),
    ).fetchall()
    return [dict(r) for r in found]


def _image(conn: sqlite3.Connection, kind: str, key: str) -> dict[str, list[dict[str, Any]]] | None:
    (table, column), owned = _TABLES[kind]
    rows = _rows(conn, table, column, key)
    if not rows:
        return None
    image = {table: rows}
    for other, other_column in owned:
        image[other] = _rows(conn, other, other_column, key)
    return image


def remember(conn: sqlite3.Connection, operation: str | None, kind: Kind, key: str) -> None:
    """Before ``operation`` first changes the ``kind`` row ``key``, keep the row as it is now
    (nothing if it does not exist yet: the operation creates it)."""
    if operation is None:
        return
    seen = conn.execute(
        "SELECT 1 FROM changes WHERE operation = ? AND kind = ? AND key = ?",
        (operation, kind, key),
    ).fetchone()
    if seen is not None:
        return
    image = _image(conn, kind, key)
    conn.execute(
        "INSERT INTO changes (operation, kind, key, before) VALUES (?, ?, ?, ?)",
        (operation, kind, key, None if image is None else json.dumps(image)),
    )


def changes_of(conn: sqlite3.Connection, operation: str) -> list[Change]:
    """The rows ``operation`` changed, in the order it changed them."""
    found = conn.execute(
        "SELECT * FROM changes WHERE operation = ? ORDER BY seq", (operation,)
    ).fetchall()
    return [_change(r) for r in found]


def changed_columns(conn: sqlite3.Connection, operation: str, kind: Kind, key: str) -> set[str]:
    """The columns of the ``kind`` row ``key`` whose value differs from the one it had before
    ``operation`` (all of them if the operation created the row; none if it did not touch it)."""
    (table, column), _ = _TABLES[kind]
    row = conn.execute(
        "SELECT before FROM changes WHERE operation = ? AND kind = ? AND key = ?",
        (operation, kind, key),
    ).fetchone()
    now = _rows(conn, table, column, key)
    if row is None:
        return set()
    if row["before"] is None:
        return set(now[0]) if now else set()
    (before,) = json.loads(row["before"])[table]
    current = now[0] if now else {}
    return {c for c, v in before.items() if current.get(c) != v}


def later_changes(conn: sqlite3.Connection, operation: str) -> list[Change]:
    """Changes by other operations, not undone, to rows ``operation`` changed, made after it."""
    found = conn.execute(
        "SELECT DISTINCT later.* FROM changes mine JOIN changes later "
        "ON later.kind = mine.kind AND later.key = mine.key AND later.seq > mine.seq "
        "AND later.operation != mine.operation AND later.undone_by IS NULL "
        "WHERE mine.operation = ? ORDER BY later.seq",
        (operation,),
    ).fetchall()
    return [_change(r) for r in found]


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 - our own columns
        tuple(row.values()),
    )


def undo(conn: sqlite3.Connection, operation: str, *, by: str) -> list[Change]:
    """Restore every row ``operation`` changed as it was before and mark its entries undone by
    ``by``; returns the entries restored.

    The rows it changed get their images back first (newest first), then the persons it created
    go, then the households it created (persons refer to their household)."""
    found = conn.execute(
        "SELECT * FROM changes WHERE operation = ? AND undone_by IS NULL ORDER BY seq DESC",
        (operation,),
    ).fetchall()
    for row in found:
        if row["before"] is not None:
            _restore(conn, row["kind"], row["key"], json.loads(row["before"]))
    for kind in ("person", "family"):
        for row in found:
            if row["before"] is None and row["kind"] == kind:
                _delete(conn, kind, row["key"])
    conn.execute(
        "UPDATE changes SET undone_by = ? WHERE operation = ? AND undone_by IS NULL",
        (by, operation),
    )
    return [_change(r) for r in reversed(found)]


def _delete_owned(conn: sqlite3.Connection, kind: str, key: str) -> None:
    for table, column in _TABLES[kind][1]:
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))  # noqa: S608


def _delete(conn: sqlite3.Connection, kind: str, key: str) -> None:
    _delete_owned(conn, kind, key)
    table, column = _TABLES[kind][0]
    conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))  # noqa: S608


def _restore(
    conn: sqlite3.Connection, kind: str, key: str, image: dict[str, list[dict[str, Any]]]
) -> None:
    (table, column), owned = _TABLES[kind]
    (before,) = image[table]
    assignments = ", ".join(f"{c} = ?" for c in before)
    conn.execute(
        f"UPDATE {table} SET {assignments} WHERE {column} = ?",  # noqa: S608 - our own columns
        (*before.values(), key),
    )
    _delete_owned(conn, kind, key)
    for other, _ in owned:
        for row in image.get(other, []):
            _insert(conn, other, row)
