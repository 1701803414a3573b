"""Fixtures for client tests: settings, recorded answers and a real HTTPS server on loopback."""

from __future__ import annotations

import re
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from anpr_client.settings import ApplicationIdentity, Settings

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


_ID = re.compile(rb"<idOperazioneComune>([^<]*)</idOperazioneComune>")


def echoed(answer: bytes, request: bytes) -> bytes:
    """A recorded ``answer`` as ANPR sends it to ``request``: its ``testataRisposta`` echoes the
    request's ``idOperazioneComune`` (the answer's first one is replaced)."""
    sent = _ID.search(request)
    if sent is None:
        return answer
    return _ID.sub(b"<idOperazioneComune>" + sent.group(1) + b"</idOperazioneComune>", answer, 1)


def write_signing_config(path: Path, pki_dir: Path, journal: Path) -> Path:
    """A settings file at ``path`` with the Comune's and the workstation's keys (PKCS#12 files
    of :meth:`Pki.write <anpr_client.simulator.pki.Pki.write>` in ``pki_dir``, password in
    ``$TEST_P12_PASSWORD``) and its own ``journal`` file."""
    path.write_text(
        f"""codice_istat = "058091"
journal = "{journal}"
[operator]
codice_fiscale = "RSSMRA80A01H501U"
[comune_key]
pkcs12 = "{pki_dir / "comune.p12"}"
password_env = "TEST_P12_PASSWORD"
[workstation]
id = "058091-PC-0001"
pkcs12 = "{pki_dir / "workstation.p12"}"
password_env = "TEST_P12_PASSWORD"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings() -> Settings:
    return Settings(
        codice_istat="058091",
        application=ApplicationIdentity("GESTIONALE", "1.0", "ACME SRL"),
    )


@dataclass
class Canned:
    """What the loopback server answers next, and what it received."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    handler: Callable[[BaseHTTPRequestHandler, bytes], None] | None = None
    errors: list[BaseException | None] = field(default_factory=list)
    """Exceptions raised by ``handler`` (the connection was dropped)."""
    echo: bool = True
    """Answer as ANPR does: the body's testata echoes the request's id (:func:`echoed`)."""


@dataclass
class LoopbackServer:
    url: str
    ca_pem: Path
    canned: Canned


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def loopback(ca: trustme.CA, tmp_path: Path) -> Iterator[LoopbackServer]:
    """An HTTPS server on 127.0.0.1 (certificate from a throwaway CA) serving canned answers."""
    canned = Canned()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            canned.received.append((self.path, dict(self.headers), body))
            if canned.handler is not None:
                canned.handler(self, body)
                return
            answer = echoed(canned.body, body) if canned.echo else canned.body
            self.send_response(canned.status)
            self.send_header("Content-Type", canned.content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            # A handler that raises drops the connection, as a fake ANPR losing it does on
            # purpose; keep the exception, print no traceback (it would land in the output
            # of the CLI command under test, which must never show one).
            canned.errors.append(sys.exc_info()[1])

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    try:
        yield LoopbackServer(f"https://127.0.0.1:{server.server_address[1]}", ca_pem, canned)
    finally:
        server.shutdown()
        server.server_close()
