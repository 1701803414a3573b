"""TLS test fixtures: the shared test PKI and a loopback HTTPS server requiring a client cert."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from anpr_client.simulator.pki import Pki, PkiFiles
from tests.security.support import shared_pki

FILE_PASSWORD = "tls-file-password"


@pytest.fixture(scope="session")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="session")
def pki_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return pki.write(Path(tmp_path_factory.mktemp("tls-pki")), password=FILE_PASSWORD)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert()
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        body = f"hello {subject.get('commonName', 'anonymous')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _TLSServer(HTTPServer):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context

    def get_request(self):  # type: ignore[no-untyped-def]
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # refused handshakes are the point of some tests


@pytest.fixture(scope="module")
def mtls_server(pki_files: PkiFiles) -> Iterator[str]:
    """``https://localhost:<port>/``: requires a client certificate issued by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki_files.server_cert_pem, pki_files.server_key_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki_files.ca_pem)
    server = _TLSServer(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
