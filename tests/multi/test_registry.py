"""One service, many Comuni (issue 17 point 2): the registry against the simulator over TLS.

The simulator serves three Comuni; the registry serves two of them from the simulator's folder
of settings files (``comuni/<ISTAT>/anpr.toml``), or from one multi-Comune file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client import Client, ComuneRegistry, Settings, UnknownComuneError, load_comuni
from anpr_client.errors import ConfigurationError
from anpr_client.simulator import Simulator, SimulatorConfig, running_simulator
from anpr_client.simulator.pki import issue_certificate, name

DEFAULT = "001272"  # the simulator's first Comune: its settings live outside comuni/
A = "058091"
B = "015146"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DESK_CF = "RSSMRA80A01H501U"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    config = SimulatorConfig(
        state_dir=tmp_path_factory.mktemp("anpr-multi"), comuni=(DEFAULT, A, B), population=4
    )
    with running_simulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def folder(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of settings files for A and B (links to the simulator's: a linked file's
    relative paths are read against where it really is)."""
    path = tmp_path_factory.mktemp("served")
    for code in (A, B):
        (path / f"{code}.toml").symlink_to(sim.settings_path(code))
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _signed_for(client: Client) -> str:
    """The operator (SAML NameID) the client's requests are signed for; the simulator then
    takes a call from it (it verifies the frame)."""
    assert client.test_connection().value is not None
    envelope = etree.fromstring(client.prepare("TestConn", {}).envelope)
    name_id = envelope.find(f".//{{{SAML}}}NameID")
    assert name_id is not None
    return name_id.text or ""


def test_a_folder_serves_each_comune_over_one_shared_transport(
    sim: Simulator, folder: Path
) -> None:
    clock = Clock()
    with ComuneRegistry.from_path(folder, clock=clock) as registry:
        assert registry.codes == {A, B}
        assert registry.open_count == 0  # nothing is loaded before it is used
        for code in (A, B, A):
            with registry.use(code) as client:
                assert client.settings.codice_istat == code
                assert client.test_connection().value is not None
        assert registry.open_count == 2
        assert registry.shared_transports == 1  # one SSLContext and pool for both
        assert registry.shared_journals == 2  # each Comune's settings name its own file
        with registry.use(A) as a, registry.use(B) as b:
            assert a.transport is b.transport
            assert a.wsse is not b.wsse
    assert len(sim.ledger.operations(comune=A, service="TestConn")) >= 2
    assert sim.internal_errors == ()


def test_idle_comuni_are_released_and_reopened(sim: Simulator, folder: Path) -> None:
    clock = Clock()
    registry = ComuneRegistry.from_path(folder, idle_timeout=60, clock=clock)
    with registry:
        with registry.use(A) as client:
            first = client.wsse
            clock.now += 120  # a Comune in use is never released under its caller
            assert registry.release_idle() == 0
            assert client.test_connection().value is not None
        assert registry.open_count == 1  # just used
        clock.now += 59
        assert registry.release_idle() == 0
        clock.now += 1
        assert registry.release_idle() == 1
        assert registry.open_count == 0
        assert registry.shared_transports == 0
        assert registry.shared_journals == 0
        with registry.use(A) as client:  # keys loaded again
            assert client.wsse is not first
            assert client.test_connection().value is not None


def test_a_service_without_traffic_releases_its_keys_too(folder: Path) -> None:
    clock = Clock()
    registry = ComuneRegistry.from_path(folder, idle_timeout=60, sweep_interval=0.05, clock=clock)
    with registry:
        with registry.use(A):
            pass
        assert registry.open_count == 1
        clock.now += 60  # nobody calls: the background check releases it
        deadline = time.monotonic() + 10
        while registry.open_count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert registry.open_count == 0
        assert registry.shared_journals == 0


def test_past_max_open_the_least_recently_used_comune_goes(sim: Simulator, folder: Path) -> None:
    with ComuneRegistry.from_path(folder, max_open=1) as registry:
        with registry.use(A), registry.use(B):  # A in use: the bound is passed
            assert registry.open_count == 2
        assert registry.open_count == 1
        with registry.use(A):
            pass
        assert registry.open_count == 1


def test_many_threads_share_the_registry(sim: Simulator, folder: Path) -> None:
    errors: list[BaseException] = []
    registry = ComuneRegistry.from_path(folder, max_open=1)

    def work(code: str) -> None:
        try:
            for _ in range(3):
                with registry.use(code) as client:
                    assert client.test_connection().value is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in (A, B) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    registry.close()
    assert errors == []
    assert registry.open_count == 0


def test_an_operator_or_a_desk_is_chosen_per_call(sim: Simulator, tmp_path: Path) -> None:
    source = sim.settings_path(B)
    desks = (
        f"\n[desks.front]\noperator = {DESK_CF!r}\n[desks.back]\noperator = 'RSSLRA82B41H501Y'\n"
    )
    folder = tmp_path / "comuni"
    (folder / B).mkdir(parents=True)
    text = source.read_text(encoding="utf-8")
    # The copy's relative paths would point elsewhere: make them absolute.
    absolute = str(source.parent.resolve())
    text = text.replace(' = "../../', f' = "{absolute}/../../')
    (folder / B / "anpr.toml").write_text(text + desks, encoding="utf-8")
    with ComuneRegistry(load_comuni(folder)) as registry:
        default_operator = registry.settings(B).operator_id
        with registry.use(B, desk="front") as client:
            assert _signed_for(client) == DESK_CF
        with registry.use(B, operator="RSSLRA82B41H501Y") as client:
            assert _signed_for(client) == "RSSLRA82B41H501Y"
        with registry.use(B) as client:
            assert _signed_for(client) == default_operator
        with pytest.raises(ConfigurationError) as refused, registry.use(B, desk="nowhere"):
            pass
        assert refused.value.setting == "desks.nowhere"
    assert sim.internal_errors == ()


def test_a_desk_with_its_own_workstation_signs_from_it(sim: Simulator, tmp_path: Path) -> None:
    """A desk's workstation key signs IdPostazioneFirmato once; the simulator verifies it."""
    desk_ws = issue_certificate(sim.pki.ca, name(f"{B}-PC-0002"))
    key_file, cert_file = tmp_path / "pc-0002.key.pem", tmp_path / "pc-0002.cert.pem"
    key_file.write_bytes(desk_ws.key_pem())
    cert_file.write_bytes(desk_ws.cert_pem())
    path = tmp_path / "comuni.toml"
    source = sim.settings_path(B).resolve()
    path.write_text(
        source.read_text(encoding="utf-8")
        + f"\n[desks.front]\noperator = {DESK_CF!r}\n"
        + f"workstation = {{ id = '{B}-PC-0002', pem_key = '{key_file}', "
        + f"pem_cert = '{cert_file}' }}\n",
        encoding="utf-8",
    )
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "b.toml").symlink_to(path)
    # The copy sits elsewhere: its relative paths must still find the simulator's files.
    text = path.read_text(encoding="utf-8").replace(' = "../../', f' = "{source.parent}/../../')
    path.write_text(text, encoding="utf-8")
    with ComuneRegistry.from_path(folder) as registry, registry.use(B, desk="front") as client:
        assert _signed_for(client) == DESK_CF
        envelope = etree.fromstring(client.prepare("TestConn", {}).envelope)
        assert f"{B}-PC-0002" in etree.tostring(envelope).decode()
        with registry.use(B) as default:
            assert default.wsse is not None
            assert default.wsse is not client.wsse
    assert sim.internal_errors == ()


def test_a_comune_not_served_is_a_typed_error(folder: Path) -> None:
    with ComuneRegistry.from_path(folder) as registry, pytest.raises(UnknownComuneError) as refused:
        registry.call(DEFAULT, "TestConn", {})
    assert refused.value.codice_istat == DEFAULT
    assert refused.value.setting == "comuni"


# ----------------------------------------------------------------------------- the file format


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SHARED = """
environment = "test"
base_url = "https://127.0.0.1:8443"
journal = false

[application]
name = "GESTIONALE"
version = "1.0"
vendor = "ACME SRL"

[timeouts]
connect = 5
read = 60

[operator]
codice_fiscale = "RSSMRA80A01H501U"

[notifications]
anpr_ca = "anpr-ca.pem"
signer_subjects = ["CN=ANPR notifiche"]
"""


def test_one_file_with_a_table_per_comune_inherits_the_shared_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "comuni.toml",
        SHARED
        + f"""
[comuni.{A}]
journal = "{A}/journal.sqlite"

[comuni.{A}.timeouts]
read = 90

[comuni.{A}.notifications]
store = "{A}/inbox.sqlite"

[comuni.{A}.desks.front]
operator = "RSSLRA82B41H501Y"
workstation = {{ id = "{A}-PC-0002", pkcs12 = "front.p12", password_env = "FRONT_P12" }}

[comuni.{B}.operator]
from_card = false
codice_fiscale = "RSSLRA82B41H501Y"
""",
    )
    comuni = load_comuni(path)
    assert set(comuni) == {A, B}
    a, b = comuni[A].settings, comuni[B].settings
    assert a.codice_istat == A
    assert b.codice_istat == B
    assert a.timeouts.read == 90
    assert a.timeouts.connect == 5
    assert b.timeouts.read == 60
    assert a.journal == tmp_path / A / "journal.sqlite"
    assert a.journal_enabled
    assert not b.journal_enabled
    assert a.notifications.store == tmp_path / A / "inbox.sqlite"
    assert a.notifications.anpr_ca == tmp_path / "anpr-ca.pem"  # shared, relative to the file
    assert b.notifications.signer_subjects == ("CN=ANPR notifiche",)
    assert a.operator_id == "RSSMRA80A01H501U"
    assert b.operator_id == "RSSLRA82B41H501Y"  # its [operator] replaced the shared one
    desk = comuni[A].desks["front"]
    assert desk.operator == "RSSLRA82B41H501Y"
    assert desk.workstation is not None
    assert desk.workstation.id == f"{A}-PC-0002"
    assert desk.workstation.key is not None
    assert desk.workstation.key.path == tmp_path / "front.p12"
    assert comuni[B].desks == {}


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        (f"[comuni.{A}]\ncodice_istat = '{B}'\n", f"comuni.{A}.codice_istat"),
        (f"[comuni.{A}]\nbase_url = 'ftp://x'\n", f"comuni.{A}.base_url"),
        (f"[comuni.{A}.desks.front]\nrole = 'x'\n", f"comuni.{A}.desks.front.role"),
        (f"[comuni.{A}.desks.front]\noperator = 'NOTACF'\n", f"comuni.{A}.desks.front.operator"),
        (f"[comuni.{A}.desks.front.workstation]\nid = 'PC1'\n", "workstation.id"),
        ("codice_istat = '058091'\n", "comuni"),
    ],
)
def test_a_bad_comune_table_names_its_setting(tmp_path: Path, text: str, setting: str) -> None:
    path = _write(tmp_path / "comuni.toml", text)
    with pytest.raises(ConfigurationError) as refused:
        load_comuni(path)
    assert refused.value.setting == setting
    if setting.startswith(f"comuni.{A}"):  # the message, which the CLI prints, says which Comune
        assert f"comuni.{A}" in str(refused.value)


def test_a_bad_file_of_a_folder_is_named(tmp_path: Path) -> None:
    bad = _write(tmp_path / "roma.toml", f"codice_istat = '{A}'\nbase_url = 'ftp://x'\n")
    with pytest.raises(ConfigurationError) as refused:
        load_comuni(tmp_path)
    assert refused.value.setting == "base_url"
    assert str(bad.resolve()) in str(refused.value)


def test_a_folder_refuses_a_comune_described_twice(tmp_path: Path) -> None:
    _write(tmp_path / "one.toml", f'codice_istat = "{A}"\n')
    (tmp_path / "two").mkdir()
    _write(tmp_path / "two" / "anpr.toml", f'codice_istat = "{A}"\n')
    with pytest.raises(ConfigurationError, match="described twice"):
        load_comuni(tmp_path)
    with pytest.raises(ConfigurationError, match="neither"):
        load_comuni(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="no Comune"):
        load_comuni(tmp_path / "empty")


def test_the_registry_checks_what_it_is_given() -> None:
    comuni: dict[str, Any] = {A: Settings(codice_istat=A)}
    with pytest.raises(ConfigurationError):
        ComuneRegistry(comuni, max_open=0)
    with pytest.raises(ConfigurationError):
        ComuneRegistry(comuni, idle_timeout=0)
    with pytest.raises(ConfigurationError):
        ComuneRegistry({B: comuni[A]})
