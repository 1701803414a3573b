"""The simulator as one object: registry, ledger, notifications, gateway, WSGI app, TLS server.

::

    with running_simulator(SimulatorConfig()) as sim:
        client = sim.client()                      # Roma (058091), signing, over TLS
        client.call("3002", {...})
        sim.store.residents("058091")
        sim.faults.inject(Fault("commit_then_lose_response", operation="5005"))

:class:`Simulator` can also serve in-process, without the TLS server: ``sim.app`` is the WSGI
application, and :meth:`Simulator.wsgi_client` a client wired to it through
:class:`~anpr_client.transport.WsgiTransport`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from .._wsgiserver import ServerLimits, WsgiServer, server_ssl_context
from ..client import Client
from ..credentials.software import SoftwareKey
from ..errors.exceptions import ConfigurationError
from ..journal.ownership import current_owner, owner_alive
from ..security.trust import TrustStore
from ..settings import Settings, load_settings
from ..soap.bundle import get_bundle
from ..transport import WsgiTransport
from .app import SimulatorApp
from .clock import Clock
from .config import SimulatorConfig
from .db import Database
from .faults import FaultInjector
from .gateway import Gateway, MemoTrustStore
from .handlers import HANDLERS
from .handlers.base import Context
from .identities import SimulatorPki, write_settings
from .ledger import Ledger
from .notifications import Notifier
from .population import Progress
from .seeding import seed_registry
from .store import Registry

__all__ = ["Simulator", "running_simulator"]

log = logging.getLogger("anpr_client.simulator")

#: The file in a state directory that says which server serves it (owner, URL, since when).
SERVER_RECORD: Final = "server.json"


class Simulator:
    """An offline ANPR (see the package docstring). Create, :meth:`start`, :meth:`close`."""

    def __init__(self, config: SimulatorConfig | None = None, *, progress: Progress | None = None):
        """``progress`` hears how far the population's generation and storage have come
        (``anpr simulator serve`` prints it for a large ``--population``)."""
        began = time.perf_counter()
        self.timings: dict[str, float] = {}
        """Seconds each start-up phase took (``database``, ``population``, ``pki``, …): the
        test PKI is made or loaded while the population is generated, so they overlap."""
        self.config = config or SimulatorConfig()
        self._temporary = self.config.state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="anpr-simulator-"))
            if self.config.state_dir is None
            else Path(self.config.state_dir)
        )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # The test PKI's keys are generated outside the GIL: let that run beside the seeding.
        with ThreadPoolExecutor(1, thread_name_prefix="anpr-simulator-pki") as pool:
            pki = pool.submit(self._open_pki)
            mark = time.perf_counter()
            self.db = Database(None if self._temporary else self.state_dir / "registry.sqlite")
            self.clock = Clock(self.config.clock_offset)
            self.store = Registry(self.db)
            """The registry (:class:`~.store.Registry`): ``residents``, ``person``…"""
            self.ledger = Ledger(self.db)
            self.timings["database"] = time.perf_counter() - mark
            mark = time.perf_counter()
            seed_registry(
                self.store,
                self.config.comuni,
                persons_per_comune=self.config.population,
                seed=self.config.seed,
                progress=progress,
            )
            self.timings["population"] = time.perf_counter() - mark
            self.pki = pki.result()
        mark = time.perf_counter()
        self._trust_lock = threading.Lock()
        self._trust: TrustStore = self._build_trust()
        self._notification_key: SoftwareKey | None = None
        self.bundle = get_bundle()
        self.notifications = Notifier(
            self.db,
            self.clock,
            self.config,
            self.bundle,
            new_id=self.ledger.new_id,
            signer=self._notification_signer,
            recipient_certificate=self.pki.recipient_certificate,
        )
        self.faults = FaultInjector()
        self.gateway = Gateway(
            self.bundle,
            trust=self.trust,
            known_comune=self.store.is_subentrato,
            now=self.clock.now,
            require_signature=self.config.require_signature,
            allow_sha1=self.config.allow_sha1,
            signature_methods=self.config.signature_methods,
            clock_skew=self.config.clock_skew,
            timestamp_ttl=self.config.timestamp_ttl,
        )
        self.context = Context(
            registry=self.store,
            ledger=self.ledger,
            notifier=self.notifications,
            clock=self.clock,
            config=self.config,
            db=self.db,
            bundle=self.bundle,
        )
        self.app = SimulatorApp(
            bundle=self.bundle,
            gateway=self.gateway,
            db=self.db,
            ledger=self.ledger,
            context=self.context,
            faults=self.faults,
            handlers=HANDLERS,
            config=self.config,
            clock=self.clock,
        )
        self._server: WsgiServer | None = None
        self._thread: threading.Thread | None = None
        self._token = secrets.token_hex(8)
        self.url = f"https://{self._url_host(self.config.host)}:{self.config.port}"
        self.timings["components"] = time.perf_counter() - mark
        mark = time.perf_counter()
        serving = self.running_server()
        if serving is None:
            self._write_settings()
        else:
            # Another simulator serves this state: its settings files point at it, keep them.
            self.url = str(serving.get("url") or self.url)
        self.timings["settings"] = time.perf_counter() - mark
        self.timings["total"] = time.perf_counter() - began

    def _open_pki(self) -> SimulatorPki:
        mark = time.perf_counter()
        try:
            return SimulatorPki.open(
                self.state_dir / "pki", self.config.comuni, host=self.config.host
            )
        finally:
            self.timings["pki"] = time.perf_counter() - mark

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        """Start the TLS server (on a free port if ``port`` is 0) and the notification pusher."""
        if self._server is not None:
            return self
        mark = time.perf_counter()
        serving = self.running_server()
        if serving is not None:
            raise ConfigurationError(
                f"the state directory {self.state_dir} is already served by process "
                f"{serving.get('owner', '?')} at {serving.get('url', '?')}; stop it first (or "
                f"delete {self.state_dir / SERVER_RECORD} if that process is gone)",
                setting="simulator.state_dir",
                rule="one running simulator per state directory",
            )
        cert, key = self.pki.server_files
        ctx = server_ssl_context(
            cert, key, client_ca=self.pki.ca_pem if self.config.require_client_cert else None
        )
        server = WsgiServer(
            (self.config.host, self.config.port),
            self.app,
            ctx,
            refuse=self._refuse_connection,
            workers=self.config.threads,
            max_connections=self.config.max_connections,
            limits=ServerLimits(max_body_bytes=self.config.max_body_bytes),
            ident="anpr-simulator",
        )
        self._server = server
        self.url = f"https://{self._url_host(self.config.host)}:{server.port}"
        if not self._claim():
            server.close()
            self._server = None
            raise ConfigurationError(
                f"another simulator started serving {self.state_dir} at the same time",
                setting="simulator.state_dir",
                rule="one running simulator per state directory",
            )
        self._write_settings()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="anpr-simulator-server",
            daemon=True,
        )
        self._thread.start()
        self.notifications.start()
        self.timings["listen"] = time.perf_counter() - mark
        log.info("ANPR simulator listening on %s (state in %s)", self.url, self.state_dir)
        return self

    def stop(self) -> None:
        """Stop serving (the state is kept; :meth:`start` serves again)."""
        self.notifications.stop()
        if self._server is not None:
            self._server.shutdown()  # its thread always runs serve_forever: never blocks
            self._server.close()
            self._server = None
            self._release()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        """Stop and release everything; a temporary state directory is removed."""
        self.stop()
        self.db.close()
        if self._temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Simulator {self.url} comuni={','.join(self.comuni)} state={self.state_dir}>"

    # ------------------------------------------------------------------ identity and trust

    @property
    def comuni(self) -> tuple[str, ...]:
        return tuple(self.config.comuni)

    def trust(self) -> TrustStore:
        """The gateway's trust store: the simulator's CA, minus revoked certificates."""
        with self._trust_lock:
            return self._trust

    def _build_trust(self) -> TrustStore:
        return MemoTrustStore([self.pki.ca.certificate], revoked_serials=self.pki.revoked)

    def revoke(self, istat: str) -> None:
        """Revoke the Comune's certificates: its requests now get ``certificate revoked``."""
        self.pki.revoke(istat)
        with self._trust_lock:
            self._trust = self._build_trust()

    def _notification_signer(self) -> SoftwareKey:
        if self._notification_key is None:
            self._notification_key = self.pki.notifications.key_source()
        return self._notification_key

    def _refuse_connection(self) -> bool:
        return self.faults.take("connection", None, any_operation_only=True) is not None

    # ------------------------------------------------------------------ clients

    def _comune(self, comune: str | None) -> str:
        istat = comune or self.config.default_comune
        if istat not in self.config.comuni:
            raise ConfigurationError(
                f"Comune {istat} is not simulated here (comuni: {', '.join(self.comuni)})",
                setting="comune",
                rule="one of the simulator's Comuni",
            )
        return istat

    def settings_path(self, comune: str | None = None) -> Path:
        """The ready client settings file of ``comune`` (default: the first Comune):
        ``state_dir/anpr.toml`` for the first, ``state_dir/comuni/<ISTAT>/anpr.toml`` for each."""
        istat = self._comune(comune)
        if comune is None or istat == self.config.default_comune:
            return self.state_dir / "anpr.toml"
        return self.state_dir / "comuni" / istat / "anpr.toml"

    def settings(self, comune: str | None = None, **overrides: Any) -> Settings:
        """The :class:`~anpr_client.settings.Settings` of ``comune``'s settings file."""
        return load_settings(self.settings_path(comune), env={}, **overrides)

    def client(self, comune: str | None = None, **kwargs: Any) -> Client:
        """A configured, signing client of ``comune`` over TLS (``kwargs`` go to
        :class:`~anpr_client.Client`, e.g. ``journal=None``)."""
        return Client(self.settings(comune), **kwargs)

    def wsgi_client(self, comune: str | None = None, **kwargs: Any) -> Client:
        """Like :meth:`client`, but calling :attr:`app` in-process (no TLS, no network)."""
        kwargs.setdefault("transport", WsgiTransport(self.app))
        return self.client(comune, **kwargs)

    def register_notification_endpoint(
        self, istat: str, url: str, ca_bundle: Path | None = None
    ) -> None:
        """Set the N000 endpoint notifications for ``istat`` are pushed to."""
        self.notifications.register_endpoint(self._comune(istat), url, ca_bundle)

    @property
    def internal_errors(self) -> tuple[str, ...]:
        """Bugs of the simulator met while answering (tests assert there are none)."""
        return self.app.internal_errors

    # ------------------------------------------------------------------ files

    def running_server(self) -> dict[str, Any] | None:
        """The record (``owner``, ``url``, ``since``) of another simulator serving this state
        directory now, in this process or another; ``None`` if none does.

        A record whose process is gone (a crash, ``kill -9``) is stale: ``None``. A record
        written on another host (a shared directory) is taken as live.
        """
        record = self._read_record()
        if record is None or record.get("token") == self._token:
            return None
        return None if owner_alive(str(record.get("owner", ""))) is False else record

    def _read_record(self) -> dict[str, Any] | None:
        try:
            record = json.loads((self.state_dir / SERVER_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _claim(self) -> bool:
        """Write the server record, unless another live server wrote one first."""
        path = self.state_dir / SERVER_RECORD
        record = {
            "owner": current_owner(),
            "url": self.url,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "token": self._token,
        }
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self.running_server() is not None:
                    return False
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            return True
        return False

    def _release(self) -> None:
        record = self._read_record()
        if record is not None and record.get("token") == self._token:
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / SERVER_RECORD).unlink()

    @staticmethod
    def _url_host(host: str) -> str:
        if host in ("0.0.0.0", "", "::"):  # noqa: S104 - reachable locally as loopback
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def _write_settings(self) -> None:
        for istat in self.config.comuni:
            info = self.store.comune(istat)
            name = info.name if info else istat
            paths = {self.state_dir / "comuni" / istat / "anpr.toml"}
            if istat == self.config.default_comune:
                paths.add(self.state_dir / "anpr.toml")
            for path in paths:
                write_settings(
                    path,
                    pki=self.pki,
                    istat=istat,
                    base_url=self.url,
                    comune_name=name,
                    client_certificate=self.config.require_client_cert,
                    data_dir=self.state_dir / "comuni" / istat,
                )


@contextlib.contextmanager
def running_simulator(config: SimulatorConfig | None = None) -> Iterator[Simulator]:
    """A started :class:`Simulator` (TLS server on loopback), closed on exit."""
    sim = Simulator(config)
    try:
        sim.start()
        yield sim
    finally:
        sim.close()
