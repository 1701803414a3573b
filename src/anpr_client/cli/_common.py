"""What every ``anpr`` command shares: options, loading settings, errors → exit codes."""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO, TypeVar

import click

from .._text import decode_utf8
from ..credentials.base import SecretPrompt
from ..errors.exceptions import (
    AnprError,
    AnprRejected,
    AnprWarning,
    ConfigurationError,
    CredentialError,
    JournalRolledBack,
    PayloadError,
    PullPeriodError,
    ValidationError,
)
from ..settings import Settings, load_settings

__all__ = [
    "EXIT_INVALID",
    "EXIT_KO",
    "EXIT_OK",
    "EXIT_TRANSPORT",
    "SECRET_PROMPT",
    "TerminalPrompt",
    "config_option",
    "echo_json",
    "fail",
    "handle_errors",
    "json_option",
    "load_payload",
    "operation_warnings",
    "server_options",
    "settings_from",
    "write_private",
]

EXIT_OK = 0
EXIT_KO = 1
EXIT_INVALID = 2
EXIT_TRANSPORT = 3

F = TypeVar("F", bound=Callable[..., Any])


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="ANPR_CONFIG",
        help="Settings file (TOML). Default: $ANPR_CONFIG.",
    )(f)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Machine-readable output (and errors) on stdout."
    )(f)


class TerminalPrompt(SecretPrompt):
    """Asks for a PIN or password on the terminal, without echo, when the environment
    variable the settings name is not set (:class:`~anpr_client.credentials.SecretPrompt`).

    Without a terminal (a service, a pipe) it asks nothing: the error names the variable to
    set. What is typed goes to the key source and nowhere else.
    """

    def available(self) -> bool:
        return sys.stdin.isatty()

    def __call__(self, prompt: str) -> str:
        value: str = click.prompt(prompt[:1].upper() + prompt[1:], hide_input=True, err=True)
        return value


SECRET_PROMPT: Final = TerminalPrompt()
"""The ``secret=`` callback of every command that opens keys or the journal."""


def settings_from(config: Path | None) -> Settings:
    if config is None:
        raise ConfigurationError(
            "no settings: pass --config PATH or set ANPR_CONFIG", setting="config"
        )
    return load_settings(config)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def load_payload(path: str) -> dict[str, Any]:
    """Read a JSON payload (UTF-8, no byte-order mark) from a file or ``-`` (stdin)."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path!r}: {exc.strerror}", setting="input") from None
    text = decode_utf8(data, "<stdin>" if path == "-" else path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path!r} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            setting="input",
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path!r} must hold a JSON object keyed by the request's child elements",
            setting="input",
        )
    return data


_FILE_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")
"""The file names :func:`write_private` accepts: letters, digits, ``.``, ``_``, ``-`` (no
separator, no leading dot, so never ``..`` or a hidden file)."""


def write_private(directory: Path, name: str, data: bytes, *, setting: str) -> Path:
    """Write ``data`` to a new file ``name`` in ``directory``, mode 0600 from its creation.

    The file holds personal data (a certificate, a record): it is created with
    ``os.open(..., O_CREAT | O_EXCL, 0o600)``, never chmod-ed afterwards, never follows a link
    and never replaces an existing file (``name-2.pdf``, ``name-3.pdf``… are tried instead).
    ``name`` must be a plain file name (:data:`_FILE_NAME`) and the file is checked to land in
    ``directory`` (resolved); anything else is a :class:`ConfigurationError` naming
    ``setting``, as is a failing write (no partial file is left).
    """
    if not _FILE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"{name!r} is not a plain file name (letters, digits, . _ -)",
            setting=setting,
            rule="[0-9A-Za-z][0-9A-Za-z._-]{0,99}",
        )
    try:
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        base = directory.resolve(strict=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot use the directory {str(directory)!r}: {exc.strerror or exc}",
            setting=setting,
        ) from None
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for n in range(1, 1000):
        target = base / (name if n == 1 else f"{stem}-{n}{dot}{ext}")
        if target.parent != base:  # pragma: no cover - the name pattern has no separator
            raise ConfigurationError(f"{name!r} leaves {str(base)!r}", setting=setting)
        try:
            fd = os.open(target, flags, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create {str(target)!r}: {exc.strerror or exc}", setting=setting
            ) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException as exc:
            target.unlink(missing_ok=True)
            if not isinstance(exc, OSError):
                raise
            raise ConfigurationError(
                f"cannot write {str(target)!r}: {exc.strerror or exc}", setting=setting
            ) from None
        return target
    raise ConfigurationError(
        f"{str(base / name)!r} and 998 numbered variants exist already", setting=setting
    )


def exit_code_for(exc: AnprError) -> int:
    if isinstance(exc, AnprRejected):
        return EXIT_KO
    if isinstance(
        exc,
        ConfigurationError
        | PayloadError
        | ValidationError
        | CredentialError
        | JournalRolledBack
        | PullPeriodError,
    ):
        return EXIT_INVALID
    if isinstance(exc, LookupError):  # unknown operation, unknown code
        return EXIT_INVALID
    return EXIT_TRANSPORT


def error_json(exc: AnprError) -> dict[str, Any]:
    out: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, AnprRejected):
        out["operation"] = exc.operation
        out["idOperazioneComune"] = exc.id_operazione_comune
        out["idOperazioneANPR"] = exc.id_operazione_anpr
        out["errors"] = [
            {
                "code": e.code,
                "severity": e.severity,
                "text": e.text,
                "object": e.object,
                "field": e.field,
                "value": e.value,
            }
            for e in exc.errors
        ]
    if isinstance(exc, PayloadError):
        out["violations"] = [
            {"path": v.path, "rule": v.rule, "message": v.message} for v in exc.violations
        ]
    if isinstance(exc, JournalRolledBack):
        out.update(comune=exc.comune, counter=exc.counter, mark=exc.mark)
    causes = getattr(exc, "causes", None)
    if causes:
        out["causes"] = list(causes)
    if getattr(exc, "outcome_unknown", False):
        out["outcomeUnknown"] = True
        ident = getattr(exc, "id_operazione_comune", None)
        if ident:  # journaled: the entry to settle
            out["idOperazioneComune"] = ident
            if getattr(exc, "needs_resolving", True):
                out["resolve"] = f"anpr journal resolve {ident}"
    notes = getattr(exc, "__notes__", None)
    if notes:
        out["notes"] = list(notes)
    return out


def fail(exc: AnprError, *, as_json: bool) -> NoReturn:
    if as_json:
        echo_json(error_json(exc))
    else:
        click.echo(f"error: {exc}", err=True)
        for note in getattr(exc, "__notes__", ()):
            click.echo(f"note: {note}", err=True)
    sys.exit(exit_code_for(exc))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as warnings of the operation (``warning: operation 3002: ANPR warning EW001
    …``), not as Python's ``file:line: Category`` lines naming a module of click."""
    click.echo(f"warning: {message}", err=True)


@contextmanager
def operation_warnings() -> Iterator[None]:
    """Print every ANPR warning (:class:`~anpr_client.errors.AnprWarning`) of the operations
    run inside, once each, on stderr, as a line of the command's own output."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", AnprWarning)
        warnings.showwarning = _show_warning
        yield


@contextmanager
def handle_errors(as_json: bool) -> Iterator[None]:
    """Turn library errors into plain messages (or JSON) and the documented exit codes, and
    ANPR's warnings into lines of the command's output (:func:`operation_warnings`)."""
    try:
        with operation_warnings():
            yield
    except AnprError as exc:
        fail(exc, as_json=as_json)


def server_options(f: F) -> F:
    """``--threads`` and ``--max-connections``, for the commands that serve over HTTP."""
    f = click.option(
        "--max-connections",
        default=1024,
        show_default=True,
        type=click.IntRange(1, 65536),
        help="Connections open at once; near it, idle kept-alive ones are closed.",
    )(f)
    return click.option(
        "--threads",
        default=8,
        show_default=True,
        type=click.IntRange(1, 1024),
        help="Worker threads answering requests (connections waiting on the network hold none).",
    )(f)
