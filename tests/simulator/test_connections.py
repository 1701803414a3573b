"""The simulator serves as many keep-alive clients as it is given, not 32.

It used to serve at most 32 connections (one thread each): the 33rd keep-alive client's TLS
handshake timed out, with no option to raise the limit. Connections now hold no thread while
they wait (see ``anpr_client._wsgiserver``); ``max_connections`` caps them (1024 by default).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from urllib.parse import urlsplit

import pytest

from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.soap.envelope import CONTENT_TYPE

from .conftest import MakeSimulator
from .support import A

CLIENTS = 100


def _connections(sim: Simulator, count: int) -> list[http.client.HTTPSConnection]:
    settings = sim.settings(A)
    url = urlsplit(sim.url)
    context = ssl.create_default_context(cafile=str(settings.ca_bundle))
    return [
        http.client.HTTPSConnection(str(url.hostname), url.port, timeout=20, context=context)
        for _ in range(count)
    ]


@pytest.mark.slow
def test_a_hundred_keep_alive_clients_are_all_served(make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    client = sim.client(A, journal=None)
    family = client.operation("TestConn").family
    path = urlsplit(client.settings.url_for(family)).path
    bodies = [client.prepare("TestConn", {}).envelope for _ in range(2 * CLIENTS)]
    client.close()
    connections = _connections(sim, CLIENTS)
    headers = {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'}
    answers: list[bytes] = []
    sockets: dict[int, int] = {}
    lock = threading.Lock()

    def call(index: int, conn: http.client.HTTPSConnection, body: bytes) -> None:
        conn.request("POST", path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        assert reply.status == 200, data
        with lock:
            answers.append(data)
            assert conn.sock is not None
            sockets.setdefault(index, id(conn.sock))
            assert sockets[index] == id(conn.sock), "the connection was not kept alive"

    try:
        for i, conn in enumerate(connections):  # every client connects and stays connected
            call(i, conn, bodies[i])
        assert sim._server is not None
        assert sim._server.open_connections == CLIENTS
        threads = [
            threading.Thread(target=call, args=(i, conn, bodies[CLIENTS + i]))
            for i, conn in enumerate(connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for conn in connections:
            conn.close()
    assert len(answers) == 2 * CLIENTS
    assert all(b"<esitoOperazione>0000</esitoOperazione>" in a for a in answers)
    assert len(sim.ledger.operations(comune=A, service="TestConn")) == 2 * CLIENTS


def test_the_connection_cap_is_a_setting(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(max_connections=5, threads=2)
    connections = _connections(sim, 8)
    try:
        for conn in connections:
            conn.connect()
        assert sim._server is not None
        assert sim._server.open_connections <= 5
        # and the simulator still answers
        assert sim.client(A, journal=None).test_connection().esito_operazione == "0000"
    finally:
        for conn in connections:
            conn.close()


@pytest.mark.parametrize(("name", "value"), [("max_connections", 0), ("threads", 0)])
def test_bad_server_sizes_are_refused(name: str, value: int) -> None:
    from anpr_client.errors.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=name):
        SimulatorConfig(**{name: value})  # type: ignore[arg-type]
