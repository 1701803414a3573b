"""What a successful call returns: the answer's data plus everything ANPR said about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._compat import renamed
from .errors.exceptions import ErrorItem, Finding
from .soap.codec import UnknownElement
from .soap.mtom import Attachment
from .soap.testata import operation_id

__all__ = ["PreparedRequest", "Result", "error_items"]

T = TypeVar("T")


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready to send: the exact envelope bytes and where they go."""

    operation: str
    url: str
    envelope: bytes
    """The exact bytes that will be sent (signed when a security frame is configured)."""
    header: Mapping[str, Any]
    """The ``testataRichiesta`` that was used."""
    payload: Mapping[str, Any] = field(repr=False)
    """The request payload (without ``testataRichiesta``)."""
    signed: bool = False
    findings: tuple[Finding, ...] = ()
    """Non-blocking findings of the local checks (predicted ANPR warnings)."""

    @property
    def id_operazione_comune(self) -> str:
        """The request's id (``idOperazioneClient`` for the E00x services)."""
        return operation_id(self.header) or ""


@dataclass(frozen=True)
class Result(Generic[T]):
    """A successful ANPR answer (warnings allowed).

    ``value`` is the answer branch: a payload-shaped ``dict`` for :meth:`Client.call`, a typed
    model for the typed service methods.
    """

    operation: str
    outcome: str
    """The answer branch that came back, e.g. ``Risposta3002_OK`` or ``Risposta_Comune``."""
    value: T
    header: Mapping[str, Any]
    """The decoded ``testataRisposta`` (empty when the answer has none)."""
    warnings: tuple[ErrorItem, ...] = ()
    """Entries with severity ``W`` (also emitted as :class:`~anpr_client.AnprWarning`)."""
    anomalies: tuple[ErrorItem, ...] = ()
    """Every error/anomaly entry of the answer, any severity, in document order."""
    unknown_elements: tuple[UnknownElement, ...] = ()
    """What the value cannot hold, in document order, each with its path and the element:
    elements the bundle does not know (a newer ANPR version's, e.g. the ``anncsu`` section of
    ANPR 9.2, italia/anpr#5047) and further occurrences of elements the bundle allows once.
    Nothing after them is lost. Read one with :meth:`unknown_element`."""
    raw: bytes = field(default=b"", repr=False)
    """The SOAP envelope as received (the root part of an MTOM answer)."""
    attachments: Mapping[str, Attachment] = field(default_factory=dict, repr=False)
    elapsed: float = 0.0

    @property
    def id_operazione_comune(self) -> str | None:
        """The request's id as echoed (``idOperazioneClient`` for the E00x services)."""
        return operation_id(self.header)

    @property
    def id_operazione_anpr(self) -> str | None:
        value = self.header.get("idOperazioneANPR")
        return None if value is None else str(value)

    @property
    def esito_operazione(self) -> str | None:
        """``esitoOperazione`` of the ``testataRisposta`` (the name ``AnprRejected`` uses too)."""
        value = self.header.get("esitoOperazione")
        return None if value is None else str(value)

    def unknown_element(self, path: str) -> UnknownElement | None:
        """The element kept aside at ``path``, or ``None``.

        ``path`` is either the full :attr:`UnknownElement.path`
        (``Risposta5005/Risposta_Comune/listaSoggettiVariati/datiSoggetto[0]/anncsu``) or the
        path below the answer branch that :attr:`value` holds
        (``listaSoggettiVariati/datiSoggetto[0]/anncsu``); a step of an element that may
        repeat carries its index, as in the value's lists. Use ``.element`` of the result for
        the element itself::

            anncsu = result.unknown_element("listaSoggettiVariati/datiSoggetto[0]/anncsu")
            if anncsu is not None:
                print(anncsu.element.findtext("verificato"))
        """
        wanted = path.strip("/")
        for item in self.unknown_elements:
            if wanted in _relative_paths(item.path, self.outcome):
                return item
        return None

    @property
    def esito(self) -> str | None:
        """Deprecated: :attr:`esito_operazione`."""
        renamed("Result.esito", "Result.esito_operazione")
        return self.esito_operazione


def _relative_paths(path: str, outcome: str) -> tuple[str, ...]:
    """``path`` as given, below the response element, and below the answer branch."""
    _, _, below_root = path.partition("/")
    forms = [path, below_root]
    if below_root.startswith(outcome + "/"):
        forms.append(below_root[len(outcome) + 1 :])
    return tuple(forms)


def _entries(value: Any, out: list[Mapping[str, Any]]) -> None:
    """Append to ``out`` every mapping in ``value`` that holds ``codiceErroreAnomalia``, in
    document order (a decoded answer: dicts, lists and text; text is skipped at once)."""
    if type(value) is dict or isinstance(value, Mapping):
        if "codiceErroreAnomalia" in value:
            out.append(value)
        for child in value.values():
            if type(child) is not str:
                _entries(child, out)
    elif isinstance(value, list):
        for child in value:
            if type(child) is not str:
                _entries(child, out)


def error_items(value: Any) -> tuple[ErrorItem, ...]:
    """Every ``tipoErroriAnomalia`` entry (``codiceErroreAnomalia``…) found in ``value``."""
    entries: list[Mapping[str, Any]] = []
    _entries(value, entries)
    return tuple(
        ErrorItem(
            code=str(entry.get("codiceErroreAnomalia", "")),
            severity=str(entry.get("tipoErroreAnomalia", "E") or "E"),
            text=str(entry.get("testoErroreAnomalia", "")),
            object=entry.get("oggettoErroreAnomalia"),
            field=entry.get("campoErroreAnomalia"),
            value=entry.get("valoreErroreAnomalia"),
        )
        for entry in entries
    )
