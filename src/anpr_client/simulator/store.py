"""The simulated registry: Comuni, persons, families (with their address) and residences.

Records are frozen dataclasses read from SQLite (:mod:`.db`); writes happen inside the
operation's transaction, so an operation's effects, its ledger entry and its notifications
commit together. A person *resides* in the Comune of competence ``comune`` (``None`` once
cancelled, e.g. moved abroad) and belongs to a family, whose record holds the address.
Every change of residence closes one :class:`Residence` row and opens another.

For tests::

    sim.store.residents("058091")      # persons living in Roma
    sim.store.person("RSSMRA80A01H501U")
    sim.store.families("015146")
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .db import Database

__all__ = [
    "Address",
    "BirthPlace",
    "Certificate",
    "ComuneInfo",
    "Family",
    "NewPerson",
    "Person",
    "Registry",
    "Residence",
]

ITALY: Final = "100"
"""ANPR's state code of Italy (Tabella 2, Stati esteri)."""

_PERSON_IDS: Final = 300_000_001
_FAMILY_IDS: Final = 500_000_001
_ID_ANPR_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVZ"


@dataclass(frozen=True)
class ComuneInfo:
    istat: str
    name: str
    province: str
    """Province abbreviation (``RM``)."""
    cadastral: str
    """The cadastral code used in codici fiscali (``H501``)."""
    subentrato: bool
    """Whether the Comune is on (the simulated) ANPR."""


@dataclass(frozen=True)
class Address:
    """A residence address in Italy (``tipoIndirizzo`` 1 = residence)."""

    street_kind: str
    """``specie`` of the toponym: ``VIA``, ``PIAZZA``…"""
    street_name: str
    house_number: str
    cap: str
    kind: str = "1"


@dataclass(frozen=True)
class BirthPlace:
    """An Italian Comune (``comune`` ISTAT code) or a foreign state (``state`` code)."""

    name: str
    comune: str | None = None
    province: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Family:
    id: str
    """``idFamigliaConvivenzaANPR``."""
    comune: str
    address: Address
    since: dt.date
    """``dataDecorrenzaResidenza`` of the address."""
    origin_date: dt.date | None
    kind: str = "1"
    """``tipoScheda``: 1 famiglia, 2 convivenza."""
    active: bool = True
    members: tuple[str, ...] = ()
    """Codici fiscali of the current members (head first)."""


@dataclass(frozen=True)
class Person:
    id: str
    """``idSchedaSoggettoANPR`` (numeric)."""
    id_anpr: str
    """``identificativi/idANPR``."""
    codice_fiscale: str
    cognome: str
    nome: str
    sesso: str
    data_nascita: dt.date
    luogo_nascita: BirthPlace
    cittadinanza: str
    """ANPR state code of the citizenship (``100`` Italy)."""
    stato_civile: str | None
    status: str
    """``resident``, ``deceased`` or ``cancelled``."""
    comune: str | None
    """ISTAT code of the Comune of residence; ``None`` when not resident anywhere on ANPR."""
    family_id: str | None
    relation: str | None
    """``codiceLegame`` in the family (1 head, 2 spouse, 3 child…)."""
    relation_since: dt.date | None
    data_decesso: dt.date | None
    registered_by: str | None
    """``idOperazioneANPR`` of the registration (``None`` for the seed population)."""

    @property
    def resident(self) -> bool:
        return self.status == "resident"


@dataclass(frozen=True)
class NewPerson:
    """The data of a person to register."""

    codice_fiscale: str
    cognome: str
    nome: str
    sesso: str
    data_nascita: dt.date
    luogo_nascita: BirthPlace
    cittadinanza: str = ITALY
    stato_civile: str | None = None


@dataclass(frozen=True)
class Residence:
    person_id: str
    comune: str
    family_id: str | None
    since: dt.date
    until: dt.date | None
    reason: str
    """``seed``, ``birth``, ``registration``, ``change`` (same Comune) or ``transfer``."""
    operation: str | None


@dataclass(frozen=True)
class Certificate:
    id: int
    person_id: str
    comune: str
    kind: str
    operation: str
    issued_at: str
    sha256: str
    size: int


def _date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value))


def _person(row: sqlite3.Row) -> Person:
    return Person(
        id=row["id"],
        id_anpr=row["id_anpr"],
        codice_fiscale=row["cf"],
        cognome=row["surname"],
        nome=row["name"],
        sesso=row["sex"],
        data_nascita=dt.date.fromisoformat(row["birth_date"]),
        luogo_nascita=BirthPlace(
            name=row["birth_place_name"],
            comune=row["birth_comune"],
            province=row["birth_province"],
            state=row["birth_state"],
        ),
        cittadinanza=row["citizenship"],
        stato_civile=row["marital_status"],
        status=row["status"],
        comune=row["comune"],
        family_id=row["family_id"],
        relation=row["relation"],
        relation_since=_date(row["relation_since"]),
        data_decesso=_date(row["death_date"]),
        registered_by=row["registered_by"],
    )


class Registry:
    """Read and write the simulated registry. Thread-safe (see :class:`~.db.Database`)."""

    def __init__(self, db: Database):
        self._db = db
        self._comuni: dict[str, ComuneInfo | None] = {}

    # ------------------------------------------------------------------ Comuni

    def add_comune(
        self, istat: str, name: str, province: str, cadastral: str, *, subentrato: bool = True
    ) -> ComuneInfo:
        self._comuni.pop(istat, None)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO comuni (istat, name, province, cadastral, subentrato) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (istat) DO UPDATE SET name = excluded.name, "
                "province = excluded.province, cadastral = excluded.cadastral, "
                "subentrato = excluded.subentrato",
                (istat, name, province, cadastral, int(subentrato)),
            )
        return ComuneInfo(istat, name, province, cadastral, subentrato)

    def comune(self, istat: str) -> ComuneInfo | None:
        if istat in self._comuni:
            return self._comuni[istat]
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM comuni WHERE istat = ?", (istat,)).fetchone()
        info = None
        if row is not None:
            info = ComuneInfo(
                row["istat"],
                row["name"],
                row["province"],
                row["cadastral"],
                bool(row["subentrato"]),
            )
        self._comuni[istat] = info
        return info

    def comuni(self) -> list[ComuneInfo]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT istat FROM comuni ORDER BY istat").fetchall()
        return [c for c in (self.comune(r["istat"]) for r in rows) if c is not None]

    def is_subentrato(self, istat: str) -> bool:
        info = self.comune(istat)
        return info is not None and info.subentrato

    # ------------------------------------------------------------------ reads

    def person(self, codice_fiscale: str) -> Person | None:
        """The person with this codice fiscale (any status), or ``None``."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM persons WHERE cf = ?", (codice_fiscale.strip().upper(),)
            ).fetchone()
        return None if row is None else _person(row)

    def person_by_id(self, person_id: str) -> Person | None:
        """The person with this ``idSchedaSoggettoANPR`` or ``idANPR``."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM persons WHERE id = ? OR id_anpr = ?", (person_id, person_id)
            ).fetchone()
        return None if row is None else _person(row)

    def residents(self, istat: str) -> list[Person]:
        """Persons currently resident in the Comune, by family then relation."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM persons WHERE comune = ? AND status = 'resident' "
                "ORDER BY family_id, CAST(relation AS INTEGER), id",
                (istat,),
            ).fetchall()
        return [_person(r) for r in rows]

    def find(
        self,
        *,
        cognome: str | None = None,
        nome: str | None = None,
        sesso: str | None = None,
        data_nascita: dt.date | None = None,
        comune: str | None = None,
        birth_comune: str | None = None,
        birth_state: str | None = None,
        include_inactive: bool = False,
    ) -> list[Person]:
        """Persons matching every given criterion (names compared case-insensitively)."""
        clauses: list[str] = []
        args: list[Any] = []
        if cognome:
            clauses.append("upper(surname) = upper(?)")
            args.append(cognome.strip())
        if nome:
            clauses.append("upper(name) = upper(?)")
            args.append(nome.strip())
        if sesso:
            clauses.append("sex = ?")
            args.append(sesso)
        if data_nascita:
            clauses.append("birth_date = ?")
            args.append(data_nascita.isoformat())
        if comune:
            clauses.append("comune = ?")
            args.append(comune)
        if birth_comune:
            clauses.append("birth_comune = ?")
            args.append(birth_comune)
        if birth_state:
            clauses.append("birth_state = ?")
            args.append(birth_state)
        if not include_inactive:
            clauses.append("status = 'resident'")
        where = " AND ".join(clauses) or "1 = 1"
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM persons WHERE {where} ORDER BY id",  # noqa: S608 - fixed clauses
                args,
            ).fetchall()
        return [_person(r) for r in rows]

    def family(self, family_id: str) -> Family | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM families WHERE id = ?", (family_id,)).fetchone()
            if row is None:
                return None
            members = conn.execute(
                "SELECT cf FROM persons WHERE family_id = ? AND status = 'resident' "
                "ORDER BY CAST(relation AS INTEGER), id",
                (family_id,),
            ).fetchall()
        return Family(
            id=row["id"],
            comune=row["comune"],
            address=Address(
                street_kind=row["street_kind"] or "",
                street_name=row["street_name"] or "",
                house_number=row["house_number"] or "",
                cap=row["cap"] or "",
                kind=row["address_kind"],
            ),
            since=dt.date.fromisoformat(row["since"]),
            origin_date=_date(row["origin_date"]),
            kind=row["kind"],
            active=bool(row["active"]),
            members=tuple(m["cf"] for m in members),
        )

    def families(self, istat: str) -> list[Family]:
        """The Comune's active families (with at least one resident member)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM families WHERE comune = ? AND active = 1 ORDER BY id", (istat,)
            ).fetchall()
        found = [self.family(r["id"]) for r in rows]
        return [f for f in found if f is not None]

    def members(self, family_id: str) -> list[Person]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM persons WHERE family_id = ? AND status = 'resident' "
                "ORDER BY CAST(relation AS INTEGER), id",
                (family_id,),
            ).fetchall()
        return [_person(r) for r in rows]

    def residences(self, codice_fiscale: str) -> list[Residence]:
        """The person's residence history, oldest first."""
        person = self.person(codice_fiscale)
        if person is None:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM residences WHERE person_id = ? ORDER BY rowid", (person.id,)
            ).fetchall()
        return [
            Residence(
                r["person_id"],
                r["comune"],
                r["family_id"],
                dt.date.fromisoformat(r["since"]),
                _date(r["until"]),
                r["reason"],
                r["operation"],
            )
            for r in rows
        ]

    def certificates(
        self, codice_fiscale: str | None = None, *, comune: str | None = None
    ) -> list[Certificate]:
        """Certificates issued (6001), optionally for one person or by one Comune."""
        clauses, args = [], []
        if codice_fiscale is not None:
            person = self.person(codice_fiscale)
            if person is None:
                return []
            clauses.append("person_id = ?")
            args.append(person.id)
        if comune is not None:
            clauses.append("comune = ?")
            args.append(comune)
        where = " AND ".join(clauses) or "1 = 1"
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM certificates WHERE {where} ORDER BY id",  # noqa: S608
                args,
            ).fetchall()
        return [Certificate(*(r[k] for k in r.keys())) for r in rows]  # noqa: SIM118

    def count_persons(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM persons").fetchone()[0])

    # ------------------------------------------------------------------ ids

    def _new_person_ids(self) -> tuple[str, str]:
        number = self._db.next_value("person", _PERSON_IDS)
        n = number - _PERSON_IDS
        letters = _ID_ANPR_LETTERS
        prefix = letters[(n // 10_000_000) % len(letters)] + letters[(n // 200_000_000) % 20]
        return str(number), f"{prefix}{n % 10_000_000:07d}"

    def _new_family_id(self) -> str:
        return str(self._db.next_value("family", _FAMILY_IDS))

    # ------------------------------------------------------------------ writes

    def create_family(
        self,
        comune: str,
        address: Address,
        *,
        since: dt.date,
        origin_date: dt.date | None = None,
        kind: str = "1",
        family_id: str | None = None,
    ) -> Family:
        """A new (empty) family with its address in ``comune`` (``family_id``: a given id)."""
        family_id = family_id or self._new_family_id()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO families (id, comune, kind, origin_date, address_kind, cap, "
                "street_kind, street_name, house_number, since, active) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    family_id,
                    comune,
                    kind,
                    (origin_date or since).isoformat(),
                    address.kind,
                    address.cap,
                    address.street_kind,
                    address.street_name,
                    address.house_number,
                    since.isoformat(),
                ),
            )
        family = self.family(family_id)
        assert family is not None
        return family

    def register(
        self,
        data: NewPerson,
        *,
        comune: str,
        family_id: str,
        relation: str,
        since: dt.date,
        reason: str,
        operation: str | None,
        person_id: str | None = None,
    ) -> Person:
        """Add a person resident in ``comune``, member of ``family_id``."""
        new_id, id_anpr = self._new_person_ids()
        person_id = person_id or new_id
        place = data.luogo_nascita
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO persons (id, id_anpr, cf, surname, name, sex, birth_date, "
                "birth_comune, birth_state, birth_place_name, birth_province, citizenship, "
                "marital_status, status, comune, family_id, relation, relation_since, "
                "registered_by, updated_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'resident', ?, ?, ?, ?, ?, ?)",
                (
                    person_id,
                    id_anpr,
                    data.codice_fiscale.upper(),
                    data.cognome,
                    data.nome,
                    data.sesso,
                    data.data_nascita.isoformat(),
                    place.comune,
                    place.state,
                    place.name,
                    place.province,
                    data.cittadinanza,
                    data.stato_civile,
                    comune,
                    family_id,
                    relation,
                    since.isoformat(),
                    operation,
                    operation,
                ),
            )
            conn.execute(
                "INSERT INTO residences (person_id, comune, family_id, since, until, reason, "
                "operation) VALUES (?, ?, ?, ?, NULL, ?, ?)",
                (person_id, comune, family_id, since.isoformat(), reason, operation),
            )
        person = self.person_by_id(person_id)
        assert person is not None
        return person

    def move(
        self,
        person: Person,
        *,
        comune: str,
        family_id: str,
        relation: str,
        since: dt.date,
        reason: str,
        operation: str | None,
    ) -> Person:
        """Move a resident to ``family_id`` in ``comune`` (a change of address or a transfer)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE residences SET until = ? WHERE person_id = ? AND until IS NULL",
                (since.isoformat(), person.id),
            )
            conn.execute(
                "INSERT INTO residences (person_id, comune, family_id, since, until, reason, "
                "operation) VALUES (?, ?, ?, ?, NULL, ?, ?)",
                (person.id, comune, family_id, since.isoformat(), reason, operation),
            )
            conn.execute(
                "UPDATE persons SET comune = ?, family_id = ?, relation = ?, relation_since = ?, "
                "status = 'resident', updated_by = ? WHERE id = ?",
                (comune, family_id, relation, since.isoformat(), operation, person.id),
            )
            if person.family_id and person.family_id != family_id:
                self._retire_if_empty(conn, person.family_id)
        moved = self.person_by_id(person.id)
        assert moved is not None
        return moved

    def record_death(self, person: Person, *, date: dt.date, operation: str | None) -> Person:
        """Cancel a resident for death: no longer resident, history closed."""
        return self._cancel(person, status="deceased", date=date, operation=operation)

    def cancel(self, person: Person, *, date: dt.date, operation: str | None) -> Person:
        """Cancel a resident for another reason (e.g. moved abroad)."""
        return self._cancel(person, status="cancelled", date=date, operation=operation)

    def _cancel(
        self, person: Person, *, status: str, date: dt.date, operation: str | None
    ) -> Person:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE residences SET until = ? WHERE person_id = ? AND until IS NULL",
                (date.isoformat(), person.id),
            )
            conn.execute(
                "UPDATE persons SET status = ?, death_date = ?, comune = NULL, family_id = NULL, "
                "updated_by = ? WHERE id = ?",
                (status, date.isoformat() if status == "deceased" else None, operation, person.id),
            )
            if person.family_id:
                self._retire_if_empty(conn, person.family_id)
        changed = self.person_by_id(person.id)
        assert changed is not None
        return changed

    def set_relation(
        self, person: Person, relation: str, *, since: dt.date, operation: str | None
    ) -> Person:
        """Change a member's ``codiceLegame`` in its family."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE persons SET relation = ?, relation_since = ?, updated_by = ? WHERE id = ?",
                (relation, since.isoformat(), operation, person.id),
            )
        changed = self.person_by_id(person.id)
        assert changed is not None
        return changed

    def promote_head(self, family_id: str, *, since: dt.date, operation: str | None) -> None:
        """If a family lost its head (codiceLegame 1), make its eldest member the head."""
        members = self.members(family_id)
        if not members or any(m.relation == "1" for m in members):
            return
        eldest = min(members, key=lambda m: (m.data_nascita, m.id))
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE persons SET relation = '1', relation_since = ?, updated_by = ? "
                "WHERE id = ?",
                (since.isoformat(), operation, eldest.id),
            )

    @staticmethod
    def _retire_if_empty(conn: sqlite3.Connection, family_id: str) -> None:
        left = conn.execute(
            "SELECT count(*) FROM persons WHERE family_id = ? AND status = 'resident'",
            (family_id,),
        ).fetchone()[0]
        if not left:
            conn.execute("UPDATE families SET active = 0 WHERE id = ?", (family_id,))

    def add_certificate(
        self,
        person: Person,
        *,
        comune: str,
        kind: str,
        operation: str,
        issued_at: str,
        sha256: str,
        size: int,
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO certificates (person_id, comune, kind, operation, issued_at, "
                "sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (person.id, comune, kind, operation, issued_at, sha256, size),
            )

    def seed_family(
        self,
        comune: str,
        address: Address,
        members: Sequence[tuple[NewPerson, str, str | None]],
        *,
        since: dt.date,
        origin_date: dt.date | None = None,
        family_id: str | None = None,
    ) -> Family:
        """Add a seed family: ``members`` are (person, codiceLegame, id or None), head first."""
        with self._db.transaction():
            family = self.create_family(
                comune, address, since=since, origin_date=origin_date, family_id=family_id
            )
            for data, relation, person_id in members:
                self.register(
                    data,
                    comune=comune,
                    family_id=family.id,
                    relation=relation,
                    since=since,
                    reason="seed",
                    operation=None,
                    person_id=person_id,
                )
        seeded = self.family(family.id)
        assert seeded is not None
        return seeded

    def codici_fiscali(self, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` are already in the registry (any status)."""
        wanted = [c.upper() for c in codes]
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT cf FROM persons WHERE cf IN ({marks})",  # noqa: S608
                wanted,
            ).fetchall()
        return {r["cf"] for r in rows}
