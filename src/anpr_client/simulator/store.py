"""The simulated registry: Comuni, persons, households (with their address) and residences.

Records are the frozen values of :mod:`.household`, read from SQLite (:mod:`.db`); writes
happen inside the operation's transaction, so an operation's effects, its ledger entry and its
notifications commit together. A person *resides* in the Comune of competence ``comune``
(``None`` once cancelled, e.g. moved abroad) and belongs to a household, whose record holds the
address. Every change of residence closes one :class:`Residence` row and opens another.

A citizen living abroad is registered in the AIRE of a Comune: status ``aire``, the Comune of
competence is that Comune, the household a *famiglia AIRE* with a
:class:`~.household.ForeignAddress`; :meth:`Registry.aire_registration` has the registration's
data. A *convivenza* is a household of kind ``2`` with a name, a species and a responsible.
The registry also keeps the Comuni's administrative procedures (1014) and electoral sections
(2012), and logs what every operation changes (:mod:`.changes`), so that ANPR's annulments can
restore it (:meth:`Registry.annul`).

For tests::

    sim.store.residents("058091")      # persons living in Roma
    sim.store.aire_citizens("058091")  # Roma's citizens abroad
    sim.store.person("RSSMRA80A01H501U")
    sim.store.households("015146")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors.exceptions import ConfigurationError
from . import changes
from .changes import Change
from .db import Database
from .household import (
    COHABITATION,
    Address,
    AireRegistration,
    BirthPlace,
    ForeignAddress,
    Household,
    Person,
    PersonalData,
    Procedure,
    anpr_id,
)
from .population import Progress

__all__ = ["Certificate", "ComuneInfo", "Registry", "Residence"]

# The database keeps the names it had before households were called so: a state directory of
# an earlier version opens unchanged (table ``families``, column ``family_id``, sequence
# ``family``).
_PERSON_IDS: Final = 300_000_001
_HOUSEHOLD_IDS: Final = 500_000_001
_PROCEDURE_IDS: Final = 900_000_001
_PERSON_AMENDABLE: Final = frozenset(
    {
        "surname",
        "name",
        "sex",
        "birth_date",
        "birth_comune",
        "birth_state",
        "birth_place_name",
        "birth_province",
        "citizenship",
        "marital_status",
    }
)
"""The columns of a person's own data that 5008 and 5014 correct."""
_BY_HEAD: Final = "ORDER BY CAST(relation AS INTEGER), id"
_REGISTERED: Final = "status IN ('resident', 'aire')"
"""The persons who belong to a household (:data:`.household.REGISTERED`)."""
_HOUSEHOLD: Final = (
    "SELECT f.*, a.state AS abroad_state, a.locality AS abroad_locality, "
    "a.province AS abroad_province, a.consulate AS abroad_consulate, "
    "a.consulate_name AS abroad_consulate_name, c.name AS cohabitation_name, "
    "c.species AS cohabitation_species, c.responsible AS cohabitation_responsible "
    "FROM families f LEFT JOIN foreign_addresses a ON a.family_id = f.id "
    "LEFT JOIN cohabitations c ON c.family_id = f.id WHERE f.id = ?"
)


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
class Residence:
    person_id: str
    comune: str
    household_id: str | None
    since: dt.date
    until: dt.date | None
    reason: str
    """``seed``, ``birth``, ``registration``, ``aire`` (a registration in the AIRE), ``change``
    (same Comune) or ``transfer``."""
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
        surname=row["surname"],
        name=row["name"],
        sex=row["sex"],
        birth_date=dt.date.fromisoformat(row["birth_date"]),
        birth_place=BirthPlace(
            name=row["birth_place_name"],
            comune=row["birth_comune"],
            province=row["birth_province"],
            state=row["birth_state"],
        ),
        citizenship=row["citizenship"],
        marital_status=row["marital_status"],
        status=row["status"],
        comune=row["comune"],
        household_id=row["family_id"],
        relation=row["relation"],
        relation_since=_date(row["relation_since"]),
        death_date=_date(row["death_date"]),
        registered_by=row["registered_by"],
    )


def _persons(conn: sqlite3.Connection, where: str, args: Sequence[Any], order: str) -> list[Person]:
    rows = conn.execute(
        f"SELECT * FROM persons WHERE {where} {order}",  # noqa: S608 - fixed clauses
        tuple(args),
    ).fetchall()
    return [_person(r) for r in rows]


def _open_residence(
    conn: sqlite3.Connection,
    person_id: str,
    comune: str | None,
    household_id: str | None,
    since: str | None,
    reason: str,
    operation: str | None,
) -> None:
    conn.execute(
        "INSERT INTO residences (person_id, comune, family_id, since, until, reason, operation) "
        "VALUES (?, ?, ?, ?, NULL, ?, ?)",
        (person_id, comune, household_id, since, reason, operation),
    )


def _close_residence(conn: sqlite3.Connection, person_id: str, day: dt.date) -> None:
    conn.execute(
        "UPDATE residences SET until = ? WHERE person_id = ? AND until IS NULL",
        (day.isoformat(), person_id),
    )


def _address(row: sqlite3.Row) -> Address:
    parts = {
        "street_kind": row["street_kind"] or "",
        "street_name": row["street_name"] or "",
        "house_number": row["house_number"] or "",
        "cap": row["cap"] or "",
        "kind": row["address_kind"],
    }
    if row["abroad_state"] is None:
        return Address(**parts)
    return ForeignAddress(
        **parts,
        state=row["abroad_state"],
        locality=row["abroad_locality"],
        province=row["abroad_province"],
        consulate=row["abroad_consulate"],
        consulate_name=row["abroad_consulate_name"],
    )


def _procedure(row: sqlite3.Row) -> Procedure:
    return Procedure(
        id=row["id"],
        comune=row["comune"],
        number=row["number"],
        trigger=row["trigger"],
        state=row["state"],
        state_date=dt.date.fromisoformat(row["state_date"]),
        opened=dt.date.fromisoformat(row["opened"]),
        closed=_date(row["closed"]),
        outcome=row["outcome"],
        subjects=tuple(json.loads(row["subjects"])),
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
            found = _persons(conn, "cf = ?", (codice_fiscale.strip().upper(),), "")
        return found[0] if found else None

    def person_by_id(self, person_id: str) -> Person | None:
        """The person with this ``idSchedaSoggettoANPR`` or ``idANPR``."""
        with self._db.read() as conn:
            found = _persons(conn, "id = ? OR id_anpr = ?", (person_id, person_id), "")
        return found[0] if found else None

    def residents(self, istat: str) -> list[Person]:
        """Persons currently resident in the Comune (its APR), by household then relation."""
        return self._of_comune(istat, "resident")

    def aire_citizens(self, istat: str) -> list[Person]:
        """The Comune's citizens living abroad (its AIRE), by household then relation."""
        return self._of_comune(istat, "aire")

    def _of_comune(self, istat: str, status: str) -> list[Person]:
        with self._db.read() as conn:
            return _persons(
                conn,
                "comune = ? AND status = ?",
                (istat, status),
                "ORDER BY family_id, CAST(relation AS INTEGER), id",
            )

    def find(
        self,
        *,
        surname: str | None = None,
        name: str | None = None,
        sex: str | None = None,
        birth_date: dt.date | None = None,
        comune: str | None = None,
        birth_comune: str | None = None,
        birth_state: str | None = None,
        include_inactive: bool = False,
    ) -> list[Person]:
        """Persons matching every given criterion (names compared case-insensitively); only
        those in a household (resident or in the AIRE) unless ``include_inactive``."""
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("upper(surname) = upper(?)", surname),
            ("upper(name) = upper(?)", name),
            ("sex = ?", sex),
            ("birth_date = ?", birth_date),
            ("comune = ?", comune),
            ("birth_comune = ?", birth_comune),
            ("birth_state = ?", birth_state),
        ):
            if value:
                clauses.append(clause)
                args.append(value.isoformat() if isinstance(value, dt.date) else value.strip())
        if not include_inactive:
            clauses.append(_REGISTERED)
        with self._db.read() as conn:
            return _persons(conn, " AND ".join(clauses) or "1 = 1", args, "ORDER BY id")

    def household(self, household_id: str, *, members: bool = True) -> Household | None:
        """The household with this ``idFamigliaConvivenzaANPR`` and its members (with
        ``members=False`` they are not read: ``members`` is empty)."""
        with self._db.read() as conn:
            row = conn.execute(_HOUSEHOLD, (household_id,)).fetchone()
            if row is None:
                return None
            found = self._members(conn, household_id) if members else ()
        return Household(
            id=row["id"],
            comune=row["comune"],
            address=_address(row),
            since=dt.date.fromisoformat(row["since"]),
            origin_date=_date(row["origin_date"]),
            kind=row["kind"],
            active=bool(row["active"]),
            members=tuple(found),
            name=row["cohabitation_name"],
            species=row["cohabitation_species"],
            responsible=row["cohabitation_responsible"],
        )

    def households(self, istat: str) -> list[Household]:
        """The Comune's active households: those with members, and the convivenze not
        archived (an institution stays registered while empty)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM families WHERE comune = ? AND active = 1 ORDER BY id", (istat,)
            ).fetchall()
        found = [self.household(r["id"]) for r in rows]
        return [h for h in found if h is not None]

    def household_of(self, person: Person, *, members: bool = True) -> Household | None:
        """The household ``person`` belongs to (``None`` once not registered); ``members`` as
        for :meth:`household`."""
        if person.household_id is None:
            return None
        return self.household(person.household_id, members=members)

    def members(self, household_id: str) -> list[Person]:
        """The household's members, the head first."""
        with self._db.read() as conn:
            return self._members(conn, household_id)

    @staticmethod
    def _members(conn: sqlite3.Connection, household_id: str) -> list[Person]:
        return _persons(conn, f"family_id = ? AND {_REGISTERED}", (household_id,), _BY_HEAD)

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

    # ------------------------------------------------------------------ writes

    def create_household(
        self,
        comune: str,
        address: Address,
        *,
        since: dt.date,
        origin_date: dt.date | None = None,
        kind: str = "1",
        name: str | None = None,
        species: str | None = None,
        responsible: str | None = None,
        operation: str | None = None,
    ) -> Household:
        """A new (empty) household of ``comune`` at ``address`` (a
        :class:`~.household.ForeignAddress`: a famiglia AIRE); a convivenza (``kind`` ``2``)
        with its ``name``, ``species`` and ``responsible``."""
        household = Household(
            id=str(self._db.next_value("family", _HOUSEHOLD_IDS)),
            comune=comune,
            address=address,
            since=since,
            origin_date=origin_date,
            kind=kind,
            name=name,
            species=species,
            responsible=responsible,
        )
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "family", household.id)
            self._insert_household(conn, household)
        created = self.household(household.id)
        assert created is not None
        return created

    def register(
        self,
        data: PersonalData,
        *,
        comune: str,
        household_id: str,
        relation: str,
        since: dt.date,
        reason: str,
        operation: str | None,
        status: str = "resident",
    ) -> Person:
        """Add a person of ``comune``, member of ``household_id``: resident, or with ``status``
        ``aire`` in its AIRE. A person cancelled earlier (e.g. emigrated) with the same codice
        fiscale is registered again: the same record, its ids and history kept (:meth:`move`)."""
        existing = self.person(data.codice_fiscale)
        if existing is not None and existing.status == "cancelled":
            return self.move(
                existing,
                comune=comune,
                household_id=household_id,
                relation=relation,
                since=since,
                reason=reason,
                operation=operation,
                status=status,
            )
        number = self._db.next_value("person", _PERSON_IDS)
        person = Person(
            **{f.name: getattr(data, f.name) for f in dataclasses.fields(PersonalData)},
            id=str(number),
            id_anpr=anpr_id(number - _PERSON_IDS),
            status=status,
            comune=comune,
            household_id=household_id,
            relation=relation,
            relation_since=since,
            registered_by=operation,
        )
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", person.id)
            changes.remember(conn, operation, "family", household_id)
            self._insert_person(conn, person, reason=reason)
        return self._reread(person)

    def seed(
        self,
        households: Iterable[Household],
        *,
        progress: Progress | None = None,
    ) -> int:
        """Store a generated population (:func:`.population.generate_population`) as it is,
        ids included, in an empty registry; returns the number of persons added.

        The population numbers its persons' ``idANPR`` from the first (:func:`.anpr_id`), as
        the registry does, and the registry's numbering goes on after them. ``progress`` is
        told ``("storing", done, total)`` persons as households are stored."""
        households = list(households)
        count = sum(len(h.members) for h in households)
        done = 0
        with self._db.transaction() as conn:
            if count and self._db.reserve("person", _PERSON_IDS, count) != _PERSON_IDS:
                raise ConfigurationError(
                    "a population seeds an empty registry only: this one has numbered persons",
                    setting="simulator.population",
                    rule="an empty registry",
                )
            for household in households:
                self._insert_household(conn, household)
                for person in household.members:
                    self._insert_person(conn, person, reason="seed")
                if progress is not None:
                    done += len(household.members)
                    progress("storing", done, count)
        return count

    @staticmethod
    def _insert_household(conn: sqlite3.Connection, household: Household) -> None:
        address = household.address
        conn.execute(
            "INSERT INTO families (id, comune, kind, origin_date, address_kind, cap, "
            "street_kind, street_name, house_number, since, active) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                household.id,
                household.comune,
                household.kind,
                (household.origin_date or household.since).isoformat(),
                address.kind,
                address.cap,
                address.street_kind,
                address.street_name,
                address.house_number,
                household.since.isoformat(),
            ),
        )
        if isinstance(address, ForeignAddress):
            conn.execute(
                "INSERT INTO foreign_addresses (family_id, state, locality, province, consulate, "
                "consulate_name) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    household.id,
                    address.state,
                    address.locality,
                    address.province,
                    address.consulate,
                    address.consulate_name,
                ),
            )
        if household.name or household.species or household.responsible:
            conn.execute(
                "INSERT INTO cohabitations (family_id, name, species, responsible) "
                "VALUES (?, ?, ?, ?)",
                (household.id, household.name, household.species, household.responsible),
            )

    @staticmethod
    def _insert_person(conn: sqlite3.Connection, person: Person, *, reason: str) -> None:
        """Insert a resident and open its residence (``reason``) from ``relation_since``."""
        place = person.birth_place
        since = person.relation_since.isoformat() if person.relation_since else None
        conn.execute(
            "INSERT INTO persons (id, id_anpr, cf, surname, name, sex, birth_date, "
            "birth_comune, birth_state, birth_place_name, birth_province, citizenship, "
            "marital_status, status, comune, family_id, relation, relation_since, "
            "registered_by, updated_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                person.id,
                person.id_anpr,
                person.codice_fiscale.upper(),
                person.surname,
                person.name,
                person.sex,
                person.birth_date.isoformat(),
                place.comune,
                place.state,
                place.name,
                place.province,
                person.citizenship,
                person.marital_status,
                person.status,
                person.comune,
                person.household_id,
                person.relation,
                since,
                person.registered_by,
                person.registered_by,
            ),
        )
        _open_residence(
            conn, person.id, person.comune, person.household_id, since, reason, person.registered_by
        )

    def move(
        self,
        person: Person,
        *,
        comune: str,
        household_id: str,
        relation: str,
        since: dt.date,
        reason: str,
        operation: str | None,
        status: str = "resident",
    ) -> Person:
        """Move a person to ``household_id`` in ``comune`` (a change of address, a transfer,
        an emigration into the AIRE with ``status`` ``aire``)."""
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", person.id)
            for touched in (person.household_id, household_id):
                if touched:
                    changes.remember(conn, operation, "family", touched)
            _close_residence(conn, person.id, since)
            _open_residence(
                conn, person.id, comune, household_id, since.isoformat(), reason, operation
            )
            conn.execute(
                "UPDATE persons SET comune = ?, family_id = ?, relation = ?, relation_since = ?, "
                "status = ?, updated_by = ? WHERE id = ?",
                (comune, household_id, relation, since.isoformat(), status, operation, person.id),
            )
            if status != "aire":
                conn.execute("DELETE FROM aire WHERE person_id = ?", (person.id,))
            if person.household_id and person.household_id != household_id:
                self._retire_if_empty(conn, person.household_id)
        return self._reread(person)

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
            changes.remember(conn, operation, "person", person.id)
            if person.household_id:
                changes.remember(conn, operation, "family", person.household_id)
            _close_residence(conn, person.id, date)
            conn.execute(
                "UPDATE persons SET status = ?, death_date = ?, comune = NULL, family_id = NULL, "
                "updated_by = ? WHERE id = ?",
                (status, date.isoformat() if status == "deceased" else None, operation, person.id),
            )
            if person.household_id:
                self._retire_if_empty(conn, person.household_id)
        return self._reread(person)

    def set_relation(
        self, person: Person, relation: str, *, since: dt.date, operation: str | None
    ) -> Person:
        """Change a member's ``codiceLegame`` in its household."""
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", person.id)
            conn.execute(
                "UPDATE persons SET relation = ?, relation_since = ?, updated_by = ? WHERE id = ?",
                (relation, since.isoformat(), operation, person.id),
            )
        return self._reread(person)

    def _reread(self, person: Person) -> Person:
        changed = self.person_by_id(person.id)
        assert changed is not None
        return changed

    def promote_head(self, household_id: str, *, since: dt.date, operation: str | None) -> None:
        """If a household lost its head (codiceLegame 1), make its eldest member the head."""
        members = self.members(household_id)
        if not members or any(m.relation == "1" for m in members):
            return
        eldest = min(members, key=lambda m: (m.birth_date, m.id))
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", eldest.id)
            conn.execute(
                "UPDATE persons SET relation = '1', relation_since = ?, updated_by = ? "
                "WHERE id = ?",
                (since.isoformat(), operation, eldest.id),
            )

    def amend_person(
        self, person: Person, changes_: Mapping[str, Any], *, operation: str | None
    ) -> Person:
        """Correct a person's own data in place (5008, 5014): ``changes_`` by
        :data:`_PERSON_AMENDABLE` column (``surname``, ``birth_place_name``…); logged, so an
        annulment restores it."""
        unknown = set(changes_) - _PERSON_AMENDABLE
        if unknown:
            raise ValueError(f"not a correctable person column: {sorted(unknown)}")
        values = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in changes_.items()}
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", person.id)
            assignments = ", ".join(f"{column} = ?" for column in values)
            conn.execute(
                f"UPDATE persons SET {assignments}, updated_by = ? WHERE id = ?",  # noqa: S608
                (*values.values(), operation, person.id),
            )
        return self._reread(person)

    def relocate_household(
        self,
        household_id: str,
        address: Address,
        *,
        comune: str,
        since: dt.date,
        operation: str | None,
    ) -> Household:
        """A whole household moves to ``address`` in ``comune`` (its own, or another one's:
        a transfer) from ``since`` (5001 ``tipoMutazione`` 4): its record stays, each member's
        residence closes and reopens there."""
        household = self.household(household_id)
        assert household is not None
        reason = "change" if comune == household.comune else "transfer"
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "family", household_id)
            conn.execute(
                "UPDATE families SET comune = ?, address_kind = ?, cap = ?, street_kind = ?, "
                "street_name = ?, house_number = ?, since = ? WHERE id = ?",
                (
                    comune,
                    address.kind,
                    address.cap,
                    address.street_kind,
                    address.street_name,
                    address.house_number,
                    since.isoformat(),
                    household_id,
                ),
            )
            for member in household.members:
                changes.remember(conn, operation, "person", member.id)
                _close_residence(conn, member.id, since)
                _open_residence(
                    conn, member.id, comune, household_id, since.isoformat(), reason, operation
                )
                conn.execute(
                    "UPDATE persons SET comune = ?, updated_by = ? WHERE id = ?",
                    (comune, operation, member.id),
                )
        moved = self.household(household_id)
        assert moved is not None
        return moved

    def restart_residence(
        self, person: Person, since: dt.date, *, operation: str | None
    ) -> Household:
        """Correct the date the residence of ``person``'s household began (5014
        ``richiestaRettifica101``): the household's ``dataDecorrenzaResidenza`` and the open
        residence of each member."""
        assert person.household_id is not None
        household = self.household(person.household_id)
        assert household is not None
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "family", household.id)
            conn.execute(
                "UPDATE families SET since = ? WHERE id = ?", (since.isoformat(), household.id)
            )
            for member in household.members:
                changes.remember(conn, operation, "person", member.id)
                conn.execute(
                    "UPDATE residences SET since = ? WHERE person_id = ? AND until IS NULL",
                    (since.isoformat(), member.id),
                )
        corrected = self.household(household.id)
        assert corrected is not None
        return corrected

    @staticmethod
    def _retire_if_empty(conn: sqlite3.Connection, household_id: str) -> None:
        left = conn.execute(
            f"SELECT count(*) FROM persons WHERE family_id = ? AND {_REGISTERED}",  # noqa: S608
            (household_id,),
        ).fetchone()[0]
        if not left:  # a convivenza stays, empty, until it is archived (2009)
            conn.execute(
                "UPDATE families SET active = 0 WHERE id = ? AND kind != ?",
                (household_id, COHABITATION),
            )

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

    # ------------------------------------------------------------------ AIRE

    def aire_registration(self, person: Person) -> AireRegistration | None:
        """The data of ``person``'s registration in the AIRE (``None`` if not registered)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM aire WHERE person_id = ?", (person.id,)).fetchone()
        if row is None:
            return None
        notes = json.loads(row["notes"]) if row["notes"] else {}
        return AireRegistration(
            reason=row["reason"],
            initiative=row["initiative"],
            criterion=row["criterion"],
            since=dt.date.fromisoformat(row["since"]),
            notes=tuple(sorted(notes.items())),
        )

    def set_aire_registration(
        self, person: Person, registration: AireRegistration, *, operation: str | None
    ) -> None:
        """Record (or replace) the data of ``person``'s AIRE registration."""
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "person", person.id)
            conn.execute(
                "INSERT INTO aire (person_id, reason, initiative, criterion, since, notes) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                "reason = excluded.reason, initiative = excluded.initiative, "
                "criterion = excluded.criterion, since = excluded.since, notes = excluded.notes",
                (
                    person.id,
                    registration.reason,
                    registration.initiative,
                    registration.criterion,
                    registration.since.isoformat(),
                    json.dumps(dict(registration.notes)) if registration.notes else None,
                ),
            )

    def previous_comune(self, person: Person) -> str | None:
        """The Comune of ``person``'s residence before the current (open) one, if any."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT comune, until FROM residences WHERE person_id = ? ORDER BY rowid DESC",
                (person.id,),
            ).fetchall()
        if rows and rows[0]["until"] is None:
            rows = rows[1:]
        return str(rows[0]["comune"]) if rows else None

    # ------------------------------------------------------------------ convivenze

    def archive_household(self, household_id: str, *, date: dt.date, operation: str | None) -> None:
        """Archive an empty convivenza (2009): no longer active, archived from ``date``."""
        with self._db.transaction() as conn:
            changes.remember(conn, operation, "family", household_id)
            conn.execute("UPDATE families SET active = 0 WHERE id = ?", (household_id,))
            conn.execute(
                "INSERT INTO cohabitations (family_id, archived) VALUES (?, ?) "
                "ON CONFLICT (family_id) DO UPDATE SET archived = excluded.archived",
                (household_id, date.isoformat()),
            )

    # ------------------------------------------------------------------ procedures (1014)

    def procedure(self, comune: str, number: str) -> Procedure | None:
        """The Comune's procedure with this ``numeroPraticaComune``."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM procedures WHERE comune = ? AND number = ?", (comune, number)
            ).fetchone()
        return None if row is None else _procedure(row)

    def procedures(
        self, comune: str, *, anpr_id: str | None = None, person: Person | None = None
    ) -> list[Procedure]:
        """The Comune's procedures, open or closed (3004): the one numbered ``anpr_id`` by
        ANPR, or those ``person`` is a subject of."""
        clauses, args = ["p.comune = ?"], [comune]
        if anpr_id is not None:
            clauses.append("p.id = ?")
            args.append(anpr_id)
        if person is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(p.subjects) s WHERE s.value = ?)")
            args.append(person.id)
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT p.* FROM procedures p WHERE {' AND '.join(clauses)} ORDER BY p.id",  # noqa: S608
                args,
            ).fetchall()
        return [_procedure(r) for r in rows]

    def procedure_kind(self, procedure_id: str) -> str | None:
        """The ``tipoOperazione`` the procedure's last 1014 was sent with (3004 answers it)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT kind FROM procedure_kinds WHERE procedure_id = ?", (procedure_id,)
            ).fetchone()
        return None if row is None else str(row["kind"])

    def set_procedure_kind(self, procedure_id: str, kind: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO procedure_kinds (procedure_id, kind) VALUES (?, ?) "
                "ON CONFLICT (procedure_id) DO UPDATE SET kind = excluded.kind",
                (procedure_id, kind),
            )

    def open_procedures(self, person: Person) -> list[Procedure]:
        """The open procedures (of any Comune) ``person`` is a subject of."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT p.* FROM procedures p, json_each(p.subjects) s "
                "WHERE s.value = ? AND p.closed IS NULL ORDER BY p.id",
                (person.id,),
            ).fetchall()
        return [_procedure(r) for r in rows]

    def open_procedure(
        self,
        comune: str,
        number: str,
        *,
        trigger: str | None,
        state: str,
        date: dt.date,
        subjects: Sequence[Person],
    ) -> Procedure:
        """Open a procedure of ``comune`` numbered ``number`` by the Comune."""
        procedure = Procedure(
            id=str(self._db.next_value("procedure", _PROCEDURE_IDS)),
            comune=comune,
            number=number,
            trigger=trigger,
            state=state,
            state_date=date,
            opened=date,
            subjects=tuple(p.id for p in subjects),
        )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO procedures (id, comune, number, trigger, state, state_date, opened, "
                "subjects) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    procedure.id,
                    comune,
                    number,
                    trigger,
                    state,
                    date.isoformat(),
                    date.isoformat(),
                    json.dumps(list(procedure.subjects)),
                ),
            )
        return procedure

    def update_procedure(
        self,
        procedure: Procedure,
        *,
        state: str,
        date: dt.date,
        subjects: Sequence[Person] = (),
        closed: dt.date | None = None,
        outcome: str | None = None,
    ) -> Procedure:
        """Move ``procedure`` to ``state`` on ``date``, adding ``subjects``; ``closed`` closes
        it with ``outcome``."""
        ids = list(procedure.subjects) + [p.id for p in subjects if p.id not in procedure.subjects]
        updated = dataclasses.replace(
            procedure,
            state=state,
            state_date=date,
            subjects=tuple(ids),
            closed=closed,
            outcome=outcome,
        )
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE procedures SET state = ?, state_date = ?, subjects = ?, closed = ?, "
                "outcome = ? WHERE id = ?",
                (
                    state,
                    date.isoformat(),
                    json.dumps(ids),
                    None if closed is None else closed.isoformat(),
                    outcome,
                    procedure.id,
                ),
            )
        return updated

    # ------------------------------------------------------------------ electoral sections

    def electoral_sections(self, istat: str) -> dict[str, str]:
        """The Comune's electoral sections: number → description."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT number, description FROM electoral_sections WHERE comune = ? "
                "ORDER BY CAST(number AS INTEGER), number",
                (istat,),
            ).fetchall()
        return {r["number"]: r["description"] for r in rows}

    def add_electoral_section(
        self,
        istat: str,
        number: str,
        description: str = "",
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Add (or describe again) an electoral section of the Comune; ``data``, the section
        as 5011 sends it (``tipoListaSezioni5011``), is what 3008 answers."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO electoral_sections (comune, number, description) VALUES (?, ?, ?) "
                "ON CONFLICT (comune, number) DO UPDATE SET description = excluded.description",
                (istat, number, description),
            )
            if data is not None:
                conn.execute(
                    "INSERT INTO electoral_section_data (comune, number, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (comune, number) DO UPDATE SET data = excluded.data",
                    (istat, number, json.dumps(data, default=str)),
                )

    def electoral_section_data(self, istat: str, number: str | None = None) -> list[dict[str, Any]]:
        """The sections of the Comune that 5011 described (all, or the one ``number``), as
        5011 sent them, by number."""
        clause, args = ("AND number = ?", (istat, number)) if number else ("", (istat,))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT data FROM electoral_section_data WHERE comune = ? {clause} "  # noqa: S608
                "ORDER BY number",
                args,
            ).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def remove_electoral_section(self, istat: str, number: str) -> bool:
        """Delete an electoral section (2012); ``False`` if the Comune has none so numbered."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM electoral_sections WHERE comune = ? AND number = ?", (istat, number)
            )
            conn.execute(
                "DELETE FROM electoral_section_data WHERE comune = ? AND number = ?",
                (istat, number),
            )
        return cursor.rowcount > 0

    # ------------------------------------------------------------------ the change log

    def changes(self, operation: str) -> list[Change]:
        """What ``operation`` (an ``idOperazioneANPR``) changed (:mod:`.changes`)."""
        with self._db.read() as conn:
            return changes.changes_of(conn, operation)

    def later_changes(self, operation: str) -> list[Change]:
        """Changes of other operations, not annulled, that came after ``operation``'s on the
        same persons or households: while there are any, it cannot be annulled (EN077)."""
        with self._db.read() as conn:
            return changes.later_changes(conn, operation)

    def changed_columns(self, operation: str, person_id: str) -> set[str]:
        """The columns of person ``person_id`` that ``operation`` changed and that still hold
        its values (:func:`.changes.changed_columns`)."""
        with self._db.read() as conn:
            return changes.changed_columns(conn, operation, "person", person_id)

    def annul(self, operation: str, *, by: str) -> list[Change]:
        """Restore everything ``operation`` changed as it was before it (the annulment ``by``)."""
        with self._db.transaction() as conn:
            return changes.undo(conn, operation, by=by)
