"""What only the PostgreSQL journal has: a URL in the settings, the server's clock for leases,
a backup restored with ``pg_dump``/``pg_restore``, no password in any message, and a clear
answer when psycopg is missing. (Everything the backends share runs on both in the other
journal suites.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from anpr_client.errors.exceptions import (
    ConfigurationError,
    JournalError,
    JournalRolledBack,
    OperationHeld,
)
from anpr_client.journal import PostgresJournal, Rollback, SqlJournal, open_journal
from anpr_client.journal import postgresql as pg
from anpr_client.journal.ids import counter_of
from anpr_client.journal.postgresql import redact_url
from anpr_client.settings import is_database_url, load_settings
from tests.postgres import Cluster, find_bin

COMUNE = "058091"


def _open(j: SqlJournal, ident: str = "ID1") -> int:
    record, _ = j.open_operation(
        comune=COMUNE,
        service="5000",
        operation="5005",
        id_operazione_comune=ident,
        url="https://example.invalid/5000",
        header={"idOperazioneComune": ident},
        payload={"x": 1},
        lease=60,
    )
    return record.key


def test_a_url_in_the_settings_is_a_postgresql_journal(postgres: Cluster, tmp_path: Path) -> None:
    url = postgres.fresh_url("settings")
    config = tmp_path / "anpr.toml"
    config.write_text(f'codice_istat = "{COMUNE}"\njournal = {json.dumps(url)}\n')
    settings = load_settings(config, env={})
    assert settings.journal == url  # kept as written, never made a path
    assert is_database_url(settings.journal_path)
    with SqlJournal.from_settings(settings, env={"ANPR_ID_MARKS": "off"}) as j:
        assert isinstance(j, PostgresJournal)
        _open(j)
    env_settings = load_settings(None, env={"ANPR_JOURNAL": url, "ANPR_CODICE_ISTAT": COMUNE})
    assert env_settings.journal == url

    runner = CliRunner()
    env = {"ANPR_JOURNAL": url, "ANPR_CONFIG": "", "ANPR_ID_MARKS": "off"}
    shown = runner.invoke(_cli(), ["journal", "pending", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert [r["idOperazioneComune"] for r in json.loads(shown.stdout)] == ["ID1"]
    one = runner.invoke(_cli(), ["journal", "show", "ID1", "--json"], env=env)
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["state"] == "prepared"
    exported = runner.invoke(_cli(), ["journal", "export", "--since", "2000-01-01"], env=env)
    assert exported.exit_code == 0, exported.output
    lines = exported.stdout.splitlines()
    assert [json.loads(line)["idOperazioneComune"] for line in lines] == ["ID1"]


def test_reading_tools_do_not_create_a_journal(postgres: Cluster) -> None:
    url = postgres.fresh_url("empty")
    with pytest.raises(ConfigurationError, match="there is no journal") as info:
        PostgresJournal(url, create=False, id_marks=False)
    assert info.value.setting == "journal"
    shown = CliRunner().invoke(
        _cli(), ["journal", "pending"], env={"ANPR_JOURNAL": url, "ANPR_CONFIG": ""}
    )
    assert shown.exit_code == 2
    assert "there is no journal" in shown.output
    assert "Traceback" not in shown.output


def test_an_id_is_on_the_servers_disk_before_it_is_handed_out(
    postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers on other machines share the counter and never see this machine's marks: an
    allocation lost in a server crash would hand the same id out twice."""
    journal = PostgresJournal(postgres.fresh_url("durable-ids"), id_marks=False)
    seen: list[bool] = []
    real = journal._transaction

    def spy(db: Any, *, durable: bool) -> Any:
        seen.append(durable)
        return real(db, durable=durable)

    monkeypatch.setattr(journal, "_transaction", spy)
    try:
        journal.allocate_id(COMUNE)
    finally:
        journal.close()
    assert seen == [True]


class _SkewedTime:
    """``time`` of a machine whose clock is an hour ahead."""

    @staticmethod
    def time() -> float:
        return time.time() + 3600


def test_leases_follow_the_servers_clock_not_the_machines(
    postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker on a machine whose clock is an hour ahead must not take over an operation
    whose lease (on the server's clock) still runs."""
    url = postgres.fresh_url("clock")
    here = PostgresJournal(url, id_marks=False)
    key = _open(here)
    with here._db.cursor() as cur:  # held by a worker of another machine, 60 s to go
        cur.execute(
            "UPDATE operations SET owner = 'far-away:7:x', "
            "lease_until = EXTRACT(EPOCH FROM clock_timestamp()) + 60 WHERE id = %s",
            (key,),
        )
    monkeypatch.setattr(pg, "time", _SkewedTime)
    ahead = PostgresJournal(url, id_marks=False)
    assert abs(ahead._clock() - time.time()) < 5  # the offset was measured
    with pytest.raises(OperationHeld, match="another process"):
        ahead.claim(key, lease=30)
    with here._db.cursor() as cur:  # the lease runs out (on the server's clock)
        cur.execute(
            "UPDATE operations SET lease_until = EXTRACT(EPOCH FROM clock_timestamp()) - 1 "
            "WHERE id = %s",
            (key,),
        )
    taken = ahead.claim(key, lease=30)
    assert taken.lease_until is not None
    assert abs(taken.lease_until - (time.time() + 30)) < 5  # on the server's clock too
    here.close()
    ahead.close()


def _pg_tool(name: str) -> str:
    found = find_bin()
    assert found is not None
    return str(found / name)


def test_a_restored_dump_is_refused_until_accepted(postgres: Cluster, tmp_path: Path) -> None:
    """A real ``pg_dump`` / ``pg_restore`` of the journal's schema: the restored counter is
    behind what this machine handed out, so allocation stops until the rollback is accepted,
    and the ids handed out after the dump are never handed out again."""
    url = postgres.fresh_url("restore")
    schema = url.rsplit("search_path%3D", 1)[1]
    marks = tmp_path / "state" / "id-marks.sqlite"
    with PostgresJournal(url, id_marks=marks) as j:
        before = [j.allocate_id(COMUNE) for _ in range(3)]
    dump = tmp_path / "journal.dump"
    conn = ["-h", str(postgres.socket_dir), "-U", "anpr", "-d", "postgres"]
    subprocess.run(
        [_pg_tool("pg_dump"), *conn, "-n", schema, "-Fc", "-f", str(dump)],
        check=True,
        capture_output=True,
    )
    with PostgresJournal(url, id_marks=marks) as j:
        after = [j.allocate_id(COMUNE) for _ in range(7)]
    subprocess.run(
        [_pg_tool("pg_restore"), *conn, "--clean", str(dump)], check=True, capture_output=True
    )
    restored = PostgresJournal(url, id_marks=marks)
    assert restored.rollbacks() == [Rollback(COMUNE, 3, 10)]
    with pytest.raises(JournalRolledBack):
        restored.allocate_id(COMUNE)
    assert restored.accept_rollback() == [Rollback(COMUNE, 3, 10)]
    nxt = restored.allocate_id(COMUNE)
    assert counter_of(nxt, restored.id_prefix) == 11
    assert nxt not in before + after
    restored.close()


def test_no_password_in_messages(postgres: Cluster) -> None:
    assert redact_url("postgresql://anpr:s3cret@db.example:5432/anpr") == (
        "postgresql://anpr:***@db.example:5432/anpr"
    )
    assert redact_url("postgresql:///anpr?host=/run&password=s3cret&user=x") == (
        "postgresql:///anpr?host=/run&password=***&user=x"
    )
    wrong = f"postgresql://nobody:s3cret@/nowhere?host={postgres.socket_dir}"
    with pytest.raises(ConfigurationError) as info:
        PostgresJournal(wrong, id_marks=False, connect_timeout=2)
    assert "s3cret" not in str(info.value)
    assert "***" in str(info.value)
    assert info.value.setting == "journal"


def test_without_psycopg_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"anpr-client\[postgresql\]"):
        open_journal("postgresql://localhost/anpr")


def test_a_worker_of_another_machine_is_told_who_holds_it(
    postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is a compare-and-set under a row lock: once machine A holds the operation,
    machine B's claim is refused and names the holder, until A releases it."""
    from anpr_client.journal import sql

    url = postgres.fresh_url("claim")
    a, b = PostgresJournal(url, id_marks=False), PostgresJournal(url, id_marks=False)
    key = _open(a)
    a.release(key)
    monkeypatch.setattr(sql, "current_owner", lambda: "machine-a:1:x")
    assert a.claim(key, lease=60).owner == "machine-a:1:x"
    monkeypatch.setattr(sql, "current_owner", lambda: "machine-b:2:y")
    with pytest.raises(JournalError, match="machine-a:1:x"):
        b.claim(key, lease=60)
    monkeypatch.setattr(sql, "current_owner", lambda: "machine-a:1:x")
    a.release(key)
    monkeypatch.setattr(sql, "current_owner", lambda: "machine-b:2:y")
    assert b.claim(key, lease=60).owner == "machine-b:2:y"
    a.close()
    b.close()


def _cli() -> Any:
    from anpr_client.cli.main import cli

    return cli
