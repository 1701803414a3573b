"""The simulator's configuration: one frozen, checked dataclass.

Every knob has a default that gives a realistic ANPR test environment on loopback: two
subentrati Comuni (Roma ``058091`` and Milano ``015146``) with 40 fictitious residents each, a
gateway that requires the WS-Security frame, TLS without client certificates (like ANPR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._identifiers import ISTAT_CODE as _ISTAT
from ..errors.exceptions import ConfigurationError
from ..security.algorithms import SignatureMethod

__all__ = ["ExtractionFormat", "SimulatorConfig"]

ExtractionFormat = Literal["auto", "xml", "gz"]


def _fail(setting: str, message: str, rule: str) -> ConfigurationError:
    return ConfigurationError(
        f"simulator setting {setting!r}: {message}", setting=f"simulator.{setting}", rule=rule
    )


@dataclass(frozen=True)
class SimulatorConfig:
    """How a :class:`~anpr_client.simulator.Simulator` behaves.

    **Parameters:**

    - ``state_dir``: where the registry (``registry.sqlite``), the test PKI (``pki/``) and the
      client settings files (``anpr.toml``) live; reused when it already holds them. ``None``:
      a temporary directory removed when the simulator closes, with the registry in memory.
    - ``comuni``: ISTAT codes of the Comuni that are subentrati on the simulated ANPR (the first
      one is the default Comune of :meth:`~anpr_client.simulator.Simulator.client`).
    - ``seed``, ``population``: the fictitious population generated for each Comune
      (``population`` persons per Comune, reproducible from ``seed``).
    - ``require_signature``: the gateway demands and verifies the WS-Security frame (as ANPR);
      ``False`` accepts unsigned requests (a frame that is present is still verified).
    - ``require_client_cert``: the TLS server demands a client certificate issued by the
      simulator's CA (ANPR does not; for testing mutual TLS set-ups).
    - ``clock_offset``: seconds added to the simulator's clock (a skewed ANPR).
    - ``notification_retry_interval``, ``notification_attempts``: pushes of a notification to a
      Comune's N000 endpoint are retried this often, this many times (ANPR: 5 minutes, 5 times).
    - ``host``, ``port``: where the TLS server listens (port 0: a free port).
    - ``allow_sha1``: accept rsa-sha1/sha1 signatures, as ANPR's gateway does (its reference
      client still emits them).
    - ``accepted_signature_algorithms``: the signature methods the gateway accepts, by short
      name (``("rsa-sha1",)``: a gateway that refuses rsa-sha256, whose acceptance by ANPR is
      inferred, not shown); ``None``: rsa-sha256, plus rsa-sha1 when ``allow_sha1``. A frame
      signed otherwise is answered ``Internal Error (from client)``.
    - ``clock_skew``: seconds of clock difference tolerated on Timestamps and assertions.
    - ``timestamp_ttl``: the oldest ``wsu:Timestamp/Created`` the gateway accepts, in seconds
      (WSS4J's ``timeStampTTL``; ANPR's tokens live five minutes, italia/anpr#1827).
    - ``extraction_delay``: seconds between a 4005 ``elaborazione`` and its ``dataDisponibilita``.
    - ``extraction_format``: ``formatoRichiesta``/``formatoRisposta`` of the operations a 4005
      lists: ``xml``, ``gz``, or ``auto`` (gzip above 32 KiB). Notifications are always ``gz``,
      as ANPR sends them.
    - ``extraction_page_size``: notifications or operations per 4005 result page
      (``progressivo``).
    - ``extraction_mtom``: 4005 contents as MTOM attachments (``xop:Include``, as ANPR's
      official sample); ``False``: as base64 text in the XML (as published in
      italia/anpr#4792).
    - ``tipo_invio``: the ``testataRichiesta/tipoInvio`` this environment accepts (``None``:
      any of ``TEST``, ``PRE_SUB``, ``PROD``).
    - ``max_body_bytes``: larger requests are refused with HTTP 413 before parsing.
    - ``threads``: worker threads answering requests; ``max_connections``: connections open
      at once (TLS handshakes and requests being received hold no thread).
    """

    state_dir: Path | None = None
    comuni: Sequence[str] = ("058091", "015146")
    seed: int = 42
    population: int = 40
    require_signature: bool = True
    require_client_cert: bool = False
    clock_offset: float = 0.0
    notification_retry_interval: float = 0.5
    notification_attempts: int = 5
    host: str = "127.0.0.1"
    port: int = 0
    allow_sha1: bool = True
    accepted_signature_algorithms: Sequence[str] | None = None
    clock_skew: float = 60.0
    timestamp_ttl: float = 300.0
    extraction_delay: float = 1.0
    extraction_format: ExtractionFormat = "auto"
    extraction_page_size: int = 500
    extraction_mtom: bool = True
    tipo_invio: str | None = "TEST"
    max_body_bytes: int = 16 * 1024 * 1024
    threads: int = 8
    """Worker threads that answer requests (connections wait for them without holding one)."""
    max_connections: int = 1024
    """Most connections open at once; near it, idle kept-alive ones are closed."""

    def __post_init__(self) -> None:
        comuni = tuple(self.comuni)
        if isinstance(self.comuni, str):
            comuni = (self.comuni,)
        object.__setattr__(self, "comuni", comuni)
        if not comuni:
            raise _fail("comuni", "at least one Comune is needed", "non-empty")
        for istat in comuni:
            if not isinstance(istat, str) or not _ISTAT.fullmatch(istat):
                raise _fail("comuni", f"{istat!r} is not a six-digit ISTAT code", "six digits")
        if len(set(comuni)) != len(comuni):
            raise _fail("comuni", "a Comune is listed twice", "unique")
        if self.state_dir is not None:
            object.__setattr__(self, "state_dir", Path(self.state_dir).expanduser())
        checks: tuple[tuple[str, bool, str], ...] = (
            ("population", 0 <= self.population <= 100_000, "0..100000"),
            ("notification_attempts", 1 <= self.notification_attempts <= 100, "1..100"),
            ("notification_retry_interval", self.notification_retry_interval >= 0, ">= 0"),
            ("port", 0 <= self.port <= 65535, "0..65535"),
            ("clock_skew", self.clock_skew >= 0, ">= 0"),
            ("timestamp_ttl", self.timestamp_ttl > 0, "> 0"),
            ("extraction_delay", self.extraction_delay >= 0, ">= 0"),
            ("extraction_page_size", self.extraction_page_size >= 1, ">= 1"),
            ("max_body_bytes", self.max_body_bytes >= 1024, ">= 1024"),
            ("threads", 1 <= self.threads <= 1024, "1..1024"),
            ("max_connections", 1 <= self.max_connections <= 65536, "1..65536"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise _fail(name, f"{getattr(self, name)!r} is out of range", rule)
        if self.accepted_signature_algorithms is not None:
            given = self.accepted_signature_algorithms
            names = (given,) if isinstance(given, str) else tuple(given)
            for method in names:
                SignatureMethod.from_name(method, setting="simulator.accepted_signature_algorithms")
            if not names:
                raise _fail("accepted_signature_algorithms", "at least one is needed", "non-empty")
            object.__setattr__(self, "accepted_signature_algorithms", names)
        if self.extraction_format not in ("auto", "xml", "gz"):
            raise _fail("extraction_format", "must be auto, xml or gz", "auto | xml | gz")
        if self.tipo_invio is not None and self.tipo_invio not in ("TEST", "PRE_SUB", "PROD"):
            raise _fail("tipo_invio", "must be TEST, PRE_SUB, PROD or None", "tipoInvio")

    @property
    def default_comune(self) -> str:
        return self.comuni[0]

    @property
    def signature_methods(self) -> frozenset[SignatureMethod]:
        """The signature methods the gateway accepts (see ``accepted_signature_algorithms``)."""
        if self.accepted_signature_algorithms is not None:
            return frozenset(
                SignatureMethod.from_name(m) for m in self.accepted_signature_algorithms
            )
        methods = {SignatureMethod.RSA_SHA256}
        if self.allow_sha1:
            methods.add(SignatureMethod.RSA_SHA1)
        return frozenset(methods)
