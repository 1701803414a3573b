"""``anpr``: the command line of anpr-client.

Exit codes: 0 success (warnings allowed), 1 ANPR answered KO, 2 invalid input or configuration
(nothing sent), 3 transport error or SOAP fault.
"""

from __future__ import annotations

import click

from .._version import __version__
from .calls import call, operations, request

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anpr")
def cli() -> None:
    """Talk to ANPR (Anagrafe Nazionale della Popolazione Residente) from the command line."""


cli.add_command(request)
cli.add_command(call)
cli.add_command(operations)


def _register_optional() -> None:
    # Command groups of capabilities developed alongside; each registers when present.
    import importlib

    for module, name in (
        ("errors", "errors"),
        ("validate", "validate"),
        ("simulator", "simulator"),
        ("notifications", "notifications"),
        ("journal", "journal"),
        ("demo", "demo"),
    ):
        try:
            mod = importlib.import_module(f"anpr_client.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"anpr_client.cli.{module}":
                raise
            continue
        cli.add_command(getattr(mod, name))


_register_optional()


def main() -> None:
    cli(prog_name="anpr")
