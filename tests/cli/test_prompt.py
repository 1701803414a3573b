"""A PIN or password when it is needed: asked on the terminal, without echo, when the
environment variable the settings name is not set; never shown, never kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from anpr_client.cli import _common
from anpr_client.cli.main import cli
from anpr_client.simulator.pki import generate_test_pki
from tests.client.support import write_signing_config

PASSWORD = "Tr0ub4dor-prompted"
PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("prompt-pki")
    generate_test_pki("058091").write(directory, password=PASSWORD)
    return directory


@pytest.fixture
def files(pki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.delenv("TEST_P12_PASSWORD", raising=False)
    config = write_signing_config(tmp_path / "anpr.toml", pki_dir, tmp_path / "journal.sqlite")
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    return config, payload


def _build(config: Path, payload: Path, *, input: str | None = None) -> tuple[int, str, str]:
    args = ["request", "build", "3002", "--sign", "--json"]
    result = CliRunner().invoke(
        cli, [*args, "--input", str(payload), "--config", str(config)], input=input
    )
    return result.exit_code, result.stdout, result.stderr


def test_on_a_terminal_the_password_is_asked_without_echo(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, payload = files
    monkeypatch.setattr(_common.TerminalPrompt, "available", lambda self: True)
    code, out, err = _build(config, payload, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, err
    assert json.loads(out)["signed"] is True
    assert "Password of comune.p12 (comune_key): " in err
    assert "Password of workstation.p12 (workstation): " in err
    assert PASSWORD not in out + err  # no echo
    assert vars(_common.SECRET_PROMPT) == {}  # nothing kept


def test_the_environment_comes_first(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, payload = files
    monkeypatch.setattr(_common.TerminalPrompt, "available", lambda self: True)
    monkeypatch.setenv("TEST_P12_PASSWORD", PASSWORD)
    code, _, err = _build(config, payload, input="")
    assert code == 0, err
    assert "Password" not in err  # nothing asked


def test_without_a_terminal_the_error_names_the_variable(files: tuple[Path, Path]) -> None:
    config, payload = files
    code, out, err = _build(config, payload)  # CliRunner's stdin is no terminal
    assert code == 2
    assert json.loads(out)["message"].startswith("environment variable TEST_P12_PASSWORD")
    assert "Password" not in err


def test_a_wrong_password_typed_is_a_plain_error(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, payload = files
    monkeypatch.setattr(_common.TerminalPrompt, "available", lambda self: True)
    code, out, err = _build(config, payload, input="wrong-one\n")
    assert code == 2
    assert "wrong-one" not in out + err
