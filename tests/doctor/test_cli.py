"""``anpr doctor`` against the simulator: good settings pass; each broken variant gets its
verdict, its evidence, its fix and its exit code; never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from anpr_client.cli.main import cli
from anpr_client.simulator import SimulatorConfig
from anpr_client.simulator.pki import Identity, create_ca, issue_certificate, name
from anpr_client.simulator.runtime import Simulator, running_simulator

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator(SimulatorConfig(population=2)) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def sha1_only() -> Iterator[Simulator]:
    """A gateway that refuses rsa-sha256 (ANPR's acceptance of it is inferred, not shown)."""
    config = SimulatorConfig(population=2, accepted_signature_algorithms=("rsa-sha1",))
    with running_simulator(config) as simulator:
        yield simulator


def write_settings(
    sim: Simulator,
    directory: Path,
    *,
    comune: Identity | None = None,
    base_url: str | None = None,
    ca_bundle: Path | None = None,
    workstation_id: str | None = None,
    extra: str = "",
) -> Path:
    """A settings file for the simulator's first Comune, with absolute paths; ``comune``
    replaces the Comune's certificate and key."""
    ident = sim.pki.comune("058091")
    files = sim.pki.files("058091")
    key, cert = files["comune_key"], files["comune_cert"]
    if comune is not None:
        key, cert = comune.write_pem(directory, "replaced")
    path = directory / "anpr.toml"
    path.write_text(
        f"""environment = "test"
codice_istat = "058091"
base_url = "{base_url or sim.url}"
ca_bundle = "{ca_bundle or sim.pki.ca_pem}"
journal = false
{extra}
[operator]
codice_fiscale = "{ident.operator_cf}"

[comune_key]
pem_key = "{key}"
pem_cert = "{cert}"

[workstation]
id = "{workstation_id or ident.workstation_id}"
pem_key = "{files["workstation_key"]}"
pem_cert = "{files["workstation_cert"]}"
""",
        encoding="utf-8",
    )
    return path


def doctor(config: Path, *more: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``anpr doctor --json``; the exit code, the checks, and the text output too."""
    runner = CliRunner()
    result = runner.invoke(cli, ["doctor", "--config", str(config), "--json", *more])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    text = runner.invoke(cli, ["doctor", "--config", str(config), *more])
    for output in (result.output, text.output):
        assert "Traceback" not in output
    assert text.exit_code == result.exit_code
    return result.exit_code, json.loads(result.stdout), text.stdout


def by_name(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in checks}


def test_good_settings_pass_every_check(sim: Simulator, tmp_path: Path) -> None:
    code, checks, text = doctor(write_settings(sim, tmp_path), "--live")
    assert code == 0, text
    assert {c["verdict"] for c in checks} == {"ok"}, text
    named = by_name(checks)
    for check in (
        "base_url",
        "ca_bundle",
        "comune_key.key",
        "comune_key.subject",
        "comune_key.comune",
        "comune_key.validity",
        "workstation.validity",
        "operator",
        "frame.sign",
        "frame.verify",
        "live.dns",
        "live.tcp",
        "live.tls",
        "live.clock",
        "live.testconn",
    ):
        assert check in named
    assert "rsa-sha256" in named["live.testconn"]["evidence"]
    # The SAML schema is validated where the schema is installed (opensaml-schemas), else
    # skipped with the reason: never silently passed.
    assert named["frame.saml_schema"]["verdict"] in ("ok", "skip")
    assert "ok" in text.splitlines()[-1]


def test_an_expired_certificate_fails_its_validity(sim: Simulator, tmp_path: Path) -> None:
    expired = issue_certificate(
        sim.pki.ca,
        name("058091-CO-9999"),
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    code, checks, text = doctor(write_settings(sim, tmp_path, comune=expired))
    assert code == 1
    named = by_name(checks)
    assert named["comune_key.validity"]["verdict"] == "fail"
    assert "expired on" in named["comune_key.validity"]["evidence"]
    assert named["comune_key.validity"]["fix"]
    # The client refuses it too, before anything is sent: the frame cannot be built.
    assert named["frame.sign"]["verdict"] == "fail"
    assert named["frame.sign"]["setting"] == "comune_key"
    assert "fix:" in text


def test_a_certificate_expiring_soon_is_a_warning(sim: Simulator, tmp_path: Path) -> None:
    soon = issue_certificate(
        sim.pki.ca,
        name("058091-CO-9999"),
        not_before=NOW - dt.timedelta(days=300),
        not_after=NOW + dt.timedelta(days=10),
    )
    code, checks, _ = doctor(write_settings(sim, tmp_path, comune=soon))
    assert code == 0
    assert by_name(checks)["comune_key.validity"]["verdict"] == "warn"


def test_a_certificate_of_another_comune_fails(sim: Simulator, tmp_path: Path) -> None:
    other = sim.pki.comune("015146").comune
    code, checks, _ = doctor(write_settings(sim, tmp_path, comune=other))
    assert code == 1
    named = by_name(checks)
    assert named["comune_key.comune"]["verdict"] == "fail"
    assert "belongs to Comune 015146" in named["comune_key.comune"]["evidence"]


def test_an_operator_card_as_the_comune_key_is_explained(sim: Simulator, tmp_path: Path) -> None:
    card = issue_certificate(
        sim.pki.ca,
        x509_name_of_a_cns_card(),
    )
    code, checks, _ = doctor(write_settings(sim, tmp_path, comune=card))
    assert code == 1
    subject = by_name(checks)["comune_key.subject"]
    assert subject["verdict"] == "fail"
    assert "CNS" in subject["evidence"]
    assert "not the Comune's signing key" in subject["evidence"]
    assert "from_card" in subject["fix"]


def x509_name_of_a_cns_card() -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "TINIT-RSSMRA80A01H501U"),
            x509.NameAttribute(NameOID.COMMON_NAME, "RSSMRA80A01H501U/7420000100012345.x"),
        ]
    )


def test_a_workstation_id_that_is_not_its_certificates_fails(
    sim: Simulator, tmp_path: Path
) -> None:
    code, checks, _ = doctor(write_settings(sim, tmp_path, workstation_id="058091-PC-0002"))
    assert code == 1
    named = by_name(checks)
    assert named["workstation.id"]["verdict"] == "fail"
    assert "'058091-PC-0001'" in named["workstation.id"]["evidence"]
    # The frame is built, but the library's own verifier refuses it, as ANPR would.
    assert named["frame.verify"]["verdict"] == "fail"
    assert "not by the certificate named IdPostazione" in named["frame.verify"]["evidence"]


def test_a_wrong_ca_fails_the_tls_handshake(sim: Simulator, tmp_path: Path) -> None:
    other = create_ca(name("Another CA"))
    bundle = tmp_path / "other-ca.pem"
    bundle.write_bytes(other.cert_pem())
    code, checks, _ = doctor(write_settings(sim, tmp_path, ca_bundle=bundle), "--live")
    assert code == 1
    named = by_name(checks)
    assert named["ca_bundle"]["verdict"] == "ok"  # offline it is a readable CA bundle
    tls = named["live.tls"]
    assert (tls["verdict"], tls["setting"]) == ("fail", "ca_bundle")
    assert "does not verify" in tls["evidence"]
    assert named["live.testconn"]["verdict"] == "skip"


def test_plain_http_is_refused_when_the_settings_load(sim: Simulator, tmp_path: Path) -> None:
    config = write_settings(sim, tmp_path, base_url="http://127.0.0.1:9")
    code, checks, text = doctor(config)
    assert code == 2
    (only,) = checks
    assert (only["name"], only["verdict"], only["setting"]) == ("settings", "fail", "base_url")
    assert "allow_plain_http" in only["evidence"]
    assert "FAIL" in text


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(400)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_a_plain_http_port_says_so(
    sim: Simulator, tmp_path: Path, plain_http_port: int
) -> None:
    config = write_settings(sim, tmp_path, base_url=f"https://127.0.0.1:{plain_http_port}")
    code, checks, _ = doctor(config, "--live")
    assert code == 1
    tls = by_name(checks)["live.tls"]
    assert tls["verdict"] == "fail"
    assert "WRONG_VERSION_NUMBER" in tls["evidence"]
    assert "this port speaks plain HTTP" in tls["evidence"]


def test_plain_http_allowed_for_a_local_simulator_is_a_warning(
    sim: Simulator, tmp_path: Path
) -> None:
    config = write_settings(
        sim, tmp_path, base_url="http://127.0.0.1:9", extra="[tls]\nallow_plain_http = true\n"
    )
    code, checks, _ = doctor(config)
    assert code == 0
    assert by_name(checks)["base_url"]["verdict"] == "warn"


def test_rsa_sha256_refused_says_rsa_sha1_is_accepted_and_what_to_set(
    sha1_only: Simulator, tmp_path: Path
) -> None:
    code, checks, _ = doctor(write_settings(sha1_only, tmp_path), "--live")
    assert code == 1
    testconn = by_name(checks)["live.testconn"]
    assert testconn["verdict"] == "fail"
    assert "refuses rsa-sha256 and accepts rsa-sha1" in testconn["evidence"]
    assert testconn["fix"] == 'set signature = "rsa-sha1" in [security]'
    assert testconn["setting"] == "security.signature"
    # With the fix applied, the same endpoint passes.
    fixed = write_settings(sha1_only, tmp_path, extra='[security]\nsignature = "rsa-sha1"\n')
    code, checks, _ = doctor(fixed, "--live")
    assert code == 0, checks
    assert "rsa-sha1 as configured" in by_name(checks)["live.testconn"]["evidence"]


def test_rejected_by_policy_comes_with_its_causes_and_the_measured_evidence(
    tmp_path: Path,
) -> None:
    # An ANPR whose clock is an hour ahead: every Timestamp is stale, Rejected by policy.
    with running_simulator(SimulatorConfig(population=2, clock_offset=3600)) as skewed:
        code, checks, _ = doctor(write_settings(skewed, tmp_path), "--live")
    assert code == 1
    testconn = by_name(checks)["live.testconn"]
    assert testconn["verdict"] == "fail"
    evidence = testconn["evidence"]
    assert "every signature was refused" in evidence
    assert "RejectedByPolicy" in evidence
    assert "Measured: local address 127.0.0.1, operator (NameID) RSSMRA80A01H501U" in evidence
    assert "1. the source IP address is not on ANPR's allow-list" in evidence
    assert "operator codice fiscale" in evidence
    assert testconn["fix"].startswith("the source IP address")


def test_unreadable_settings_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("codice_istat = [", encoding="utf-8")
    code, checks, _ = doctor(config)
    assert code == 2
    assert checks[0]["setting"] == "config"
    code, checks, _ = doctor(tmp_path / "missing.toml")
    assert code == 2


def test_a_missing_ca_bundle_fails_offline(sim: Simulator, tmp_path: Path) -> None:
    code, checks, _ = doctor(write_settings(sim, tmp_path, ca_bundle=tmp_path / "none.pem"))
    assert code == 1
    assert by_name(checks)["ca_bundle"]["verdict"] == "fail"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_fails_tcp_and_skips_the_rest(sim: Simulator, tmp_path: Path) -> None:
    config = write_settings(sim, tmp_path, base_url=f"https://127.0.0.1:{_free_port()}")
    code, checks, _ = doctor(config, "--live")
    assert code == 1
    named = by_name(checks)
    assert named["live.tcp"]["verdict"] == "fail"
    assert [named[n]["verdict"] for n in ("live.tls", "live.clock", "live.testconn")] == [
        "skip"
    ] * 3


def test_a_key_that_is_not_the_certificates_fails(sim: Simulator, tmp_path: Path) -> None:
    config = write_settings(sim, tmp_path)
    files = sim.pki.files("058091")
    text = config.read_text(encoding="utf-8").replace(
        f'pem_key = "{files["comune_key"]}"', f'pem_key = "{files["workstation_key"]}"'
    )
    config.write_text(text, encoding="utf-8")
    code, checks, _ = doctor(config)
    assert code == 1
    readable = by_name(checks)["comune_key.readable"]
    assert readable["verdict"] == "fail"
    assert "does not match the certificate" in readable["evidence"]


def test_a_workstation_of_another_comune_fails(sim: Simulator, tmp_path: Path) -> None:
    code, checks, _ = doctor(write_settings(sim, tmp_path, workstation_id="015146-PC-0001"))
    assert code == 1
    refusals = [c for c in checks if c["name"] == "workstation.id" and c["verdict"] == "fail"]
    assert any("not of codice_istat 058091" in c["evidence"] for c in refusals), refusals
