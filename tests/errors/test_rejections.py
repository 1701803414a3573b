"""KO answers → exceptions, warnings → AnprWarning, on recorded answer fragments of our own."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anpr_client.errors.catalogue import emit_warnings, explain, primary_error, rejection_for
from anpr_client.errors.exceptions import (
    AnprError,
    AnprRejected,
    AnprWarning,
    BusinessRuleError,
    ErrorItem,
    FormatError,
    NotFoundError,
    OperationNotAllowedError,
    PrivilegeError,
    ReferenceValueError,
    RevenueAgencyError,
    ServiceError,
    ServiceUnavailableError,
)
from anpr_client.safexml import parse_xml

# Recorded KO fragments: the testataRisposta + listaErrori part of a rispostaKO, written by us in
# the shape ANPR sends (texts are our own placeholders, not ANPR's wording).
_HEAD = """
<testataRisposta>
  <idOperazioneComune>{id}</idOperazioneComune>
  <codMittente>017074</codMittente>
  <codDestinatario>ANPR05</codDestinatario>
  <operazioneRichiesta>{op}</operazioneRichiesta>
  <dataOraRichiesta>2025-01-16T09:51:20</dataOraRichiesta>
  <idOperazioneANPR>{anpr}</idOperazioneANPR>
  <esitoOperazione>XXXX</esitoOperazione>
</testataRisposta>"""


def _errore(code: str, sev: str, text: str, obj: str = "", field: str = "", value: str = "") -> str:
    extra = "".join(
        f"<{tag}>{val}</{tag}>"
        for tag, val in (
            ("oggettoErroreAnomalia", obj),
            ("campoErroreAnomalia", field),
            ("valoreErroreAnomalia", value),
        )
        if val
    )
    return (
        f"<errore><codiceErroreAnomalia>{code}</codiceErroreAnomalia>"
        f"<tipoErroreAnomalia>{sev}</tipoErroreAnomalia>"
        f"<testoErroreAnomalia>{text}</testoErroreAnomalia>{extra}</errore>"
    )


def _ko(op: str, *errori: str, id_: str = "JD250116095120", anpr: str = "0") -> bytes:
    head = _HEAD.format(id=id_, op=op, anpr=anpr)
    return f"<rispostaKO>{head}<listaErrori>{''.join(errori)}</listaErrori></rispostaKO>".encode()


RECORDED = {
    "several": _ko(
        "5001",
        _errore("EC007", "E", "comune of birth not valid then", "datiNascita", "codComune", "A001"),
        _errore("ES034", "E", "record of another comune", "soggetto", "idSchedaSoggettoComune"),
        _errore("EN527", "E", "support reference: idOperazioneANPR 123456"),
    ),
    "named_beats_group": _ko(
        "3002",
        _errore("ES100", "E", "subject id unknown", "soggetto", "idSchedaSoggettoComune", "42"),
        _errore("EN122", "E", "nothing found"),
    ),
    "mixed": _ko(
        "5005",
        _errore("EC056", "W", "residence comune doubtful", "residenza", "codComune", "B002"),
        _errore("EHR97", "E", "decorrenza missing", "testataRichiesta", "dataDecorrenza"),
        _errore("EN148", "W", "use the ID ANPR"),
    ),
    "warnings_only": _ko(
        "3002",
        _errore("EN148", "W", "use the ID ANPR"),
        _errore("EC056", "W", "residence comune doubtful"),
    ),
    "unknown": _ko("3002", _errore("ZZ123", "E", "a code nobody documented")),
    "unknown_in_group": _ko("3002", _errore("EC999", "E", "a new reference table check")),
    "service": _ko(
        "5008",
        _errore("999", "E", "could not be done"),
        _errore("EN527", "E", "support reference: mittente 044066, idOperazioneComune 25849"),
        anpr="2027257781",
    ),
    "unavailable": _ko("3003", _errore("998", "E", "down")),
    "privilege_and_service": _ko(
        "3002",
        _errore("EN493", "E", "no privilege on this subject"),
        _errore("EN527", "E", "support reference"),
        _errore("999", "E", "could not be done"),
    ),
    "support_only": _ko("5001", _errore("EN527", "E", "support reference")),
    "in_progress": _ko("5001", _errore("EN148", "E", "same id still running")),
    "revenue_agency": _ko("5001", _errore("AEE97", "E", "tax registry unreachable")),
    "lowercase": _ko("3002", _errore(" en122 ", "e", "nothing found"), _errore("EC056", "w", "x")),
    "empty": _ko("3002"),
}

# recorded answer → (class, primary code, retryable)
EXPECTED: dict[str, tuple[type[AnprRejected], str | None, bool]] = {
    "several": (ReferenceValueError, "EC007", False),
    "named_beats_group": (NotFoundError, "EN122", False),
    "mixed": (FormatError, "EHR97", False),
    "warnings_only": (AnprRejected, None, False),
    "unknown": (AnprRejected, "ZZ123", False),
    "unknown_in_group": (ReferenceValueError, "EC999", False),
    "service": (ServiceError, "999", True),
    "unavailable": (ServiceUnavailableError, "998", True),
    "privilege_and_service": (PrivilegeError, "EN493", False),
    "support_only": (BusinessRuleError, "EN527", False),
    "in_progress": (OperationNotAllowedError, "EN148", False),
    "revenue_agency": (RevenueAgencyError, "AEE97", True),
    "lowercase": (NotFoundError, " en122 ", False),
    "empty": (AnprRejected, None, False),
}


def _text(el: object, tag: str) -> str | None:
    child = el.find(tag)  # type: ignore[attr-defined]
    return child.text if child is not None else None


def parse_recorded(raw: bytes) -> tuple[list[ErrorItem], dict[str, str | None]]:
    root = parse_xml(raw)
    head = root.find("testataRisposta")
    header = {t: _text(head, t) for t in ("idOperazioneComune", "operazioneRichiesta")}
    header |= {t: _text(head, t) for t in ("idOperazioneANPR", "esitoOperazione")}
    items = [
        ErrorItem(
            code=_text(e, "codiceErroreAnomalia") or "",
            severity=_text(e, "tipoErroreAnomalia") or "",
            text=_text(e, "testoErroreAnomalia") or "",
            object=_text(e, "oggettoErroreAnomalia"),
            field=_text(e, "campoErroreAnomalia"),
            value=_text(e, "valoreErroreAnomalia"),
        )
        for e in root.iterfind("listaErrori/errore")
    ]
    return items, header


def _reject(name: str) -> tuple[AnprRejected, list[ErrorItem]]:
    raw = RECORDED[name]
    items, header = parse_recorded(raw)
    exc = rejection_for(
        items,
        operation=header["operazioneRichiesta"] or "",
        id_operazione_comune=header["idOperazioneComune"],
        id_operazione_anpr=header["idOperazioneANPR"],
        esito_operazione=header["esitoOperazione"],
        raw=raw,
    )
    return exc, items


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_ko_gives_the_documented_class_with_every_entry(name: str) -> None:
    exc, items = _reject(name)
    cls, primary, retryable = EXPECTED[name]
    assert type(exc) is cls
    assert exc.errors == tuple(items)  # every entry, every field, in ANPR's order
    assert exc.codes == tuple(i.code for i in items)
    assert (exc.primary.code if exc.primary else None) == primary
    assert exc.retryable is retryable
    assert exc.raw == RECORDED[name]
    assert exc.esito_operazione == "XXXX"
    for item in items:
        assert item.code in str(exc)
        assert item.text in str(exc)


def test_several_errors_keep_object_field_and_value() -> None:
    exc, _ = _reject("several")
    first = exc.errors[0]
    assert (first.object, first.field, first.value) == ("datiNascita", "codComune", "A001")
    assert exc.errors[1].value is None
    assert "(datiNascita/codComune)" in str(exc)
    assert exc.operation == "5001"
    assert exc.id_operazione_comune == "JD250116095120"


def test_mixed_answer_separates_blocking_entries_from_warnings() -> None:
    exc, _ = _reject("mixed")
    assert [e.code for e in exc.blocking] == ["EHR97"]
    assert [e.code for e in exc.warnings] == ["EC056", "EN148"]


def test_explain_covers_every_entry_with_what_to_do() -> None:
    exc, _ = _reject("service")
    text = explain(exc)
    assert text.splitlines()[0].startswith("ANPR rejected operation 5008")
    for code in ("999", "EN527"):
        assert code in text
    assert text.count("what to do:") == 2
    assert "ServiceError" in text
    assert "informative" in text
    unknown, _ = _reject("unknown")
    assert "unknown code" in explain(unknown)
    in_group, _ = _reject("unknown_in_group")
    assert "group EC" in explain(in_group)


def test_rejection_for_accepts_any_iterable_once() -> None:
    items = [ErrorItem("EC007", "E", "a"), ErrorItem("EN122", "E", "b")]
    exc = rejection_for(iter(items), operation="3002")  # type: ignore[arg-type]
    assert type(exc) is NotFoundError
    assert exc.errors == tuple(items)


def test_primary_error_ties_go_to_the_first_entry() -> None:
    items = [ErrorItem("ES034", "E"), ErrorItem("EC007", "E"), ErrorItem("EN001", "E")]
    assert primary_error(items) is items[0]
    assert primary_error([ErrorItem("EN122", "W")]) is None


# --------------------------------------------------------------------------------- warnings


def _client_call(items: list[ErrorItem]) -> int:
    return emit_warnings(items, operation="5005")  # stacklevel 2: blame our caller


def test_emit_warnings_issues_one_warning_per_w_entry() -> None:
    _, items = _reject("mixed")
    line = _line_of_next_call()
    with pytest.warns(AnprWarning) as record:
        count = _client_call(items)
    assert count == 2
    assert [w.message.item.code for w in record] == ["EC056", "EN148"]  # type: ignore[union-attr]
    assert all(w.message.operation == "5005" for w in record)  # type: ignore[union-attr]
    assert "EC056" in str(record[0].message)
    assert "(residenza/codComune)" in str(record[0].message)
    assert record[0].filename == __file__
    assert record[0].lineno == line


def _line_of_next_call() -> int:
    import inspect

    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno + 2


def test_emit_warnings_is_silent_without_w_entries() -> None:
    _, items = _reject("several")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert emit_warnings(items, operation="5001") == 0


def test_warnings_are_errors_when_the_caller_says_so() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnprWarning)
        with pytest.raises(AnprWarning):
            emit_warnings([ErrorItem("EN148", "W", "use the ID ANPR")], operation="3002")


# --------------------------------------------------------------------------------- totality

_codes = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["EN122", "999", "998", "EN527", "EC007", "XXXX", "EN148", "ZZ1", " ec9 "]),
)
_items = st.builds(
    ErrorItem,
    code=_codes,
    severity=st.one_of(st.text(max_size=3), st.sampled_from(["E", "W", "e", "w"])),
    text=st.text(max_size=50),
    object=st.none() | st.text(max_size=20),
    field=st.none() | st.text(max_size=20),
    value=st.none() | st.text(max_size=20),
)


@given(items=st.lists(_items, max_size=6), operation=st.text(max_size=8))
def test_rejection_for_is_total(items: list[ErrorItem], operation: str) -> None:
    exc = rejection_for(items, operation=operation, id_operazione_comune="x")
    assert isinstance(exc, AnprRejected)
    assert isinstance(exc, AnprError)
    assert exc.errors == tuple(items)
    assert str(exc)
    assert explain(exc)
    primary = exc.primary
    assert primary is None or primary.blocking
    assert (primary is None) == (not any(i.blocking for i in items))
    assert isinstance(exc.retryable, bool)


@given(items=st.lists(_items, max_size=6))
def test_emit_warnings_is_total(items: list[ErrorItem]) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        count = emit_warnings(items, operation="3002")
    assert count == len(record) == sum(1 for i in items if not i.blocking)
    assert all(issubclass(w.category, AnprWarning) for w in record)
