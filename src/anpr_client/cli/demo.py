"""``anpr demo``: anpr-client against an embedded ANPR simulator, in a minute, offline.

It starts a simulator (temporary state, fictitious people, a throwaway test PKI) and makes real
signed calls over TLS on loopback: TestConn, a 3002 lookup, a 5005 change of residence of a
family from Roma to Milano (two subentrati Comuni), a 6001 certificate saved as PDF, and the N010
notifications Roma then pulls through 4005 with the library's poller (as ANPR answers: one
result item per notification) into a throwaway inbox. Exit status 0 when every step worked.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..errors.exceptions import AnprError, NotFoundError
from ._common import operation_warnings, write_private

__all__ = ["demo"]

A = "058091"
B = "015146"


def _subject(person: Any) -> str:
    return f"{person.surname} {person.name} ({person.codice_fiscale})"


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("anpr-demo"),
    show_default=True,
    help="Where to save the certificate PDF (created if missing).",
)
def demo(out: Path) -> None:
    """Run a few real ANPR calls against an embedded simulator (offline)."""
    console = Console(highlight=False)
    try:
        with operation_warnings():
            _run(console, out)
    except AnprError as exc:
        console.print(f"[red]✗ {type(exc).__name__}:[/red] {exc}")
        sys.exit(1)


def _step(console: Console, text: str) -> Any:
    return console.status(f"[bold]{text}…[/bold]", spinner="dots")


def _run(console: Console, out: Path) -> None:
    from ..notifications import Inbox, Poller, ResidenceChanged
    from ..simulator import SimulatorConfig, running_simulator
    from ..simulator.payloads import change_of_residence

    today = dt.date.today()
    with _step(console, "Starting the ANPR simulator (test PKI, fictitious population)"):
        context = running_simulator(SimulatorConfig(extraction_delay=1.0))
        sim = context.__enter__()
    workdir = tempfile.mkdtemp(prefix="anpr-demo-")
    try:
        roma = sim.store.comune(A)
        milano = sim.store.comune(B)
        assert roma is not None
        assert milano is not None
        console.print(
            f"[green]✓[/green] simulator at {sim.url}: {roma.name} ({A}) and "
            f"{milano.name} ({B}) are on ANPR"
        )
        client_a = sim.client(A, journal=None)
        client_b = sim.client(B, journal=None)

        with _step(console, f"TestConn as {roma.name}"):
            conn = client_a.test_connection()
        console.print(
            f"[green]✓[/green] TestConn: esito {conn.esito_operazione}, idOperazioneANPR "
            f"{conn.id_operazione_anpr} (signed frame verified by the gateway)"
        )

        household = next(h for h in sim.store.households(A) if len(h.members) >= 2)
        members = list(household.members)
        head = household.head
        lookup = {
            "criteriRicerca": {"codiceFiscale": head.codice_fiscale},
            "datiRichiesta": {"schedaAnagraficaRichiesta": "2", "dataRiferimentoRichiesta": today},
        }
        with _step(console, "3002: looking up a family in Roma"):
            found = client_a.call("3002", lookup)
        residence = found.value["datiFamigliaConvivenza"]["residenza"]["indirizzo"]
        street = residence["toponimo"]
        console.print(
            f"[green]✓[/green] 3002: family {household.id} of {_subject(head)}, "
            f"{len(found.value['listaSoggetti']['datiSoggetto'])} members, "
            f"{street['specie']} {street['denominazioneToponimo']}, {roma.name}"
        )

        transfer = change_of_residence(members, milano, since=today)
        with _step(console, f"5005: {milano.name} records the family's move from {roma.name}"):
            moved = client_b.call("5005", transfer, header={"dataDecorrenza": today})
        console.print(
            f"[green]✓[/green] 5005: {len(members)} persons now live in "
            f"{milano.name} (idOperazioneANPR {moved.id_operazione_anpr})"
        )

        with _step(console, f"3002: {roma.name} looks among its residents again"):
            try:
                client_a.call("3002", lookup)
                raise click.ClickException("the family is still resident in Roma")
            except NotFoundError as exc:
                code = exc.codes[0]
        console.print(f"[green]✓[/green] 3002 from {roma.name}: {code}, no longer a resident")

        certificate = {
            "listaTipiCertificati": {"tipoCertificato": ["8"]},
            "soggettoIntestatario": {
                "generalita": {
                    "codiceFiscale": {"codFiscale": head.codice_fiscale},
                    "cognome": head.surname,
                    "nome": head.name,
                }
            },
            "datiControllo": {
                "cognomeUffAnagrafe": "ROSSI",
                "nomeUffAnagrafe": "MARIO",
                "tipoRichiedente": "0",
                "tipoRichiesta": "1",
                "paEstera": "0",
                "emissione": "1",
                "bollo": "0",
                "diritti": "0",
            },
        }
        with _step(console, "6001: certificate of residence (PDF over MTOM)"):
            issued = client_b.call("6001", certificate)
        (attachment,) = issued.attachments.values()
        # A certificate is personal data (fictitious here, but the demo shows the real path):
        # 0600 from its creation, as `anpr call --attachments` writes it.
        pdf_path = write_private(
            out, f"certificato-{head.codice_fiscale}.pdf", attachment.data, setting="out"
        )
        console.print(
            f"[green]✓[/green] 6001: certificate saved to {pdf_path} ({len(attachment.data)} bytes)"
        )

        with _step(console, f"4005: {roma.name} pulls its notifications (asynchronous)"):
            inbox = Inbox(Path(workdir) / "inbox.sqlite", durable=False)
            since = sim.clock.now() - dt.timedelta(hours=1)
            report = Poller(client_a, inbox, skew=0, poll_interval=0.2).pull(since)
            entries = inbox.entries()
            inbox.close()
        moved_away = {
            e.event.codice_fiscale for e in entries if isinstance(e.event, ResidenceChanged)
        }
        if moved_away != {p.codice_fiscale for p in members}:
            raise click.ClickException(
                f"4005 did not bring one N010 per person who left {roma.name}"
            )
        console.print(
            f"[green]✓[/green] 4005: {report.received} result item(s) for {roma.name}, one "
            f"elencoRisposte each, stored in its inbox ({report.invalid} quarantined):"
        )
        for entry in entries:
            event = entry.event
            if isinstance(event, ResidenceChanged):
                console.print(
                    f"    {entry.kind} {entry.id_notifica}: {event.codice_fiscale} moved to "
                    f"{event.requesting_comune.name} from {event.effective_date.isoformat()}"
                )
            else:
                console.print(f"    {entry.kind} {entry.id_notifica}: {entry.state.value}")
        console.print(
            "[bold green]Done.[/bold green] Next: anpr simulator serve, then "
            "anpr call … --config anpr-simulator/anpr.toml"
        )
    finally:
        context.__exit__(None, None, None)
        shutil.rmtree(workdir, ignore_errors=True)
