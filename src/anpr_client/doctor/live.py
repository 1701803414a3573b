"""``anpr doctor --live``: the endpoint itself, step by step, each step only if the last held.

1. ``live.dns``: the host name resolves;
2. ``live.tcp``: a TCP connection opens (the local address it leaves from is evidence for the
   IP allow-list; behind NAT ANPR sees another one);
3. ``live.tls``: the TLS handshake with the client's own context (``ca_bundle``, ``[tls]``,
   ``[tls_client]``); ``WRONG_VERSION_NUMBER`` means the port speaks plain HTTP;
4. ``live.clock``: the offset of this machine's clock from the server's ``Date`` header (ANPR's
   tokens live five minutes, italia/anpr#1827);
5. ``live.testconn``: TestConn signed rsa-sha256 and, if refused, rsa-sha1 — which one the
   endpoint accepts, against ``[security] signature`` (every frame ANPR is publicly known to
   have accepted is rsa-sha1, italia/anpr#1903, #2504; rsa-sha256 is inferred). A ``Rejected
   by policy`` is given with its ranked causes (:mod:`anpr_client.errors.faults`) and what
   was measured (the local address, the operator, the clock offset).

Nothing is journaled: the requests go through a client without a journal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ..errors.exceptions import AnprError, AnprRejected, RejectedByPolicy, SoapFault
from ..security.algorithms import SignatureMethod
from .model import Check, Verdict

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["live_checks"]

CLOCK_OK: Final = 10.0
"""Seconds of offset below which the clock is fine (the ``Date`` header has 1 s steps)."""
CLOCK_FAIL: Final = 60.0
"""Seconds of offset from which tokens are refused (the gateway's usual clock skew)."""

_PLAIN_HTTP_HINT: Final = (
    "this port speaks plain HTTP, not TLS: use the HTTPS port (443 for ANPR), or, for a local "
    "simulator served without TLS, an http:// base_url with [tls] allow_plain_http = true"
)


@dataclasses.dataclass
class _Seen:
    """What the live steps measured, for the diagnosis of a refusal."""

    local_address: str | None = None
    offset: float | None = None


def live_checks(settings: Settings) -> Iterator[Check]:
    parts = urlsplit(settings.host)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    seen = _Seen()
    timeout = settings.timeouts.connect
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        yield Check(
            "live.dns",
            Verdict.FAIL,
            f"{host!r} does not resolve: {exc}",
            fix="check the host of base_url (or of the environment) and this machine's DNS",
            setting="base_url",
        )
        yield from _skipped("live.dns", "live.tcp", "live.tls", "live.clock", "live.testconn")
        return
    found = sorted({str(a[4][0]) for a in addresses})
    yield Check("live.dns", Verdict.OK, f"{host} → {', '.join(found)}")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        yield Check(
            "live.tcp",
            Verdict.FAIL,
            f"no TCP connection to {host}:{port}: {exc.strerror or exc}",
            fix="check the port, the firewall and the route to ANPR from this machine",
            setting="base_url",
        )
        yield from _skipped("live.tcp", "live.tls", "live.clock", "live.testconn")
        return
    with sock:
        seen.local_address = str(sock.getsockname()[0])
        yield Check(
            "live.tcp",
            Verdict.OK,
            f"connected to {host}:{port} from local address {seen.local_address} (behind NAT, "
            "ANPR sees the public egress address: that is the one on its allow-list)",
        )
        if https:
            tls = _handshake(settings, sock, host)
            yield tls
            if tls.verdict is Verdict.FAIL:
                yield from _skipped("live.tls", "live.clock", "live.testconn")
                return
        else:
            yield Check(
                "live.tls",
                Verdict.SKIP,
                "plain HTTP base_url (allowed for a local simulator): no TLS",
            )
    yield from _testconn(settings, seen)


def _skipped(cause: str, *names: str) -> Iterator[Check]:
    for name in names:
        yield Check(name, Verdict.SKIP, f"not checked: {cause} failed")


def _handshake(settings: Settings, sock: socket.socket, host: str) -> Check:
    from ..transport.tls import ssl_context_from_settings

    try:
        context = ssl_context_from_settings(settings)
    except AnprError as exc:
        return Check(
            "live.tls",
            Verdict.FAIL,
            f"the client's TLS context cannot be made: {exc}",
            setting=getattr(exc, "setting", None),
        )
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            version = tls.version()
            peer = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Check(
            "live.tls",
            Verdict.FAIL,
            f"the server's certificate does not verify: {exc.verify_message or exc.reason}",
            fix="set ca_bundle to the PEM of the CA that issues the server's certificate in "
            "this environment (for the simulator, its pki/ca.pem)",
            setting="ca_bundle",
        )
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        hint = _PLAIN_HTTP_HINT if reason == "WRONG_VERSION_NUMBER" else None
        return Check(
            "live.tls",
            Verdict.FAIL,
            f"TLS handshake failed: {reason}" + (f" — {hint}" if hint else ""),
            fix=hint or "check the TLS settings ([tls], [tls_client]) and the endpoint",
            setting="base_url" if hint else None,
        )
    except OSError as exc:
        return Check("live.tls", Verdict.FAIL, f"TLS handshake failed: {exc}")
    subject = _rdns(peer.get("subject", ()))
    issuer = _rdns(peer.get("issuer", ()))
    return Check(
        "live.tls",
        Verdict.OK,
        f"{version}; server certificate {subject} issued by {issuer}, valid until "
        f"{peer.get('notAfter', '?')}; verified against "
        + (str(settings.ca_bundle) if settings.ca_bundle else "the system's trust store"),
    )


def _rdns(name: object) -> str:
    parts = []
    if isinstance(name, tuple):
        for rdn in name:
            for key, value in rdn:
                parts.append(f"{key}={value}")
    return ",".join(parts) or "?"


def _testconn(settings: Settings, seen: _Seen) -> Iterator[Check]:
    configured = settings.security.signature
    tried: dict[SignatureMethod, AnprError | None] = {}
    clock: Check | None = None
    for method in (SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA1):
        sha256 = tried.get(SignatureMethod.RSA_SHA256)
        if method is SignatureMethod.RSA_SHA1 and not (
            isinstance(sha256, SoapFault) or configured is SignatureMethod.RSA_SHA1
        ):
            break  # rsa-sha256 passed and is what is configured: nothing more to learn
        outcome, date = _send_testconn(settings, method)
        if clock is None and date is not None:
            clock = _clock(date, seen)
        tried[method] = outcome
    yield clock or Check(
        "live.clock", Verdict.SKIP, "no Date header came back (no answer from the server)"
    )
    yield _testconn_verdict(settings, configured, tried, seen)


def _send_testconn(
    settings: Settings, method: SignatureMethod
) -> tuple[AnprError | None, dt.datetime | None]:
    """Send one TestConn signed ``method``: ``(None, date)`` when ANPR answered OK, else the
    error; ``date`` is the answer's ``Date`` header."""
    from ..client import Client

    signed = settings.replace(security=dataclasses.replace(settings.security, signature=method))
    date = None
    try:
        with Client(signed, journal=None) as client:
            prepared = client.prepare("TestConn", {}, check=False)
            response = client.transmit(prepared)
            date = _http_date(response.headers.get("date"))
            client.read("TestConn", response, request=prepared)
    except AnprError as exc:
        return exc, date
    return None, date


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _clock(server: dt.datetime, seen: _Seen) -> Check:
    local = dt.datetime.now(dt.UTC)
    offset = (local - server).total_seconds()
    seen.offset = offset
    evidence = (
        f"server Date {server.isoformat()}, local {local.replace(microsecond=0).isoformat()}: "
        f"this clock is {offset:+.0f} s off"
    )
    if abs(offset) <= CLOCK_OK:
        return Check("live.clock", Verdict.OK, evidence)
    verdict = Verdict.WARN if abs(offset) < CLOCK_FAIL else Verdict.FAIL
    return Check(
        "live.clock",
        verdict,
        evidence,
        fix="synchronise this machine's clock (NTP): ANPR's tokens live five minutes and "
        "a Timestamp from the future is refused (Rejected by policy; italia/anpr#1827)",
    )


def _testconn_verdict(
    settings: Settings,
    configured: SignatureMethod,
    tried: dict[SignatureMethod, AnprError | None],
    seen: _Seen,
) -> Check:
    accepted = [m for m, outcome in tried.items() if not isinstance(outcome, SoapFault)]
    refused = [m for m, outcome in tried.items() if isinstance(outcome, SoapFault)]
    said = "; ".join(
        f"{m.short_name}: " + ("answered" if o is None else f"{type(o).__name__}: {_first(o)}")
        for m, o in tried.items()
    )
    if configured in accepted:
        outcome = tried[configured]
        if outcome is None:
            return Check(
                "live.testconn",
                Verdict.OK,
                f"TestConn answered OK, signed {configured.short_name} as configured ({said})",
                setting="security.signature",
            )
        return _not_a_refusal(outcome, said)
    if accepted:
        other = accepted[0]
        outcome = tried[other]
        if outcome is None or isinstance(outcome, AnprRejected):
            return Check(
                "live.testconn",
                Verdict.FAIL,
                f"the endpoint refuses {configured.short_name} and accepts "
                f"{other.short_name} ({said})",
                fix=f'set signature = "{other.short_name}" in [security]',
                setting="security.signature",
            )
        return _not_a_refusal(outcome, said)
    last = tried[refused[-1]]
    assert isinstance(last, SoapFault)
    return _refusal(settings, last, said, seen)


def _first(error: AnprError) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _not_a_refusal(error: AnprError, said: str) -> Check:
    if isinstance(error, AnprRejected):
        return Check(
            "live.testconn",
            Verdict.FAIL,
            f"the frame passed the gateway, but ANPR answered KO {', '.join(error.codes)} ({said})",
            fix="see `anpr errors explain CODE` for each code",
        )
    return Check(
        "live.testconn",
        Verdict.FAIL,
        f"TestConn did not complete: {said}",
        fix="see the live checks above; the error names what failed",
        setting=getattr(error, "setting", None),
    )


def _refusal(settings: Settings, fault: SoapFault, said: str, seen: _Seen) -> Check:
    causes = list(fault.causes)
    measured = [
        f"local address {seen.local_address}" if seen.local_address else None,
        f"operator (NameID) {settings.operator_id}" if settings.operator_id else None,
        f"clock offset {seen.offset:+.0f} s" if seen.offset is not None else None,
        f"environment {settings.environment.value}",
    ]
    measured_skew = seen.offset is not None and abs(seen.offset) >= CLOCK_FAIL
    if isinstance(fault, RejectedByPolicy) and measured_skew:  # measured: the clock first
        causes.sort(key=lambda c: not c.startswith("clock"))
    ranked = " | ".join(f"{n}. {c}" for n, c in enumerate(causes, 1))
    return Check(
        "live.testconn",
        Verdict.FAIL,
        f"every signature was refused ({said}). Measured: "
        + ", ".join(m for m in measured if m)
        + f". Likely causes, most likely first: {ranked}",
        fix=causes[0] if causes else None,
    )
