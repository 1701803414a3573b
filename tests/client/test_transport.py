"""Transport failures become typed errors that say whether the request may have arrived."""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler

import pytest
import trustme

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    CertificateVerificationError,
    ConnectError,
    ConnectionLost,
    OutcomeUnknown,
    ReadTimeout,
    TLSError,
)
from anpr_client.settings import Settings, Timeouts
from anpr_client.transport import HttpRequest, WsgiTransport
from tests.client.support import LoopbackServer, recorded

PAYLOAD = {
    "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
    "datiRichiesta": {"schedaAnagraficaRichiesta": "1", "dataRiferimentoRichiesta": "2026-11-20"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_was_not_delivered(settings: Settings) -> None:
    cfg = settings.replace(base_url=f"https://127.0.0.1:{_free_port()}")
    with pytest.raises(ConnectError) as info:
        Client(cfg, journal=None).call("3002", PAYLOAD)
    assert info.value.delivered is False
    assert not isinstance(info.value, OutcomeUnknown)


def test_untrusted_server_certificate_fails_closed(
    settings: Settings, loopback: LoopbackServer, tmp_path: object
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    other_ca = trustme.CA()
    path = f"{tmp_path}/other-ca.pem"
    other_ca.cert_pem.write_to_path(path)
    from pathlib import Path

    cfg = settings.replace(base_url=loopback.url, ca_bundle=Path(path))
    with pytest.raises(TLSError) as info:
        Client(cfg, journal=None).call("3002", PAYLOAD)
    assert info.value.delivered is False
    assert loopback.canned.received == []
    # A verification failure is its own class, and its message names the setting to fix.
    assert isinstance(info.value, CertificateVerificationError)
    assert info.value.setting == "ca_bundle"
    assert "'ca_bundle'" in str(info.value)


def test_no_answer_in_time_is_outcome_unknown(settings: Settings, loopback: LoopbackServer) -> None:
    def slow(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        time.sleep(1.5)

    loopback.canned.handler = slow
    cfg = settings.replace(
        base_url=loopback.url, ca_bundle=loopback.ca_pem, timeouts=Timeouts(connect=2, read=0.3)
    )
    with pytest.raises(ReadTimeout) as info:
        Client(cfg, journal=None).call("3002", PAYLOAD)
    assert isinstance(info.value, OutcomeUnknown)
    assert len(loopback.canned.received) == 1


def test_connection_dropped_after_sending_is_outcome_unknown(
    settings: Settings, loopback: LoopbackServer
) -> None:
    def drop(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    loopback.canned.handler = drop
    cfg = settings.replace(base_url=loopback.url, ca_bundle=loopback.ca_pem)
    with pytest.raises(ConnectionLost) as info:
        Client(cfg, journal=None).call("3002", PAYLOAD)
    assert isinstance(info.value, OutcomeUnknown)


@pytest.fixture
def wsgi_echo() -> list[dict[str, object]]:
    return []


def test_wsgi_transport_calls_the_app_in_process(wsgi_echo: list[dict[str, object]]) -> None:
    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        wsgi_echo.append(environ)
        body = environ["wsgi.input"].read()  # type: ignore[attr-defined]
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"got ", body]

    response = WsgiTransport(app).send(
        HttpRequest("https://x.test:8443/a/b?q=1", b"hello", {"Content-Type": "text/xml"})
    )
    assert (response.status, response.body) == (200, b"got hello")
    assert response.headers["content-type"] == "text/plain"
    env = wsgi_echo[0]
    assert (env["PATH_INFO"], env["QUERY_STRING"], env["CONTENT_TYPE"]) == (
        "/a/b",
        "q=1",
        "text/xml",
    )


def test_transport_is_shared_safely_between_threads(
    settings: Settings, loopback: LoopbackServer
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    client = Client(
        settings.replace(base_url=loopback.url, ca_bundle=loopback.ca_pem), journal=None
    )
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert client.call("3002", PAYLOAD).id_operazione_anpr == "4411002"
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = {body for _, _, body in loopback.canned.received}
    assert len(ids) == 20  # every request carried its own idOperazioneComune


def test_reset_during_the_tls_handshake_was_not_delivered(settings: Settings) -> None:
    import struct

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    seen: list[bytes] = []

    def reset_each() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                seen.append(conn.recv(5))  # the ClientHello's record header, never a request
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    threading.Thread(target=reset_each, daemon=True).start()
    cfg = settings.replace(base_url=f"https://127.0.0.1:{listener.getsockname()[1]}")
    try:
        with Client(cfg, journal=None) as client, pytest.raises(ConnectError) as info:
            client.call("3002", PAYLOAD)
    finally:
        listener.close()
        # CPython 3.11's ssl leaves the SSLSocket of a connection reset during the handshake
        # unclosed: collect it here rather than let the garbage collector blame a later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    assert info.value.delivered is False
    assert seen
    assert seen[0][:1] == b"\x16"  # a TLS handshake record, not HTTP
