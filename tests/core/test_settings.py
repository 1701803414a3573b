"""Settings: TOML file, environment overrides, and errors that name the setting and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from anpr_client.endpoints import FAMILY_PATHS, Environment, family_path
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.settings import (
    ApplicationIdentity,
    OperatorSettings,
    SecuritySettings,
    Settings,
    default_journal_path,
    journal_from_env,
    journal_path,
    load_settings,
)

CONTRACT = """
environment = "test"
codice_istat = "058091"
cod_destinatario = "ANPR05"
base_url = "https://127.0.0.1:8443"
ca_bundle = "ca.pem"
[application]
name = "GESTIONALE"
version = "1.0"
vendor = "ACME SRL"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "anpr.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_file_loads(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, CONTRACT), env={})
    assert s.environment is Environment.TEST
    assert s.codice_istat == "058091"
    assert s.ca_bundle == tmp_path / "ca.pem"  # relative to the file
    assert s.application == ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL")
    assert (
        s.url_for("3000") == "https://127.0.0.1:8443/ANPR3000ServiziConsultazione/AnprService3000"
    )
    assert s.tipo_invio == "TEST"
    assert s.source == (tmp_path / "anpr.toml").resolve()


def test_anpr_config_variable_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, CONTRACT)
    env = {
        "ANPR_CONFIG": str(path),
        "ANPR_ENVIRONMENT": "produzione",
        "ANPR_APP_VERSION": "2.0",
        "ANPR_OPERATOR_CF": "RSSMRA80A01H501U",
    }
    s = load_settings(env=env)
    assert s.environment is Environment.PRODUZIONE
    assert s.tipo_invio == "PROD"
    assert s.application is not None
    assert s.application.version == "2.0"
    assert s.operator is not None
    assert s.operator.codice_fiscale == "RSSMRA80A01H501U"
    assert load_settings(env=env, codice_istat="015146").codice_istat == "015146"


def test_full_security_sections(tmp_path: Path) -> None:
    text = (
        CONTRACT
        + """
[operator]
codice_fiscale = "RSSMRA80A01H501U"
[comune_key]
pkcs12 = "co.p12"
password_env = "ANPR_CO_PASSWORD"
[workstation]
id = "058091-PC-0001"
pem_key = "pc.key"
pem_cert = "pc.pem"
[tls_client]
pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "CNS"
key_label = "CNS0"
pin_env = "ANPR_PIN"
[security]
signature = "rsa-sha1"
application_id = "12345"
[notifications]
store = "inbox.sqlite"
anpr_ca = "anpr-ca.pem"
decrypt_keys = [{ pkcs12 = "co-9999.p12", password_env = "P1" }, { pkcs12 = "co-9998.p12" }]
"""
    )
    s = load_settings(write(tmp_path, text), env={})
    assert s.comune_key is not None
    assert (s.comune_key.kind, s.comune_key.path) == ("pkcs12", tmp_path / "co.p12")
    assert s.workstation is not None
    assert s.workstation.key is not None
    assert s.workstation.key.kind == "pem"
    assert s.tls_client is not None
    assert s.tls_client.kind == "pkcs11"
    assert s.security.signature is SignatureMethod.RSA_SHA1  # the short name, mapped
    assert [k.path for k in s.notifications.decrypt_keys] == [
        tmp_path / "co-9999.p12",
        tmp_path / "co-9998.p12",
    ]


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        (CONTRACT.replace('name = "GESTIONALE"', 'name = "GEST_IONALE"'), "application.name"),
        (CONTRACT.replace('vendor = "ACME SRL"', 'vendor = "A&B"'), "application.vendor"),
        (CONTRACT.replace('"test"', '"staging"'), "environment"),
        (CONTRACT.replace('"058091"', '"58091"'), "codice_istat"),
        ("colour = 1\n" + CONTRACT, "colour"),
        (CONTRACT + "colour = 1\n", "application.colour"),
        (CONTRACT + "[comune_key]\npassword = 'secret'\n", "comune_key.password"),
        (CONTRACT + "[comune_key]\npem_key = 'k.pem'\n", "comune_key"),
        (CONTRACT + "[workstation]\nid = 'PC1'\n", "workstation.id"),
        (CONTRACT + "[timeouts]\nread = -1\n", "timeouts.read"),
        (CONTRACT + "[security]\nsignature = 'rsa-md5'\n", "security.signature"),
        (CONTRACT.replace("https://", "ftp://"), "base_url"),
        (CONTRACT.replace("https://", "http://"), "base_url"),
        (
            CONTRACT.replace("https://127.0.0.1", "http://anpr.example")
            + "[tls]\nallow_plain_http = true\n",
            "base_url",
        ),
        ("environment = 'test'\n", "codice_istat"),
        ("codice_istat = [\n", "config"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, setting: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(write(tmp_path, text), env={})
    assert info.value.setting == setting
    assert "secret" not in str(info.value)


def test_plain_http_only_to_a_loopback_host_when_allowed(tmp_path: Path) -> None:
    text = CONTRACT.replace("https://", "http://") + "[tls]\nallow_plain_http = true\n"
    s = load_settings(write(tmp_path, text), env={})
    assert s.host == "http://127.0.0.1:8443"
    assert s.tls.allow_plain_http is True


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read") as info:
        load_settings(tmp_path, env={})  # a directory
    assert info.value.setting == "config"
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('codice_istat = "058091" # Forlì\n'.encode("latin-1"))
    with pytest.raises(ConfigurationError, match="not valid TOML") as info:
        load_settings(latin1, env={})
    assert info.value.setting == "config"


def test_settings_are_immutable_and_validated_in_code() -> None:
    s = Settings(codice_istat="058091")
    with pytest.raises(AttributeError):
        s.codice_istat = "000000"  # type: ignore[misc]
    with pytest.raises(ConfigurationError):
        ApplicationIdentity("ok", "1.0", "x" * 81)
    assert Settings(codice_istat="058091", environment="produzione").environment is (  # type: ignore[arg-type]
        Environment.PRODUZIONE
    )


def test_one_rule_for_where_the_journal_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = tmp_path / "data" / "anpr-client" / "journal.sqlite"
    assert default_journal_path() == default
    assert journal_path() == default
    assert journal_path(tmp_path / "mine.sqlite") == tmp_path / "mine.sqlite"
    assert journal_path(tmp_path / "mine.sqlite", enabled=False) is None
    assert Settings(codice_istat="058091").journal_path == default
    named = Settings(codice_istat="058091", journal=tmp_path / "j.sqlite")
    assert named.journal_path == tmp_path / "j.sqlite"
    assert named.replace(journal_enabled=False).journal_path is None


def test_anpr_journal_says_a_path_or_a_switch(tmp_path: Path) -> None:
    assert journal_from_env({}) is None
    assert journal_from_env({"ANPR_JOURNAL": "  "}) is None
    assert journal_from_env({"ANPR_JOURNAL": "Off"}) is False
    assert journal_from_env({"ANPR_JOURNAL": "no"}) is False
    assert journal_from_env({"ANPR_JOURNAL": "ON"}) is True
    given = journal_from_env({"ANPR_JOURNAL": str(tmp_path / "j.sqlite")})
    assert given == tmp_path / "j.sqlite"
    relative = journal_from_env({"ANPR_JOURNAL": "j.sqlite"})
    assert isinstance(relative, Path)
    assert relative.is_absolute()
    config = write(tmp_path, 'codice_istat = "058091"\n')
    loaded = load_settings(config, env={"ANPR_JOURNAL": str(tmp_path / "env.sqlite")})
    assert loaded.journal_path == tmp_path / "env.sqlite"


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("rsa-sha256", SignatureMethod.RSA_SHA256),
        ("rsa-sha1", SignatureMethod.RSA_SHA1),
        (" rsa-sha1 ", SignatureMethod.RSA_SHA1),
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", SignatureMethod.RSA_SHA256),
        (SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA1),
    ],
)
def test_the_signature_setting_maps_short_names_to_members(name: str, member: object) -> None:
    assert SecuritySettings(signature=name).signature is member  # type: ignore[arg-type]
    assert SecuritySettings().signature is SignatureMethod.RSA_SHA256


@pytest.mark.parametrize("bad", ["rsa-md5", "RSA-SHA256", "", "sha256", "hmac-sha1"])
def test_an_unknown_signature_name_lists_the_allowed_ones(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SecuritySettings(signature=bad)  # type: ignore[arg-type]
    assert info.value.setting == "security.signature"
    assert info.value.rule == "rsa-sha256 | rsa-sha1"
    assert "use rsa-sha256 | rsa-sha1" in str(info.value)


def test_a_service_family_without_a_path_is_a_typed_error() -> None:
    """A family of a user bundle (``wsdl_dir``) missing from the paths table is named, with
    the setting to look at, as a ConfigurationError (never a bare KeyError)."""
    settings = Settings(codice_istat="058091")
    assert settings.url_for("3000").endswith(FAMILY_PATHS["3000"])
    for family in ("9000", "", "3000 ", "anpr"):
        with pytest.raises(ConfigurationError) as info:
            settings.url_for(family)
        assert info.value.setting == "wsdl_dir"
        assert repr(family) in str(info.value)
        assert not isinstance(info.value, KeyError)
    with pytest.raises(ConfigurationError, match="'9000'"):
        family_path("9000", Environment.PRODUZIONE)
    assert family_path("P000", Environment.PRODUZIONE) == "/ANPR-WSP000/AnprServiceP000"


# ----------------------------------------------------------------------------- wsdl_dir


def _our_family(tmp_path: Path, family: str = "3000-consultazione") -> Path:
    """A user bundle of one family, copied from ours (plus the common schemas it imports)."""
    from anpr_client.soap.bundle import default_bundle_dir

    ours = default_bundle_dir()
    target = tmp_path / "bundle"
    shutil.copytree(ours / family, target / family)
    shutil.copytree(ours / "common", target / "common")
    return target


def test_a_wsdl_dir_with_a_bundle_is_used_and_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _our_family(tmp_path)
    monkeypatch.chdir(tmp_path)
    s = Settings(codice_istat="058091", wsdl_dir=Path("bundle"))
    assert s.wsdl_dir == bundle
    loaded = load_settings(write(tmp_path, 'wsdl_dir = "bundle"\n' + CONTRACT), env={})
    assert loaded.wsdl_dir == bundle


def _bad_wsdl_dir(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / kind
    if kind == "a-file":
        path.write_text("x", encoding="utf-8")
    elif kind != "missing":
        path.mkdir()
    if kind == "no-wsdl":
        (path / "a.xsd").write_text("<a/>", encoding="utf-8")
    if kind == "broken-wsdl":
        (path / "x.wsdl").write_text("<definitions", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "does not exist"),
        ("a-file", "is not a directory"),
        ("empty", "holds no ANPR WSDL"),
        ("no-wsdl", "holds no ANPR WSDL"),
        ("broken-wsdl", "cannot read the WSDL"),
    ],
)
def test_an_empty_missing_or_mistyped_wsdl_dir_is_refused_not_replaced(
    tmp_path: Path, kind: str, reason: str
) -> None:
    """Before, such a wsdl_dir silently fell back to our bundle: settings that lied."""
    path = _bad_wsdl_dir(tmp_path, kind)
    with pytest.raises(ConfigurationError, match=reason) as info:
        Settings(codice_istat="058091", wsdl_dir=path)
    assert info.value.setting == "wsdl_dir"
    config = write(tmp_path, f"wsdl_dir = {str(path)!r}\n" + CONTRACT)
    with pytest.raises(ConfigurationError, match=reason) as info:
        load_settings(config, env={})
    assert info.value.setting == "wsdl_dir"
    with pytest.raises(ConfigurationError, match=reason) as info:
        load_settings(write(tmp_path, CONTRACT), env={"ANPR_WSDL_DIR": str(path)})
    assert info.value.setting == "wsdl_dir"


def test_an_empty_wsdl_dir_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(write(tmp_path, 'wsdl_dir = ""\n' + CONTRACT), env={})
    assert info.value.setting == "wsdl_dir"
    with pytest.raises(ConfigurationError) as info:
        Settings(codice_istat="058091", wsdl_dir="  ")  # type: ignore[arg-type]
    assert info.value.setting == "wsdl_dir"


# ----------------------------------------------------------------------------- operator


@pytest.mark.parametrize("generic", ["USERSFREETEST237", "COMUNETEST019025"])
def test_anpr_generic_test_operators_are_accepted_in_test_only(
    tmp_path: Path, generic: str
) -> None:
    """italia/anpr#374, #2594: ANPR's test environments had generic users as NameID."""
    config = write(tmp_path, CONTRACT + f'[operator]\ncodice_fiscale = "{generic}"\n')
    s = load_settings(config, env={})
    assert s.operator_id == generic
    for environment in ("produzione", "presubentro"):
        with pytest.raises(ConfigurationError, match="generic test user") as info:
            load_settings(config, env={"ANPR_ENVIRONMENT": environment})
        assert info.value.setting == "operator.codice_fiscale"
        assert "environment = test" in (info.value.rule or "")
    with pytest.raises(ConfigurationError) as info:
        s.replace(environment=Environment.PRODUZIONE)
    assert info.value.setting == "operator.codice_fiscale"


def test_the_operator_codice_fiscale_is_checked_when_the_settings_load(tmp_path: Path) -> None:
    s = Settings(
        codice_istat="058091",
        operator=OperatorSettings(codice_fiscale="rssmra80a01h501u"),
        environment=Environment.PRODUZIONE,
    )
    assert s.operator_id == "RSSMRA80A01H501U"  # the compact form goes in the NameID
    assert Settings(codice_istat="058091").operator_id is None
    for bad in ("RSSMRA80A01H501X", "COMUNETEST", "comunetest019025", ""):
        config = write(tmp_path, CONTRACT + f'[operator]\ncodice_fiscale = "{bad}"\n')
        with pytest.raises(ConfigurationError) as info:
            load_settings(config, env={})
        assert info.value.setting == "operator.codice_fiscale", bad


# ----------------------------------------------------------------------------- IdApplicazione


def test_id_applicazione_is_an_explicit_setting(tmp_path: Path) -> None:
    assert SecuritySettings().application_id is None  # not set: the frame uses the sample's
    quoted = load_settings(
        write(tmp_path, CONTRACT + '[security]\napplication_id = "777"\n'), env={}
    )
    assert quoted.security.application_id == "777"
    number = load_settings(
        write(tmp_path, CONTRACT + "[security]\napplication_id = 12345\n"), env={}
    )
    assert number.security.application_id == "12345"  # every known value is numeric
    for bad in ('""', '"  "', "true", '"a\\u0000b"'):
        config = write(tmp_path, CONTRACT + f"[security]\napplication_id = {bad}\n")
        with pytest.raises(ConfigurationError) as info:
            load_settings(config, env={})
        assert info.value.setting == "security.application_id", bad
