"""Our bundle and the official one accept and refuse the same messages.

For every operation, a minimal sample request (and response) generated from our bundle by
:func:`tests.samples.sample_payload` validates against both schemas (libxml2); so do
varied random samples. Broken variants (children out of order, a value breaking its type, a
required element missing, an unknown element) are refused by both.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from tests.samples import sample_payload

from .support import (
    Leaf,
    Op,
    global_element,
    lxml_schema,
    operation_params,
    our_counterpart,
    render,
)

SEEDS = (1, 2, 3)


def _build(
    wsdl: Path, qname: str, rng: random.Random | None = None
) -> tuple[etree._Element, list[Leaf]]:
    payload = sample_payload(wsdl, qname, rng=rng)
    return render(global_element(wsdl, qname), payload)


def _verdicts(op: Op, document: etree._Element) -> tuple[bool, bool]:
    ours = lxml_schema(our_counterpart(op).wsdl)
    official = lxml_schema(op.wsdl)
    return ours.validate(document), official.validate(document)


def _assert_both_accept(op: Op, document: etree._Element) -> None:
    ours = lxml_schema(our_counterpart(op).wsdl)
    official = lxml_schema(op.wsdl)
    text = etree.tostring(document, encoding="unicode")
    assert ours.validate(document), f"ours refuses: {ours.error_log}\n{text}"
    assert official.validate(document), f"official refuses: {official.error_log}\n{text}"


@pytest.mark.parametrize("side", ["request", "response"])
@pytest.mark.parametrize("op", operation_params())
def test_minimal_sample_is_valid_for_both(op: Op, side: str) -> None:
    mine = our_counterpart(op)
    document, _ = _build(mine.wsdl, getattr(op, side))
    _assert_both_accept(op, document)
    if side == "request" and op.code != "N000":
        header = document.find("testataRichiesta")
        assert header is not None
        assert len(header) >= 7  # the required header fields


@pytest.mark.parametrize("side", ["request", "response"])
@pytest.mark.parametrize("op", operation_params())
def test_random_samples_are_valid_for_both(op: Op, side: str) -> None:
    mine = our_counterpart(op)
    for seed in SEEDS:
        document, _ = _build(mine.wsdl, getattr(op, side), random.Random(seed))
        _assert_both_accept(op, document)


def _swap_first_pair(document: etree._Element, _: list[Leaf]) -> bool:
    """Put two adjacent children with different names in the wrong order (first such pair)."""
    for parent in document.iter():
        children = list(parent)
        for a, b in itertools.pairwise(children):
            if a.tag != b.tag:
                parent.remove(b)
                a.addprevious(b)
                return True
    return False


_BAD_VALUES = ("#!?", "§", "x" * 300, "not-a-date", "2024-13-45T99:99:99", "-1.5e", "@@")


def _break_a_value(document: etree._Element, leaves: list[Leaf]) -> bool:
    """Give the first constrained leaf a value its type refuses (a pattern if there is one)."""
    ranked = sorted(leaves, key=lambda leaf: not _has_pattern(leaf.xsd_type))
    for leaf in ranked:
        for bad in _BAD_VALUES:
            if not leaf.xsd_type.is_valid(bad):
                leaf.node.text = bad
                return True
    return False


def _has_pattern(xsd_type: object) -> bool:
    return bool(getattr(xsd_type, "patterns", None))


def _drop_required(document: etree._Element, _: list[Leaf]) -> bool:
    """Remove the first child of the root: every ANPR message starts with a required header."""
    first = document[0] if len(document) else None
    if first is None:
        return False
    document.remove(first)
    return True


def _add_unknown(document: etree._Element, _: list[Leaf]) -> bool:
    etree.SubElement(document, "elementoSconosciuto").text = "x"
    document.insert(1, document[-1])
    return True


_BREAKERS: dict[str, Callable[[etree._Element, list[Leaf]], bool]] = {
    "wrong-order": _swap_first_pair,
    "bad-value": _break_a_value,
    "missing-required": _drop_required,
    "unknown-element": _add_unknown,
}


@pytest.mark.parametrize("breaker", sorted(_BREAKERS))
@pytest.mark.parametrize("op", operation_params())
def test_broken_requests_are_refused_by_both(op: Op, breaker: str) -> None:
    mine = our_counterpart(op)
    element = global_element(mine.wsdl, op.request)
    # A varied sample has more children to break; seeds are tried until one can be broken.
    for seed in (None, *SEEDS):
        rng = None if seed is None else random.Random(seed)
        document, leaves = render(element, sample_payload(mine.wsdl, op.request, rng=rng))
        broken = copy.deepcopy(document)
        broken_leaves = _map_leaves(document, broken, leaves)
        if _BREAKERS[breaker](broken, broken_leaves):
            break
    else:
        pytest.fail(f"no sample of {op} could be broken by {breaker}")
    assert _verdicts(op, document) == (True, True)
    assert _verdicts(op, broken) == (False, False), etree.tostring(broken, encoding="unicode")


def _map_leaves(original: etree._Element, clone: etree._Element, leaves: list[Leaf]) -> list[Leaf]:
    """The leaves of ``original`` located in its deep copy ``clone``."""
    positions = {id(node): i for i, node in enumerate(original.iter())}
    clone_nodes = list(clone.iter())
    return [Leaf(clone_nodes[positions[id(leaf.node)]], leaf.xsd_type) for leaf in leaves]


def test_the_ko_branch_of_a_response_can_be_requested() -> None:
    ops = [p.values[0] for p in operation_params() if p.values[0] is not None]
    if not ops:
        pytest.skip("official ANPR reference data not found")
    op = next(o for o in ops if o.code == "3002")
    mine = our_counterpart(op)
    payload = sample_payload(mine.wsdl, op.response, include={"rispostaKO"})
    assert list(payload) == ["rispostaKO"]
    assert payload["rispostaKO"]["listaErrori"]["errore"][0]["tipoErroreAnomalia"]
    document, _ = render(global_element(mine.wsdl, op.response), payload)
    _assert_both_accept(op, document)
