"""``anpr simulator serve|credentials`` and ``anpr demo``, as a user runs them."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from anpr_client.cli.main import cli

from .support import serving


def test_demo_runs_every_step_and_saves_the_pdf(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for step in ("TestConn", "3002", "5005", "6001", "4005", "N010"):
        assert step in result.output
    assert "one elencoRisposte each" in result.output.replace("\n", " ")  # the real shape
    assert "(0 quarantined)" in result.output.replace("\n", " ")
    (pdf,) = tmp_path.glob("certificato-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.stat().st_mode & 0o777 == 0o600  # personal data, as everywhere
    assert str(pdf.resolve()) in result.output.replace("\n", "")


def test_serve_writes_ready_settings_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serving(state) as served:
        assert served.url.startswith("https://127.0.0.1:")
        assert served.settings == state / "anpr.toml"
        payload = tmp_path / "empty.json"
        payload.write_text("{}")
        called = CliRunner().invoke(
            cli, ["call", "TestConn", "--config", str(served.settings), "--input", str(payload)]
        )
        assert called.exit_code == 0, called.output
        assert '"esitoOperazione": "0000"' in called.output
    assert served.process.returncode == 0
    assert "stopped." in served.out
    assert "population:" not in served.err  # the default population starts without a word
    assert (state / "registry.sqlite").exists()
    assert (state / "pki" / "ca.pem").exists()


def test_serve_reports_the_progress_of_a_large_population(tmp_path: Path) -> None:
    options = ("--population", "1500", "--threads", "4", "--max-connections", "64")
    with serving(tmp_path / "state", *options) as served:
        pass
    assert served.process.returncode == 0
    lines = [line for line in served.err.splitlines() if line.startswith("population:")]
    for phase in ("drawing", "coding", "storing"):
        mine = [line for line in lines if line.startswith(f"population: {phase} ")]
        assert 2 <= len(mine) <= 11, lines  # one line per 10 %, not one per person
        assert mine[-1] == f"population: {phase} 3000/3000 persons (100 %)"
    assert "Traceback" not in served.err


def test_progress_on_a_terminal_is_a_bar_and_it_goes_away() -> None:
    from anpr_client.cli.simulator import _PopulationProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with _PopulationProgress(5000, screen) as progress:
        for done in range(0, 5001, 500):
            progress("drawing", done, 5000)
    assert "population: drawing" in screen.getvalue()
    quiet = Terminal()
    with _PopulationProgress(100, quiet) as progress:
        progress("drawing", 100, 100)
    assert quiet.getvalue() == ""


def test_credentials_are_issued_by_the_simulators_ca(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "creds"
    result = CliRunner().invoke(
        cli,
        [
            "simulator",
            "credentials",
            "--state",
            str(state),
            "--out",
            str(out),
            "--comune",
            "015146",
        ],
    )
    assert result.exit_code == 0, result.output
    password_file = out / "p12-password.txt"
    password = password_file.read_text().strip()
    assert password not in result.output
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert (out / "comune.key.pem").stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    for name, cn in (("comune", "015146-CO-9999"), ("workstation", "015146-PC-0001")):
        key, cert, _ = pkcs12.load_key_and_certificates(
            (out / f"{name}.p12").read_bytes(), password.encode()
        )
        assert key is not None
        assert cert is not None
        assert cert.subject.rfc4514_string().startswith(f"CN={cn}")
        cert.verify_directly_issued_by(ca)
    # The same state directory keeps the same CA: serve trusts what credentials wrote.
    again = CliRunner().invoke(
        cli, ["simulator", "credentials", "--state", str(state), "--out", str(tmp_path / "b")]
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "b" / "ca.pem").read_bytes() == (out / "ca.pem").read_bytes()
