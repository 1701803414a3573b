"""``testataRichiesta``: the header every ANPR request starts with, filled automatically.

``idOperazioneComune`` must be unique per Comune across all its applications and at most 30
alphanumeric characters. Without a journal (which allocates ids shared by every process and
workstation, see :mod:`anpr_client.journal`), ids are a UTC timestamp to the microsecond plus 40
random bits: 26 characters, sortable by time, collision-free in practice.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

from ..settings import Settings

__all__ = ["ID_PATTERN", "build_header", "new_operation_id", "now_with_offset"]

ID_PATTERN: Final = re.compile(r"[0-9a-zA-Z]{1,30}")
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def new_operation_id() -> str:
    """A fresh ``idOperazioneComune``: ``YYYYMMDDHHMMSSffffff`` (UTC) + 8 random base-36 chars."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return stamp + rand


def now_with_offset() -> str:
    """Local time with its UTC offset and milliseconds, e.g. ``2026-11-26T11:43:39.123+01:00``."""
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def build_header(
    settings: Settings,
    operation_code: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    operation_id: str | None = None,
) -> dict[str, Any]:
    """The ``testataRichiesta`` for ``operation_code``; ``overrides`` replace generated fields.

    Overrides are not checked here: the request's XSD validation checks every field, so all
    problems of a request are reported together.
    """
    given = (overrides or {}).get("idOperazioneComune")
    header: dict[str, Any] = {
        "idOperazioneComune": operation_id or given or new_operation_id(),
        "codMittente": settings.codice_istat,
        "codDestinatario": settings.cod_destinatario,
        "operazioneRichiesta": operation_code,
        "dataOraRichiesta": now_with_offset(),
        "tipoOperazione": "C",
        "tipoInvio": settings.tipo_invio,
    }
    if settings.application is not None:
        header["nomeApplicativo"] = settings.application.name
        header["versioneApplicativo"] = settings.application.version
        header["fornitoreApplicativo"] = settings.application.vendor
    if overrides:
        header.update(overrides)
        header = {k: v for k, v in header.items() if v is not None}
    return header
