"""``anpr request build``, ``anpr call`` and ``anpr operations``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from anpr_client.cli.main import cli
from tests.client.support import LoopbackServer, recorded

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "anpr.toml"
    config.write_text(
        'environment = "test"\ncodice_istat = "058091"\n'
        '[application]\nname = "GESTIONALE"\nversion = "1.0"\nvendor = "ACME SRL"\n',
        encoding="utf-8",
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    return config, payload


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_request_build_prints_the_exact_envelope(files: tuple[Path, Path]) -> None:
    config, payload = files
    code, out, _ = run("request", "build", "3002", "--input", str(payload), "--config", str(config))
    assert code == 0
    root = etree.fromstring(out.encode())
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    assert root.findtext(".//testataRichiesta/operazioneRichiesta") == "3002"
    assert root.findtext(".//criteriRicerca/codiceFiscale") == "RSSMRA80A01H501U"


def test_request_build_reads_the_config_from_the_environment(files: tuple[Path, Path]) -> None:
    config, payload = files
    code, out, _ = run(
        "request",
        "build",
        "3002",
        "--input",
        str(payload),
        "--json",
        env={"ANPR_CONFIG": str(config)},
    )
    assert code == 0
    data = json.loads(out)
    assert data["operation"] == "3002"
    assert data["signed"] is False
    assert data["url"].endswith("/ANPR3000ServiziConsultazione/AnprService3000")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"criteriRicerca": {"codiceFiscale": "X"}}), "minLength"),
    ],
)
def test_invalid_input_exits_2_with_plain_words(
    files: tuple[Path, Path], content: str, needle: str
) -> None:
    config, payload = files
    payload.write_text(content, encoding="utf-8")
    code, out, err = run(
        "request", "build", "3002", "--input", str(payload), "--config", str(config)
    )
    assert code == 2
    assert out == ""
    assert needle in err
    assert "Traceback" not in err


def test_invalid_payload_as_json_lists_violations(files: tuple[Path, Path]) -> None:
    config, payload = files
    payload.write_text(json.dumps({"criteriRicerca": {"colore": "x"}}), encoding="utf-8")
    code, out, _ = run(
        "request", "build", "3002", "--input", str(payload), "--config", str(config), "--json"
    )
    assert code == 2
    data = json.loads(out)
    assert data["error"] == "PayloadError"
    assert {"path": "Richiesta3002/criteriRicerca/colore", "rule": "unknown-element"}.items() <= (
        data["violations"][0].items()
    )


def test_missing_config_exits_2(files: tuple[Path, Path]) -> None:
    _, payload = files
    code, _, err = run("request", "build", "3002", "--input", str(payload), env={"ANPR_CONFIG": ""})
    assert code == 2
    assert "--config" in err


def test_unknown_operation_exits_2(files: tuple[Path, Path]) -> None:
    config, payload = files
    code, _, err = run("request", "build", "9999", "--input", str(payload), "--config", str(config))
    assert code == 2
    assert "unknown ANPR operation" in err


def _loopback_config(config: Path, server: LoopbackServer) -> None:
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'codice_istat = "058091"\n',
            f'codice_istat = "058091"\nbase_url = "{server.url}"\nca_bundle = "{server.ca_pem}"\n',
        ),
        encoding="utf-8",
    )


def test_call_prints_the_result_as_json(files: tuple[Path, Path], loopback: LoopbackServer) -> None:
    config, payload = files
    _loopback_config(config, loopback)
    loopback.canned.body = recorded("ok_3002.xml")
    code, out, _ = run("call", "3002", "--input", str(payload), "--config", str(config))
    assert code == 0
    data = json.loads(out)
    assert data["outcome"] == "Risposta3002_OK"
    assert data["idOperazioneANPR"] == "4411002"
    assert data["value"]["listaSoggetti"]["datiSoggetto"][0]["generalita"]["cognome"] == "ROSSI"


def test_call_ko_exits_1_and_lists_every_error(
    files: tuple[Path, Path], loopback: LoopbackServer
) -> None:
    config, payload = files
    _loopback_config(config, loopback)
    loopback.canned.body = recorded("ko_3002_several.xml")
    code, out, err = run("call", "3002", "--input", str(payload), "--config", str(config))
    assert code == 1
    assert out == ""
    for needle in ("EN527", "EN122", "EW001"):
        assert needle in err
    code, out, _ = run("call", "3002", "--input", str(payload), "--config", str(config), "--json")
    assert code == 1
    assert [e["code"] for e in json.loads(out)["errors"]] == ["EN527", "EN122", "EW001"]


def test_call_fault_exits_3_with_causes(files: tuple[Path, Path], loopback: LoopbackServer) -> None:
    config, payload = files
    _loopback_config(config, loopback)
    loopback.canned.status = 500
    loopback.canned.body = recorded("fault_internal_error.xml")
    code, out, _ = run("call", "3002", "--input", str(payload), "--config", str(config), "--json")
    assert code == 3
    data = json.loads(out)
    assert data["error"] == "InternalErrorFromClient"
    assert data["causes"]


def test_operations_lists_the_bundle() -> None:
    code, out, _ = run("operations", "--json")
    assert code == 0
    codes = {op["code"] for op in json.loads(out)}
    assert len(codes) == 56
    assert {"3002", "TestConn", "N000"} <= codes


def test_verbose_logs_one_line_per_call_on_stderr(
    files: tuple[Path, Path], loopback: LoopbackServer
) -> None:
    config, payload = files
    _loopback_config(config, loopback)
    loopback.canned.body = recorded("ok_3002.xml")
    code, out, err = run("-v", "call", "3002", "--input", str(payload), "--config", str(config))
    assert code == 0
    json.loads(out)  # stdout stays the JSON result
    (line,) = [ln for ln in err.splitlines() if " anpr_client.call " in ln]
    assert " INFO anpr_client.call 3002 idOperazioneComune=" in line
    assert "outcome=Risposta3002_OK" in line
    assert "RSSMRA80A01H501U" not in err
    code, _, err = run("call", "3002", "--input", str(payload), "--config", str(config))
    assert code == 0
    assert "anpr_client.call" not in err  # not asked: nothing logged
