"""The simulator's SQLite database: one connection, one lock, explicit transactions.

The registry (:mod:`.store`), the operation ledger (:mod:`.ledger`) and the notification
outbox (:mod:`.notifications`) share one database, so an operation's effects, its recorded
answer and the notifications it produces commit together or not at all.

A file database runs in WAL mode; ``None`` keeps everything in memory (tests). All access goes
through :meth:`Database.transaction` (writes) or :meth:`Database.read` (reads), both holding
one re-entrant lock: SQLite serialises writers anyway, and the simulator's statements take
microseconds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["Database"]

_SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS comuni (
    istat TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    province TEXT NOT NULL,
    cadastral TEXT NOT NULL,
    subentrato INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS families (
    id TEXT PRIMARY KEY,
    comune TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- '1' famiglia, '2' convivenza (tipoScheda)
    origin_date TEXT,
    address_kind TEXT NOT NULL,         -- tipoIndirizzo
    cap TEXT, street_kind TEXT, street_name TEXT, house_number TEXT,
    since TEXT,                         -- dataDecorrenzaResidenza
    active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS families_comune ON families (comune, active);
CREATE TABLE IF NOT EXISTS persons (
    id TEXT PRIMARY KEY,                -- idSchedaSoggettoANPR
    id_anpr TEXT NOT NULL UNIQUE,       -- identificativi/idANPR
    cf TEXT NOT NULL UNIQUE,
    surname TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    birth_comune TEXT,                  -- ISTAT code, Italian births
    birth_state TEXT,                   -- ANPR state code, births abroad
    birth_place_name TEXT NOT NULL,
    birth_province TEXT,
    citizenship TEXT NOT NULL,          -- ANPR state code (100 = Italy)
    marital_status TEXT,
    status TEXT NOT NULL,               -- resident | deceased | cancelled
    comune TEXT,                        -- the Comune of residence (competence); NULL: none
    family_id TEXT REFERENCES families(id),
    relation TEXT,                      -- codiceLegame
    relation_since TEXT,
    death_date TEXT,
    registered_by TEXT,                 -- idOperazioneANPR that registered the person
    updated_by TEXT
);
CREATE INDEX IF NOT EXISTS persons_comune ON persons (comune, status);
CREATE INDEX IF NOT EXISTS persons_family ON persons (family_id);
CREATE INDEX IF NOT EXISTS persons_name ON persons (surname, name);
CREATE TABLE IF NOT EXISTS residences (
    person_id TEXT NOT NULL REFERENCES persons(id),
    comune TEXT NOT NULL,
    family_id TEXT,
    since TEXT NOT NULL,
    until TEXT,
    reason TEXT NOT NULL,               -- seed | birth | registration | change | transfer
    operation TEXT                      -- idOperazioneANPR
);
CREATE INDEX IF NOT EXISTS residences_person ON residences (person_id);
CREATE TABLE IF NOT EXISTS certificates (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL,
    comune TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- tipoCertificato
    operation TEXT NOT NULL,            -- idOperazioneANPR
    issued_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL
);
-- The registry's AIRE, convivenze, procedures, sections and change log (services 1000, 2000,
-- A000): tables of their own, so a state directory of an earlier version opens unchanged.
CREATE TABLE IF NOT EXISTS foreign_addresses (   -- a famiglia AIRE's residence abroad
    family_id TEXT PRIMARY KEY REFERENCES families(id),
    state TEXT NOT NULL,                -- codiceStato
    locality TEXT NOT NULL,             -- descrizioneLocalita
    province TEXT,                      -- provinciaContea
    consulate TEXT NOT NULL,            -- codiceConsolato
    consulate_name TEXT NOT NULL        -- descrizioneConsolato
);
CREATE TABLE IF NOT EXISTS cohabitations (       -- a convivenza's own data (1010)
    family_id TEXT PRIMARY KEY REFERENCES families(id),
    name TEXT,                          -- denominazioneConvivenza
    species TEXT,                       -- specieConvivenza
    responsible TEXT,                   -- codice fiscale of the tutoreIntestatario
    archived TEXT                       -- dataDecorrenzaArchiviazione (2009)
);
CREATE TABLE IF NOT EXISTS aire (                -- a person's AIRE registration (A001, A002, A006)
    person_id TEXT PRIMARY KEY REFERENCES persons(id),
    reason TEXT, initiative TEXT, criterion TEXT,
    since TEXT NOT NULL,
    notes TEXT                          -- JSON object of the notes of the "other" codes
);
CREATE TABLE IF NOT EXISTS procedures (          -- administrative procedures (1014)
    id TEXT PRIMARY KEY,                -- numeroPraticaAnpr
    comune TEXT NOT NULL,
    number TEXT NOT NULL,               -- numeroPraticaComune
    trigger TEXT,                       -- motivoAvvio
    state TEXT NOT NULL,                -- statoProcedimento
    state_date TEXT NOT NULL,
    opened TEXT NOT NULL,
    closed TEXT,
    outcome TEXT,                       -- esitoChiusura
    subjects TEXT NOT NULL DEFAULT '[]', -- JSON list of idSchedaSoggettoANPR
    UNIQUE (comune, number)
);
CREATE TABLE IF NOT EXISTS electoral_sections (  -- a Comune's electoral sections (2012)
    comune TEXT NOT NULL,
    number TEXT NOT NULL,               -- sezioneelettoralenum
    description TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (comune, number)
);
CREATE TABLE IF NOT EXISTS procedure_kinds (     -- the tipoOperazione of a procedure's last 1014
    procedure_id TEXT PRIMARY KEY REFERENCES procedures(id),
    kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS electoral_section_data (  -- a section as 5011 sent it (3008)
    comune TEXT NOT NULL,
    number TEXT NOT NULL,
    data TEXT NOT NULL,                 -- the decoded tipoListaSezioni5011, as JSON
    PRIMARY KEY (comune, number)
);
CREATE TABLE IF NOT EXISTS changes (             -- what each operation changed (1013, 2011)
    seq INTEGER PRIMARY KEY,
    operation TEXT NOT NULL,            -- the idOperazioneANPR that changed the row
    kind TEXT NOT NULL,                 -- person | family
    key TEXT NOT NULL,                  -- its id
    before TEXT,                        -- JSON of the rows before; NULL: created by it
    undone_by TEXT                      -- the idOperazioneANPR of the annulment
);
CREATE INDEX IF NOT EXISTS changes_operation ON changes (operation);
CREATE INDEX IF NOT EXISTS changes_row ON changes (kind, key, seq);
CREATE TABLE IF NOT EXISTS operations (
    id_anpr TEXT PRIMARY KEY,           -- idOperazioneANPR
    comune TEXT NOT NULL,
    id_comune TEXT NOT NULL,            -- idOperazioneComune
    service TEXT NOT NULL,              -- operazioneRichiesta (3002, 5005, TestConn…)
    outcome TEXT NOT NULL,              -- ok | ko
    esito TEXT NOT NULL,                -- esitoOperazione (0000 | XXXX)
    received_at TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    request BLOB NOT NULL,              -- the request body element (XML)
    response_xml BLOB NOT NULL,         -- the answer element, attachments inline (3003)
    response_body BLOB NOT NULL,        -- the HTTP body as first sent (replayed byte for byte)
    response_type TEXT NOT NULL,        -- its Content-Type
    applied INTEGER NOT NULL,           -- times the operation was executed (1)
    protocollo TEXT,
    UNIQUE (comune, id_comune)
);
CREATE INDEX IF NOT EXISTS operations_time ON operations (comune, completed_at);
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,                -- idNotifica = testataNotifica/idOperazioneANPR
    kind TEXT NOT NULL,                 -- N010…
    recipient TEXT NOT NULL,            -- codDestinatario (ISTAT)
    operation TEXT NOT NULL,            -- the idOperazioneANPR that caused it
    person_id TEXT,
    created_at TEXT NOT NULL,
    payload BLOB NOT NULL,              -- the Notifica element (XML, not encrypted)
    state TEXT NOT NULL,                -- pending | delivered | failed | no-endpoint
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    consumed INTEGER NOT NULL DEFAULT 0 -- taken in charge (pushed with esito 1, or pulled)
);
CREATE INDEX IF NOT EXISTS notifications_recipient ON notifications (recipient, created_at);
CREATE TABLE IF NOT EXISTS endpoints (
    istat TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    ca_bundle TEXT
);
CREATE TABLE IF NOT EXISTS extractions (
    id_anpr TEXT PRIMARY KEY,           -- the elaborazione's idOperazioneANPR
    comune TEXT NOT NULL,
    ready_at TEXT NOT NULL,             -- dataDisponibilita
    request BLOB NOT NULL,              -- the criteria (JSON)
    results TEXT                        -- the ids found, fixed at the first read (JSON)
);
CREATE TABLE IF NOT EXISTS files (      -- files ANPR produces for a Comune (4001-4004), for 7002
    id_anpr TEXT PRIMARY KEY,           -- the idOperazioneANPR of the request that produced it
    comune TEXT NOT NULL,
    service TEXT NOT NULL,              -- 4001...
    ready_at TEXT NOT NULL,             -- when the elaboration is over
    format TEXT NOT NULL,               -- formato, as 7002 answers it (.xml)
    content BLOB                        -- NULL: the elaboration produced nothing
);
"""


class Database:
    """A SQLite database shared by the simulator's components. Thread-safe."""

    def __init__(self, path: Path | None):
        self.path = path
        target = ":memory:" if path is None else str(path)
        self._conn = sqlite3.connect(
            target, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                (str(_SCHEMA_VERSION),),
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (under the lock, so no writer interleaves)."""
        with self._lock:
            yield self._conn

    def next_value(self, name: str, start: int) -> int:
        """The next value of the named sequence (the first is ``start``)."""
        return self.reserve(name, start, 1)

    def reserve(self, name: str, start: int, count: int) -> int:
        """Reserve ``count`` values of the named sequence; returns the first of them."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO sequences (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + ? RETURNING value",
                (name, start + count - 1, count),
            ).fetchone()
            return int(row[0]) - count + 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"Database({'memory' if self.path is None else str(self.path)!r})"
