"""``anpr notifications``: serve (HTTP and HTTPS) as a real process, inbox listing."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import signal
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from anpr_client.cli.main import cli
from anpr_client.notifications import Inbox
from anpr_client.simulator.notifications import java_gzip
from anpr_client.simulator.pki import Pki, issue_certificate, name
from tests.client.support import LoopbackServer
from tests.notifications.support import (
    CF_1,
    ISTAT_B,
    make_receiver,
    outcome_of,
    serve,
    signed_request,
    write_settings,
)
from tests.notifications.wire import answer_of, echo, fixture

N031 = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\r
<p:NotificaN031 xmlns:p="http://sogei.it/ANPR/N000notificheComuni">\r
 <comuneRichiesta>\r
  <nomeComune>BORGO FITTIZIO</nomeComune>\r
  <codiceIstat>099002</codiceIstat>\r
  <siglaProvinciaIstat>PR</siglaProvinciaIstat>\r
 </comuneRichiesta>\r
 <dataOperativitaAnpr>2026-02-16</dataOperativitaAnpr>\r
</p:NotificaN031>"""


def fixture_n031() -> bytes:
    return N031


HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def test_serve_over_http_then_stop(pki: Pki, tmp_path: Path, inbox_location: str) -> None:
    files = write_settings(pki, tmp_path, store=inbox_location)
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


def test_serve_many_comuni_from_one_endpoint(pki: Pki, tmp_path: Path) -> None:
    """``serve --comuni FOLDER``: A's push by the path, B's by its codDestinatario, each into
    its own inbox with its own key; a Comune not in the folder is refused (5)."""
    folder = tmp_path / "comuni"
    a = write_settings(pki, folder / "a")
    b_key = issue_certificate(pki.ca, name(f"{ISTAT_B}-CO-9999"))
    b = write_settings(pki, folder / "b", keys=(b_key,))
    b.path.write_text(
        b.path.read_text(encoding="utf-8").replace(pki.istat, ISTAT_B), encoding="utf-8"
    )
    with serve(None, "--comuni", str(folder)) as served:
        url = f"http://127.0.0.1:{served.port}/n000"
        to_a = requests.post(
            f"{url}/{pki.istat}", data=signed_request(pki), headers=HEADERS, timeout=20
        )
        assert outcome_of(to_a.content) == "1"
        for_b = signed_request(
            pki, id_notifica="9000000002", cod_destinatario=ISTAT_B, recipient=b_key.certificate
        )
        assert (
            outcome_of(requests.post(url, data=for_b, headers=HEADERS, timeout=20).content) == "1"
        )
        stranger = signed_request(pki, id_notifica="9000000003", cod_destinatario="001272")
        assert (
            outcome_of(requests.post(url, data=stranger, headers=HEADERS, timeout=20).content)
            == "5"
        )
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(15) == 0
    for files, recipient in ((a, pki.istat), (b, ISTAT_B)):
        with Inbox(files.store) as box:
            (entry,) = box.entries()
            assert entry.event is not None
            assert entry.event.recipient == recipient


def test_serve_refuses_comuni_with_print_signer(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["notifications", "serve", "--comuni", str(tmp_path), "--print-signer"]
    )
    assert result.exit_code == 2
    assert "--print-signer serves one Comune" in result.output


def test_inbox_lists_type_operation_cf_and_state(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox_location: str
) -> None:
    files = write_settings(pki, tmp_path, store=inbox_location)
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


# --------------------------------------------------------------------------- pull, as ANPR sends


def _head_and_tail(name: str) -> tuple[bytes, bytes]:
    """A ready answer fixture split around its items."""
    data = fixture(name)
    start = data.index(b"<elencoRisposte")
    start = data.rindex(b"\n", 0, start) + 1
    end = data.index(b"</a:RispostaMultipla4005>")
    end = data.rindex(b"\n", 0, end) + 1
    return data[:start], data[end:]


def _items(*items: tuple[str, str, bytes | str, str | None]) -> bytes:
    out = b""
    for ident, kind, content, fmt in items:
        text = content if isinstance(content, str) else base64.b64encode(content).decode()
        out += (
            f"            <elencoRisposte>\r\n"
            f"               <idOperazioneANPR>{ident}</idOperazioneANPR>\r\n"
            f"               <statoLavorazione>7</statoLavorazione>\r\n"
            f"               <tipoOperazione>{kind}</tipoOperazione>\r\n"
            f"               <contenutoRisposta>{text}</contenutoRisposta>\r\n"
            + (f"               <formatoRisposta>{fmt}</formatoRisposta>\r\n" if fmt else "")
            + "            </elencoRisposte>\r\n"
        ).encode()
    return out


class StubAnpr:
    """ANPR's 4005 over HTTPS on loopback: ex_001 for the elaborazione, then ``ready``."""

    def __init__(self, loopback: LoopbackServer):
        self.ready = fixture("mixed-verifica-ready.answer.xml")
        self.calls: list[bytes] = []
        loopback.canned.handler = self.handle

    def handle(self, http: BaseHTTPRequestHandler, body: bytes) -> None:
        self.calls.append(body)
        if b"<elaborazione>" in body:
            answer = answer_of("ex001-elaborazione.answer.xml", body, (b"303104", b"165300000"))
        else:
            assert b"<idOperazioneANPR>165300000</idOperazioneANPR>" in body
            answer = echo(self.ready, body)
        http.send_response(200)
        http.send_header("Content-Type", "text/xml; charset=utf-8")
        http.send_header("Content-Length", str(len(answer)))
        http.end_headers()
        http.wfile.write(answer)


def _pull_settings(tmp_path: Path, loopback: LoopbackServer, extra: str = "") -> tuple[str, Path]:
    store = tmp_path / "inbox.sqlite"
    config = tmp_path / "anpr.toml"
    config.write_text(
        f'codice_istat = "058091"\nbase_url = "{loopback.url}"\nca_bundle = "{loopback.ca_pem}"\n'
        f'journal = false\n\n[notifications]\nstore = "{store}"\n{extra}',
        encoding="utf-8",
    )
    return str(config), store


def _pull(config: str, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["notifications", "pull", "--config", config, "--skew", "0", *extra]
    )
    return result.exit_code, result.stdout, result.stderr


def test_pull_stores_every_item_of_a_real_shaped_answer_and_moves_the_checkpoint(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    stub = StubAnpr(loopback)
    config, store = _pull_settings(tmp_path, loopback)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    code, out, err = _pull(config, "--since", since, "--json")
    assert code == 0, out + err
    summary = json.loads(out)
    assert (summary["received"], summary["added"], summary["invalid"]) == (6, 6, 0)
    assert (summary["held"], summary["heldFrom"], summary["calls"]) == ([], None, 2)
    listing = CliRunner().invoke(cli, ["notifications", "inbox", "--json", "--config", config])
    rows = json.loads(listing.output)
    assert [(r["tipoNotifica"], r["idNotifica"], r["event"]) for r in rows] == [
        ("N031", "165300001", "SubentroCompleted"),
        ("N031", "165300002", "SubentroCompleted"),
        ("NRIS", "31310004", "OperationResult"),
        ("5008", "31310010", "ResultItem"),
        ("NA01", "165300003", "ResultItem"),
        ("8046", "184439012", "ResultItem"),
    ]
    assert {r["state"] for r in rows} == {"pending"}
    assert rows[2]["idOperazioneANPR"] == "31309996"  # the web-app operation of the NRIS
    with Inbox(store) as box:
        checkpoint = box.checkpoint("058091")
    assert checkpoint.covered_until == dt.datetime.fromisoformat(summary["windows"][0][1])
    assert checkpoint.pending_id is None
    assert b"<dettaglioDati>RISPOSTA</dettaglioDati>" in stub.calls[0]


def test_hostile_or_broken_items_leave_the_checkpoint_where_it_was(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    stub = StubAnpr(loopback)
    config, store = _pull_settings(tmp_path, loopback)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    assert _pull(config, "--since", since)[0] == 0
    with Inbox(store) as box:
        before = box.checkpoint("058091")
    head, tail = _head_and_tail("mixed-verifica-ready.answer.xml")
    stub.ready = (
        head
        + _items(
            ("165310001", "N031", "not*base64", "gz"),
            ("165310002", "NA01", java_gzip(b"<ns2:predisposizioneAnagrafica"), "gz"),
            ("165310003", "X999", b"\x00garbage", "xml"),
            ("165310004", "5008", java_gzip(b"<a/>")[:-9], "gz"),
            ("165310005", "N031", java_gzip(fixture_n031()), "gz"),
        )
        + tail
    )
    code, out, err = _pull(config)
    assert code == 1, out + err  # something needs attention
    assert "1 new, 4 quarantined" in out
    assert "checkpoint held at" in err
    with Inbox(store) as box:
        after = box.checkpoint("058091")
        assert box.get("N031", "165310005") is not None  # the good one is stored
    assert after.covered_until == before.covered_until
    assert after.pending_id is None
    assert after.held_from == before.covered_until
    table = CliRunner().invoke(
        cli, ["notifications", "inbox", "--state", "quarantined", "--config", config]
    )
    assert table.exit_code == 0
    for reason in ("not base64", "prefix ns2", "Document is empty", "truncated gzip"):
        assert reason in table.output, table.output
    # The operator lets them go; the next pull moves on.
    for kind, ident in (
        ("N031", "165310001"),
        ("NA01", "165310002"),
        ("X999", "165310003"),
        ("5008", "165310004"),
    ):
        released = CliRunner().invoke(
            cli, ["notifications", "release", kind, ident, "--config", config]
        )
        assert released.exit_code == 0, released.output
    missing = CliRunner().invoke(cli, ["notifications", "release", "N031", "1", "--config", config])
    assert missing.exit_code == 2
    code, out, err = _pull(config, "--json")
    assert code == 0, out + err
    with Inbox(store) as box:
        moved = box.checkpoint("058091")
    assert moved.covered_until is not None
    assert before.covered_until is not None
    assert moved.covered_until > before.covered_until
    assert moved.held_from is None


def test_a_page_inflating_beyond_the_limit_is_refused_and_nothing_moves(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    stub = StubAnpr(loopback)
    config, store = _pull_settings(
        tmp_path, loopback, "\n[notifications.pull]\nmax_page_bytes = 1000000\n"
    )
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    assert _pull(config, "--since", since)[0] == 0
    with Inbox(store) as box:
        before, count = box.checkpoint("058091"), box.count()
    head, tail = _head_and_tail("mixed-verifica-ready.answer.xml")
    bomb = gzip.compress(b"\0" * 20_000_000)  # 20 MB from about 20 KB
    stub.ready = head + _items(("165320001", "5008", bomb, "gz")) + tail
    code, out, err = _pull(config, "--json")
    assert code == 3, out + err
    error = json.loads(out)
    assert error["error"] == "PullLimitError"
    assert "1000000" in error["message"]
    with Inbox(store) as box:
        after = box.checkpoint("058091")
        assert box.count() == count  # nothing of the page stored
    assert after.covered_until == before.covered_until
    assert after.pending_page == 1  # the same page is asked again next time
