"""Bad input to the CLI: a plain message naming what is wrong and a documented exit code, never
a traceback (every CliRunner result of the suite is checked for one: ``tests/conftest.py``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anpr_client.cli.main import cli
from tests.client.support import LoopbackServer, recorded
from tests.journal.support import payload_5005

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}
BASE = (
    'environment = "test"\ncodice_istat = "058091"\njournal = false\n'
    '[application]\nname = "GESTIONALE"\nversion = "1.0"\nvendor = "ACME SRL"\n'
)


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "anpr.toml"
    path.write_text(BASE, encoding="utf-8")
    return path


def test_the_traceback_check_itself_catches_an_escaping_exception() -> None:
    @click.command()
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(AssertionError, match="let RuntimeError escape"):
        CliRunner().invoke(broken, [])

    @click.command()
    def prints() -> None:
        click.echo('Traceback (most recent call last):\n  File "x.py"', err=True)

    with pytest.raises(AssertionError, match="Traceback"):
        CliRunner().invoke(prints, [])


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ('{"criteriRicerca": {"cognome": "CAFÈ"}}'.encode("latin-1"), "is not UTF-8: byte 0xc8"),
        (b"\xef\xbb\xbf" + json.dumps(PAYLOAD).encode(), "UTF-8 with a byte-order mark"),
        (json.dumps(PAYLOAD).encode("utf-16"), "UTF-16 LE"),
        (b"\xff\xfe\x00\x00" + json.dumps(PAYLOAD).encode("utf-32-le"), "UTF-32 LE"),
    ],
    ids=["latin-1", "utf-8-bom", "utf-16", "utf-32"],
)
def test_a_payload_not_in_utf8_exits_2_naming_file_and_encoding(
    config: Path, tmp_path: Path, data: bytes, needle: str
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_bytes(data)
    for command in (["request", "build", "3002"], ["call", "3002"]):
        code, out, err = run(*command, "--input", str(payload), "--config", str(config))
        assert code == 2
        assert out == ""
        assert str(payload) in err
        assert needle in err
    code, _, err = run(
        "request", "build", "3002", "--input", "-", "--config", str(config), input=data
    )
    assert code == 2
    assert "'<stdin>'" in err
    assert needle in err


def test_an_unknown_family_lists_nothing_and_says_so() -> None:
    code, out, err = run("operations", "--family", "9999")
    assert code == 2
    assert out == ""
    assert "no operation of family '9999'" in err
    assert "3000" in err  # the families there are
    code, out, _ = run("operations", "--family", "9999", "--json")
    assert code == 2
    assert json.loads(out)["error"] == "ConfigurationError"
    code, out, _ = run("operations", "--family", "3000", "--json")
    assert code == 0
    assert {op["family"] for op in json.loads(out)} == {"3000"}


@pytest.mark.parametrize(
    ("module", "section", "extra"),
    [
        (
            "pkcs11",
            'pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"\ntoken_label = "ANPR"\n'
            'key_label = "CO"\npin_env = "ANPR_TEST_PIN"\n',
            "pip install 'anpr-client[pkcs11]'",
        ),
        ("smartcard", 'pcsc_reader = "Any reader"\npin_env = "ANPR_TEST_PIN"\n', "[pcsc]"),
    ],
    ids=["pkcs11", "pcsc"],
)
def test_a_missing_extra_says_which_to_install(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    section: str,
    extra: str,
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    monkeypatch.setenv("ANPR_TEST_PIN", "1234")
    config.write_text(
        BASE.replace(
            "[application]",
            '[operator]\ncodice_fiscale = "RSSMRA80A01H501U"\n'
            f'[comune_key]\n{section}[workstation]\nid = "058091-PC-0001"\n[application]',
        ),
        encoding="utf-8",
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    code, out, err = run(
        "request", "build", "3002", "--sign", "--input", str(payload), "--config", str(config)
    )
    assert code == 2, err
    assert out == ""
    assert extra in err


def test_anpr_warnings_are_the_operations_not_pythons(
    config: Path, tmp_path: Path, loopback: LoopbackServer
) -> None:
    config.write_text(
        BASE.replace(
            "journal = false\n",
            f'journal = false\nbase_url = "{loopback.url}"\nca_bundle = "{loopback.ca_pem}"\n'
            "[validation]\nbefore_send = false\n",
        ),
        encoding="utf-8",
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(payload_5005()), encoding="utf-8")
    loopback.canned.body = recorded("ok_5005_warnings.xml")
    code, out, err = run("call", "5005", "--input", str(payload), "--config", str(config))
    assert code == 0, err
    warnings = json.loads(out)["warnings"]
    assert warnings
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(lines) == len(warnings)
    for line, warning in zip(lines, warnings, strict=True):
        assert line.startswith("warning: operation 5005: ANPR warning ")
        assert warning["code"] in line
    assert "click" not in err
    assert "AnprWarning" not in err
    assert ".py:" not in err


def test_a_pull_older_than_anpr_keeps_is_an_input_error(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text(
        f'codice_istat = "058091"\nbase_url = "{loopback.url}"\nca_bundle = "{loopback.ca_pem}"\n'
        f'journal = false\n\n[notifications]\nstore = "{tmp_path / "inbox.sqlite"}"\n',
        encoding="utf-8",
    )
    since = (dt.date.today() - dt.timedelta(days=200)).isoformat()
    code, out, err = run("notifications", "pull", "--since", since, "--config", str(config))
    assert code == 2
    assert "180 days" in err
    assert loopback.canned.received == []  # nothing was sent
    code, out, _ = run("notifications", "pull", "--config", str(config), "--json")
    assert code == 2  # no checkpoint and no --since
    assert json.loads(out)["error"] == "PullPeriodError"
