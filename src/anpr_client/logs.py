"""What anpr-client logs, and under which names: the standard :mod:`logging` module, nothing else.

Loggers (every one a child of ``anpr_client``; the library adds no handler):

- ``anpr_client.call``: one INFO line per exchange with ANPR — operation,
  ``idOperazioneComune``, ``idOperazioneANPR``, outcome, elapsed milliseconds — also as record
  attributes (``operation``, ``id_operazione_comune``, ``id_operazione_anpr``, ``outcome``,
  ``elapsed_ms``) for structured handlers;
- ``anpr_client.wire``: the XML exchanged, at DEBUG, only when ``[logging] wire = true`` *and*
  the logger is enabled for DEBUG; the text of personal elements (codice fiscale, names, dates
  and places of birth…) and anything shaped like a codice fiscale are masked unless
  ``[logging] mask_personal_data = false``;
- ``anpr_client.journal``: the journal's decisions (a retry, an outcome left unknown, an
  operation settled);
- ``anpr_client.notifications``: the N000 receiver (one line per push) and the 4005 poller.

No PIN, password or key material is ever logged, at any level.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from lxml import etree

from .errors.exceptions import AnprError
from .safexml import parse_xml

if TYPE_CHECKING:
    from .results import PreparedRequest, Result

__all__ = [
    "CALL_LOGGER",
    "JOURNAL_LOGGER",
    "MASK",
    "NOTIFICATIONS_LOGGER",
    "PERSONAL_ELEMENTS",
    "WIRE_LOGGER",
    "CallLog",
    "logged_call",
    "mask_personal_data",
    "wire_debug",
]

CALL_LOGGER: Final = "anpr_client.call"
WIRE_LOGGER: Final = "anpr_client.wire"
JOURNAL_LOGGER: Final = "anpr_client.journal"
NOTIFICATIONS_LOGGER: Final = "anpr_client.notifications"

_call_log: Final = logging.getLogger(CALL_LOGGER)
_wire_log: Final = logging.getLogger(WIRE_LOGGER)

MASK: Final = "***"

PERSONAL_ELEMENTS: Final = frozenset(
    {
        # the person: ANPR's XSD names (tipoGeneralita, tipoLuogoEvento, tipoIndirizzo…)
        "codiceFiscale",
        "codFiscale",
        "cognome",
        "nome",
        "cognomeStraniero",
        "nomeStraniero",
        "dataNascita",
        "sesso",
        "luogoNascita",
        "comune",
        "localita",
        "nomeComune",
        "descrizioneLocalita",
        "dataMorte",
        "denominazione",
        "numeroCivico",
        "indirizzo",
        "toponimo",
        "cap",
        "idSchedaSoggettoANPR",
        "idSchedaSoggetto",
        "numeroDocumento",
        "email",
        "telefono",
        # the operator in the SAML assertion
        "NameID",
    }
)
"""Elements whose text is masked in the wire log (local names, any namespace)."""

_CODICE_FISCALE: Final = re.compile(
    r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b"
)
"""Anything shaped like a personal codice fiscale (omocodia letters included)."""


def mask_personal_data(xml: bytes) -> str:
    """``xml`` as text for a log, with the text of :data:`PERSONAL_ELEMENTS` and every
    codice-fiscale-shaped string replaced by :data:`MASK`. What cannot be parsed as XML (a
    multipart answer) is not shown, only its size."""
    try:
        root = parse_xml(xml)
    except AnprError:
        return f"<{len(xml)} bytes, not XML: not logged>"
    for element in root.iter("{*}*"):  # elements only, in any namespace or none
        if etree.QName(element).localname in PERSONAL_ELEMENTS and element.text:
            element.text = MASK
        elif element.text:
            element.text = _CODICE_FISCALE.sub(MASK, element.text)
        if element.tail:
            element.tail = _CODICE_FISCALE.sub(MASK, element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = _CODICE_FISCALE.sub(MASK, str(value))
    return etree.tostring(root, encoding="unicode")


def wire_debug(enabled: bool, mask: bool, what: str, url: str, body: bytes) -> None:
    """Log ``body`` on ``anpr_client.wire`` at DEBUG, when the setting asks (``enabled``) and the
    logger is enabled for DEBUG; masked unless ``mask`` is false."""
    if not enabled or not _wire_log.isEnabledFor(logging.DEBUG):
        return
    text = mask_personal_data(body) if mask else body.decode("utf-8", "replace")
    _wire_log.debug("%s %s\n%s", what, url, text)


class CallLog:
    """The INFO line of one exchange: :meth:`ok` with the result, or :meth:`failed`."""

    def __init__(self, prepared: PreparedRequest):
        self.operation = prepared.operation
        self.id_operazione_comune = prepared.id_operazione_comune
        self.started = time.perf_counter()
        self.done = False

    def ok(self, result: Result[Any]) -> Result[Any]:
        """Log the OK answer (its warnings' codes too) and return ``result``."""
        outcome = result.outcome
        if result.warnings:
            outcome += " warnings " + ",".join(w.code for w in result.warnings)
        self._line(outcome, result.id_operazione_anpr)
        return result

    def failed(self, exc: BaseException) -> None:
        """Log the exchange that raised ``exc``: a KO with its codes, or the error class."""
        codes = [e.code for e in getattr(exc, "errors", ())]
        outcome = type(exc).__name__ + (" " + ",".join(codes) if codes else "")
        self._line(outcome, getattr(exc, "id_operazione_anpr", None))

    def _line(self, outcome: str, id_operazione_anpr: str | None) -> None:
        self.done = True
        elapsed = round((time.perf_counter() - self.started) * 1000)
        _call_log.info(
            "%s idOperazioneComune=%s idOperazioneANPR=%s outcome=%s elapsed=%d ms",
            self.operation,
            self.id_operazione_comune or "-",
            id_operazione_anpr or "-",
            outcome,
            elapsed,
            extra={
                "operation": self.operation,
                "id_operazione_comune": self.id_operazione_comune,
                "id_operazione_anpr": id_operazione_anpr,
                "outcome": outcome,
                "elapsed_ms": elapsed,
            },
        )


@contextmanager
def logged_call(prepared: PreparedRequest) -> Iterator[CallLog]:
    """Time one exchange and log its INFO line: the caller hands the result to
    :meth:`CallLog.ok`; an exception is logged by :meth:`CallLog.failed` and goes on."""
    log = CallLog(prepared)
    try:
        yield log
    except BaseException as exc:
        if not log.done:
            log.failed(exc)
        raise
