"""``anpr``: the command line of anpr-client.

Exit codes: 0 success (warnings allowed), 1 ANPR answered KO, 2 invalid input or configuration
(nothing sent), 3 transport error or SOAP fault.

The commands are imported when they run (or when their own help is asked for): ``anpr --help``
lists them from :data:`COMMANDS` without importing the client, the simulator or the journal.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

import click

from .._version import __version__

__all__ = ["COMMANDS", "cli", "main"]

#: ``anpr <name>``: the module and attribute defining the command, and its one-line summary
#: (the first sentence of its docstring; a test keeps the two equal).
COMMANDS: Final[dict[str, tuple[str, str, str]]] = {
    "call": (".calls", "call", "Send OPERATION with the payload and print the result as JSON."),
    "demo": (
        ".demo",
        "demo",
        "Run a few real ANPR calls against an embedded simulator (offline).",
    ),
    "doctor": (
        ".doctor",
        "doctor",
        "Check certificates, operator, trust and the security frame (and, with --live, the "
        "endpoint), with a verdict, the evidence and the fix for each.",
    ),
    "errors": (
        ".errors",
        "errors",
        "Explain ANPR error codes and SOAP faults (offline, from the catalogue).",
    ),
    "journal": (
        ".journal",
        "journal",
        "The operation journal: every request sent to ANPR and its outcome.",
    ),
    "notifications": (
        ".notifications",
        "notifications",
        "Receive ANPR's notifications (N000 push, 4005 pull) into a durable inbox.",
    ),
    "operations": (".calls", "operations", "List the operations of the bundle in use."),
    "request": (".calls", "request", "Build requests without sending them."),
    "simulator": (
        ".simulator",
        "simulator",
        "An offline ANPR for tests, demos and development (fictitious data, test PKI).",
    ),
    "validate": (
        ".validate",
        "validate",
        "Check FILE (CSV with a header, or JSON Lines) the way ANPR would, without sending it.",
    ),
}


def _module(name: str) -> ModuleType:
    """The module of the command ``name``, imported now (plain imports: the import graph of
    tests/core/test_architecture.py sees them)."""
    if name in ("call", "operations", "request"):
        from . import calls

        return calls
    if name == "demo":
        from . import demo

        return demo
    if name == "doctor":
        from . import doctor

        return doctor
    if name == "errors":
        from . import errors

        return errors
    if name == "journal":
        from . import journal

        return journal
    if name == "notifications":
        from . import notifications

        return notifications
    if name == "simulator":
        from . import simulator

        return simulator
    from . import validate

    return validate


def _load(name: str) -> click.Command:
    command: object = getattr(_module(name), COMMANDS[name][1])
    assert isinstance(command, click.Command), name  # the table is tested
    if name == "request" and isinstance(command, click.Group):
        from .request import template

        command.add_command(template)
    return command


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(_load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The summaries come from the table: listing the commands imports none of them.
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = [
            (name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
            if name in COMMANDS and name not in self.commands
        ]
        rows += [
            (name, command.get_short_help_str(limit))
            for name, command in self.commands.items()
            if not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anpr")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log to stderr: -v one line per call to ANPR (INFO), -vv DEBUG (with [logging] "
    "wire = true in the settings: the XML exchanged, personal data masked).",
)
def cli(verbose: int) -> None:
    """Talk to ANPR (Anagrafe Nazionale della Popolazione Residente) from the command line."""
    if verbose:
        import logging  # here, not at the top: ``anpr --help`` needs none of it (2-3 ms)

        handler = logging.StreamHandler()  # sys.stderr as it is now
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger = logging.getLogger("anpr_client")
        previous = logger.level, logger.propagate
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
        logger.propagate = False  # once each, even where a command configures the root too

        def restore() -> None:  # the command is over (one process may run several)
            logger.removeHandler(handler)
            logger.setLevel(previous[0])
            logger.propagate = previous[1]

        click.get_current_context().call_on_close(restore)


def main() -> None:
    cli(prog_name="anpr")
