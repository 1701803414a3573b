"""``anpr notifications``: run the N000 endpoint, list the inbox, pull with 4005.

- ``serve --host H --port P [--certfile F --keyfile K]``: the receiver (plain HTTP behind a
  reverse proxy, or HTTPS with a certificate; slow clients hold no worker); it stores events
  and answers ANPR; Ctrl-C stops it. With ``--comuni PATH`` it serves many Comuni, each push
  going to its Comune's keys and inbox (:class:`~anpr_client.notifications.NotificationRouter`).
  With ``--print-signer`` it stores nothing: it prints who signed each push (for the first
  set-up, with ANPR's test notification) and answers 7, so that ANPR sends it again;
- ``signer FILE``: the subject and SHA-256 fingerprint of ANPR's notification certificate (a
  PEM or DER file, or a saved push), and the settings lines that pin it;
- ``inbox [--state S] [--json]``: stored events (type, idOperazioneANPR, subject codice
  fiscale, state) and quarantined items with the reason;
- ``pull --since DATE [--until DATE] [--no-wait]``: the 4005 pull into the same inbox; exit
  status 1 when items were quarantined and the checkpoint is held;
- ``release TYPE ID``: let the poller move past a quarantined item (it stays stored).

Every command reads ``--config`` (or ``$ANPR_CONFIG``): ``[notifications]`` store,
decrypt_keys, anpr_ca (see docs/notifications.md); passwords and PINs come from the environment
variables the settings name, or are asked on the terminal (no echo) when one is not set and a
terminal is there (a service has none: set the variables). Exit codes as for every
``anpr`` command.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors.exceptions import ConfigurationError, VerificationError
from ..notifications.inbox import EntryState, Inbox, InboxEntry
from ._common import (
    EXIT_INVALID,
    EXIT_KO,
    SECRET_PROMPT,
    config_option,
    echo_json,
    handle_errors,
    json_option,
    server_options,
    settings_from,
)

if TYPE_CHECKING:
    from cryptography import x509

    from ..notifications.receiver import SignerSeen

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
@click.option(
    "--comuni",
    type=click.Path(exists=True, path_type=Path),
    help="Serve many Comuni from this endpoint: a folder of settings files, or one file with "
    "a [comuni.<ISTAT>] table per Comune (docs/deployment.md). Each push goes to its Comune "
    "(the ISTAT code ending the URL path, else codDestinatario); --config is not read.",
)
@click.option(
    "--print-signer",
    is_flag=True,
    help="Store nothing: print who signed each push and answer 7 (ANPR sends it again). For "
    "the first set-up, with ANPR's test notification, when the signer pin is not known yet.",
)
def serve(
    config: Path | None,
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    threads: int,
    comuni: Path | None,
    print_signer: bool,
    max_connections: int,
) -> None:
    """Run the N000 endpoint: verify, decrypt, store, then answer ANPR."""
    from ..multi import ComuneRegistry
    from ..notifications.receiver import NotificationReceiver
    from ..notifications.router import NotificationRouter
    from ..notifications.server import make_server, server_ssl_context

    if keyfile is not None and certfile is None:
        raise click.UsageError("--keyfile needs --certfile")
    if comuni is not None and print_signer:
        raise click.UsageError("--print-signer serves one Comune: use --config, not --comuni")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with handle_errors(False):
        app: NotificationReceiver | NotificationRouter
        if comuni is not None:
            app = NotificationRouter.from_registry(ComuneRegistry.from_path(comuni))
            serving = f"{len(app.served)} Comuni: {', '.join(sorted(app.served)[:5])}" + (
                "…" if len(app.served) > 5 else ""
            )
        else:
            settings = settings_from(config)
            options: dict[str, Any] = {"on_signer": _signer_printer()} if print_signer else {}
            app = NotificationReceiver.from_settings(settings, secret=SECRET_PROMPT, **options)
            serving = f"inbox {app.inbox.path}"
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
                app,
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
        f"({serving})",
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
        app.close()
    click.echo("anpr notifications: stopped", err=True)


def _signer_json(certificate: x509.Certificate) -> dict[str, str]:
    from ..security.trust import fingerprint

    digest = fingerprint(certificate)
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "sha256": ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        "notBefore": certificate.not_valid_before_utc.isoformat(),
        "notAfter": certificate.not_valid_after_utc.isoformat(),
    }


def _signer_text(certificate: x509.Certificate) -> str:
    info = _signer_json(certificate)
    return "\n".join(
        [
            f"subject:  {info['subject']}",
            f"issuer:   {info['issuer']}",
            f"SHA-256:  {info['sha256']}",
            f"valid:    {info['notBefore']} … {info['notAfter']}",
            "to pin it, add to [notifications] (several entries may be listed):",
            f"  signer_subjects = {json.dumps([info['subject']], ensure_ascii=False)}",
            "  # or, this very certificate only (a renewal then needs a new entry):",
            f"  signer_fingerprints = {json.dumps([info['sha256']])}",
        ]
    )


def _signer_printer() -> Any:
    lock = threading.Lock()

    def report(seen: SignerSeen) -> None:
        lines = ["push received (signer discovery mode: not stored, answered 7)"]
        if seen.certificate is not None:
            lines.append(_signer_text(seen.certificate))
        lines.append(
            "verification against anpr_ca: "
            + ("passed" if seen.verdict is None else f"FAILED: {seen.verdict}")
        )
        with lock:
            click.echo("\n".join(lines) + "\n")

    return report


def _certificates_in(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM or DER file, or the presented signer of a saved push."""
    from cryptography import x509

    from ..notifications.receiver import RECEIVER_POLICY
    from ..security.trust import unreadable
    from ..security.verify import presented_signer

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    found: list[x509.Certificate] = []
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            found = x509.load_pem_x509_certificates(data)
        elif data.lstrip()[:1] == b"<":
            found = [presented_signer(data, RECEIVER_POLICY)]
        else:
            found = [x509.load_der_x509_certificate(data)]
    except (ValueError, VerificationError) as exc:
        raise ConfigurationError(
            f"{str(path)!r} holds no readable certificate or signed push: {exc}",
            setting="FILE",
            rule="PEM or DER certificate, or a saved RichiestaN000",
        ) from None
    for certificate in found:
        problem = unreadable(certificate)
        if problem is not None:
            raise ConfigurationError(f"{str(path)!r}: a certificate cannot be read ({problem})")
    return found


@notifications.command("signer")
@json_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def signer(as_json: bool, file: Path) -> None:
    """Show the subject and fingerprint of ANPR's notification certificate (a PEM/DER file or
    a saved push) and the settings lines that pin it."""
    with handle_errors(as_json):
        certificates = _certificates_in(file)
    if as_json:
        echo_json([_signer_json(c) for c in certificates])
        return
    click.echo("\n\n".join(_signer_text(c) for c in certificates))


def _entry_json(entry: InboxEntry) -> dict[str, Any]:
    return {
        "tipoNotifica": entry.kind,
        "idNotifica": entry.id_notifica,
        "idOperazioneANPR": entry.operation_id,
        "codiceFiscale": entry.codice_fiscale,
        "state": entry.state.value,
        "channel": entry.channel,
        "event": None if entry.event is None else type(entry.event).__name__,
        "receivedAt": entry.received_at.isoformat(),
        "attempts": entry.attempts,
        "lastError": entry.last_error,
        "reason": entry.reason,
    }


_STATES = [s.value for s in EntryState] + ["quarantined"]


@notifications.command("inbox")
@config_option
@json_option
@click.option(
    "--state",
    type=click.Choice(_STATES),
    help="Only events in this state (quarantined = invalid).",
)
def inbox(config: Path | None, as_json: bool, state: str | None) -> None:
    """List stored events (type, idOperazioneANPR, subject codice fiscale, state) and
    quarantined items with the reason."""
    with handle_errors(as_json):
        settings = settings_from(config)
        with Inbox.from_settings(settings) as box:
            entries = box.entries(state=EntryState.QUARANTINED if state == "quarantined" else state)
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
        if e.reason:
            click.echo(f"       quarantined: {e.reason}")


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
            Client(settings, secret=SECRET_PROMPT) as client,
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
        "held": [{"tipoNotifica": kind, "idNotifica": ident} for kind, ident in report.held],
        "heldFrom": report.held_from.isoformat() if report.held_from else None,
        "calls": report.calls,
        "pages": report.pages,
        "waitingUntil": report.waiting_until.isoformat() if report.waiting_until else None,
    }
    if as_json:
        echo_json(summary)
    else:
        for start, stop in report.windows:
            click.echo(f"pulled {start.isoformat()} … {stop.isoformat()}")
        click.echo(
            f"{report.received} items received, {report.added} new, {report.invalid} quarantined"
        )
        if report.waiting_until is not None:
            click.echo(
                f"results not ready until {report.waiting_until.isoformat()}: "
                "run the pull again to resume"
            )
        if report.held_from is not None:
            held = ", ".join(f"{kind} {ident}" for kind, ident in report.held) or "earlier"
            click.echo(
                f"checkpoint held at {report.held_from.isoformat()} by items in quarantine "
                f"({held}): see anpr notifications inbox --state quarantined; the next pull "
                "asks for them again, and anpr notifications release TYPE ID lets it move past "
                "one",
                err=True,
            )
    if report.held_from is not None:
        sys.exit(EXIT_KO)


@notifications.command("release")
@config_option
@click.argument("kind", metavar="TYPE")
@click.argument("id_notifica", metavar="ID")
def release(config: Path | None, kind: str, id_notifica: str) -> None:
    """Let the poller move past a quarantined item (it stays stored, with its reason)."""
    with handle_errors(False):
        settings = settings_from(config)
        with Inbox.from_settings(settings) as box:
            released = box.release(kind, id_notifica)
    if not released:
        click.echo(f"error: no quarantined item {kind} {id_notifica}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"released {kind} {id_notifica}: the next pull moves past it")
