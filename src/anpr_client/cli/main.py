"""``anpr``: the command line of anpr-client.

Exit codes: 0 success (warnings allowed), 1 ANPR answered KO, 2 invalid input or configuration
(nothing sent), 3 transport error or SOAP fault.
"""

from __future__ import annotations

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
def cli() -> None:
    """Talk to ANPR (Anagrafe Nazionale della Popolazione Residente) from the command line."""


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
