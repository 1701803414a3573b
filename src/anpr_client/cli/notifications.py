"""``anpr notifications``: run the N000 endpoint, list the inbox, pull with 4005.

- ``serve --host H --port P [--certfile F --keyfile K]``: the receiver (plain HTTP behind a
  reverse proxy, or HTTPS with a certificate; slow clients hold no worker); it stores events
  and answers ANPR; Ctrl-C stops it;
- ``inbox [--state S] [--json]``: stored events (type, idOperazioneANPR, subject codice
  fiscale, state);
- ``pull --since DATE [--until DATE] [--no-wait]``: the 4005 pull into the same inbox.

Every command reads ``--config`` (or ``$ANPR_CONFIG``): ``[notifications]`` store,
decrypt_keys, anpr_ca (see docs/notifications.md); passwords and PINs come from the environment
variables the settings name (a server has no terminal to ask on). Exit codes as for every
``anpr`` command.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from pathlib import Path
from typing import Any

import click

from ..errors.exceptions import ConfigurationError
from ..notifications.inbox import EntryState, Inbox, InboxEntry
from ._common import (
    config_option,
    echo_json,
    handle_errors,
    json_option,
    server_options,
    settings_from,
)

__all__ = ["notifications"]


@click.group("notifications")
def notifications() -> None:
    """Receive ANPR's notifications (N000 push, 4005 pull) into a durable inbox."""


@notifications.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TLS certificate chain (PEM). Without it: plain HTTP behind a TLS reverse proxy.",
)
@click.option(
    "--keyfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TLS private key (PEM), if not in --certfile.",
)
@server_options
def serve(
    config: Path | None,
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    threads: int,
    max_connections: int,
) -> None:
    """Run the N000 endpoint: verify, decrypt, store, then answer ANPR."""
    from ..notifications.receiver import NotificationReceiver
    from ..notifications.server import make_server, server_ssl_context

    if keyfile is not None and certfile is None:
        raise click.UsageError("--keyfile needs --certfile")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with handle_errors(False):
        settings = settings_from(config)
        receiver = NotificationReceiver.from_settings(settings)
        context = None
        if certfile is not None:
            try:
                context = server_ssl_context(certfile, keyfile)
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot load the TLS certificate/key: {exc}", setting="--certfile"
                ) from None
        try:
            server = make_server(
                receiver,
                host,
                port,
                ssl_context=context,
                threads=threads,
                max_connections=max_connections,
            )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {exc.strerror}", setting="--port"
            ) from None
    click.echo(
        f"anpr notifications: listening on {server.scheme}://{server.host}:{server.port}/ "
        f"(inbox {receiver.inbox.path})",
        err=True,
    )

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # the server's loop stops cleanly on it

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        receiver.inbox.close()
    click.echo("anpr notifications: stopped", err=True)


def _entry_json(entry: InboxEntry) -> dict[str, Any]:
    return {
        "tipoNotifica": entry.kind,
        "idNotifica": entry.id_notifica,
        "idOperazioneANPR": entry.operation_id,
        "codiceFiscale": entry.codice_fiscale,
        "state": entry.state.value,
        "channel": entry.channel,
        "receivedAt": entry.received_at.isoformat(),
        "attempts": entry.attempts,
        "lastError": entry.last_error,
    }


@notifications.command("inbox")
@config_option
@json_option
@click.option(
    "--state",
    type=click.Choice([s.value for s in EntryState]),
    help="Only events in this state.",
)
def inbox(config: Path | None, as_json: bool, state: str | None) -> None:
    """List stored events: type, idOperazioneANPR, subject codice fiscale, state."""
    with handle_errors(as_json):
        settings = settings_from(config)
        with Inbox.from_settings(settings) as box:
            entries = box.entries(state=state)
    if as_json:
        echo_json([_entry_json(e) for e in entries])
        return
    if not entries:
        click.echo("no notifications")
        return
    click.echo(
        f"{'TYPE':<6} {'ID NOTIFICA':<20} {'ID OPERAZIONE ANPR':<20} {'CODICE FISCALE':<16} "
        f"{'STATE':<8} CHANNEL"
    )
    for e in entries:
        click.echo(
            f"{e.kind:<6} {e.id_notifica:<20} {e.operation_id or '-':<20} "
            f"{e.codice_fiscale or '-':<16} {e.state.value:<8} {e.channel}"
        )


def _parse_when(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or date-time", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@notifications.command("pull")
@config_option
@json_option
@click.option("--since", help="Pull from this date/time (default: where the last pull ended).")
@click.option("--until", help="Pull up to this date/time (default and at most: now).")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for ANPR to prepare the results; --no-wait returns and a later pull resumes.",
)
@click.option("--max-wait", default=600.0, show_default=True, help="Seconds to wait at most.")
@click.option(
    "--skew",
    default=120.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds kept between the end of the period and now (never ask for ANPR's future).",
)
def pull(
    config: Path | None,
    as_json: bool,
    since: str | None,
    until: str | None,
    wait: bool,
    max_wait: float,
    skew: float,
) -> None:
    """Pull notifications with 4005 (periods of at most 31 days) into the inbox."""
    from ..client import Client
    from ..notifications.poller import Poller

    since_at = _parse_when(since, "--since")
    until_at = _parse_when(until, "--until")
    with handle_errors(as_json):
        settings = settings_from(config)
        with (
            Inbox.from_settings(settings) as box,
            Client(settings) as client,
        ):
            report = Poller(client, box, skew=skew).pull(
                since_at, until=until_at, wait=wait, max_wait=max_wait
            )
    summary = {
        "windows": [[a.isoformat(), b.isoformat()] for a, b in report.windows],
        "requests": report.requests,
        "received": report.received,
        "added": report.added,
        "invalid": report.invalid,
        "waitingUntil": report.waiting_until.isoformat() if report.waiting_until else None,
    }
    if as_json:
        echo_json(summary)
        return
    for start, stop in report.windows:
        click.echo(f"pulled {start.isoformat()} … {stop.isoformat()}")
    click.echo(
        f"{report.received} notifications received, {report.added} new, {report.invalid} invalid"
    )
    if report.waiting_until is not None:
        click.echo(
            f"results not ready until {report.waiting_until.isoformat()}: "
            "run the pull again to resume"
        )
