"""``anpr simulator serve`` and ``anpr simulator credentials``: an offline ANPR on loopback.

``serve`` writes into its state directory the registry, the test PKI and a ready client
settings file per Comune (``DIR/anpr.toml`` for the first), prints the URL and that path, and
serves until Ctrl-C (a large ``--population`` reports its progress on stderr)::

    anpr simulator serve --state ./anpr-sim
    anpr call 3002 --config ./anpr-sim/anpr.toml --input p.json
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType, TracebackType
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from .._files import write_private_file
from ..credentials.base import env_var_name
from ..errors.exceptions import ConfigurationError
from ._common import handle_errors, server_options

__all__ = ["simulator"]

_DEFAULT_STATE = Path("anpr-simulator")
_PROGRESS_FROM: int = 2000  # persons: a smaller population starts before anyone could read it


class _PopulationProgress(AbstractContextManager["_PopulationProgress"]):
    """The population's progress on stderr: a bar on a terminal, else a line every 10 %."""

    def __init__(self, persons: int, stream: TextIO | None = None):
        self._stream = stream or sys.stderr
        self._on = persons >= _PROGRESS_FROM
        self._shown: dict[str, int] = {}
        self._tasks: dict[str, TaskID] = {}
        self._bar: Progress | None = None
        if self._on and self._stream.isatty():
            self._bar = Progress(
                TextColumn("population: {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=self._stream),
                transient=True,
            )

    def __enter__(self) -> _PopulationProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self._on or total <= 0:
            return
        if self._bar is not None:
            task = self._tasks.get(phase)
            if task is None:
                task = self._tasks[phase] = self._bar.add_task(phase, total=total)
            self._bar.update(task, completed=done)
            return
        step = done * 10 // total
        if self._shown.get(phase, -1) < step:
            self._shown[phase] = step
            print(
                f"population: {phase} {done}/{total} persons ({step * 10} %)",
                file=self._stream,
                flush=True,
            )


def _comuni(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(out)


@click.group()
def simulator() -> None:
    """An offline ANPR for tests, demos and development (fictitious data, test PKI)."""


@simulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8443,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port (0: a free one).",
)
@click.option(
    "--state",
    "state",
    type=click.Path(file_okay=False, path_type=Path),
    default=_DEFAULT_STATE,
    show_default=True,
    help="Directory for the registry, the test PKI and the settings files "
    "(created if missing, reused if present).",
)
@click.option(
    "--require-client-cert",
    is_flag=True,
    help="Demand a TLS client certificate issued by the simulator's CA.",
)
@click.option(
    "--seed",
    default=42,
    show_default=True,
    type=int,
    help="Seed of the fictitious population (first start only).",
)
@click.option(
    "--population",
    default=40,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Persons per Comune (first start only).",
)
@click.option(
    "--comuni",
    "comuni",
    multiple=True,
    metavar="ISTAT[,ISTAT…]",
    help="Subentrati Comuni (default: 058091,015146). Repeat or comma-separate.",
)
@click.option(
    "--no-signature",
    is_flag=True,
    help="Accept unsigned requests (a frame that is present is still verified).",
)
@server_options
def serve(
    host: str,
    port: int,
    state: Path,
    require_client_cert: bool,
    seed: int,
    population: int,
    comuni: tuple[str, ...],
    no_signature: bool,
    threads: int,
    max_connections: int,
) -> None:
    """Serve ANPR's services over TLS until Ctrl-C."""
    from ..simulator import Simulator, SimulatorConfig

    with handle_errors(as_json=False):
        config = SimulatorConfig(
            state_dir=state,
            host=host,
            port=port,
            require_client_cert=require_client_cert,
            seed=seed,
            population=population,
            require_signature=not no_signature,
            comuni=_comuni(comuni) or SimulatorConfig.comuni,
            threads=threads,
            max_connections=max_connections,
        )
        with _PopulationProgress(population * len(config.comuni)) as progress:
            sim = Simulator(config, progress=progress)
        try:
            sim.start()
        except OSError as exc:
            sim.close()
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                setting="simulator.port",
                rule="a free port",
            ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:  # from here on, Ctrl-C or SIGTERM at any moment stops the server cleanly
        click.echo(f"ANPR simulator listening on {sim.url}")
        click.echo(f"settings: {sim.settings_path()}")
        for istat in sim.comuni:
            info = sim.store.comune(istat)
            label = f"{info.name} ({istat})" if info else istat
            click.echo(f"  {label}: {sim.settings_path(istat)}")
        click.echo(
            f"try: anpr call TestConn --config {sim.settings_path()} --input -  (input: {{}})"
        )
        click.echo("Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sim.close()
    click.echo("stopped.")


@simulator.command()
@click.option(
    "--state",
    "state",
    type=click.Path(file_okay=False, path_type=Path),
    default=_DEFAULT_STATE,
    show_default=True,
    help="The simulator's state directory (its PKI is created if missing).",
)
@click.option(
    "--comune",
    "comune",
    default=None,
    metavar="ISTAT",
    help="The Comune whose credentials to write (default: the first).",
)
@click.option(
    "--comuni",
    "comuni",
    multiple=True,
    metavar="ISTAT[,ISTAT…]",
    help="The simulator's Comuni, as for serve (default: 058091,015146).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the credentials to.",
)
@click.option(
    "--password-env",
    default=None,
    metavar="NAME",
    help="Environment variable holding the PKCS#12 password (default: a random one, "
    "written to OUT/p12-password.txt, mode 0600).",
)
def credentials(
    state: Path, comune: str | None, comuni: tuple[str, ...], out: Path, password_env: str | None
) -> None:
    """Write a Comune's test credentials for the simulator: CO key, workstation, operator."""
    import os

    from ..simulator.identities import SimulatorPki
    from ..simulator.pki import generate_test_pki

    with handle_errors(as_json=False):
        if password_env:  # a secret typed for its variable's name is refused, never shown
            env_var_name(password_env, setting="--password-env")
        chosen = _comuni(comuni) or ("058091", "015146")
        pki = SimulatorPki.open(state / "pki", chosen, host="127.0.0.1")
        istat = comune or chosen[0]
        ident = pki.comune(istat)
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise ConfigurationError(
                    f"the environment variable {password_env} is not set",
                    setting="password_env",
                )
        else:
            password = secrets.token_urlsafe(18)
        out.mkdir(parents=True, exist_ok=True)
        written = [
            *ident.comune.write_pem(out, "comune"),
            ident.comune.write_pkcs12(out / "comune.p12", password=password),
            *ident.workstation.write_pem(out, "workstation"),
            ident.workstation.write_pkcs12(out / "workstation.p12", password=password),
        ]
        (out / "ca.pem").write_bytes(pki.ca.cert_pem())
        (out / "anpr-ca.pem").write_bytes(pki.anpr_ca.cert_pem())
        card = generate_test_pki(istat, operator_cf=ident.operator_cf)
        written += [
            out / "ca.pem",
            out / "anpr-ca.pem",
            card.operator.write_pkcs12(out / "operator.p12", password=password),
        ]
        (out / "cns-ca.pem").write_bytes(card.cns_ca.cert_pem())
        written.append(out / "cns-ca.pem")
        if not password_env:
            secret_file = out / "p12-password.txt"
            write_private_file(secret_file, (password + "\n").encode())
            written.append(secret_file)
    click.echo(f"Test credentials of Comune {istat} for the simulator in {state}:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(f"IdPostazione: {ident.workstation_id}   operator: {ident.operator_cf}")
    click.echo(
        "PKCS#12 password: "
        + (f"${password_env}" if password_env else f"in {out / 'p12-password.txt'}")
    )
    click.echo("Test keys only: never use them outside the simulator.")
