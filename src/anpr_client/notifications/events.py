"""Typed notification events, decoded from the plaintext ANPR delivers (push or pull).

One frozen dataclass per kind of notification (ANPR's N000 payload schema and its table of the
services that update local databases, italia/anpr ``src/tab``; NRIS: italia/anpr#2025, #2313),
all subclasses of :class:`Notification`, which carries what every notification has: its type
(``tipoNotifica``), its id (``idNotifica`` = ``testataNotifica/idOperazioneANPR`` of the push),
the addressee and the sender, when ANPR sent it, and the plaintext XML as received (``raw``),
so nothing is lost even when a newer ANPR adds elements this version does not read.

=======  =========================  ==============================================================
N010     :class:`ResidenceChanged`  a person left the Comune: a change of residence was recorded
                                    by ``requesting_comune`` (the *comune di provenienza* is told)
N014     :class:`ResidenceRestored` restoration ("ripristino") by a non-subentrato Comune
N015     :class:`ResidenceRestored` restoration by a subentrato Comune
N030     :class:`SupplyNotice`      a supply ("fornitura") was processed
N031     :class:`SubentroCompleted` a Comune completed its subentro
N032     :class:`FilesAvailable`    files are available for a Comune
NRIS     :class:`OperationResult`   the answer of an operation done through ANPR's web app
other    :class:`ResultItem`        a 4005 result of another kind: an operation code (``5008``…),
                                    an ANSC civil-status notification (``NA01``…), an internal
                                    item without content (``8046``), a newer ``N0xx``
=======  =========================  ==============================================================

:func:`decode_notification` turns ``(tipoNotifica, payload element)`` into the event, checking
what a handler relies on (required elements, dates, digits) and raising
:class:`~anpr_client.errors.NotificationError` (outcome ``5``, "not conforming") otherwise.
Element names are matched by local name, so a payload with or without ANPR's namespace reads
the same. Reprs show the type and ids only: personal data never reaches logs through them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from lxml import etree

from .._identifiers import ISTAT_CODE as _ISTAT
from ..errors.exceptions import NotificationError, ProtocolError
from ..safexml import DEFAULT_MAX_BYTES, parse_xml

__all__ = [
    "NOTIFICATION_TYPES",
    "PAYLOAD_NS",
    "ComuneRef",
    "FileRef",
    "FilesAvailable",
    "Notification",
    "OperationResult",
    "ResidenceChanged",
    "ResidenceRestored",
    "ResultItem",
    "SubentroCompleted",
    "Subject",
    "SupplyNotice",
    "decode_notification",
    "result_item",
]

#: Namespace of the notification payloads (``NotificaN010``…).
PAYLOAD_NS: Final = "http://sogei.it/ANPR/N000notificheComuni"

_N = TypeVar("_N", bound="Notification")
_DIGITS: Final = re.compile(r"[0-9]{1,30}")


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ComuneRef:
    """A Comune as ANPR names it in a payload (``tipoComuneRichiesta``)."""

    name: str
    """``nomeComune``."""
    codice_istat: str
    sigla_provincia: str


@dataclass(frozen=True, repr=False)
class Subject:
    """The person a notification is about (``generalitaSoggetto``, ``tipoGeneralita``).

    Only ``codice_fiscale`` is guaranteed for a living resident; ANPR's type makes every field
    optional. ``birth_date`` is the text as sent (ANPR dates may lack the day or month).
    """

    codice_fiscale: str | None
    surname: str | None
    given_name: str | None
    sex: str | None = None
    birth_date: str | None = None
    id_scheda_soggetto_anpr: str | None = None

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<Subject id_scheda_soggetto_anpr={self.id_scheda_soggetto_anpr!r}>"


@dataclass(frozen=True)
class FileRef:
    """A file announced by N032 (``tipoDatiFile``)."""

    identificativo_file: str
    tipo_file: str | None = None


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Notification:
    """What every notification carries. Subclasses add the decoded payload."""

    kind: str
    """``tipoNotifica`` (``N010``, ``NRIS``…)."""
    id_notifica: str
    """The notification's own id (``testataNotifica/idOperazioneANPR``); with ``kind`` the
    key that makes a redelivered notification, or the same one pushed and pulled, one event."""
    recipient: str | None
    """``codDestinatario``: the ISTAT code of the Comune notified."""
    sender: str | None
    """``codMittente``."""
    sent_at: dt.datetime | None
    """``dataOraRichiesta`` of the push; ``None`` when pulled (a 4005 result item carries no
    date)."""
    raw: bytes = field(repr=False, compare=False)
    """The plaintext payload, as received (decrypted when pushed; decoded from base64 and
    gunzipped when pulled)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id_notifica)

    @property
    def codice_fiscale(self) -> str | None:
        """The subject's codice fiscale, for the notifications that have a subject."""
        return None

    @property
    def operation_id(self) -> str | None:
        """The ``idOperazioneANPR`` of the operation the notification is about, if any."""
        return None


@dataclass(frozen=True)
class ResidenceChanged(Notification):
    """N010: ``subject`` moved its residence to ``requesting_comune`` from the recipient."""

    subject: Subject
    requesting_comune: ComuneRef
    """``comuneRichiesta``: the Comune that recorded the change (the new residence)."""
    id_operazione_anpr: str
    """The ``idOperazioneANPR`` of the change of residence (e.g. a 5005)."""
    effective_date: dt.date
    """``dataDecorrenza``."""

    @property
    def codice_fiscale(self) -> str | None:
        return self.subject.codice_fiscale

    @property
    def operation_id(self) -> str | None:
        return self.id_operazione_anpr


@dataclass(frozen=True)
class ResidenceRestored(ResidenceChanged):
    """N014 (by a non-subentrato Comune) / N015 (by a subentrato Comune): a restoration."""

    @property
    def by_subentrato(self) -> bool:
        return self.kind == "N015"


@dataclass(frozen=True)
class SupplyNotice(Notification):
    """N030: a supply (``datiNotifica``) was processed."""

    requesting_comune: ComuneRef
    presented_at: dt.datetime
    service_code: str
    id_operazione_anpr: str
    processed_at: dt.datetime
    outcome: str
    """``esito``."""

    @property
    def operation_id(self) -> str | None:
        return self.id_operazione_anpr


@dataclass(frozen=True)
class SubentroCompleted(Notification):
    """N031: ``requesting_comune`` is operational on ANPR from ``operational_date``."""

    requesting_comune: ComuneRef
    operational_date: dt.date


@dataclass(frozen=True)
class FilesAvailable(Notification):
    """N032: files are available for ``requesting_comune``."""

    requesting_comune: ComuneRef
    files: tuple[FileRef, ...]


@dataclass(frozen=True)
class OperationResult(Notification):
    """NRIS: the answer of an operation done through ANPR's web app (kept whole in ``raw``)."""

    response_element: str
    """The answer's root element name (e.g. ``Risposta5005``)."""
    id_operazione_comune: str | None
    id_operazione_anpr: str | None
    esito: str | None
    """``esitoOperazione`` of the answer's ``testataRisposta``, when present."""

    @property
    def operation_id(self) -> str | None:
        return self.id_operazione_anpr


@dataclass(frozen=True)
class ResultItem(Notification):
    """A 4005 result item of a kind that has no event class of its own, kept as it came.

    An operation (``5008``… done through ANPR's web app, italia/anpr#1400, #2313), an ANSC
    civil-status notification (``NA01``…, italia/ansc#1258), an internal item without content
    (``8046``, which ANPR said to ignore, italia/anpr#1907), a notification type newer than this
    version. ``kind`` is its ``tipoOperazione`` and ``id_notifica`` its ``idOperazioneANPR``;
    ``raw`` is ``contenutoRisposta`` decoded (base64, then gunzipped when ``gz``), ``b""`` when
    the item has none; ``request`` is ``contenutoRichiesta`` decoded, when it was asked for
    (``dettaglioDati`` ``RICHIESTA`` or ``TUTTO``). When the content is an operation answer,
    its ``testataRisposta`` fields are read as for NRIS.
    """

    state: str | None
    """``statoLavorazione`` of the item."""
    response_format: str | None
    """``formatoRisposta`` (``gz``, ``xml``), ``None`` without content."""
    request: bytes | None = field(default=None, repr=False, compare=False)
    request_format: str | None = None
    response_element: str | None = None
    """The local name of the content's root (``Risposta5008``, ``predisposizioneAnagrafica``…)."""
    id_operazione_comune: str | None = None
    id_operazione_anpr: str | None = None
    """``testataRisposta/idOperazioneANPR`` of an operation answer (the operation's own id;
    the item's id may be another one, italia/anpr#2313)."""
    esito: str | None = None

    @property
    def has_content(self) -> bool:
        return bool(self.raw)

    @property
    def operation_id(self) -> str | None:
        return self.id_operazione_anpr


#: ``tipoNotifica`` → the event class and the payload element it must carry.
NOTIFICATION_TYPES: Final[dict[str, tuple[type[Notification], str | None]]] = {
    "N010": (ResidenceChanged, "NotificaN010"),
    "N014": (ResidenceRestored, "NotificaN014"),
    "N015": (ResidenceRestored, "NotificaN015"),
    "N030": (SupplyNotice, "NotificaN030"),
    "N031": (SubentroCompleted, "NotificaN031"),
    "N032": (FilesAvailable, "NotificaN032"),
    "NRIS": (OperationResult, None),
}


# ----------------------------------------------------------------------------- decoding


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _nonconforming(kind: str, field_path: str, rule: str) -> NotificationError:
    return NotificationError(
        f"{kind} payload: {field_path} {rule}", outcome="5", field=field_path, rule=rule
    )


class _Reader:
    """Reads children by local name, naming the path of whatever is missing or malformed."""

    def __init__(self, kind: str, element: etree._Element, path: str):
        self.kind = kind
        self.element = element
        self.path = path

    def _children(self, name: str) -> list[etree._Element]:
        return [c for c in self.element if _local(c.tag) == name]

    def child(self, name: str) -> _Reader:
        found = self._children(name)
        if len(found) != 1:
            raise _nonconforming(
                self.kind,
                f"{self.path}/{name}",
                "is missing" if not found else "is repeated",
            )
        return _Reader(self.kind, found[0], f"{self.path}/{name}")

    def children(self, name: str) -> list[_Reader]:
        return [_Reader(self.kind, c, f"{self.path}/{name}") for c in self._children(name)]

    def text(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise _nonconforming(self.kind, f"{self.path}/{name}", "is missing or empty")
        return value

    def optional(self, name: str) -> str | None:
        found = self._children(name)
        if len(found) > 1:
            raise _nonconforming(self.kind, f"{self.path}/{name}", "is repeated")
        if not found:
            return None
        value = "".join(str(t) for t in found[0].itertext()).strip()
        return value or None

    def digits(self, name: str) -> str:
        value = self.text(name)
        if not _DIGITS.fullmatch(value):
            raise _nonconforming(self.kind, f"{self.path}/{name}", "must be 1-30 digits")
        return value

    def date(self, name: str) -> dt.date:
        value = self.text(name)
        try:
            return dt.date.fromisoformat(_strip_zone(value))
        except ValueError:
            raise _nonconforming(
                self.kind, f"{self.path}/{name}", f"must be a date (got {value[:40]!r})"
            ) from None

    def datetime(self, name: str) -> dt.datetime:
        value = self.text(name)
        parsed = parse_datetime(value)
        if parsed is None:
            raise _nonconforming(
                self.kind, f"{self.path}/{name}", f"must be a dateTime (got {value[:40]!r})"
            )
        return parsed


def _strip_zone(value: str) -> str:
    """``2026-01-15Z`` / ``2026-01-15+01:00`` → ``2026-01-15`` (xs:date may carry a zone)."""
    return value[:10] if len(value) > 10 else value


def parse_datetime(value: str) -> dt.datetime | None:
    """An xs:dateTime as an aware datetime (no zone: UTC, as ANPR's servers send), or None."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _comune(reader: _Reader) -> ComuneRef:
    istat = reader.text("codiceIstat")
    if not _ISTAT.fullmatch(istat):
        raise _nonconforming(reader.kind, f"{reader.path}/codiceIstat", "must be six digits")
    return ComuneRef(
        name=reader.text("nomeComune"),
        codice_istat=istat,
        sigla_provincia=reader.text("siglaProvinciaIstat"),
    )


def _codice_fiscale(reader: _Reader) -> str | None:
    """``codiceFiscale/codFiscale`` (``tipoCodiceFiscale``); a bare text value is accepted."""
    found = reader.children("codiceFiscale")
    if len(found) > 1:
        raise _nonconforming(reader.kind, f"{reader.path}/codiceFiscale", "is repeated")
    if not found:
        return None
    if any(isinstance(c.tag, str) for c in found[0].element):
        return found[0].optional("codFiscale")
    return reader.optional("codiceFiscale")


def _subject(reader: _Reader) -> Subject:
    cf = _codice_fiscale(reader)
    return Subject(
        codice_fiscale=cf.upper() if cf else None,
        surname=reader.optional("cognome"),
        given_name=reader.optional("nome"),
        sex=reader.optional("sesso"),
        birth_date=reader.optional("dataNascita"),
        id_scheda_soggetto_anpr=reader.optional("idSchedaSoggettoANPR"),
    )


def decode_notification(
    kind: str,
    payload: etree._Element,
    *,
    id_notifica: str,
    recipient: str | None = None,
    sender: str | None = None,
    sent_at: dt.datetime | None = None,
    raw: bytes | None = None,
) -> Notification:
    """Decode the plaintext ``payload`` of a notification of type ``kind`` into its event.

    Raises :class:`~anpr_client.errors.NotificationError` (``outcome`` ``5``) for an
    unknown type, a payload element that does not match the type, or a payload that lacks what
    the event needs; the message names the element and the rule.
    """
    kind = (kind or "").strip()
    if kind not in NOTIFICATION_TYPES:
        raise NotificationError(
            f"unknown notification type {kind[:20]!r} (known: {', '.join(NOTIFICATION_TYPES)})",
            outcome="5",
            field="tipoNotifica",
            rule="a known notification type",
        )
    if not _DIGITS.fullmatch(id_notifica or ""):
        raise NotificationError(
            f"the notification id {str(id_notifica)[:40]!r} must be 1-30 digits",
            outcome="5",
            field="idOperazioneANPR",
            rule="1-30 digits",
        )
    cls, element_name = NOTIFICATION_TYPES[kind]
    local = _local(payload.tag)
    if element_name is not None and local != element_name:
        raise NotificationError(
            f"a {kind} notification must carry {element_name}, not {local or '?'}",
            outcome="5",
            field="contenuto",
            rule=element_name,
        )
    raw_bytes = raw if raw is not None else etree.tostring(payload)

    def build(event: type[_N], **fields: Any) -> _N:
        return event(
            kind=kind,
            id_notifica=id_notifica,
            recipient=recipient,
            sender=sender,
            sent_at=sent_at,
            raw=raw_bytes,
            **fields,
        )

    r = _Reader(kind, payload, local)
    if cls is ResidenceChanged or cls is ResidenceRestored:
        return build(
            cls,
            subject=_subject(r.child("generalitaSoggetto")),
            requesting_comune=_comune(r.child("comuneRichiesta")),
            id_operazione_anpr=r.digits("idOperazioneANPR"),
            effective_date=r.date("dataDecorrenza"),
        )
    if cls is SupplyNotice:
        data = r.child("datiNotifica")
        return build(
            SupplyNotice,
            requesting_comune=_comune(data.child("comuneRichiesta")),
            presented_at=data.datetime("dataPresentazione"),
            service_code=data.text("codiceServizio"),
            id_operazione_anpr=data.digits("idOperazioneANPR"),
            processed_at=data.datetime("dataElaborazione"),
            outcome=data.text("esito"),
        )
    if cls is SubentroCompleted:
        return build(
            SubentroCompleted,
            requesting_comune=_comune(r.child("comuneRichiesta")),
            operational_date=r.date("dataOperativitaAnpr"),
        )
    if cls is FilesAvailable:
        files = tuple(
            FileRef(f.digits("identificativoFile"), f.optional("tipoFile"))
            for f in r.children("datiFile")
        )
        if not files:
            raise _nonconforming(kind, f"{local}/datiFile", "is missing")
        return build(
            FilesAvailable,
            requesting_comune=_comune(r.child("comuneRichiesta")),
            files=files,
        )
    # NRIS: any operation answer; read its testataRisposta wherever it is.
    return build(OperationResult, response_element=local, **_answer_header(kind, payload))


def _answer_header(kind: str, payload: etree._Element) -> dict[str, str | None]:
    """The ``testataRisposta`` fields of an operation answer (``None`` where absent)."""
    testata = next((e for e in payload.iter() if _local(e.tag) == "testataRisposta"), None)
    header = _Reader(kind, testata, "testataRisposta") if testata is not None else None
    return {
        "id_operazione_comune": header.optional("idOperazioneComune") if header else None,
        "id_operazione_anpr": header.optional("idOperazioneANPR") if header else None,
        "esito": header.optional("esitoOperazione") if header else None,
    }


def result_item(
    kind: str,
    *,
    id_notifica: str,
    state: str | None,
    response: bytes | None,
    response_format: str | None,
    request: bytes | None = None,
    request_format: str | None = None,
    recipient: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ResultItem:
    """The :class:`ResultItem` of a 4005 result of another kind (contents already decoded).

    Raises :class:`~anpr_client.errors.NotificationError` (``outcome`` ``5``) when a content is
    not well-formed XML: such an item is quarantined, not stored as an event.
    """
    fields: dict[str, str | None] = {}
    if response:
        answer = _content_xml(kind, response, "contenutoRisposta", max_bytes)
        fields = {"response_element": _local(answer.tag), **_answer_header(kind, answer)}
    if request:
        _content_xml(kind, request, "contenutoRichiesta", max_bytes)
    return ResultItem(
        kind=kind,
        id_notifica=id_notifica,
        recipient=recipient,
        sender=None,
        sent_at=None,
        raw=response or b"",
        state=state,
        response_format=response_format if response else None,
        request=request or None,
        request_format=request_format if request else None,
        **fields,
    )


def _content_xml(kind: str, data: bytes, where: str, max_bytes: int) -> etree._Element:
    try:
        return parse_xml(data, max_bytes=max_bytes)
    except ProtocolError as exc:
        raise _nonconforming(kind or "?", where, f"must be well-formed XML ({exc})") from None
