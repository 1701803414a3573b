"""Transport figure: client CPU per HTTPS POST, ours against plain ``http.client`` and requests.

    python bench/bench_transport.py [--rounds R] [--calls N]

One keep-alive HTTPS server on loopback, in a process of its own (its work is not counted),
answers every POST with a 3 KB SOAP-sized body. Each variant sends a 3 KB request over one
kept-alive connection and reads the whole answer:

- ``anpr-client``: :class:`anpr_client.transport.HttpTransport` (urllib3 connections, our
  bounded HTTP/1.1 reader, stage tracking, deadline and size limits);
- ``http.client``: the standard library's ``HTTPSConnection`` — the floor;
- ``urllib3``: ``PoolManager.request`` (for reference);
- ``requests``: a ``Session`` with the same ``SSLContext`` (the previous transport).

The clock is the calling thread's CPU time (``time.thread_time``), so neither the server nor the
machine's other load decides. Variants are interleaved round by round; the ratio to
``http.client`` is taken per round and the median of the rounds is printed (goal: anpr-client
≤ 2× ``http.client``).
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SERVER = r"""
import ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = b"<soap:Envelope>" + b"x" * 3000 + b"</soap:Envelope>"
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer waits on a delayed ACK (~40 ms)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

REQUEST = b"<soap:Envelope>" + b"r" * 3000 + b"</soap:Envelope>"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

Call = Callable[[], bytes]


def _variants(port: int, context: ssl.SSLContext) -> dict[str, tuple[Call, Callable[[], None]]]:
    import requests
    import urllib3

    from anpr_client.transport import HttpRequest, HttpTransport
    from anpr_client.transport.https import _requests_session

    url = f"https://localhost:{port}/ANPR3000ServiziConsultazione/AnprService3000"
    ours = HttpTransport(context)
    request = HttpRequest(url, REQUEST, HEADERS)

    stdlib = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)

    def plain() -> bytes:
        stdlib.request("POST", "/ANPR3000ServiziConsultazione/AnprService3000", REQUEST, HEADERS)
        return stdlib.getresponse().read()

    pool = urllib3.PoolManager(ssl_context=context, retries=False)
    session: requests.Session = _requests_session(context)

    return {
        "anpr-client": (lambda: ours.send(request).body, ours.close),
        "http.client": (plain, stdlib.close),
        "urllib3": (
            lambda: pool.request("POST", url, body=REQUEST, headers=HEADERS).data,
            pool.clear,
        ),
        "requests": (
            lambda: session.post(url, data=REQUEST, headers=HEADERS, timeout=10).content,
            session.close,
        ),
    }


def _cpu_per_call(call: Call, n: int) -> float:
    started = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import trustme

    from anpr_client.transport.tls import create_ssl_context

    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key, ca_pem = Path(tmp, "cert.pem"), Path(tmp, "key.pem"), Path(tmp, "ca.pem")
        issued = ca.issue_cert("localhost")
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(ca_pem))
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(cert), str(key)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            variants = _variants(port, create_ssl_context(ca_pem))
            for call, _ in variants.values():  # connect, warm up
                for _ in range(50):
                    assert len(call()) == 3031
            samples: dict[str, list[float]] = {name: [] for name in variants}
            ratios: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, (call, _) in variants.items():
                    samples[name].append(_cpu_per_call(call, args.calls))
                for name in variants:
                    ratios[name].append(samples[name][-1] / samples["http.client"][-1])
            for _, close in variants.values():
                close()
        finally:
            server.terminate()
            server.wait()
    print(
        f"HTTPS POST, 3 KB each way, keep-alive: client thread CPU per call ({args.rounds} rounds)"
    )
    print(f"{'variant':<14}{'ms/call':>10}{'× http.client':>16}")
    for name in variants:
        print(
            f"{name:<14}{statistics.median(samples[name]) * 1000:>10.3f}"
            f"{statistics.median(ratios[name]):>16.2f}"
        )
    ours = statistics.median(ratios["anpr-client"])
    print(f"anpr-client / http.client = {ours:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
