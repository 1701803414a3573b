"""The per-operation plans of :func:`requirements.check` against applying every rule.

``check`` passes over a rule when a top-level element it needs is absent, or when it is a plain
Need and one of its paths is present; the reference applies every rule of the operation with
``_apply``. Both must give the same findings in the same order, on payloads built from the
elements the rules name, and the plans must actually pass over rules (else this proves nothing).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anpr_client.validation import requirements
from anpr_client.validation.requirements import REQUIREMENTS, Forbid, Need, OneOf, values_at


def _paths(req: requirements.Requirement) -> list[str]:
    if isinstance(req, OneOf):
        return [req.path]
    if isinstance(req, Forbid):
        return [req.path, req.when[0]]
    assert isinstance(req, Need)
    out = [*req.any_of, *req.unless]
    if req.only_if_present:
        out.append(req.only_if_present)
    if req.scope:
        out += [req.scope, *(f"{req.scope}.{p}" for p in req.any_of)]
    if req.when:
        out.append(f"{req.scope}.{req.when[0]}" if req.scope else req.when[0])
    return out


PATHS = sorted({p for rules in REQUIREMENTS.values() for r in rules for p in _paths(r)})
NAMES = sorted({part for p in PATHS for part in p.split(".")})
LEAVES: st.SearchStrategy[Any] = st.sampled_from(
    ["", " ", "1", "2", "4", "9", "09", "998", "x", None, 0, [], {}, ()]
)


def _node(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return LEAVES
    child = _node(depth - 1)
    return st.one_of(
        LEAVES,
        st.dictionaries(st.sampled_from(NAMES), child, max_size=5),
        st.lists(st.dictionaries(st.sampled_from(NAMES), child, max_size=4), max_size=3),
    )


def _reference(operation: str, payload: dict[str, Any]) -> list[Any]:
    return [f for r in REQUIREMENTS[operation] for f in requirements._apply(r, payload)]


def _along(path: str, leaf: Any) -> dict[str, Any]:
    node: Any = leaf
    for part in reversed(path.split(".")):
        node = {part: node}
    return dict(node)


@settings(max_examples=400, deadline=None)
@given(
    operation=st.sampled_from(sorted(REQUIREMENTS)),
    payload=st.dictionaries(st.sampled_from(NAMES), _node(3), max_size=8),
    planted=st.lists(st.tuples(st.sampled_from(PATHS), LEAVES), max_size=4),
)
def test_the_plans_find_what_every_rule_finds(
    operation: str, payload: dict[str, Any], planted: list[tuple[str, Any]]
) -> None:
    for path, leaf in planted:  # the rules' own paths, so that they are met or broken
        payload = {**payload, **_along(path, leaf)}
    assert requirements.check(operation, payload) == _reference(operation, payload)
    for path in PATHS:
        assert requirements._present(payload, tuple(path.split("."))) == bool(
            values_at(payload, path)
        ), path


@pytest.mark.parametrize(
    ("operation", "payload"),
    [
        ("3002", {"criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"}, "datiRichiesta": {}}),
        ("2001", {"testataRichiesta": {"dataDecorrenza": "2026-01-01"}, "datiDecesso": {"x": "1"}}),
        ("1002", {"testataRichiesta": {}, "generalita1002": {"generalita": {}}}),
    ],
)
def test_the_plans_pass_over_rules(
    operation: str, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    applied: list[object] = []
    apply = requirements._apply

    def counting(req: requirements.Requirement, node: Any) -> Any:
        applied.append(req)
        return apply(req, node)

    monkeypatch.setattr(requirements, "_apply", counting)
    found = requirements.check(operation, payload)
    assert len(applied) < len(REQUIREMENTS[operation])  # some rules were passed over
    assert found == _reference(operation, payload)
