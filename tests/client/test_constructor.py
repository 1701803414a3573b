"""One constructor: ``Client(settings)`` is ready as the settings say; ``None`` switches a part
off; ``Client.from_config`` is the same constructor from a file; ``client_from_settings`` is a
deprecated alias of it."""

from __future__ import annotations

from pathlib import Path

import pytest

import anpr_client
from anpr_client import FROM_SETTINGS, Client, client_from_settings, load_settings
from anpr_client.journal import Journal
from anpr_client.security.frame import WsSecurity
from anpr_client.settings import Settings
from anpr_client.simulator.pki import generate_test_pki
from anpr_client.soap.binding import Binding
from tests.client.support import write_signing_config

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("constructor-pki")
    generate_test_pki("058091").write(directory, password="pw")
    return directory


@pytest.fixture
def config(pki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file with the Comune's keys and its own journal file."""
    monkeypatch.setenv("TEST_P12_PASSWORD", "pw")
    return write_signing_config(tmp_path / "anpr.toml", pki_dir, tmp_path / "journal.sqlite")


def test_not_given_means_as_the_settings_say(config: Path, tmp_path: Path) -> None:
    settings = load_settings(config, env={})
    client = Client(settings)
    assert isinstance(client.wsse, WsSecurity)  # the keys are configured: the frame is built
    assert isinstance(client.journal, Journal)  # on by default, in the file the settings name
    assert client.journal.path == tmp_path / "journal.sqlite"
    assert client.prepare("3002", PAYLOAD).signed
    assert isinstance(client.binding, Binding)
    assert client.binding.wsse is client.wsse
    assert client.settings is client.binding.settings
    client.close()


def test_none_means_off(config: Path) -> None:
    settings = load_settings(config, env={})
    client = Client(settings, wsse=None, journal=None)
    assert client.wsse is None
    assert client.journal is None
    assert not client.prepare("3002", PAYLOAD).signed


def test_the_settings_can_switch_the_journal_off_and_have_no_keys() -> None:
    settings = Settings(codice_istat="058091", journal_enabled=False)
    client = Client(settings)
    assert client.wsse is None
    assert client.journal is None
    # the sentinel spelled out is the same as leaving the keyword out
    spelled = Client(settings, wsse=FROM_SETTINGS, journal=FROM_SETTINGS)
    assert (spelled.wsse, spelled.journal) == (None, None)


def test_a_journal_given_is_used_as_is(tmp_path: Path) -> None:
    mine = Journal(tmp_path / "mine.sqlite", durable=False)
    settings = Settings(codice_istat="058091", journal_enabled=False)  # given beats settings
    with Client(settings, journal=mine) as client:
        assert client.journal is mine
    assert mine.allocate_id("058091")  # still open: the client did not own it


def test_from_config_is_the_constructor(config: Path) -> None:
    built = Client(load_settings(config))
    loaded = Client.from_config(config)
    assert loaded.settings == built.settings
    assert type(loaded.wsse) is type(built.wsse) is WsSecurity
    assert isinstance(loaded.journal, Journal)
    assert isinstance(built.journal, Journal)
    assert loaded.journal.path == built.journal.path
    # keywords go to the constructor
    plain = Client.from_config(config, wsse=None, journal=None)
    assert (plain.wsse, plain.journal) == (None, None)


def test_client_from_settings_warns_and_still_works(config: Path, tmp_path: Path) -> None:
    settings = load_settings(config, env={})
    with pytest.warns(DeprecationWarning, match=r"Client\(settings"):
        client = client_from_settings(settings)
    assert isinstance(client.wsse, WsSecurity)
    assert isinstance(client.journal, Journal)
    with pytest.warns(DeprecationWarning, match="client_from_settings"):
        off = client_from_settings(settings, sign=False, journal=False)
    assert (off.wsse, off.journal) == (None, None)
    # journal=True opens the settings' journal even when they switch it off
    switched_off = settings.replace(journal_enabled=False)
    with pytest.warns(DeprecationWarning, match="client_from_settings"):
        forced = client_from_settings(switched_off, sign=False, journal=True)
    assert isinstance(forced.journal, Journal)
    assert forced.journal.path == tmp_path / "journal.sqlite"
    assert "client_from_settings" in anpr_client.__all__


def test_the_old_factory_module_still_exports_the_alias() -> None:
    import importlib
    import sys

    sys.modules.pop("anpr_client.factory", None)
    with pytest.warns(DeprecationWarning, match="moved to anpr_client"):
        factory = importlib.import_module("anpr_client.factory")
    assert factory.client_from_settings is client_from_settings
