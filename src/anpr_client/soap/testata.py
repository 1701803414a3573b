"""``testataRichiesta``: the header every ANPR request starts with, filled automatically.

``idOperazioneComune`` must be unique per Comune across all its applications and at most 30
alphanumeric characters. Without a journal (which allocates ids shared by every process and
workstation, see :mod:`anpr_client.journal`), ids are a UTC timestamp to the microsecond (20
digits) plus 8 random base-36 characters (about 41 bits): 28 characters, sortable by time,
collision-free in practice.

The E00x services (other bodies, not Comuni) call the same id ``idOperazioneClient``:
:data:`ID_FIELDS`, :func:`id_field` and :func:`operation_id` are the one place that knows it.

An answer's ``testataRisposta`` echoes the request's id, ``codMittente`` and
``operazioneRichiesta`` (italia/anpr#1875 and the 4005 examples show it on the wire; the XSD
makes the three required): :func:`check_echo` refuses an answer that names another.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Collection, Mapping
from typing import Any, Final

from ..errors.exceptions import EchoMismatch
from ..settings import Settings

__all__ = [
    "ECHOED_FIELDS",
    "ID_FIELDS",
    "ID_PATTERN",
    "build_header",
    "check_echo",
    "fit_header",
    "generated_fields",
    "id_field",
    "new_operation_id",
    "now_with_offset",
    "operation_id",
]

ID_PATTERN: Final = re.compile(r"[0-9a-zA-Z]{1,30}")
ID_FIELDS: Final = ("idOperazioneComune", "idOperazioneClient")
"""The names of a request's id: the Comuni's testata, then the E00x services' own."""
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_RANDOM_CHARS: Final = 8
_RANDOM_SPACE: Final = len(_ALPHABET) ** _RANDOM_CHARS
ECHOED_FIELDS: Final = ("codMittente", "operazioneRichiesta")
"""The fields besides the id that ``testataRisposta`` echoes from ``testataRichiesta``."""

_FIELDS: Final = (
    "idOperazioneComune",
    "codMittente",
    "codDestinatario",
    "operazioneRichiesta",
    "dataOraRichiesta",
    "tipoOperazione",
    "tipoInvio",
)
_APPLICATION_FIELDS: Final = ("nomeApplicativo", "versioneApplicativo", "fornitoreApplicativo")


def new_operation_id() -> str:
    """A fresh ``idOperazioneComune`` (28 characters): ``YYYYMMDDHHMMSSffffff`` (UTC) + 8
    random base-36 characters."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    # One uniform draw below 36**8 written in base 36: the same distribution as eight
    # secrets.choice calls, from one read of the system's random source instead of eight.
    number = secrets.randbelow(_RANDOM_SPACE)
    rand = []
    for _ in range(_RANDOM_CHARS):
        number, digit = divmod(number, 36)
        rand.append(_ALPHABET[digit])
    return stamp + "".join(rand)


def now_with_offset() -> str:
    """Local time with its UTC offset and milliseconds, e.g. ``2026-11-26T11:43:39.123+01:00``."""
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def generated_fields(settings: Settings) -> tuple[str, ...]:
    """The fields :func:`build_header` fills for ``settings`` (the application identity's
    three only when the settings have one)."""
    return _FIELDS + (_APPLICATION_FIELDS if settings.application is not None else ())


def build_header(
    settings: Settings,
    operation_code: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    operation_id: str | None = None,
) -> dict[str, Any]:
    """The ``testataRichiesta`` for ``operation_code``; ``overrides`` replace generated fields
    (an override of ``None`` leaves that field out).

    Overrides are not checked here: the request's XSD validation checks every field, so all
    problems of a request are reported together.
    """
    overrides = overrides or {}
    given = overrides.get("idOperazioneComune")
    values: tuple[Any, ...] = (
        operation_id or given or new_operation_id(),
        settings.codice_istat,
        settings.cod_destinatario,
        operation_code,
        # An overridden time is not computed (the override replaces it, or leaves it out).
        None if "dataOraRichiesta" in overrides else now_with_offset(),
        "C",
        settings.tipo_invio,
    )
    if settings.application is not None:
        app = settings.application
        values += (app.name, app.version, app.vendor)
    header = dict(zip(generated_fields(settings), values, strict=True))
    if overrides:
        header.update(overrides)
        header = {k: v for k, v in header.items() if v is not None}
    return header


def id_field(fields: Collection[str]) -> str:
    """The name of the id in a testata with ``fields`` (``idOperazioneClient`` for E00x)."""
    return ID_FIELDS[1] if ID_FIELDS[1] in fields else ID_FIELDS[0]


def operation_id(testata: Mapping[str, Any] | object) -> str | None:
    """The request id a testata carries (a mapping, or a typed model's attributes), under
    either name; ``None`` when it has none."""
    get = testata.get if isinstance(testata, Mapping) else lambda n: getattr(testata, n, None)
    for name in ID_FIELDS:
        value = get(name)
        if value:
            return str(value)
    return None


def fit_header(
    header: Mapping[str, Any], fields: Collection[str], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Adapt a generated testata to a family's own testata, whose elements are ``fields``: the
    id takes the family's name (:func:`id_field`); generated fields it lacks are left out (a
    caller's own field stays, for the XSD validation to judge)."""
    fitted = dict(header)
    name = id_field(fields)
    if name != ID_FIELDS[0] and ID_FIELDS[0] in fitted:
        fitted.setdefault(name, fitted.pop(ID_FIELDS[0]))
    return {k: v for k, v in fitted.items() if k in fields or k in overrides}


def check_echo(request: Mapping[str, Any], answer: Mapping[str, Any], *, operation: str) -> None:
    """Raise :class:`~anpr_client.errors.EchoMismatch` unless the answer's ``testataRisposta``
    (``answer``) echoes the request's ``testataRichiesta`` (``request``): the same id (either
    name), ``codMittente`` and ``operazioneRichiesta``. An answer without a testata, or a
    request without one (N000), is not checked: there is nothing to compare.
    """
    if not request or not answer:
        return
    expected_id = operation_id(request)
    if expected_id is not None:
        _compare(id_field(request), expected_id, operation_id(answer), operation)
    for name in ECHOED_FIELDS:
        expected = request.get(name)
        if expected is not None:
            got = answer.get(name)
            _compare(name, str(expected), None if got is None else str(got), operation)


def _compare(field: str, expected: str, received: str | None, operation: str) -> None:
    if received is not None and received.strip() == expected.strip():
        return
    named = "names no " + field if received is None else f"names {field} {received!r}"
    raise EchoMismatch(
        f"the answer to {operation} {named}, not {expected!r} as the request did: it is not "
        "the answer to this request, and the operation may have been applied",
        field=field,
        expected=expected,
        received=received,
    )
