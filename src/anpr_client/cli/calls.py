"""``anpr request build`` (dry run), ``anpr call`` and ``anpr operations``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..client import FROM_SETTINGS, Client
from ..errors.exceptions import ConfigurationError
from ..results import Result
from ..soap.codec import UnknownElement
from ..soap.testata import ID_PATTERN
from ._common import (
    SECRET_PROMPT,
    config_option,
    echo_json,
    handle_errors,
    json_option,
    load_payload,
    settings_from,
    write_private,
)

__all__ = ["attachment_names", "call", "operations", "request", "save_attachments"]


def make_client(config: Path | None, *, sign: bool) -> Client:
    return Client(settings_from(config), wsse=FROM_SETTINGS if sign else None, secret=SECRET_PROMPT)


@click.group()
def request() -> None:
    """Build requests without sending them."""


@request.command("build")
@click.argument("operation")
@click.option("--input", "input_path", required=True, help="Payload JSON file, or - for stdin.")
@click.option("--sign", is_flag=True, help="Apply the WS-Security frame (needs keys in settings).")
@click.option("--no-check", is_flag=True, help="Skip the local pre-transmission checks.")
@config_option
@json_option
def build(
    operation: str,
    input_path: str,
    sign: bool,
    no_check: bool,
    config: Path | None,
    as_json: bool,
) -> None:
    """Print the exact SOAP envelope the client would send for OPERATION."""
    with handle_errors(as_json):
        client = make_client(config, sign=sign)
        prepared = client.prepare(
            operation, load_payload(input_path), sign=sign, check=False if no_check else None
        )
        if as_json:
            echo_json(
                {
                    "operation": prepared.operation,
                    "url": prepared.url,
                    "idOperazioneComune": prepared.id_operazione_comune,
                    "signed": prepared.signed,
                    "envelope": prepared.envelope.decode("utf-8"),
                }
            )
        else:
            click.echo(prepared.envelope.decode("utf-8"))


def result_json(result: Result[Any]) -> dict[str, Any]:
    def unknown(u: UnknownElement) -> dict[str, str]:
        return {"path": u.path, "xml": u.xml}

    return {
        "operation": result.operation,
        "outcome": result.outcome,
        "idOperazioneComune": result.id_operazione_comune,
        "idOperazioneANPR": result.id_operazione_anpr,
        "esitoOperazione": result.esito_operazione,
        "warnings": [
            {"code": w.code, "severity": w.severity, "text": w.text} for w in result.warnings
        ],
        "unknownElements": [unknown(u) for u in result.unknown_elements],
        "value": result.value,
    }


@click.command()
@click.argument("operation")
@click.option("--input", "input_path", required=True, help="Payload JSON file, or - for stdin.")
@click.option(
    "--attachments",
    "attachments_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Save MTOM attachments (e.g. a 6001 certificate PDF) into this directory.",
)
@config_option
@json_option
def call(
    operation: str,
    input_path: str,
    attachments_dir: Path | None,
    config: Path | None,
    as_json: bool,
) -> None:
    """Send OPERATION with the payload and print the result as JSON."""
    with handle_errors(as_json):
        client = make_client(config, sign=True)
        with client:
            result = client.call(operation, load_payload(input_path))
        if attachments_dir is not None and result.attachments:
            for target in save_attachments(result, attachments_dir):
                click.echo(f"saved {target}", err=True)
        echo_json(result_json(result))


def attachment_names(result: Result[Any]) -> list[str]:
    """File names for the answer's attachments: ``<idOperazioneComune>-<n>.pdf`` (``.bin`` for
    other types). The id comes from the answer, so it is used only when it is an id
    (``[0-9a-zA-Z]{1,30}``); anything else (``../..``, ``/abs``) becomes ``answer``."""
    ident = result.id_operazione_comune
    stem = ident if isinstance(ident, str) and ID_PATTERN.fullmatch(ident) else "answer"
    return [
        f"{stem}-{i}{'.pdf' if 'pdf' in att.content_type.lower() else '.bin'}"
        for i, att in enumerate(result.attachments.values(), 1)
    ]


def save_attachments(result: Result[Any], directory: Path) -> list[Path]:
    """Save the answer's attachments in ``directory`` (created 0700), each file 0600 (they hold
    personal data), never outside it and never over an existing file."""
    names = attachment_names(result)
    ident = result.id_operazione_comune
    if names and ident is not None and not names[0].startswith(f"{ident}-"):
        click.echo(
            "warning: the answer's idOperazioneComune is not an id ([0-9a-zA-Z]{1,30}); its "
            "attachments are saved as answer-<n>",
            err=True,
        )
    saved = []
    for name, att in zip(names, result.attachments.values(), strict=True):
        try:
            saved.append(write_private(directory, name, att.data, setting="--attachments"))
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"{exc}. The operation was done: its answer is in the journal, when one is "
                "kept (anpr journal show ID --json)",
                setting=exc.setting,
                rule=exc.rule,
            ) from None
    return saved


@click.command()
@click.option("--family", help="Only this family (e.g. 3000).")
@config_option
@json_option
def operations(family: str | None, config: Path | None, as_json: bool) -> None:
    """List the operations of the bundle in use."""
    from ..settings import load_settings
    from ..soap.bundle import get_bundle

    with handle_errors(as_json):
        wsdl_dir = load_settings(config).wsdl_dir if config else None
        bundle = list(get_bundle(wsdl_dir))
        ops = [op for op in bundle if family in (None, op.family)]
        if not ops:
            known = ", ".join(sorted({op.family for op in bundle}))
            raise ConfigurationError(
                f"no operation of family {family!r} in the bundle; the families are: {known}",
                setting="--family",
                rule="a family of the bundle",
            )
        ops.sort(key=lambda op: (op.family, op.code))
        if as_json:
            echo_json([{"code": o.code, "family": o.family, "name": o.name} for o in ops])
            return
        for op in ops:
            click.echo(f"{op.code:<9} {op.family:<10} {op.name}")
