"""Receiver throughput, and what verifying one signed message costs against its RSA floor.

    python bench/bench_notifications.py [--count 400] [--clients 4] [--threads 8] [--fast]
                                        [--rounds 15] [--skip-throughput] [--slow 500]
                                        [--clients-in-process] [--variant NAME --calls N]

1. **Verification cost** (issue 18's rows "verify one signed request from scratch ≤ 8× six RSA
   verifies, warm ≤ 3×"), in process, thread CPU time as the clock (the machine is shared),
   variants interleaved in each round and the ratio taken per round (median of the rounds):

   - *floor*: six RSA-2048 PKCS#1 v1.5 SHA-256 verifications with ``cryptography`` — what a
     Comune's signed request needs at least: the message signature, the assertion signature,
     the ``IdPostazioneFirmato`` CMS signature, and the three certificates' issuer signatures;
   - *request, from scratch*: :func:`verify_envelope` on a signed 3002 request with a plain
     :class:`TrustStore` (every path and the CMS verified anew), as the gateway's first request;
   - *request, warm*: what the simulator's gateway does for later requests of the same
     workstation: the frame verified in full, certificate paths and the ``IdPostazioneFirmato``
     it already verified remembered;
   - *notification*: the receiver's verification of one N000 push (pinned signer, fresh
     Timestamp), against its own floor of two RSA verifications (message, certificate).

2. **Throughput** (issue 18's row "N000 acknowledgements ≥ 500/s"): prepares ``count`` distinct
   N010 notifications in advance, each a RichiestaN000 signed by a test "ANPR" key and encrypted
   for the Comune's CO-9999 certificate (as ANPR sends them), starts the receiver on 127.0.0.1
   behind ``anpr notifications serve``'s own server (a real HTTP server, a durable SQLite inbox
   flushed on every commit unless ``--fast``; concurrent requests may share a commit, each
   answered once its row is on disk), then posts them from ``clients`` keep-alive
   connections. ANPR pushes from its own machines and the receiver runs alone, so by default
   each client is a process of its own (``http.client``, one connection each) and the bench
   process holds only the receiver; with ``--clients-in-process`` they are ``requests``
   threads beside the receiver, sharing its CPU (the figure before December 2026). Prints the
   acknowledgements per second on the wall clock (which, on a machine of two cores, still
   shares them with the clients and whatever else runs), the receiver's own CPU per
   acknowledgement (the CPU clocks of its server's threads, on Linux) with the capacity it
   implies on this machine's cores, the clients' CPU per post, latency percentiles and the
   time one notification spends in each stage of the receiver (verify, decrypt, parse), then
   checks that every notification was answered 1 and stored exactly once. Loopback only;
   bounded in count.

With ``--slow N``, N slow connections (half dripping their headers a byte a second, half
silent) stay open during the run, as an attacker would keep them: the figures should not move.

``--variant NAME --calls N`` runs only one verification variant (``scratch``, ``warm``,
``notification``, ``six``: the floor) N times inside ``functools.reduce``, after its warm-up,
for instruction counts that the machine's load does not move::

    valgrind --tool=callgrind --toggle-collect=functools_reduce \
        .venv/bin/python bench/bench_notifications.py --variant warm --calls 100

Prints figures; asserts nothing but the correctness of what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import http.client
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import requests
from bench_security import ENVELOPE as ENVELOPE_3002  # the request bench_security.py signs
from bench_security import cpu_ms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from anpr_client.credentials.base import KeySource
from anpr_client.notifications import Inbox, NotificationReceiver, read_response
from anpr_client.notifications.events import decode_notification
from anpr_client.notifications.message import read_request
from anpr_client.notifications.receiver import RECEIVER_POLICY
from anpr_client.notifications.server import make_server
from anpr_client.safexml import parse_xml
from anpr_client.security.cms import decrypt_enveloped
from anpr_client.security.frame import WsSecurity
from anpr_client.security.policy import DEFAULT_POLICY
from anpr_client.security.trust import SignerPins, TrustStore
from anpr_client.security.verify import verify_envelope
from anpr_client.simulator.gateway import MemoTrustStore, _WorkstationProofs
from anpr_client.simulator.pki import Pki, generate_test_pki
from anpr_client.simulator.push import build_request

PAYLOAD = (
    '<ns:NotificaN010 xmlns:ns="http://sogei.it/ANPR/N000notificheComuni"><generalitaSoggetto>'
    "<codiceFiscale><codFiscale>RSSMRA80A01H501U</codFiscale></codiceFiscale><cognome>ROSSI"
    "</cognome><nome>MARIO</nome></generalitaSoggetto><comuneRichiesta><nomeComune>MILANO"
    "</nomeComune><codiceIstat>015146</codiceIstat><siglaProvinciaIstat>MI</siglaProvinciaIstat>"
    "</comuneRichiesta><idOperazioneANPR>{op}</idOperazioneANPR><dataDecorrenza>2026-11-20"
    "</dataDecorrenza></ns:NotificaN010>"
)


def _rsa_verifies(key: rsa.RSAPrivateKey, count: int) -> Callable[[], None]:
    blob = os.urandom(700)
    signature = key.sign(blob, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()

    def verify() -> None:
        for _ in range(count):
            public.verify(signature, blob, padding.PKCS1v15(), hashes.SHA256())

    return verify


def verification_cost(
    pki: Pki, rounds: int, repeat: int = 40, variant: str | None = None, calls: int = 100
) -> None:
    """Issue 18's verification rows: each variant / its RSA floor, per round (median); with
    ``variant``, that variant alone, ``calls`` times inside ``functools.reduce``."""
    frame = WsSecurity(
        signer=pki.comune.key_source(),
        operator="RSSMRA80A01H501U",
        id_sede=pki.istat,
        workstation_id=pki.workstation_id,
        workstation_key=pki.workstation.key_source(),
        application_id="12345",
        subject_locality="192.0.2.10",
    )
    request = frame.sign_bytes(ENVELOPE_3002)
    plain = TrustStore([pki.ca.certificate])
    memo = MemoTrustStore([pki.ca.certificate])
    proofs = _WorkstationProofs()  # the gateway's memo of verified IdPostazioneFirmato
    gateway_policy = DEFAULT_POLICY.allowing_sha1()
    frame_policy = dataclasses.replace(gateway_policy, verify_id_postazione=False)

    def scratch() -> None:
        verify_envelope(request, trust=plain, policy=gateway_policy)

    def warm() -> None:  # as simulator.gateway.Gateway.check verifies a known workstation
        now = dt.datetime.now(dt.UTC)
        verified = verify_envelope(request, trust=memo, policy=frame_policy, now=now)
        assert verified.assertion is not None
        proofs.verify(verified.assertion.attributes, trust=memo, policy=gateway_policy, now=now)

    push = build_request(
        PAYLOAD.format(op=1).encode(),
        tipo_notifica="N010",
        id_notifica="1",
        cod_destinatario="058091",
        recipient=pki.comune.certificate,
        signer=pki.notifications.key_source(),
    )
    anpr = TrustStore([pki.anpr_ca.certificate])
    pin = SignerPins.of(pki.notifications.certificate)

    def notification() -> None:
        verify_envelope(push, trust=anpr, policy=RECEIVER_POLICY, signers=pin)

    six, two = _rsa_verifies(pki.comune.key, 6), _rsa_verifies(pki.comune.key, 2)
    if variant is not None:
        chosen = {"scratch": scratch, "warm": warm, "notification": notification, "six": six}
        if variant not in chosen:
            raise SystemExit(f"--variant: one of {', '.join(chosen)}")
        only = chosen[variant]
        for _ in range(3):
            only()  # warm-up (and the memos of the warm variant), outside the count
        functools.reduce(lambda _, __: only(), range(calls), None)
        return
    for work in (scratch, warm, notification, six, two):
        work()  # warm-up (and the memos of the warm variant)
    ratios: dict[str, list[float]] = {"scratch": [], "warm": [], "notification": []}
    absolute: dict[str, list[float]] = {k: [] for k in (*ratios, "six", "two")}
    for _ in range(rounds):
        floor6 = cpu_ms(six, repeat)
        floor2 = cpu_ms(two, repeat)
        values = {
            "scratch": cpu_ms(scratch, repeat),
            "warm": cpu_ms(warm, repeat),
            "notification": cpu_ms(notification, repeat),
        }
        absolute["six"].append(floor6)
        absolute["two"].append(floor2)
        for name, value in values.items():
            absolute[name].append(value)
            ratios[name].append(value / (floor2 if name == "notification" else floor6))
    med = {k: statistics.median(v) for k, v in absolute.items()}
    rat = {k: statistics.median(v) for k, v in ratios.items()}
    print(f"verification, thread CPU ms (median of {rounds} rounds of {repeat}):")
    print(f"  floor: six RSA-2048 verifies                   {med['six']:6.3f}")
    print(
        f"  signed 3002 request, from scratch              {med['scratch']:6.3f}  "
        f"= {rat['scratch']:5.2f}x the floor (goal <= 8x)"
    )
    print(
        f"  signed 3002 request, warm (gateway memos)      {med['warm']:6.3f}  "
        f"= {rat['warm']:5.2f}x the floor (goal <= 3x)"
    )
    print(f"  floor: two RSA-2048 verifies                   {med['two']:6.3f}")
    print(
        f"  N000 push, receiver (pinned, fresh Timestamp)  {med['notification']:6.3f}  "
        f"= {rat['notification']:5.2f}x its floor"
    )


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


def throughput(
    pki: Pki,
    count: int,
    clients: int,
    threads: int,
    fast: bool,
    slow: int = 0,
    in_process: bool = False,
) -> None:
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
    pin = SignerPins.of(pki.notifications.certificate)
    key = pki.comune.key_source()
    stages = _stages(requests_[0], trust, pin, key)
    print(
        "one notification, in process (thread CPU ms): "
        + ", ".join(f"{k} {v:.2f}" for k, v in stages)
    )

    with tempfile.TemporaryDirectory() as tmp:
        inbox = Inbox(Path(tmp) / "inbox.sqlite", durable=not fast)
        receiver = NotificationReceiver(
            inbox, keys=[key], trust=trust, signers=pin, recipients=("058091",)
        )
        server = make_server(receiver, "127.0.0.1", 0, threads=threads)
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
        pool = None if in_process else _ClientProcesses(server.port, requests_, clients)
        with _slow_connections(server.port, slow):
            server0 = _server_cpu(thread)
            if pool is None:
                t0, cpu0 = time.perf_counter(), time.process_time()
                with ThreadPoolExecutor(max_workers=clients) as threads_:
                    results = list(threads_.map(post, requests_))
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                client_cpu = None
            else:
                t0, cpu0 = time.perf_counter(), time.process_time()
                results, client_cpu, elapsed = pool.run()
                cpu = time.process_time() - cpu0
            server_cpu = None if server0 is None else (_server_cpu(thread) or 0.0) - server0
        server.close()
        thread.join(10)
        stored = inbox.count()
        inbox.close()

    latencies = sorted(r[0] * 1000 for r in results)
    outcomes = {code for _, code in results}
    where = "threads in the receiver's process" if in_process else "processes of their own"
    print(
        f"receiver: {count / elapsed:.0f} notifications acknowledged/s on the wall clock "
        f"({count} in {elapsed:.2f} s, {clients} clients as {where}, {threads} server threads, "
        f"{'no fsync' if fast else 'each answer after its fsync-ed commit'}, {os.cpu_count()} CPUs"
        f"{f', {slow} slow connections open' if slow else ''})"
    )
    cores = os.cpu_count() or 1
    per_ack = cpu / count * 1000
    if in_process:
        print(
            f"process CPU per acknowledgement: {per_ack:.2f} ms (receiver + the in-process "
            f"clients): at most {cores * 1000 / per_ack:.0f}/s on {cores} CPUs with this "
            "process alone (the wall-clock rate above also depends on the machine's other load)"
        )
    else:
        print(
            f"the receiver's process CPU per acknowledgement: {per_ack:.2f} ms; the clients' "
            f"{(client_cpu or 0.0) / count * 1000:.2f} ms per post (their processes)"
        )
    if server_cpu is not None:
        own = server_cpu / count * 1000
        print(
            f"the receiver's own CPU per acknowledgement (its server's threads): {own:.2f} ms: "
            f"at most {cores * 1000 / own:.0f}/s on {cores} CPUs without the clients"
        )
    print(
        f"latency ms: median {statistics.median(latencies):.1f}, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f}, max {latencies[-1]:.1f}"
    )
    print(f"outcomes: {sorted(outcomes)}; stored events: {stored} (expected {count})")
    if outcomes != {"1"} or stored != count:
        raise SystemExit("FAILED: not every notification was acknowledged and stored once")


def _post_child(port: int, bodies: list[bytes], go: EventLike, out: QueueLike) -> None:
    """One client process: one keep-alive connection, ``bodies`` posted in turn once ``go``
    is set; puts ``None`` on ``out`` when connected, then ``(latencies and outcomes, its CPU
    seconds)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    out.put(None)
    go.wait()
    cpu0 = time.process_time()
    results: list[tuple[float, str]] = []
    for body in bodies:
        t0 = time.perf_counter()
        connection.request("POST", "/n000", body=body, headers=headers)
        content = connection.getresponse().read()
        results.append((time.perf_counter() - t0, read_response(content)[1]))
    out.put((results, time.process_time() - cpu0))
    connection.close()


class EventLike(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...


class QueueLike(Protocol):
    def put(self, obj: object) -> None: ...


class _ClientProcesses:
    """``clients`` posting processes, started (interpreter and imports paid) before the
    measured window; :meth:`run` releases them at once and waits for every answer."""

    def __init__(self, port: int, bodies: list[bytes], clients: int):
        context = multiprocessing.get_context("spawn")
        self._go = context.Event()
        self._out: multiprocessing.Queue[tuple[list[tuple[float, str]], float]] = context.Queue()
        shares = [bodies[i::clients] for i in range(clients)]
        self._processes = [
            context.Process(target=_post_child, args=(port, share, self._go, self._out))
            for share in shares
            if share
        ]
        for process in self._processes:
            process.start()
        for _ in self._processes:  # every client imported and connected: then the clock
            self._out.get(timeout=120)

    def run(self) -> tuple[list[tuple[float, str]], float, float]:
        """Every ``(latency, outcome)``, the clients' CPU seconds, the wall-clock seconds."""
        t0 = time.perf_counter()
        self._go.set()
        results: list[tuple[float, str]] = []
        cpu = 0.0
        for _ in self._processes:
            answer = self._out.get(timeout=600)
            assert answer is not None
            part, used = answer
            results += part
            cpu += used
        elapsed = time.perf_counter() - t0
        for process in self._processes:
            process.join(30)
        return results, cpu, elapsed


def _server_cpu(loop: threading.Thread) -> float | None:
    """CPU seconds used so far by the receiver's server: its loop thread and its workers
    (``anpr-notifications-worker-N``); ``None`` where threads have no CPU clock (not Linux)."""
    if not hasattr(time, "pthread_getcpuclockid"):
        return None
    total = 0.0
    for thread in threading.enumerate():
        if thread.ident is not None and (
            thread is loop or thread.name.startswith("anpr-notifications-worker")
        ):
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--fast", action="store_true", help="synchronous=NORMAL (no fsync)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--variant", help="run only one verification variant: scratch, warm, notification, six"
    )
    parser.add_argument("--calls", type=int, default=100, help="with --variant: how many calls")
    parser.add_argument("--slow", type=int, default=0, help="slow connections held open")
    parser.add_argument(
        "--clients-in-process",
        action="store_true",
        help="post from threads of the receiver's process (sharing its CPU)",
    )
    args = parser.parse_args()
    pki = generate_test_pki("058091")
    verification_cost(pki, max(3, min(args.rounds, 200)), variant=args.variant, calls=args.calls)
    if args.variant is None and not args.skip_throughput:
        count = max(1, min(args.count, 20_000))
        slow = max(0, min(args.slow, 5000))
        throughput(pki, count, args.clients, args.threads, args.fast, slow, args.clients_in_process)


def _stages(
    body: bytes, trust: TrustStore, pin: SignerPins, key: KeySource
) -> list[tuple[str, float]]:
    """Median in-process thread CPU time of each receiver stage over 50 runs (ms)."""
    timings: dict[str, list[float]] = {"verify": [], "decrypt": [], "parse+decode": []}
    for _ in range(50):
        t0 = time.thread_time()
        verified = verify_envelope(body, trust=trust, policy=RECEIVER_POLICY, signers=pin)
        t1 = time.thread_time()
        request = read_request(verified.payload)
        plain = decrypt_enveloped(request.contenuto, [key])
        t2 = time.thread_time()
        decode_notification("N010", parse_xml(plain), id_notifica=request.id_notifica)
        t3 = time.thread_time()
        timings["verify"].append(t1 - t0)
        timings["decrypt"].append(t2 - t1)
        timings["parse+decode"].append(t3 - t2)
    return [(k, statistics.median(v) * 1000) for k, v in timings.items()]


if __name__ == "__main__":
    main()
