"""The encoder's one-pass path and its fallback (:func:`anpr_client.soap.codec.encode`): keys
out of schema order or unknown, violations named with their path and listed in the same order
either way."""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from anpr_client.soap import codec
from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.codec import encode
from anpr_client.soap.xsdmodel import Node


def _model(code: str) -> Node:
    bundle = get_bundle()
    return bundle.request_model(bundle.operation(code))


def _member(surname: str, relation: str) -> dict[str, Any]:
    return {
        "generalita": {
            "codiceFiscale": {"codFiscale": "RSSMRA80A01H501U"},
            "cognome": surname,
            "nome": "MARIO",
            "sesso": "M",
        },
        "legameSoggetto": {"dataDecorrenza": "2026-12-02", "codiceLegame": relation},
    }


def _payload() -> dict[str, Any]:
    return {
        "famigliaConvivenza": {"idFamigliaConvivenzaANPR": "123", "tipoScheda": "3"},
        "elencoSoggettiFamiglia": [_member("ROSSI", "1"), _member("BIANCHI", "23")],
        "datiControllo": {"tipoMutazione": "2", "tipoScheda": "1"},
    }


def _reversed(value: Any) -> Any:
    """``value`` with every object's keys in reverse order, lists kept in order."""
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def _xml(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True)


def test_keys_in_any_order_give_the_schema_order() -> None:
    model = _model("5001")
    ordered, problems = encode(model, _payload())
    assert problems == []
    shuffled, again = encode(model, _reversed(_payload()))
    assert again == []
    assert _xml(shuffled) == _xml(ordered)
    tags = [child.tag for child in ordered]
    assert tags == [
        "famigliaConvivenza",
        "elencoSoggettiFamiglia",
        "elencoSoggettiFamiglia",
        "datiControllo",
    ]
    assert [c.tag for c in ordered[1][0]] == ["codiceFiscale", "cognome", "nome", "sesso"]


def test_a_mapping_that_is_not_a_dict_is_encoded_the_same() -> None:
    model = _model("5001")
    payload = _payload()
    frozen = {
        **payload,
        "famigliaConvivenza": MappingProxyType(payload["famigliaConvivenza"]),
        "elencoSoggettiFamiglia": tuple(payload["elencoSoggettiFamiglia"]),
    }
    el, problems = encode(model, MappingProxyType(frozen))
    assert problems == []
    assert _xml(el) == _xml(encode(model, payload)[0])


def test_unknown_keys_come_first_then_the_rest_in_schema_order() -> None:
    model = _model("5001")
    payload = _payload()
    bad = dict(payload)
    # A leaf that is not XML text in the second member, written before the unknown key is met:
    # the pass starts over, and the violation is listed once, after the unknown keys.
    bad["elencoSoggettiFamiglia"] = [_member("ROSSI", "1"), _member("BIAN\x00CHI", "23")]
    bad["colore"] = "rosso"
    bad["famigliaConvivenza"] = {"tipoScheda": "3", "idFamigliaConvivenzaANPR": "123", "x": None}
    el, problems = encode(model, bad)
    assert [(p.path, p.rule) for p in problems] == [
        ("Richiesta5001/colore", "unknown-element"),
        ("Richiesta5001/famigliaConvivenza/x", "unknown-element"),
        ("Richiesta5001/elencoSoggettiFamiglia[1]/generalita/cognome", "characters"),
    ]
    assert "allowed: testataRichiesta, famigliaConvivenza" in problems[0].message
    # The known keys are all written, once each, in schema order.
    assert [c.tag for c in el] == [
        "famigliaConvivenza",
        "elencoSoggettiFamiglia",
        "elencoSoggettiFamiglia",
        "datiControllo",
    ]
    assert [c.tag for c in el[0]] == ["idFamigliaConvivenzaANPR", "tipoScheda"]


def test_a_single_list_item_has_no_index_and_none_is_left_out() -> None:
    model = _model("5001")
    payload = _payload()
    payload["elencoSoggettiFamiglia"] = [_member("ROSSI", 1.5j)]  # type: ignore[arg-type]
    payload["residenzaFamigliaConvivenza"] = None
    el, problems = encode(model, payload)
    assert [(p.path, p.rule) for p in problems] == [
        ("Richiesta5001/elencoSoggettiFamiglia/legameSoggetto/codiceLegame", "type")
    ]
    assert "residenzaFamigliaConvivenza" not in [c.tag for c in el]


def test_repeated_leaves_and_values_rendered() -> None:
    model = _model("5008")
    el, problems = encode(model, {"datiControllo": {"tipoMutazione": ["1", 2, "\x01"]}})
    assert [(p.path, p.rule) for p in problems] == [
        ("Richiesta5008/datiControllo/tipoMutazione[2]", "characters")
    ]
    assert [c.text for c in el.find("datiControllo")] == ["1", "2", None]  # type: ignore[union-attr]


def test_a_key_order_is_planned_once_and_the_plan_gives_the_careful_result(
    monkeypatch: Any,
) -> None:
    """The one-pass path writes from the node's plan for the payload's key order, made once per
    order: a second payload of the same shape is written without planning again, and what it
    writes is what the careful path (the keys reordered first) writes."""
    model = _model("5001")
    encode(model, _payload())  # plans made
    member = model.steps["elencoSoggettiFamiglia"].node
    assert ("generalita", "legameSoggetto") in member.plans
    planned: list[tuple[str, ...]] = []
    original = Node.plan

    def counting(self: Node, keys: tuple[str, ...]) -> Any:
        planned.append(keys)
        return original(self, keys)

    monkeypatch.setattr(Node, "plan", counting)
    again, problems = encode(model, _payload())
    assert problems == []
    assert planned == []  # every object of the payload written from a remembered plan
    careful, _ = encode(model, _reversed(_payload()))
    assert planned  # the reversed orders are not known plans: they take the careful path
    assert _xml(again) == _xml(careful)


def test_plans_are_bounded() -> None:
    """A node keeps a writer for at most 64 key orders: objects in ever new orders are written
    by walking their plan, with the same result."""
    generalita = _model("5001").steps["elencoSoggettiFamiglia"].node.steps["generalita"].node
    names = list(generalita.steps)
    assert len(names) >= 7  # more in-order subsets than the memo holds
    saved = dict(generalita.plans)  # the bundle's models are shared: leave its memo as found
    generalita.plans.clear()
    try:
        writers = []
        for n in range(200):
            keys = tuple(name for i, name in enumerate(names) if n >> i & 1)
            writers.append(codec._writer(generalita, keys))
            assert len(keys) < 2 or codec._writer(generalita, tuple(reversed(keys))) is None
        assert len(generalita.plans) == 64
        assert all(w is not None and _is_compiled(w) for w in writers[:64])
        assert all(isinstance(w, functools.partial) and w.func is codec._walk for w in writers[64:])
        assert codec._writer(generalita, ("nosuchelement",)) is None
    finally:
        generalita.plans.clear()
        generalita.plans.update(saved)


def _is_compiled(writer: object) -> bool:
    code = getattr(writer, "__code__", None)
    return code is not None and code.co_filename == "<anpr_client.soap.codec writer>"


def _forget_writers(model: Node, seen: set[int] | None = None) -> None:
    """Empty the writer memo of ``model`` and of every node below it."""
    seen = set() if seen is None else seen
    if id(model) in seen:
        return
    seen.add(id(model))
    model.plans.clear()
    if not model.is_simple:
        for step in model.steps.values():
            _forget_writers(step.node, seen)


_VALUES = st.sampled_from(["ROSSI", "", "A\x00B", "x\x01", 7, 1.5j, True, None, "2026-12-02"])


@st.composite
def _payloads(draw: st.DrawFn, model: Node, depth: int = 0) -> Any:
    """An object for ``model``: a random subset of its children in a random order, each a value
    of the usual kind or another (lists, tuples, scalars where objects go, objects where text
    goes), sometimes an unknown key."""
    steps = list(model.steps.values())
    chosen = draw(st.lists(st.sampled_from(steps), unique=True, max_size=6)) if steps else []
    out: dict[str, Any] = {}
    for step in chosen:
        out[step.name] = draw(_value(step.node, depth))
    if draw(st.booleans()) and draw(st.booleans()):
        out["sconosciuto"] = draw(_VALUES)
    return out


@st.composite
def _value(draw: st.DrawFn, node: Node, depth: int) -> Any:
    if node.is_simple:
        kind = draw(st.sampled_from(["text", "text", "list", "tuple", "object", "other"]))
        if kind == "list":
            return draw(st.lists(_VALUES, max_size=3))
        if kind == "tuple":
            return tuple(draw(st.lists(_VALUES, max_size=2)))
        if kind == "object":
            return {"x": "y"}
        return draw(_VALUES) if kind == "other" else draw(st.sampled_from(["1", "ROSSI", ""]))
    if depth >= 3:
        return draw(st.sampled_from([None, "testo", {}]))
    kind = draw(st.sampled_from(["object", "object", "list", "tuple", "other"]))
    if kind == "object":
        return draw(_payloads(node, depth + 1))
    if kind == "other":
        return draw(_VALUES)
    items = draw(st.lists(_payloads(node, depth + 1) | _VALUES, max_size=3))
    return items if kind == "list" else tuple(items)


def _encoded(model: Node, payload: Any) -> tuple[bytes, list[tuple[str, str, str]]]:
    el, problems = encode(model, payload)
    return _xml(el), [(p.path, p.rule, p.message) for p in problems]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compiled_writers_write_what_walking_the_plan_writes(data: st.DataObject) -> None:
    """The house's differential test: every payload, however malformed, gives the same XML and
    the same violations in the same order with the writers :func:`codec._compiled` makes and
    with :func:`codec._walk` over the plan (the writers switched off)."""
    code = data.draw(st.sampled_from(["5001", "3002", "5008", "4001"]))
    model = _model(code)
    payload = data.draw(_payloads(model))
    _forget_writers(model)
    compiled = _encoded(model, payload)
    assert not model.plans or all(_is_compiled(w) for w in model.plans.values())
    original = codec._compiled
    _forget_writers(model)
    codec._compiled = lambda plan: functools.partial(codec._walk, plan)
    try:
        walked = _encoded(model, payload)
    finally:
        codec._compiled = original
        _forget_writers(model)
    assert compiled == walked
