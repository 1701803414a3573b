"""HTTPS on urllib3 with one ``ssl.SSLContext``; each failure classified by where it happened.

urllib3 opens the connections (name resolution, TCP, the TLS handshake with our context and
hostname checking); :mod:`.wire` writes the request and reads the answer within the
``[limits]`` bounds. The attempt's :class:`~.models.Stage` decides what a failure means:

=====================================  ==========================================================
failed at                              raised (``delivered``)
=====================================  ==========================================================
``connect``                            :class:`~anpr_client.errors.ConnectError`,
                                       :class:`~anpr_client.errors.ConnectTimeout` (``False``)
``tls_handshake``                      :class:`~anpr_client.errors.TLSError`
                                       (:class:`~anpr_client.errors.CertificateVerificationError`
                                       when the server's certificate does not verify),
                                       ``ConnectError`` (reset), ``ConnectTimeout`` (``False``)
``sending``                            :class:`~anpr_client.errors.WriteError`,
                                       :class:`~anpr_client.errors.WriteTimeout` (``False``)
``sent``, ``status_line``,             :class:`~anpr_client.errors.ReadTimeout`,
``headers``, ``body``                  :class:`~anpr_client.errors.ConnectionLost`,
                                       :class:`~anpr_client.errors.TLSErrorAfterSending`,
                                       :class:`~anpr_client.errors.MalformedAnswer`,
                                       :class:`~anpr_client.errors.AnswerTooLarge`,
                                       :class:`~anpr_client.errors.AnswerDeadlineExceeded`
                                       (``None``: the outcome is unknown)
=====================================  ==========================================================

whatever the failure's kind: a TLS error, a reset, a timeout, a ``MemoryError``, an answer that
cannot be decoded. One exception to "after sending, unknown": a TLS *handshake* refusal (the
server rejecting our client certificate) arrives, with TLS 1.3, only when the client first reads;
it proves the server never accepted the connection, so it is a ``TLSError`` (not delivered).

The server's certificate is checked against the context's trust alone (:mod:`.tls`): no CA
bundle of requests or certifi is ever added to it, and the environment (proxies,
``REQUESTS_CA_BUNDLE``) is ignored.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .._version import __version__
from ..errors.exceptions import (
    AnswerDeadlineExceeded,
    AnswerTooLarge,
    CertificateVerificationError,
    ConfigurationError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    MalformedAnswer,
    ReadTimeout,
    TLSError,
    TLSErrorAfterSending,
    TransportError,
    WriteError,
    WriteTimeout,
)
from .models import HttpRequest, HttpResponse, Stage
from .wire import (
    AnswerReader,
    Attempt,
    DeadlinePassed,
    Malformed,
    TooLarge,
    Trace,
    build_head,
    write_request,
)

if TYPE_CHECKING:
    import socket

__all__ = ["HttpTransport"]

_USER_AGENT: Final = f"anpr-client/{__version__}"
_HANDSHAKE_REFUSALS: Final = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "TLSV1_ALERT_UNKNOWN_CA",
    }
)
"""Alerts a server sends only to refuse the handshake (RFC 8446 §6.2, §4.4.2.4): with TLS 1.3 the
client learns of them at its first read, after writing the request the server never accepted."""


@dataclass(frozen=True)
class _Target:
    key: tuple[str, str, int]
    """scheme, host, port: the connections that may serve it."""
    path: str
    """The request target (path and query)."""
    host_header: str


@functools.lru_cache(maxsize=64)
def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:
        raise ConnectError(f"cannot send to {url!r}: {exc}", url=url, stage=Stage.CONNECT) from None
    if scheme not in ("https", "http") or not host:
        raise ConnectError(
            f"cannot send to {url!r}: not an https:// URL", url=url, stage=Stage.CONNECT
        )
    port = port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target((scheme, host, port), path, parts.netloc.rpartition("@")[2])


class _StagedHTTPSConnection(HTTPSConnection):
    """urllib3's HTTPS connection, telling its attempt when TCP is up and TLS begins."""

    attempt: Attempt | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.attempt is not None:
            try:
                self.attempt.advance(Stage.TLS_HANDSHAKE)
            except BaseException:
                sock.close()
                raise
        return sock


_Connection = HTTPConnection | _StagedHTTPSConnection


class _Stale(Exception):
    """A pooled connection broke before the request's last byte was written: try a fresh one."""


class HttpTransport:
    """HTTPS (or plain HTTP on loopback, for tests) on urllib3, with our ``SSLContext``.

    :param ssl_context: the only source of trust for the server's certificate (and the client
        certificate, for mutual TLS); default: :func:`~.tls.create_ssl_context` (the system's
        trust store).
    :param pool_size: idle connections kept per server for reuse (0: a connection per request).
    :param trace: called with each :class:`~.models.Stage` an attempt enters (diagnostics; an
        exception it raises fails the attempt at that stage).

    Thread-safe: connections are pooled, each used by one request at a time.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        pool_size: int = 8,
        trace: Trace | None = None,
    ):
        from .tls import create_ssl_context

        self.ssl_context = ssl_context or create_ssl_context()
        self.pool_size = pool_size
        self.trace = trace
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        # Idle connections are closed when the transport is, or when it is collected unclosed.
        self._closer = weakref.finalize(self, _close_idle, self._idle, self._lock)

    # ------------------------------------------------------------------ connections

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return None
            if conn.is_connected:  # not closed by the server while idle
                return conn
            conn.close()

    def _give_back(self, key: tuple[str, str, int], conn: _Connection) -> None:
        if isinstance(conn, _StagedHTTPSConnection):
            conn.attempt = None
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.pool_size and self._closer.alive:  # not once closed
                idle.append(conn)
                return
        conn.close()

    def _open(self, target: _Target, request: HttpRequest, attempt: Attempt) -> _Connection:
        attempt.advance(Stage.CONNECT)
        timeout, _ = attempt.wait(request.timeouts.connect)
        scheme, host, port = target.key
        conn: _Connection
        if scheme == "https":
            conn = _StagedHTTPSConnection(host, port, timeout=timeout, ssl_context=self.ssl_context)
            conn.attempt = attempt
        else:
            conn = HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        return conn

    # ------------------------------------------------------------------ sending

    def send(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        target = _target(request.url)
        try:
            head = build_head(
                request.method,
                target.path,
                target.host_header,
                {"User-Agent": _USER_AGENT, **request.headers},
                len(request.body),
            )
        except ValueError as exc:  # UnicodeEncodeError included
            raise ConfigurationError(
                f"the request to {request.url} cannot be written: {exc}",
                setting="headers",
                rule="header names are tokens; values Latin-1 without CR, LF or NUL",
            ) from None
        attempt = Attempt(started + request.limits.deadline(request.timeouts), self.trace)
        data = head + request.body
        conn = self._take(target.key)
        if conn is not None:
            try:
                return self._exchange(conn, target, request, attempt, data, started, reused=True)
            except _Stale:
                pass
        try:
            conn = self._open(target, request, attempt)
        except Exception as exc:
            raise _failure(exc, attempt.stage, request) from exc
        return self._exchange(conn, target, request, attempt, data, started, reused=False)

    def _exchange(
        self,
        conn: _Connection,
        target: _Target,
        request: HttpRequest,
        attempt: Attempt,
        data: bytes,
        started: float,
        *,
        reused: bool,
    ) -> HttpResponse:
        sock = conn.sock
        try:
            if sock is None:  # pragma: no cover - connect() always sets it
                raise ConnectionLost("the connection has no socket", url=request.url)
            write_request(sock, attempt, data, request.timeouts.connect)
            reader = AnswerReader(
                sock, attempt, request.timeouts.read, request.limits.max_answer_bytes
            )
            status, version, headers = reader.read_head()
            body, reusable = reader.read_body(status, version, headers)
        except Exception as exc:
            alert = None
            if not reused and attempt.stage is Stage.SENDING and _broken(exc, ssl_too=True):
                alert = _handshake_refusal(sock)
            conn.close()
            if alert is not None:
                raise TLSError(
                    f"{request.url} refused the TLS handshake: {alert}",
                    url=request.url,
                    stage=Stage.TLS_HANDSHAKE,
                ) from exc
            if reused and attempt.stage is Stage.SENDING and _broken(exc):
                raise _Stale from exc
            raise _failure(exc, attempt.stage, request) from exc
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._give_back(target.key, conn)
        else:
            conn.close()
        return HttpResponse(status, headers, body, time.monotonic() - started)

    # ------------------------------------------------------------------ zeep

    @property
    def session(self) -> Any:
        """A ``requests.Session`` trusting exactly this transport's context, for zeep
        (:meth:`anpr_client.Client.zeep_service`; requests comes with the ``zeep`` extra).
        Answers through it are not bounded by ``[limits]``."""
        if self._session is None:
            self._session = _requests_session(self.ssl_context)
        return self._session

    def close(self) -> None:
        self._closer()
        if self._session is not None:
            self._session.close()


def _close_idle(idle: dict[tuple[str, str, int], list[_Connection]], lock: threading.Lock) -> None:
    with lock:
        connections = [c for conns in idle.values() for c in conns]
        idle.clear()
    for conn in connections:
        conn.close()


def _broken(exc: BaseException, *, ssl_too: bool = False) -> bool:
    """A connection error (not a timeout, not ours): what a stale pooled connection gives
    (and, with ``ssl_too``, a TLS error too)."""
    if not isinstance(exc, OSError) or isinstance(exc, TimeoutError):
        return False
    return ssl_too or not isinstance(exc, ssl.SSLError)


def _handshake_refusal(sock: socket.socket | ssl.SSLSocket | None) -> ssl.SSLError | None:
    """The alert with which the server refused the handshake, if one is waiting.

    With TLS 1.3 the client's handshake ends before the server has checked the client's
    certificate: a refusal arrives as an alert, and writing the request then fails with a bare
    EOF. The alert is still in the socket; reading it tells the two apart.
    """
    if not isinstance(sock, ssl.SSLSocket):
        return None
    try:
        sock.settimeout(0.2)
        sock.recv(1)
    except ssl.SSLError as alert:
        if getattr(alert, "reason", None) in _HANDSHAKE_REFUSALS:
            return alert
    except (OSError, ValueError):
        pass
    return None


def _verification_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate-verification error behind ``exc`` (urllib3 may wrap it), if any."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _failure(exc: BaseException, stage: Stage, request: HttpRequest) -> TransportError:
    """The typed error for ``exc``, raised while the attempt was at ``stage``."""
    url = request.url
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if stage in (Stage.CONNECT, Stage.TLS_HANDSHAKE):
        handshake = stage is Stage.TLS_HANDSHAKE
        if isinstance(exc, DeadlinePassed):
            return ConnectTimeout(
                f"the attempt's deadline passed while connecting to {url}", url=url, stage=stage
            )
        unverified = _verification_failure(exc)
        if unverified is not None:
            detail = unverified.verify_message or unverified.reason or unverified
            return CertificateVerificationError(
                f"the server certificate of {url} does not verify (certificate verify failed: "
                f"{detail}) against the trust "
                "of setting 'ca_bundle': set ca_bundle to the CA that issues ANPR's server "
                "certificates in this environment (or the simulator's ca.pem); nothing was sent",
                url=url,
                stage=stage,
            )
        if isinstance(exc, NewConnectionError) or not isinstance(
            exc, ConnectTimeoutError | TimeoutError | ssl.SSLError
        ):
            what = "failed during the TLS handshake" if handshake else "could not be opened"
            return ConnectError(f"the connection to {url} {what}: {reason}", url=url, stage=stage)
        if isinstance(exc, ssl.SSLError):
            return TLSError(f"TLS handshake with {url} failed: {reason}", url=url, stage=stage)
        what = "the TLS handshake" if handshake else "a connection"
        return ConnectTimeout(
            f"could not complete {what} with {url} within {request.timeouts.connect}s",
            url=url,
            stage=stage,
        )
    if stage is Stage.SENDING:
        if isinstance(exc, DeadlinePassed):
            return WriteTimeout(
                f"the attempt's deadline passed before the request to {url} was written",
                url=url,
                stage=stage,
            )
        if isinstance(exc, TimeoutError):
            return WriteTimeout(
                f"{url} did not take the request within {request.timeouts.connect}s; it was not "
                "sent whole",
                url=url,
                stage=stage,
            )
        return WriteError(
            f"the connection to {url} failed before the request was written whole: {reason}",
            url=url,
            stage=stage,
        )
    unknown = "the operation may have been applied"
    if isinstance(exc, DeadlinePassed):
        deadline = request.limits.deadline(request.timeouts)
        return AnswerDeadlineExceeded(
            f"the answer from {url} did not arrive whole within the attempt's deadline of "
            f"{deadline:g}s (limits.answer_deadline); {unknown}",
            limit="limits.answer_deadline",
            url=url,
            stage=stage,
        )
    if isinstance(exc, TooLarge):
        return AnswerTooLarge(
            f"{exc} (limits.max_answer_bytes); {unknown}",
            limit="limits.max_answer_bytes",
            url=url,
            stage=stage,
        )
    if isinstance(exc, Malformed):
        return MalformedAnswer(
            f"unreadable answer from {url}: {exc}; {unknown}", url=url, stage=stage
        )
    if isinstance(exc, TimeoutError):
        waited = "no answer" if stage is Stage.SENT else "the answer stalled"
        return ReadTimeout(
            f"{waited} from {url} within {request.timeouts.read}s after sending; {unknown}",
            url=url,
            stage=stage,
        )
    if isinstance(exc, ssl.SSLError):
        if stage is Stage.SENT and getattr(exc, "reason", None) in _HANDSHAKE_REFUSALS:
            return TLSError(
                f"{url} refused the TLS handshake: {reason}", url=url, stage=Stage.TLS_HANDSHAKE
            )
        return TLSErrorAfterSending(
            f"TLS failure with {url} after the request was sent ({reason}); {unknown}",
            url=url,
            stage=stage,
        )
    return ConnectionLost(
        f"the exchange with {url} broke after the request was sent ({reason}); {unknown}",
        url=url,
        stage=stage,
    )


def _requests_session(ssl_context: ssl.SSLContext) -> Any:
    """A requests session whose HTTPS connections use ``ssl_context`` and nothing else (no
    certifi bundle loaded into it, no environment)."""
    try:
        import requests
        from requests.adapters import HTTPAdapter
    except ModuleNotFoundError:
        raise ConfigurationError(
            "a requests session needs requests: pip install 'anpr-client[zeep]'",
            setting="zeep",
        ) from None

    class ContextAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = ssl_context
            super().init_poolmanager(*args, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            # requests would point the pool at certifi's bundle, which urllib3 then loads
            # into our shared context: verification stays on, the trust stays ours.
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = None
            conn.ca_cert_dir = None

    session = requests.Session()
    session.trust_env = False  # no proxies or CA overrides from the environment
    session.mount("https://", ContextAdapter(max_retries=0))
    session.mount("http://", HTTPAdapter(max_retries=0))
    return session
