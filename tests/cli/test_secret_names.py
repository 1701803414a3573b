"""A secret typed where its variable's *name* belongs (``password_env = "My-Secret!"``) is
refused without being shown: not in the error, not in ``--json``, not in a repr.

Every setting that names an environment variable is covered: ``password_env`` and ``pin_env``
of every key-source section, the notification decryption keys, and ``anpr simulator
credentials --password-env``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from anpr_client.cli.main import cli
from anpr_client.credentials import load_key_source
from anpr_client.credentials.base import env_var_name, resolve_secret
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.settings import KeySourceConfig, load_settings

SECRET = "My-Secret!"
NOT_SHOWN = "is not a variable name (not shown)"

HEAD = 'environment = "test"\ncodice_istat = "058091"\n'
SECTIONS = {
    "comune_key.password_env": f'[comune_key]\npkcs12 = "co.p12"\npassword_env = "{SECRET}"\n',
    "workstation.password_env": (
        f'[workstation]\nid = "058091-PC-0001"\npkcs12 = "pc.p12"\npassword_env = "{SECRET}"\n'
    ),
    "tls_client.password_env": (
        f'[tls_client]\npem_key = "k.pem"\npem_cert = "c.pem"\npassword_env = "{SECRET}"\n'
    ),
    "operator.pin_env": (
        '[operator]\nfrom_card = true\npkcs11_module = "/usr/lib/p11.so"\n'
        f'token_label = "CNS"\nkey_label = "CNS0"\npin_env = "{SECRET}"\n'
    ),
    "comune_key.pin_env": f'[comune_key]\npcsc_reader = "Reader 0"\npin_env = "{SECRET}"\n',
    "notifications.decrypt_keys[1].password_env": (
        '[notifications]\ndecrypt_keys = [{ pkcs12 = "a.p12", password_env = "GOOD_NAME" }, '
        f'{{ pkcs12 = "b.p12", password_env = "{SECRET}" }}]\n'
    ),
}


@pytest.mark.parametrize("setting", list(SECTIONS))
def test_settings_refuse_a_secret_without_showing_it(tmp_path: Path, setting: str) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text(HEAD + SECTIONS[setting], encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_settings(config, env={})
    exc = info.value
    assert str(exc).startswith(f"the value of {setting} {NOT_SHOWN}")
    assert exc.setting == setting
    assert exc.rule == "[A-Za-z_][A-Za-z0-9_]*"
    for text in (str(exc), repr(exc), repr(exc.args), str(exc.rule), str(exc.setting)):
        assert SECRET not in text
    assert exc.__cause__ is None


@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_never_echoes_it(tmp_path: Path, as_json: bool) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text(HEAD + SECTIONS["comune_key.password_env"], encoding="utf-8")
    payload = tmp_path / "p.json"
    payload.write_text("{}", encoding="utf-8")
    args = ["call", "3002", "--input", str(payload), "--config", str(config)]
    result = CliRunner().invoke(cli, args + (["--json"] if as_json else []))
    assert result.exit_code == 2
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if as_json:
        data = json.loads(result.stdout)
        assert data["error"] == "ConfigurationError"
        assert NOT_SHOWN in data["message"]
        assert "comune_key.password_env" in data["message"]
    else:
        assert NOT_SHOWN in result.stderr


@pytest.mark.parametrize(
    "value", [SECRET, "correct horse", "1PASSWORD", "a=b", "NAME\n", "", "ÀÉÎ", "x\x00y"]
)
def test_in_code_too(value: str, tmp_path: Path) -> None:
    for make in (
        lambda: KeySourceConfig("pkcs12", path=tmp_path / "x.p12", password_env=value),
        lambda: KeySourceConfig("pcsc", pcsc_reader="Reader", pin_env=value),
        lambda: resolve_secret("password", env_var=value, callback=None, setting="x.pin_env"),
    ):
        if value == "":  # empty means "not configured", as before
            continue
        with pytest.raises(ConfigurationError, match=r"not a variable name \(not shown\)") as e:
            make()
        assert value not in str(e.value) + repr(e.value)


def test_a_name_passes_and_is_named_when_unset(tmp_path: Path) -> None:
    assert env_var_name("ANPR_CO_PASSWORD", setting="x") == "ANPR_CO_PASSWORD"
    assert env_var_name("_p1", setting="x") == "_p1"
    config = KeySourceConfig("pkcs12", path=tmp_path / "x.p12", password_env="ANPR_UNSET_VAR_X")
    with pytest.raises(ConfigurationError, match="ANPR_UNSET_VAR_X") as info:
        load_key_source(config, purpose="comune_key")
    assert info.value.setting == "comune_key.password_env"


def test_simulator_credentials_option(tmp_path: Path) -> None:
    state, out = str(tmp_path / "state"), str(tmp_path / "out")
    args = ["simulator", "credentials", "--state", state, "--out", out]
    result = CliRunner().invoke(cli, [*args, "--password-env", SECRET])
    assert result.exit_code == 2
    assert SECRET not in result.stdout + result.stderr
    assert f"the value of --password-env {NOT_SHOWN}" in result.stderr
    assert not (tmp_path / "out").exists()
