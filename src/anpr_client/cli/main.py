"""``anpr``: the command line of anpr-client.

Exit codes: 0 success (warnings allowed), 1 ANPR answered KO, 2 invalid input or configuration
(nothing sent), 3 transport error or SOAP fault.
"""

from __future__ import annotations

import logging

import click

from .._version import __version__
from .calls import call, operations, request
from .demo import demo
from .doctor import doctor
from .errors import errors
from .journal import journal
from .notifications import notifications
from .request import template
from .simulator import simulator
from .validate import validate

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (
    request,
    call,
    operations,
    errors,
    validate,
    journal,
    notifications,
    simulator,
    demo,
    doctor,
):
    cli.add_command(command)
request.add_command(template)


def main() -> None:
    cli(prog_name="anpr")
