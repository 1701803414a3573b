"""Receiver throughput: notifications acknowledged per second on loopback.

    python bench/bench_notifications.py [--count 400] [--clients 4] [--threads 8] [--fast]
                                        [--slow 500]

Prepares ``count`` distinct N010 notifications in advance, each a RichiestaN000 signed by a test
"ANPR" key and encrypted for the Comune's CO-9999 certificate (as ANPR sends them), starts the
receiver on 127.0.0.1 (``anpr notifications serve``'s own server, a durable SQLite inbox flushed on
every commit unless ``--fast``), then posts them from ``clients`` threads with keep-alive
connections. Prints the acknowledgements per second, latency percentiles and the time one
notification spends in each stage of the receiver (verify, decrypt, parse, commit), then checks
that every notification was answered 1 and stored exactly once. With ``--slow N``, N slow
connections (half dripping their headers a byte a second, half silent) stay open during the
run, as an attacker would keep them: the figures should not move. Loopback only; bounded in
count.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from anpr_client.credentials.base import KeySource
from anpr_client.notifications import Inbox, NotificationReceiver, read_response
from anpr_client.notifications.events import decode_notification
from anpr_client.notifications.message import read_request
from anpr_client.notifications.receiver import RECEIVER_POLICY
from anpr_client.notifications.server import make_server
from anpr_client.safexml import parse_xml
from anpr_client.security.cms import decrypt_enveloped
from anpr_client.security.trust import TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.pki import generate_test_pki
from anpr_client.simulator.push import build_request

PAYLOAD = (
    '<ns:NotificaN010 xmlns:ns="http://sogei.it/ANPR/N000notificheComuni"><generalitaSoggetto>'
    "<codiceFiscale><codFiscale>RSSMRA80A01H501U</codFiscale></codiceFiscale><cognome>ROSSI"
    "</cognome><nome>MARIO</nome></generalitaSoggetto><comuneRichiesta><nomeComune>MILANO"
    "</nomeComune><codiceIstat>015146</codiceIstat><siglaProvinciaIstat>MI</siglaProvinciaIstat>"
    "</comuneRichiesta><idOperazioneANPR>{op}</idOperazioneANPR><dataDecorrenza>2026-11-20"
    "</dataDecorrenza></ns:NotificaN010>"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--fast", action="store_true", help="synchronous=NORMAL (no fsync)")
    parser.add_argument("--slow", type=int, default=0, help="slow connections held open")
    args = parser.parse_args()
    count = max(1, min(args.count, 20_000))

    pki = generate_test_pki("058091")
    signer = pki.notifications.key_source()
    started = time.perf_counter()
    requests_ = [
        build_request(
            PAYLOAD.format(op=700_000_000 + i).encode(),
            tipo_notifica="N010",
            id_notifica=str(900_000_000 + i),
            cod_destinatario="058091",
            recipient=pki.comune.certificate,
            signer=signer,
        )
        for i in range(count)
    ]
    prepare = time.perf_counter() - started
    print(
        f"prepared {count} signed, encrypted notifications in {prepare:.2f} s "
        f"({len(requests_[0])} bytes each)"
    )

    trust = TrustStore([pki.anpr_ca.certificate])
    key = pki.comune.key_source()
    stages = _stages(requests_[0], trust, key)
    print("one notification, in process (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages))

    with tempfile.TemporaryDirectory() as tmp:
        inbox = Inbox(Path(tmp) / "inbox.sqlite", durable=not args.fast)
        receiver = NotificationReceiver(inbox, keys=[key], trust=trust, recipients=("058091",))
        server = make_server(receiver, "127.0.0.1", 0, threads=args.threads)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.port}/n000"
        local = threading.local()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

        def post(body: bytes) -> tuple[float, str]:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            t0 = time.perf_counter()
            reply = session.post(url, data=body, headers=headers, timeout=30)
            return time.perf_counter() - t0, read_response(reply.content)[1]

        post(requests_[0])  # warm-up (also checks the set-up); a redelivery afterwards
        with _slow_connections(server.port, max(0, min(args.slow, 5000))):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(post, requests_))
            elapsed = time.perf_counter() - t0
        server.close()
        thread.join(10)
        stored = inbox.count()
        inbox.close()

    latencies = sorted(r[0] * 1000 for r in results)
    outcomes = {code for _, code in results}
    print(
        f"receiver: {count / elapsed:.0f} notifications acknowledged/s "
        f"({count} in {elapsed:.2f} s, {args.clients} clients, {args.threads} server threads, "
        f"{'no fsync' if args.fast else 'fsync per commit'}"
        f"{f', {args.slow} slow connections open' if args.slow else ''})"
    )
    print(
        f"latency ms: median {statistics.median(latencies):.1f}, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f}, max {latencies[-1]:.1f}"
    )
    print(f"outcomes: {sorted(outcomes)}; stored events: {stored} (expected {count})")
    if outcomes != {"1"} or stored != count:
        raise SystemExit("FAILED: not every notification was acknowledged and stored once")


@contextlib.contextmanager
def _slow_connections(port: int, count: int) -> Iterator[None]:
    """``count`` connections to ``port`` that never finish a request (half drip a header byte
    every second, half stay silent) for as long as the block runs."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    drippers = socks[::2]
    for sock in drippers:
        sock.sendall(b"POST /n000 HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(1.0):
            for sock in drippers:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        for sock in socks:
            sock.close()


def _stages(body: bytes, trust: TrustStore, key: KeySource) -> list[tuple[str, float]]:
    """Median in-process time of each receiver stage over 50 runs (ms)."""
    timings: dict[str, list[float]] = {"verify": [], "decrypt": [], "parse+decode": []}
    for _ in range(50):
        t0 = time.perf_counter()
        verified = verify_envelope(body, trust=trust, policy=RECEIVER_POLICY)
        t1 = time.perf_counter()
        request = read_request(verified.payload)
        plain = decrypt_enveloped(request.contenuto, [key])
        t2 = time.perf_counter()
        decode_notification("N010", parse_xml(plain), id_notifica=request.id_notifica)
        t3 = time.perf_counter()
        timings["verify"].append(t1 - t0)
        timings["decrypt"].append(t2 - t1)
        timings["parse+decode"].append(t3 - t2)
    return [(k, statistics.median(v) * 1000) for k, v in timings.items()]


if __name__ == "__main__":
    main()
