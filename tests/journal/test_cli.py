"""``anpr journal``: pending, show, export, resolve, keygen — and the settings that drive them.

``resolve`` runs a real client over HTTPS on loopback against the fake ANPR of ``support.py``
(the simulator-based crash test is in ``test_simulator.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import sqlite3
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from anpr_client.cli.main import cli as cli_main
from anpr_client.client import Client
from anpr_client.errors.exceptions import ConfigurationError, ConnectionLost
from anpr_client.journal import Journal, generate_key, key_from_text
from anpr_client.settings import load_settings
from anpr_client.transport import HttpRequest
from tests.client.support import LoopbackServer, ca, loopback
from tests.journal.support import COMUNE, FakeAnpr, payload_5005, settings

__all__ = ["ca", "loopback"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    from anpr_client.cli.main import cli

    result = CliRunner().invoke(cli, ["journal", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def setup(tmp_path: Path, loopback: LoopbackServer) -> tuple[Path, Path, FakeAnpr]:
    """A settings file pointing at the loopback server, whose answers come from a FakeAnpr."""
    fake = FakeAnpr()

    def handler(server: BaseHTTPRequestHandler, body: bytes) -> None:
        response = fake(HttpRequest(loopback.url + server.path, body))
        server.send_response(response.status)
        server.send_header("Content-Type", response.content_type)
        server.send_header("Content-Length", str(len(response.body)))
        server.end_headers()
        server.wfile.write(response.body)

    loopback.canned.handler = handler
    path = tmp_path / "journal.sqlite"
    config = tmp_path / "anpr.toml"
    config.write_text(
        f'environment = "test"\ncodice_istat = "{COMUNE}"\nbase_url = "{loopback.url}"\n'
        f'ca_bundle = "{loopback.ca_pem}"\njournal = "{path}"\n'
        "[retry]\nbackoff = 0.0\n"
        "[validation]\nbefore_send = false\n"
        '[application]\nname = "GESTIONALE"\nversion = "1.0"\nvendor = "ACME SRL"\n',
        encoding="utf-8",
    )
    return config, path, fake


def _leave_unknown(config: Path, fake: FakeAnpr) -> str:
    """A 5005 whose every answer was lost: applied once by the fake, unknown to the journal."""
    fake.script = ["lose"] * 4
    with Client(load_settings(config)) as client:
        with pytest.raises(ConnectionLost):
            client.call("5005", payload_5005())
        assert client.journal is not None
        (record,) = client.journal.pending()
    return record.id_operazione_comune


def test_pending_show_resolve(setup: tuple[Path, Path, FakeAnpr]) -> None:
    config, path, fake = setup
    code, _, err = run("pending", "--config", str(config))
    assert code == 2
    assert "no journal" in err
    Journal(path).close()
    code, out, _ = run("pending", "--config", str(config))
    assert (code, out.strip()) == (0, "nothing pending")
    ident = _leave_unknown(config, fake)

    code, out, _ = run("pending", "--config", str(config))
    assert code == 0
    assert ident in out
    assert "may have been applied" in out
    code, out, _ = run("pending", "--config", str(config), "--json")
    (row,) = json.loads(out)
    assert (row["idOperazioneComune"], row["state"], row["attempts"]) == (
        ident,
        "outcome_unknown",
        4,
    )
    assert "payload" not in row  # listings carry no personal data

    code, out, _ = run("show", ident, "--config", str(config))
    assert code == 0
    assert "outcome_unknown" in out
    assert out.count("ConnectionLost") == 4
    code, out, _ = run("show", ident, "--config", str(config), "--json")
    shown = json.loads(out)
    assert shown["payload"] == json.loads(json.dumps(payload_5005()))
    assert [a["state"] for a in shown["attempts"]] == ["outcome_unknown"] * 4
    assert shown["attempts"][0]["envelope"].startswith("<?xml")

    code, out, err = run("resolve", "--config", str(config))
    assert code == 0, err
    assert ident in out
    assert "resolved" in out
    assert fake.applied == {(COMUNE, ident): 1}  # the replay got the stored answer
    code, out, _ = run("pending", "--config", str(config), "--json")
    assert json.loads(out) == []
    code, out, _ = run("show", ident, "--config", str(config), "--json")
    assert (json.loads(out)["state"], json.loads(out)["resolution"]) == ("resolved", "replay")


def test_resolve_one_with_lookup(setup: tuple[Path, Path, FakeAnpr]) -> None:
    config, _, fake = setup
    ident = _leave_unknown(config, fake)
    sent = len(fake.requests)
    code, out, err = run("resolve", ident, "--lookup", "--config", str(config), "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert (row["state"], row["outcome"], row["resolution"]) == ("resolved", "ok", "lookup")
    assert len(fake.requests) == sent + 1  # one 3003, no resend
    assert fake.applied == {(COMUNE, ident): 1}


def test_resolve_still_unknown_exits_3(setup: tuple[Path, Path, FakeAnpr]) -> None:
    config, _, fake = setup
    ident = _leave_unknown(config, fake)
    fake.script = ["lose"] * 4
    code, out, _ = run("resolve", ident, "--config", str(config), "--json")
    assert code == 3
    (row,) = json.loads(out)
    assert row["state"] == "outcome_unknown"
    assert "ConnectionLost" in row["error"]


def test_resolve_a_ko_exits_1(setup: tuple[Path, Path, FakeAnpr]) -> None:
    config, _, fake = setup
    fake.script = ["ko-lose", "lose", "lose", "lose"]
    with Client(load_settings(config)) as client, pytest.raises(ConnectionLost):
        client.call("5005", payload_5005())
    code, out, _ = run("resolve", "--config", str(config), "--json")
    assert code == 1
    assert json.loads(out)[0]["outcome"] == "ko"


def test_show_unknown_id_exits_2(setup: tuple[Path, Path, FakeAnpr]) -> None:
    config, path, _ = setup
    Journal(path).close()
    code, _, err = run("show", "NOSUCHID", "--config", str(config))
    assert code == 2
    assert "no operation" in err
    code, _, err = run("resolve", "NOSUCHID", "--config", str(config))
    assert code == 2


def test_export_jsonl(setup: tuple[Path, Path, FakeAnpr], tmp_path: Path) -> None:
    config, path, fake = setup
    client = Client(settings(), transport=fake.transport(), journal=Journal(path))
    ids = [client.call("5005", payload_5005()).id_operazione_comune for _ in range(3)]
    today = dt.date.today().isoformat()
    code, out, _ = run("export", "--since", today, "--config", str(config))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["idOperazioneComune"] for x in lines] == ids
    assert all(x["state"] == "answered" and x["payload"] for x in lines)
    assert lines[0]["attempts"][0]["response"].startswith("<soap:Envelope")
    code, out, _ = run("export", "--since", today, "--no-content", "--config", str(config))
    assert all("payload" not in json.loads(line) for line in out.splitlines())
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    code, out, _ = run("export", "--since", tomorrow, "--config", str(config))
    assert (code, out) == (0, "")
    code, _, err = run("export", "--since", "yesterday", "--config", str(config))
    assert code == 2
    assert "not a date" in err


def test_without_settings_uses_anpr_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    code, _, err = run("pending", env={"ANPR_JOURNAL": str(path), "ANPR_CONFIG": ""})
    assert code == 2
    assert "no journal" in err
    assert not path.exists()  # reading never creates a journal
    Journal(path).close()
    code, out, _ = run("pending", env={"ANPR_JOURNAL": str(path), "ANPR_CONFIG": ""})
    assert (code, out.strip()) == (0, "nothing pending")


def test_journal_switched_off(tmp_path: Path) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text('codice_istat = "058091"\njournal = false\n', encoding="utf-8")
    code, _, err = run("pending", "--config", str(config))
    assert code == 2
    assert "journal = false" in err


def test_keygen() -> None:
    code, out, _ = run("keygen")
    assert code == 0
    assert len(key_from_text(out.strip())) == 32
    assert len(base64.urlsafe_b64decode(out.strip())) == 32


def test_encrypted_journal_needs_the_key_to_show_content(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    key = generate_key()
    fake = FakeAnpr()
    client = Client(
        settings(), transport=fake.transport(), journal=Journal(path, key=key_from_text(key))
    )
    ident = client.call("5005", payload_5005()).id_operazione_comune or ""
    env = {"ANPR_JOURNAL": str(path), "ANPR_CONFIG": ""}
    code, out, _ = run("show", ident, "--json", env=env)
    assert code == 0
    blind = json.loads(out)
    assert blind["sealed"] is True
    assert blind["payload"] is None
    assert blind["state"] == "answered"
    code, out, _ = run("show", ident, "--json", env=env | {"ANPR_JOURNAL_KEY": key})
    assert json.loads(out)["payload"] == json.loads(json.dumps(payload_5005()))


# ----------------------------------------------------------------------------- settings


def test_the_constructor_journals_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "anpr.toml"
    config.write_text('codice_istat = "058091"\n', encoding="utf-8")
    client = Client(load_settings(config, env={}))
    assert isinstance(client.journal, Journal)
    assert client.journal.path == tmp_path / "data" / "anpr-client" / "journal.sqlite"
    assert client.journal.path.exists()
    assert Client(load_settings(config, env={}), journal=None).journal is None
    config.write_text('codice_istat = "058091"\njournal = "mine.sqlite"\n', encoding="utf-8")
    named = Client(load_settings(config, env={}))
    assert isinstance(named.journal, Journal)
    assert named.journal.path == tmp_path / "mine.sqlite"
    config.write_text('codice_istat = "058091"\njournal = false\n', encoding="utf-8")
    assert Client(load_settings(config, env={})).journal is None
    off = load_settings(config.parent / "anpr.toml", env={"ANPR_JOURNAL": "off"})
    assert off.journal_enabled is False
    config.write_text('codice_istat = "058091"\njournal = "mine.sqlite"\n', encoding="utf-8")
    assert load_settings(config, env={"ANPR_JOURNAL": "OFF"}).journal_enabled is False
    on = load_settings(config, env={"ANPR_JOURNAL": "on"})
    assert (on.journal_enabled, on.journal) == (True, tmp_path / "mine.sqlite")


def test_settings_open_an_encrypted_journal(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "j.sqlite"
    Journal(path, key=key_from_text(key)).close()
    s = settings().replace(journal=path)
    with_env = Journal.from_settings(s, env={"ANPR_JOURNAL_KEY": key})
    asked: list[str] = []

    def secret(label: str) -> str:
        asked.append(label)
        return key

    by_secret = Journal.from_settings(s, env={}, secret=secret)
    assert asked == ["journal key"]
    for j in (with_env, by_secret):
        j.allocate_id(COMUNE)  # writable: the key opened it
        assert j.encrypted
    blind = Journal.from_settings(s, env={})
    assert blind.encrypted
    with pytest.raises(ConfigurationError, match="ANPR_JOURNAL_KEY"):
        blind.open_operation(
            comune=COMUNE,
            service="5000",
            operation="5005",
            id_operazione_comune="X1",
            url="u",
            header={},
            payload={},
            lease=1,
        )


# ----------------------------------------------------------------------------- damaged rows


def test_a_damaged_row_is_named_and_the_others_still_listed(
    setup: tuple[Path, Path, FakeAnpr],
) -> None:
    config, path, fake = setup
    good = _leave_unknown(config, fake)
    fake.script = ["lose"] * 8
    with Client(load_settings(config)) as client:
        for _ in range(2):
            with pytest.raises(ConnectionLost):
                client.call("5005", payload_5005())
    with Journal(path) as j:
        _, bad_header, bad_time = (r.id_operazione_comune for r in j.pending())
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE operations SET header = '{not json' WHERE id_operazione_comune = ?",
            (bad_header,),
        )
        db.execute(
            "UPDATE operations SET created_at = 'yesterday' WHERE id_operazione_comune = ?",
            (bad_time,),
        )
        keys = dict(db.execute("SELECT id_operazione_comune, id FROM operations"))

    def named(err: str) -> None:
        assert "Traceback" not in err
        assert f"journal row {keys[bad_header]} ({bad_header}): the column header" in err
        assert f"journal row {keys[bad_time]} ({bad_time}): the column created_at" in err

    code, out, err = run("pending", "--config", str(config))
    assert code == 2
    assert good in out
    assert bad_header not in out
    assert bad_time not in out
    named(err)
    code, out, err = run("pending", "--config", str(config), "--json")
    assert code == 2
    assert [r["idOperazioneComune"] for r in json.loads(out)] == [good]
    named(err)

    code, out, err = run("show", bad_header, "--config", str(config))
    assert code == 2
    assert f"journal row {keys[bad_header]} ({bad_header}): the column header" in err
    code, out, err = run("show", good, "--config", str(config))
    assert code == 0
    assert good in out

    code, out, err = run("export", "--since", "2000-01-01", "--config", str(config))
    assert code == 2
    assert [json.loads(line)["idOperazioneComune"] for line in out.splitlines()] == [good]
    named(err)

    code, out, err = run("resolve", "--config", str(config))
    assert code == 3  # the damaged rows may still be unsettled
    assert good in out
    assert "resolved" in out
    named(err)
    assert fake.applied[(COMUNE, good)] == 1
    code, out, err = run("resolve", bad_time, "--config", str(config))
    assert code == 2
    assert "the column created_at" in err


def test_anpr_call_on_a_restored_journal_exits_2_and_sends_nothing(
    setup: tuple[Path, Path, FakeAnpr], tmp_path: Path
) -> None:
    from anpr_client.cli.main import cli

    config, path, fake = setup
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(payload_5005(), default=str), encoding="utf-8")
    args = ["call", "5005", "--input", str(payload), "--config", str(config), "--json"]
    runner = CliRunner()
    assert runner.invoke(cli, args).exit_code == 0
    shutil.copyfile(path, tmp_path / "backup.sqlite")
    assert runner.invoke(cli, args).exit_code == 0
    shutil.copyfile(tmp_path / "backup.sqlite", path)
    sent = len(fake.requests)
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["error"] == "JournalRolledBack"
    assert (data["comune"], data["counter"], data["mark"]) == (COMUNE, 1, 2)
    assert "accept-rollback" in data["message"]
    assert len(fake.requests) == sent  # nothing went out
    assert (
        runner.invoke(cli, ["journal", "accept-rollback", "--config", str(config)]).exit_code == 0
    )
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    assert len(set(fake.applied)) == 3  # three operations, three ids


def test_resolve_by_resend_works_before_a_rollback_is_accepted(
    setup: tuple[Path, Path, FakeAnpr], tmp_path: Path
) -> None:
    config, path, fake = setup
    ident = _leave_unknown(config, fake)
    shutil.copyfile(path, tmp_path / "backup.sqlite")
    with Client(load_settings(config)) as client:
        client.call("5005", payload_5005())
    shutil.copyfile(tmp_path / "backup.sqlite", path)
    code, out, err = run("resolve", "--no-lookup", "--config", str(config))
    assert code == 0, err
    assert "warning: the journal" in err
    assert ident in out
    assert "resolved" in out
    assert fake.applied[(COMUNE, ident)] == 1  # the replay got the stored answer


def test_anpr_call_on_an_unknown_outcome_names_the_entry_to_resolve(
    setup: tuple[Path, Path, FakeAnpr], tmp_path: Path
) -> None:
    config, _, fake = setup
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(payload_5005()), encoding="utf-8")
    fake.script = ["lose"] * 4
    result = CliRunner().invoke(
        cli_main, ["call", "5005", "--input", str(payload), "--config", str(config)]
    )
    assert result.exit_code == 3
    assert result.stdout == ""
    with Journal.from_settings(load_settings(config)) as j:
        (record,) = j.pending()
    ident = record.id_operazione_comune
    assert ident in result.stderr
    assert f"anpr journal resolve {ident}" in result.stderr
    fake.script = ["lose"] * 4
    result = CliRunner().invoke(
        cli_main, ["call", "5005", "--input", str(payload), "--config", str(config), "--json"]
    )
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["outcomeUnknown"] is True
    second = data["idOperazioneComune"]
    assert second != ident  # a new call, a new id: both are pending
    assert data["resolve"] == f"anpr journal resolve {second}"
    with Journal.from_settings(load_settings(config)) as j:
        pending = {r.id_operazione_comune for r in j.pending()}
    assert pending == {ident, second}
