"""``anpr notifications``: serve (HTTP and HTTPS) as a real process, inbox listing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from anpr_client.cli.main import cli
from anpr_client.notifications import Inbox
from anpr_client.simulator.pki import Pki
from tests.notifications.support import (
    CF_1,
    make_receiver,
    outcome_of,
    serve,
    signed_request,
    write_settings,
)

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def test_serve_over_http_then_stop(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    with serve(files.path) as served:
        process, port = served.process, served.port
        url = f"http://127.0.0.1:{port}/"
        reply = requests.post(url, data=signed_request(pki), headers=HEADERS, timeout=20)
        assert reply.status_code == 200
        assert outcome_of(reply.content) == "1"
        tampered = signed_request(pki).replace(b"<tipoNotifica>N010", b"<tipoNotifica>N014")
        reply = requests.post(url, data=tampered, headers=HEADERS, timeout=20)
        assert outcome_of(reply.content) == "5"
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    with Inbox(files.store) as box:
        assert box.count() == 1


def test_serve_over_https(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    key, cert = pki.server.write_pem(tmp_path, "server")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca.cert_pem())
    with serve(files.path, "--certfile", str(cert), "--keyfile", str(key)) as served:
        port = served.port
        reply = requests.post(
            f"https://localhost:{port}/",
            data=signed_request(pki),
            headers=HEADERS,
            timeout=20,
            verify=str(ca),
        )
        assert outcome_of(reply.content) == "1"


def test_inbox_lists_type_operation_cf_and_state(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_settings(pki, tmp_path)
    with Inbox(files.store) as box:
        make_receiver(pki, box).receive(signed_request(pki))
    runner = CliRunner()
    result = runner.invoke(cli, ["notifications", "inbox", "--json", "--config", str(files.path)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["tipoNotifica"] == "N010"
    assert row["idOperazioneANPR"] == "700000001"
    assert row["codiceFiscale"] == CF_1
    assert row["state"] == "pending"
    monkeypatch.setenv("ANPR_CONFIG", str(files.path))
    table = runner.invoke(cli, ["notifications", "inbox"])
    assert table.exit_code == 0
    assert "700000001" in table.output
    assert CF_1 in table.output
    empty = runner.invoke(cli, ["notifications", "inbox", "--state", "done"])
    assert empty.output.strip() == "no notifications"


def test_commands_without_settings_fail_cleanly(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["notifications", "inbox"], env={"ANPR_CONFIG": ""})
    assert result.exit_code == 2
    config = tmp_path / "anpr.toml"
    config.write_text('codice_istat = "058091"\n')
    result = runner.invoke(cli, ["notifications", "serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "decrypt_keys" in result.output
    result = runner.invoke(cli, ["notifications", "pull", "--since", "yesterday", "--config", "x"])
    assert result.exit_code == 2
