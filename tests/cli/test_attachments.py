"""``anpr call --attachments DIR``: files land in DIR only, under safe names, mode 0600.

The file name is built from the answer's ``idOperazioneComune``: a hostile answer naming
``/abs``, ``../..`` or too few ``../`` once wrote anywhere (0644) or ended in a traceback.
"""

from __future__ import annotations

import json
import os
import re
import stat
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from anpr_client.cli.calls import attachment_names, save_attachments
from anpr_client.cli.main import cli
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.results import Result
from anpr_client.soap.mtom import Attachment, build_related
from tests.client.support import LoopbackServer

PDF = b"%PDF-1.4 personal data %%EOF"

PAYLOAD = {
    "listaTipiCertificati": {"tipoCertificato": ["8"]},
    "soggettoIntestatario": {
        "generalita": {
            "codiceFiscale": {"codFiscale": "RSSMRA80A01H501U"},
            "cognome": "ROSSI",
            "nome": "MARIO",
        }
    },
    "datiControllo": {
        "cognomeUffAnagrafe": "ROSSI",
        "nomeUffAnagrafe": "MARIO",
        "tipoRichiedente": "0",
        "tipoRichiesta": "1",
        "paEstera": "0",
        "emissione": "1",
        "bollo": "0",
        "diritti": "0",
    },
}

_SENT_ID = re.compile(rb"<idOperazioneComune>([^<]*)</idOperazioneComune>")


def _answer_6001(ident: str) -> tuple[bytes, str]:
    envelope = f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<ns2:Risposta6001 xmlns:ns2="http://sogei.it/ANPR/6001certificazione"><ns2:Risposta6001OK>
<testataRisposta><idOperazioneComune>{ident}</idOperazioneComune><codMittente>058091</codMittente>
<codDestinatario>ANPR05</codDestinatario><operazioneRichiesta>6001</operazioneRichiesta>
<dataOraRichiesta>2026-11-20T10:15:00.000+01:00</dataOraRichiesta>
<idOperazioneANPR>4416001</idOperazioneANPR>
<esitoOperazione>0000</esitoOperazione></testataRisposta>
<file><certificatoPdf>
<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:cert-1%40apache.org"/>
</certificatoPdf></file>
</ns2:Risposta6001OK></ns2:Risposta6001></soap:Body></soap:Envelope>""".encode()
    return build_related(envelope, {"cert-1@apache.org": ("application/pdf", PDF)})


def _serve_6001(loopback: LoopbackServer, echo: str | None) -> None:
    """Answer every 6001 with a PDF; the testata names ``echo``, or the id that was sent."""

    def handler(server: BaseHTTPRequestHandler, body: bytes) -> None:
        sent = _SENT_ID.search(body)
        assert sent is not None
        answer, content_type = _answer_6001(echo if echo is not None else sent[1].decode())
        server.send_response(200)
        server.send_header("Content-Type", content_type)
        server.send_header("Content-Length", str(len(answer)))
        server.end_headers()
        server.wfile.write(answer)

    loopback.canned.handler = handler


@pytest.fixture
def files(tmp_path: Path, loopback: LoopbackServer) -> tuple[Path, Path]:
    config = tmp_path / "anpr.toml"
    config.write_text(
        f'environment = "test"\ncodice_istat = "058091"\nbase_url = "{loopback.url}"\n'
        f'ca_bundle = "{loopback.ca_pem}"\njournal = "{tmp_path / "journal.sqlite"}"\n'
        "[validation]\nbefore_send = false\n"
        '[application]\nname = "GESTIONALE"\nversion = "1.0"\nvendor = "ACME SRL"\n',
        encoding="utf-8",
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    return config, payload


def _call(config: Path, payload: Path, out: Path) -> tuple[int, str, str]:
    args = ["call", "6001", "--input", str(payload), "--config", str(config)]
    result = CliRunner().invoke(cli, [*args, "--attachments", str(out)])
    return result.exit_code, result.stdout, result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_the_certificate_is_saved_0600_under_its_id(
    files: tuple[Path, Path], loopback: LoopbackServer, tmp_path: Path
) -> None:
    config, payload = files
    _serve_6001(loopback, echo=None)
    out = tmp_path / "certificates"
    old = os.umask(0o022)  # the usual umask: a plain write would give 0644
    try:
        code, stdout, stderr = _call(config, payload, out)
        again = _call(config, payload, out)
    finally:
        os.umask(old)
    assert code == 0, stderr
    ident = json.loads(stdout)["idOperazioneComune"]
    saved = out / f"{ident}-1.pdf"
    assert saved.read_bytes() == PDF
    assert _mode(saved) == 0o600
    assert _mode(out) == 0o700  # created by the command
    assert f"saved {saved}" in stderr
    # A second certificate never replaces the first file.
    assert again[0] == 0
    assert len(list(out.iterdir())) == 2
    assert all(_mode(p) == 0o600 for p in out.iterdir())


HOSTILE = [
    "/tmp/anpr-evil",
    "../../evil",
    "../evil",
    "../../../../../../../../../../../../evil",  # far more ../ than the path has
    "..",
    "a/../../b",
    ".hidden",
    "x" * 300,
    "ID\u00a0WITH\u2028SEPARATORS",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_id_never_leaves_the_directory(
    files: tuple[Path, Path], loopback: LoopbackServer, tmp_path: Path, hostile: str
) -> None:
    config, payload = files
    _serve_6001(loopback, echo=hostile)
    out = tmp_path / "a" / "b" / "certificates"
    before = _tree(tmp_path)
    code, _, stderr = _call(config, payload, out)
    assert "Traceback" not in stderr
    assert not Path("/tmp/anpr-evil").exists()
    new = _tree(tmp_path) - before
    outside = {p for p in new if p.parent != out and not p.name.startswith("journal.sqlite")}
    assert not outside, f"written outside {out}: {outside}"
    if code == 0:
        (saved,) = out.iterdir()
        assert saved.name == "answer-1.pdf"
        assert saved.read_bytes() == PDF
        assert _mode(saved) == 0o600
        assert "not an id" in stderr
    else:
        # An answer that does not echo the request's id may be refused before anything is
        # saved (the echo check): a typed error, nothing written.
        assert code == 3, stderr
        assert stderr.startswith("error: ")
        assert not out.exists() or not list(out.iterdir())


def _result(ident: str | None, *types: str) -> Result[dict[str, object]]:
    header = {} if ident is None else {"idOperazioneComune": ident}
    attachments = {f"c{i}": Attachment(f"c{i}", t, PDF) for i, t in enumerate(types)}
    return Result("6001", "Risposta6001OK", {}, header, attachments=attachments)


def test_names_come_from_a_safe_alphabet_only() -> None:
    assert attachment_names(_result("K7Q2M9XA000000000042", "application/pdf", "x/y")) == [
        "K7Q2M9XA000000000042-1.pdf",
        "K7Q2M9XA000000000042-2.bin",
    ]
    for hostile in HOSTILE:
        assert attachment_names(_result(hostile, "application/PDF")) == ["answer-1.pdf"]
    assert attachment_names(_result(None, "application/pdf")) == ["answer-1.pdf"]


def test_save_attachments_unit(tmp_path: Path) -> None:
    link_target = tmp_path / "elsewhere.pdf"
    out = tmp_path / "out"
    out.mkdir()
    # A link planted under the expected name is neither followed nor replaced.
    (out / "answer-1.pdf").symlink_to(link_target)
    (saved,) = save_attachments(_result("../../x", "application/pdf"), out)
    assert saved == (out / "answer-1-2.pdf").resolve()
    assert not link_target.exists()
    assert saved.read_bytes() == PDF
    assert _mode(saved) == 0o600


def test_an_unwritable_directory_is_a_typed_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot use the directory") as info:
        save_attachments(_result("ABC", "application/pdf"), blocked / "sub")
    assert info.value.setting == "--attachments"
    assert "journal" in str(info.value)
