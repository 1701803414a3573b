"""One service, many Comuni: a client per Comune, built when first used, released when idle.

A software house serves hundreds of Comuni from one process. :class:`ComuneRegistry` holds the
settings of each (from a folder of settings files, or from one file with a table per Comune:
see :func:`~.config.load_comuni`) and builds a Comune's :class:`~anpr_client.Client` the first
time it is used: its keys are loaded then, once, and released when the Comune has been idle for
``idle_timeout`` seconds (checked after each use and by a background thread) or when more than
``max_open`` Comuni are open (the least recently used goes first). What Comuni can share, they
share:

- one :class:`~anpr_client.transport.HttpTransport` (one ``SSLContext``, one pool of connections
  per host) per distinct trust configuration (``ca_bundle``, ``[tls]``, ``[tls_client]``), so 500
  Comuni talking to ANPR hold a handful of connections, not 500 pools;
- one journal per journal location (Comuni whose settings name the same journal share it: the
  journal keys every operation and every id by Comune).

Both are closed when the last open Comune using them is released.

Desks: a Comune's settings may name desks (``[desks.<name>]``: an operator and a workstation),
and a call may name any operator: ``registry.use("058091", desk="front")`` or
``use("058091", operator=cf)`` signs the SAML assertion for that operator (see
:meth:`Client.for_desk <anpr_client.Client.for_desk>`).

Thread-safe: clients are handed out with :meth:`ComuneRegistry.use` (a context manager); a
Comune in use is never released under its caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._leases import Leases
from ..client import Client
from ..errors.exceptions import ConfigurationError, UnknownComuneError
from ..settings import Settings
from .config import ComuneConfig, Desk, load_comuni

if TYPE_CHECKING:
    from ..journal import Repository
    from ..results import Result
    from ..transport import Transport

__all__ = ["ComuneRegistry"]

logger = logging.getLogger("anpr_client.multi")


class _Shared:
    """Resources shared by open Comuni, each closed when its last user lets it go."""

    def __init__(self) -> None:
        self._items: dict[object, list[Any]] = {}  # key → [resource, users]

    def take(self, key: object, make: Callable[[], Any]) -> Any:
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = [make(), 0]
        item[1] += 1
        return item[0]

    def give_back(self, key: object) -> None:
        item = self._items[key]
        item[1] -= 1
        if item[1] == 0:
            del self._items[key]
            item[0].close()

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        items, self._items = list(self._items.values()), {}
        for resource, _ in items:
            resource.close()


@dataclass
class _Open:
    """An open Comune: its client, what it shares, its desks."""

    client: Client
    transport_key: object
    journal_key: object | None
    desks: dict[tuple[str, str], Client] = field(default_factory=dict)


class ComuneRegistry:
    """Clients for many Comuni in one process (see the module docstring).

    :param comuni: the Comuni served, by ISTAT code (:func:`load_comuni`'s result, or plain
        :class:`~anpr_client.Settings`).
    :param max_open: how many Comuni may be open at once; past it the least recently used idle
        one is released (a Comune in use is never released: the bound may then be passed).
    :param idle_timeout: seconds after which an unused Comune is released (its keys closed).
    :param secret: called with a label to get a PIN or password that the settings'
        environment variables do not provide.
    :param transport: one transport for every Comune (tests: the simulator's
        :class:`~anpr_client.WsgiTransport`); default: HTTPS, one per trust configuration.
    :param journal: ``False``: no journal for any Comune; default: as each Comune's settings say.
    :param sweep_interval: seconds between two checks for idle Comuni by a background thread
        (started with the first open Comune, stopped by :meth:`close`), so that a service
        with no traffic releases its keys too; ``None``: only after each :meth:`use`.
    :param clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        comuni: Mapping[str, ComuneConfig | Settings],
        *,
        max_open: int = 64,
        idle_timeout: float = 300.0,
        secret: Callable[[str], str] | None = None,
        transport: Transport | None = None,
        journal: bool = True,
        sweep_interval: float | None = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise ConfigurationError(
                f"max_open = {max_open!r} must be a positive integer",
                setting="max_open",
                rule=">= 1",
            )
        if sweep_interval is not None and not sweep_interval > 0:
            raise ConfigurationError(
                f"sweep_interval = {sweep_interval!r} must be a positive number of seconds",
                setting="sweep_interval",
                rule="> 0 or None",
            )
        if not idle_timeout > 0:
            raise ConfigurationError(
                f"idle_timeout = {idle_timeout!r} must be a positive number of seconds",
                setting="idle_timeout",
                rule="> 0",
            )
        self._comuni: dict[str, ComuneConfig] = {}
        for code, config in comuni.items():
            if isinstance(config, Settings):
                config = ComuneConfig(config)
            if config.settings.codice_istat != code:
                raise ConfigurationError(
                    f"the settings given for {code} are those of {config.settings.codice_istat}",
                    setting="codice_istat",
                )
            self._comuni[code] = config
        self.max_open = max_open
        self.idle_timeout = float(idle_timeout)
        self._secret = secret
        self._transport = transport
        self._journal = journal
        self._clock = clock
        self._lock = threading.Lock()
        self._open: Leases[_Open] = Leases(
            lambda code: self._build(self.config(code).settings),
            self._release,
            max_open=max_open,
            clock=clock,
        )
        self._transports = _Shared()
        self._journals = _Shared()
        self._closed = False
        self._sweep_interval = sweep_interval
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def from_path(cls, path: str | Path, **options: Any) -> ComuneRegistry:
        """A registry of the Comuni a folder or a multi-Comune file describes
        (:func:`load_comuni`); ``options`` go to the constructor."""
        return cls(load_comuni(path), **options)

    def __repr__(self) -> str:
        return f"<ComuneRegistry comuni={len(self._comuni)} open={len(self._open)}>"

    # ------------------------------------------------------------------ what is served

    @property
    def codes(self) -> frozenset[str]:
        """The ISTAT codes of the Comuni served."""
        return frozenset(self._comuni)

    def __contains__(self, code: object) -> bool:
        return code in self._comuni

    def config(self, code: str) -> ComuneConfig:
        """The settings and desks of Comune ``code`` (:class:`UnknownComuneError` if not
        served)."""
        config = self._comuni.get(code)
        if config is None:
            raise UnknownComuneError(
                f"Comune {str(code)[:10]!r} is not served here ({len(self._comuni)} Comuni are)",
                codice_istat=str(code)[:10],
            )
        return config

    def settings(self, code: str) -> Settings:
        return self.config(code).settings

    @property
    def open_count(self) -> int:
        """How many Comuni are open now (keys loaded)."""
        return len(self._open)

    @property
    def shared_transports(self) -> int:
        """How many transports (TLS contexts and their connection pools) are open now."""
        return len(self._transports)

    @property
    def shared_journals(self) -> int:
        """How many journals are open now."""
        return len(self._journals)

    # ------------------------------------------------------------------ handing out clients

    @contextlib.contextmanager
    def use(
        self, code: str, *, desk: str | None = None, operator: str | None = None
    ) -> Iterator[Client]:
        """Comune ``code``'s client for the block's duration (opened if needed).

        :param desk: one of the Comune's desks (``[desks.<name>]``): its operator and
            workstation sign the requests.
        :param operator: the operator's codice fiscale for these calls (over ``desk``'s).
        """
        self.config(code)  # an unknown Comune is refused before anything is opened
        with self._lock:
            if self._closed:
                raise ConfigurationError("the registry is closed", setting="registry")
            self._start_sweeper()
        entry = self._open.acquire(code)
        try:
            yield self._for_desk(code, entry, desk, operator)
        finally:
            self._open.release(code)
            self.release_idle()

    def call(
        self,
        code: str,
        operation: str,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
        desk: str | None = None,
        operator: str | None = None,
    ) -> Result[dict[str, Any]]:
        """``Client.call`` for Comune ``code`` (see :meth:`use` for ``desk`` and ``operator``)."""
        with self.use(code, desk=desk, operator=operator) as client:
            return client.call(operation, payload, header=header)

    def _start_sweeper(self) -> None:
        """Start the background check for idle Comuni (under the lock), once."""
        if self._sweep_interval is None or self._sweeper is not None:
            return
        interval = self._sweep_interval

        def sweep() -> None:
            while not self._stop.wait(interval):
                try:
                    self.release_idle()
                except Exception:  # a key that fails to close must not stop the sweeping
                    logger.exception("releasing idle Comuni failed")

        self._sweeper = threading.Thread(target=sweep, name="anpr-registry-sweeper", daemon=True)
        self._sweeper.start()

    def _build(self, settings: Settings) -> _Open:
        """Open a Comune: its frame (keys loaded here), a shared transport and journal."""
        transport_key: object = ("given",)
        transport = self._transport
        if transport is None:
            transport_key = _trust_key(settings)
            with self._lock:
                transport = self._transports.take(
                    transport_key, lambda: _https(settings, self._secret)
                )
        journal: Repository | None = None
        journal_key = _journal_key(settings) if self._journal else None
        try:
            if journal_key is not None:
                from ..journal import Journal

                with self._lock:
                    journal = self._journals.take(
                        journal_key, lambda: Journal.from_settings(settings, secret=self._secret)
                    )
            client = Client(settings, transport=transport, journal=journal, secret=self._secret)
        except BaseException:
            with self._lock:
                if journal_key is not None and journal is not None:
                    self._journals.give_back(journal_key)
                if self._transport is None:
                    self._transports.give_back(transport_key)
            raise
        return _Open(client, transport_key, journal_key)

    def _for_desk(self, code: str, entry: _Open, desk: str | None, operator: str | None) -> Client:
        if desk is None and operator is None:
            return entry.client
        chosen: Desk | None = None
        if desk is not None:
            chosen = self.config(code).desks.get(desk)
            if chosen is None:
                raise ConfigurationError(
                    f"Comune {code} has no desk {desk[:40]!r}",
                    setting=f"desks.{desk[:40]}",
                    rule="a [desks.<name>] table of the Comune",
                )
        key = (desk or "", operator or "")
        with self._lock:
            client = entry.desks.get(key)
        if client is not None:
            return client
        workstation = chosen.workstation if chosen is not None else None
        workstation_key = None
        if workstation is not None and workstation.key is not None:
            from ..credentials import load_key_source

            workstation_key = load_key_source(
                workstation.key, secret=self._secret, purpose=f"desks.{desk}.workstation"
            )
        try:
            client = entry.client.for_desk(
                operator=operator or (chosen.operator if chosen is not None else None),
                workstation_id=workstation.id if workstation is not None else None,
                workstation_key=workstation_key,
            )
        finally:  # it signed IdPostazioneFirmato once; a token session is not kept open
            close = getattr(workstation_key, "close", None)
            if callable(close):
                close()
        with self._lock:
            return entry.desks.setdefault(key, client)

    # ------------------------------------------------------------------ releasing

    def release_idle(self) -> int:
        """Release the Comuni idle for ``idle_timeout`` seconds, and the least recently used
        idle ones past ``max_open``; return how many were released. Called after every
        :meth:`use` and by the background check (``sweep_interval``)."""
        return self._open.release_idle(self.idle_timeout)

    def _release(self, entry: _Open) -> None:
        frame = entry.client.wsse
        close = getattr(frame, "close", None)
        if callable(close):
            close()
        with self._lock:
            if entry.journal_key is not None:
                self._journals.give_back(entry.journal_key)
            if self._transport is None:
                self._transports.give_back(entry.transport_key)

    def close(self) -> None:
        """Release every Comune and close what they shared (a transport given stays open)."""
        self._stop.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(10)
        with self._lock:
            self._closed = True
        self._open.close()  # each Comune's frame, and its share of the transport and journal
        with self._lock:
            self._journals.close()
            self._transports.close()

    def __enter__(self) -> ComuneRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _https(settings: Settings, secret: Callable[[str], str] | None) -> Any:
    from ..transport import HttpTransport
    from ..transport.tls import ssl_context_from_settings

    return HttpTransport(ssl_context_from_settings(settings, secret=secret))


def _real(path: Path | None) -> Path | None:
    """``path`` as one spelling (``a/../ca.pem`` and ``ca.pem`` are one file)."""
    return None if path is None else Path(os.path.realpath(path))


def _trust_key(settings: Settings) -> object:
    """What identifies a trust configuration: Comuni with the same key share one transport."""
    client = settings.tls_client
    if client is not None:
        client = dataclasses.replace(
            client,
            path=_real(client.path),
            pem_key=_real(client.pem_key),
            pem_cert=_real(client.pem_cert),
        )
    return (_real(settings.ca_bundle), settings.tls, client)


def _journal_key(settings: Settings) -> object | None:
    """What identifies a Comune's journal: Comuni with the same key share one open journal
    (``None``: the settings switch it off)."""
    if not settings.journal_enabled:
        return None
    location: object = settings.journal_path
    return _real(location) if isinstance(location, Path) else location  # a file, or a URL
