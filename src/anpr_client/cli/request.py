"""``anpr request template``: a payload to start from, for any operation."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import config_option, echo_json, handle_errors, json_option

__all__ = ["template"]


@click.command("template")
@click.argument("operation")
@click.option("--full", is_flag=True, help="Every element, not only the required ones.")
@config_option
@json_option
def template(operation: str, full: bool, config: Path | None, as_json: bool) -> None:
    """Print a JSON payload for OPERATION with a placeholder for every value.

    The placeholders say what goes there ("<date YYYY-MM-DD>", "<one of: M | F>",
    "<string 1..80 [A-Z' ]>"). Notes (the other branches of a choice…) go to stderr, or into
    the output with --json. Fill it in, then: anpr request build OPERATION --input FILE.
    """
    from ..settings import load_settings
    from ..soap.bundle import get_bundle
    from ..soap.template import template as make

    with handle_errors(as_json):
        wsdl_dir = load_settings(config).wsdl_dir if config else None
        found = make(get_bundle(wsdl_dir), operation, full=full)
        if as_json:
            echo_json(
                {"operation": found.operation, "payload": found.payload, "notes": found.notes}
            )
            return
        echo_json(found.payload)
        for note in found.notes:
            click.echo(f"note: {note}", err=True)
