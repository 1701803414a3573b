"""Pinning ANPR's notification signer from settings, and the helpers that read its identity.

The first run without a pin stops with an error that says what to configure and how to read
it (``anpr notifications signer FILE``, ``anpr notifications serve --print-signer``); the lines
the helper prints, pasted into the settings, make the receiver acknowledge ANPR's pushes and
nobody else's; the freshness rule is configurable.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from anpr_client.cli.main import cli
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.notifications import NotificationReceiver, ReplyCode
from anpr_client.security.trust import fingerprint
from anpr_client.settings import load_settings
from anpr_client.simulator.pki import Pki, issue_certificate, name
from tests.notifications.support import (
    outcome_of,
    serve,
    signed_request,
    write_settings,
)

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


@pytest.fixture(autouse=True)
def _p12_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANPR_TEST_P12", "p12-password")


def _without_pin(path: Path) -> None:
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.startswith("signer_")
    )
    path.write_text(text + "\n")


def _add_to_notifications(path: Path, *lines: str) -> None:
    text = path.read_text().replace(
        "[notifications]\n", "[notifications]\n" + "\n".join(lines) + "\n"
    )
    path.write_text(text)


def test_first_run_without_a_pin_says_what_to_configure(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    _without_pin(files.path)
    with pytest.raises(ConfigurationError) as err:
        NotificationReceiver.from_settings(load_settings(files.path))
    assert err.value.setting == "notifications.signer_subjects"
    message = str(err.value)
    assert "anpr notifications signer" in message
    assert "--print-signer" in message
    result = CliRunner().invoke(cli, ["notifications", "serve", "--config", str(files.path)])
    assert result.exit_code == 2
    assert "signer_subjects" in result.output
    assert "Traceback" not in result.output


def test_the_printed_lines_pin_anpr_and_nobody_else(pki: Pki, tmp_path: Path) -> None:
    cert = tmp_path / "anpr-notifiche.pem"
    cert.write_bytes(pki.notifications.cert_pem())
    result = CliRunner().invoke(cli, ["notifications", "signer", str(cert)])
    assert result.exit_code == 0, result.output
    subject = pki.notifications.certificate.subject.rfc4514_string()
    assert f"subject:  {subject}" in result.output
    lines = [line.strip() for line in result.output.splitlines()]
    subject_line = next(line for line in lines if line.startswith("signer_subjects"))
    print_line = next(line for line in lines if line.startswith("signer_fingerprints"))
    assert fingerprint(pki.notifications.certificate) in print_line.replace(":", "")

    other = issue_certificate(pki.anpr_ca, name("Altro Titolare"), client_auth=False)
    for pin in (subject_line, print_line):
        files = write_settings(pki, tmp_path / pin[:12])
        _without_pin(files.path)
        _add_to_notifications(files.path, pin)
        receiver = NotificationReceiver.from_settings(load_settings(files.path))
        try:
            assert receiver.receive(signed_request(pki)).outcome is ReplyCode.ACQUIRED
            forged = signed_request(pki, signer=other, id_notifica="9400000001")
            assert receiver.receive(forged).outcome is ReplyCode.NOT_CONFORMING
        finally:
            receiver.inbox.close()


def test_signer_reads_der_a_saved_push_and_answers_json(pki: Pki, tmp_path: Path) -> None:
    runner = CliRunner()
    der = tmp_path / "anpr.cer"
    der.write_bytes(pki.notifications.certificate.public_bytes(Encoding.DER))
    push = tmp_path / "push.xml"
    push.write_bytes(signed_request(pki))
    for path in (der, push):
        result = runner.invoke(cli, ["notifications", "signer", "--json", str(path)])
        assert result.exit_code == 0, result.output
        (info,) = json.loads(result.output)
        assert info["subject"] == pki.notifications.certificate.subject.rfc4514_string()
        assert info["issuer"] == pki.anpr_ca.certificate.subject.rfc4514_string()
        assert info["sha256"].replace(":", "") == fingerprint(pki.notifications.certificate)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    result = runner.invoke(cli, ["notifications", "signer", str(garbage)])
    assert result.exit_code == 2
    assert "no readable certificate" in result.output
    assert "Traceback" not in result.output


def test_serve_print_signer_shows_who_signed_and_stores_nothing(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    _without_pin(files.path)
    with serve(files.path, "--print-signer") as served:
        reply = requests.post(
            f"http://127.0.0.1:{served.port}/",
            data=signed_request(pki),
            headers=HEADERS,
            timeout=20,
        )
        assert outcome_of(reply.content) == "7"  # ANPR will send it again
    subject = pki.notifications.certificate.subject.rfc4514_string()
    assert f"subject:  {subject}" in served.stdout
    assert "verification against anpr_ca: passed" in served.stdout
    assert f"signer_subjects = {json.dumps([subject])}" in served.stdout
    store = Path(files.store)  # a file here: write_settings was given no other store
    assert not store.exists() or _stored(store) == 0


def _stored(path: Path) -> int:
    from anpr_client.notifications import Inbox

    with Inbox(path) as box:
        return box.count()


def test_freshness_is_configurable(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    _add_to_notifications(files.path, "timestamp_max_age = 600", "clock_skew = 30")
    settings = load_settings(files.path)
    assert settings.notifications.timestamp_max_age == 600
    assert settings.notifications.clock_skew == 30
    now = dt.datetime.now(dt.UTC)

    def push(id_notifica: str, minutes_ago: float, ttl: int | None) -> bytes:
        sent_at = now - dt.timedelta(minutes=minutes_ago)
        return signed_request(pki, id_notifica=id_notifica, sent_at=sent_at, timestamp_ttl=ttl)

    receiver = NotificationReceiver.from_settings(settings)
    try:
        assert receiver.receive(push("1", 9, 3600)).outcome is ReplyCode.ACQUIRED
        assert receiver.receive(push("2", 11, 3600)).outcome is ReplyCode.NOT_CONFORMING
        assert receiver.receive(push("3", 0, None)).outcome is ReplyCode.NOT_CONFORMING
    finally:
        receiver.inbox.close()
    # An explicit opt-out of the Timestamp requirement (documented: no replay protection).
    relaxed = write_settings(pki, tmp_path / "relaxed")
    _add_to_notifications(relaxed.path, "require_timestamp = false")
    receiver = NotificationReceiver.from_settings(load_settings(relaxed.path))
    try:
        assert receiver.receive(push("3", 0, None)).outcome is ReplyCode.ACQUIRED
    finally:
        receiver.inbox.close()


@pytest.mark.parametrize(
    ("line", "setting", "when"),
    [
        ('signer_subjects = "CN=ANPR"', "notifications.signer_subjects", "load"),
        ("signer_subjects = [1]", "notifications.signer_subjects", "load"),
        ("timestamp_max_age = 10", "notifications.timestamp_max_age", "load"),
        ("clock_skew = -1", "notifications.clock_skew", "load"),
        ('require_timestamp = "no"', "notifications.require_timestamp", "load"),
        # a pin's own syntax is checked when the receiver is built from the settings
        ('signer_fingerprints = ["12:34"]', "notifications.signer_fingerprints", "build"),
        ('signer_subjects = ["not a name"]', "notifications.signer_subjects", "build"),
    ],
)
def test_bad_notification_settings_name_the_setting(
    pki: Pki, tmp_path: Path, line: str, setting: str, when: str
) -> None:
    files = write_settings(pki, tmp_path)
    _without_pin(files.path)
    _add_to_notifications(files.path, line)
    with pytest.raises(ConfigurationError) as err:
        NotificationReceiver.from_settings(load_settings(files.path))
    assert err.value.setting == setting
    if when == "build":
        load_settings(files.path)  # the file itself loads


def test_the_simulator_writes_the_pin_of_its_own_signer(tmp_path: Path) -> None:
    from anpr_client.simulator import Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(state_dir=tmp_path / "sim", population=2))
    try:
        subject = sim.pki.notifications.certificate.subject.rfc4514_string()
        assert sim.settings().notifications.signer_subjects == (subject,)
    finally:
        sim.close()
