"""The one HTTP/1.1 server of the simulator and the receiver (``anpr_client._wsgiserver``).

Over real sockets on loopback, plain and TLS: keep-alive and pipelining, strict parsing with
the server's own 4xx/5xx answers (no request smuggling, no traceback), the application's
connection control, and the design's promise — connections that are slow to shake hands, to
send or to read hold no worker, each is closed at its deadline, and near the connection cap
idle ones make room.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from anpr_client._wsgiserver import (
    CONTROL_KEY,
    ConnectionControl,
    ServerLimits,
    WsgiServer,
    server_ssl_context,
)
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.simulator.pki import Pki, generate_test_pki

BIG = 48 * 1024 * 1024  # more than loopback's socket buffers hold
_OPENED: list[http.client.HTTPConnection | socket.socket] = []  # closed when the server is


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("a bug of the application")
    if path in ("/close", "/refuse"):
        control = environ[CONTROL_KEY]
        assert isinstance(control, ConnectionControl)
        control.action = "close" if path == "/close" else "refuse"
        return []
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * BIG]
    if path == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "0.5"))
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
    text = (
        f"{environ['REQUEST_METHOD']} {path} {environ['QUERY_STRING']} "
        f"{len(body)} {environ.get('HTTP_X_TAG', '-')} {environ['wsgi.url_scheme']}"
    )
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return generate_test_pki("058091")


@pytest.fixture(scope="module")
def tls_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("wsgiserver-tls")
    key, cert = pki.server.write_pem(directory, "server")
    ca = directory / "ca.pem"
    ca.write_bytes(pki.ca.cert_pem())
    return key, cert, ca


@contextmanager
def running(tls: tuple[Path, Path, Path] | None = None, **options: Any) -> Iterator[WsgiServer]:
    context = None if tls is None else server_ssl_context(tls[1], tls[0])
    server = WsgiServer(("127.0.0.1", 0), app, context, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(10)
        while _OPENED:
            _OPENED.pop().close()
        assert not thread.is_alive()


def connect(
    server: WsgiServer, tls: tuple[Path, Path, Path] | None = None
) -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    else:
        context = ssl.create_default_context(cafile=str(tls[2]))
        conn = http.client.HTTPSConnection("localhost", server.port, timeout=10, context=context)
    _OPENED.append(conn)
    return conn


def raw(server: WsgiServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    _OPENED.append(sock)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# ----------------------------------------------------------------------------- HTTP


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_keep_alive_serves_many_requests_on_one_connection(
    secure: bool, tls_files: tuple[Path, Path, Path]
) -> None:
    tls = tls_files if secure else None
    with running(tls) as server:
        conn = connect(server, tls)
        sockets = set()
        for i in range(5):
            conn.request("POST", f"/p?i={i}", body=b"abc" * i, headers={"X-Tag": "t"})
            reply = conn.getresponse()
            assert reply.status == 200
            scheme = "https" if secure else "http"
            assert reply.read().decode() == f"POST /p i={i} {3 * i} t {scheme}"
            assert reply.getheader("Server") == "anpr-client"
            assert conn.sock is not None
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
        assert server.open_connections == 1
        conn.close()


def test_pipelined_requests_are_answered_in_order() -> None:
    with running() as server, raw(server) as sock:
        sock.sendall(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
            b"GET /b?q HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = read_all(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.index(b"POST /a  2") < data.index(b"GET /b q 0") < data.index(b"GET /c  0")
    assert b"Connection: close" in data


def test_a_request_then_a_half_close_is_still_answered() -> None:
    with running() as server, raw(server) as sock:
        sock.sendall(b"POST /last HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)
        data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"POST /last  3" in data


def test_absolute_targets_and_underscored_headers() -> None:
    with running() as server, raw(server) as sock:
        sock.sendall(
            b"GET http://localhost/abs?q=1 HTTP/1.1\r\nHost: x\r\nX_Tag: spoofed\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = read_all(sock)
    assert b"GET /abs q=1 0 - http" in data  # X_Tag did not become HTTP_X_TAG


def test_head_has_the_length_and_no_body() -> None:
    with running() as server:
        conn = connect(server)
        conn.request("HEAD", "/h")
        reply = conn.getresponse()
        assert reply.status == 200
        assert int(reply.getheader("Content-Length") or 0) > 0
        assert reply.read() == b""
        conn.request("GET", "/after")  # the connection is still in step
        assert conn.getresponse().read().startswith(b"GET /after")


def test_expect_100_continue_is_honoured() -> None:
    with running() as server, raw(server) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert b"POST /e  5" in sock.recv(4096)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,2\r\n\r\nab", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n", 417),
    ],
    ids=[
        "no-length",
        "chunked",
        "two-lengths",
        "length-list",
        "negative-length",
        "obs-fold",
        "space-before-colon",
        "no-colon",
        "http-0.9",
        "http-2",
        "headers-too-large",
        "unknown-expectation",
    ],
)
def test_bad_requests_get_the_servers_answer_and_the_connection_closes(
    request_bytes: bytes, status: int
) -> None:
    with running() as server, raw(server) as sock:
        sock.sendall(request_bytes)
        data = read_all(sock)
    assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:80]
    assert b"Connection: close" in data
    assert b"Traceback" not in data


def test_too_large_a_body_is_refused_and_the_client_reads_the_answer() -> None:
    with running(limits=ServerLimits(max_body_bytes=1000)) as server, raw(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        sock.sendall(b"z" * 200_000)  # sent anyway: the answer must not be lost to a reset
        data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 413 ")


def test_an_application_error_is_a_500_and_the_server_keeps_serving() -> None:
    with running() as server:
        conn = connect(server)
        conn.request("GET", "/fail")
        reply = conn.getresponse()
        assert reply.status == 500
        assert b"Traceback" not in reply.read()
        again = connect(server)
        again.request("GET", "/fine")
        assert again.getresponse().status == 200


@pytest.mark.parametrize("path", ["/close", "/refuse"])
def test_the_application_can_drop_the_connection(path: str) -> None:
    with running() as server:
        conn = connect(server)
        conn.request("POST", path, body=b"x")
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            conn.getresponse()


def test_the_refusal_hook_resets_connections_and_requests() -> None:
    refusals = iter([True, False, True])
    with running(refuse=lambda: next(refusals, False)) as server:
        first = raw(server)  # refused at accept
        assert closed_by_server(first)
        conn = connect(server)
        conn.request("GET", "/one")  # its connection was accepted (False)
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            conn.getresponse()  # and its request refused (True)
        conn = connect(server)
        conn.request("GET", "/two")
        assert conn.getresponse().status == 200


def test_bad_sizes_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="workers"):
        WsgiServer(("127.0.0.1", 0), app, workers=0)


# ----------------------------------------------------------------------------- slow clients


def test_a_slow_sender_holds_no_worker() -> None:
    with running(workers=1) as server, raw(server) as slow:
        slow.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        conn = connect(server)
        conn.request("GET", "/genuine")
        assert conn.getresponse().status == 200
        slow.sendall(b"d" * 97)
        assert b"POST /slow  100" in slow.recv(4096)


def test_a_client_that_does_not_read_holds_no_worker() -> None:
    with running(workers=1) as server, raw(server) as lazy:
        lazy.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # an answer it does not read
        time.sleep(0.3)
        conn = connect(server)
        conn.request("GET", "/genuine")
        assert conn.getresponse().status == 200
        received = 0
        while received < BIG:  # and it gets the whole answer when it reads
            data = lazy.recv(1 << 20)
            assert data
            received += len(data)


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_every_deadline_closes_its_connection(
    secure: bool, tls_files: tuple[Path, Path, Path]
) -> None:
    tls = tls_files if secure else None
    limits = ServerLimits(
        handshake_timeout=0.5, header_timeout=0.5, request_timeout=1.0, idle_timeout=0.5
    )
    with running(tls, limits=limits) as server:
        silent = raw(server)  # never sends (with TLS: never says ClientHello)
        context = ssl.create_default_context(cafile=str(tls_files[2]))
        dripping = raw(server)
        if tls is not None:
            dripping = context.wrap_socket(dripping, server_hostname="localhost")
            _OPENED.append(dripping)
        dripping.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        body_late = raw(server)
        if tls is not None:
            body_late = context.wrap_socket(body_late, server_hostname="localhost")
            _OPENED.append(body_late)
        body_late.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        idle = connect(server, tls)
        idle.request("GET", "/once")
        assert idle.getresponse().read()
        assert server.open_connections == 4
        wait_until(lambda: server.open_connections == 0)
        for sock in (silent, dripping, body_late):
            assert closed_by_server(sock)
            sock.close()
        idle.close()


def test_the_headers_must_end_in_time_even_when_they_keep_coming() -> None:
    limits = ServerLimits(header_timeout=0.6, idle_timeout=30.0)
    with running(limits=limits) as server, raw(server) as drip:
        drip.sendall(b"GET / HTTP/1.1\r\n")
        began = time.monotonic()
        cut_off = False
        while not cut_off and time.monotonic() - began < 10:
            try:
                drip.sendall(b"X-A: b\r\n")
            except (BrokenPipeError, ConnectionResetError):
                cut_off = True
            time.sleep(0.05)
        assert cut_off
        assert time.monotonic() - began < 5


# ----------------------------------------------------------------------------- the cap


def test_near_the_cap_idle_connections_make_room() -> None:
    with running(max_connections=4) as server:
        idle = []
        for i in range(4):
            conn = connect(server)
            conn.request("GET", f"/{i}")
            assert conn.getresponse().read()
            idle.append(conn)
        assert server.open_connections == 4
        fresh = connect(server)
        fresh.request("GET", "/new")
        assert fresh.getresponse().status == 200
        assert server.open_connections <= 4
        # the longest idle went first
        assert idle[0].sock is not None
        assert closed_by_server(idle[0].sock)


def test_at_the_cap_the_oldest_unfinished_request_makes_room() -> None:
    with running(max_connections=3) as server:
        slow = [raw(server) for _ in range(3)]
        for sock in slow:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(0.05)
        wait_until(lambda: server.open_connections == 3)
        conn = connect(server)
        conn.request("GET", "/genuine")
        assert conn.getresponse().status == 200
        assert closed_by_server(slow[0])
        for sock in slow:
            sock.close()


def test_close_ends_open_connections_and_never_hangs() -> None:
    never_served = WsgiServer(("127.0.0.1", 0), app)
    never_served.shutdown()  # before serving: returns at once
    never_served.close()
    server = WsgiServer(("127.0.0.1", 0), app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kept = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    busy = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        kept.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        busy.sendall(b"GET /sleep?2 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        began = time.monotonic()
        server.close()
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - began < 8
        assert closed_by_server(kept)
        assert closed_by_server(busy)
    finally:
        kept.close()
        busy.close()


def test_mangled_requests_never_break_the_server(caplog: pytest.LogCaptureFixture) -> None:
    """Requests with bytes flipped, cut, doubled or replaced by CR, LF, NUL, colons and spaces
    (then the client's end of the stream): each gets an answer or a closed connection, nothing
    is logged as a server error, and the server goes on serving."""
    import random

    genuine = (
        b"POST /n000?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
        b"Content-Length: 11\r\nX-Tag: t\r\n\r\n<a>body</a>"
    )
    rng = random.Random(20261202)  # reproducible test data
    specials = b"\r\n\x00: \t,"
    with running() as server:
        for _ in range(300):
            data = bytearray(genuine)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(data))
                choice = rng.random()
                if choice < 0.3:
                    data[at] = rng.choice(specials)
                elif choice < 0.5:
                    data[at] = rng.randrange(256)
                elif choice < 0.7:
                    del data[at:]
                    break
                else:
                    data[at:at] = data[at : at + rng.randint(1, 20)]
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(bytes(data))
                sock.shutdown(socket.SHUT_WR)  # nothing more: an incomplete request ends here
                answer = read_all(sock)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 "), answer[:60]
            assert b"Traceback" not in answer
        conn = connect(server)
        conn.request("POST", "/after", body=b"fine", headers={"Content-Type": "text/xml"})
        assert conn.getresponse().status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
