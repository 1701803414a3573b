"""Our XSD model agrees with zeep's reading of the same bundle, for every operation."""

from __future__ import annotations

from typing import Any

import pytest

from anpr_client.soap.bundle import get_bundle
from anpr_client.soap.xsdmodel import Node

BUNDLE = get_bundle()
OPERATIONS = sorted(BUNDLE.operations)


def _zeep_builtin(zeep_type: Any) -> str:
    for cls in type(zeep_type).__mro__:
        qname = getattr(cls, "_default_qname", None)
        if qname is not None and "XMLSchema" in str(qname):
            return str(qname).rsplit("}", 1)[-1]
    return "string"


def _zeep_children(element: Any) -> list[tuple[str, Any]]:
    return [] if not hasattr(element.type, "elements") else list(element.type.elements)


def _compare(ours: Node, theirs: Any, path: str, depth: int, seen: set[str]) -> None:
    qname = theirs.qname.text if hasattr(theirs.qname, "text") else str(theirs.qname)
    assert ours.qname == qname, path
    z_max = -1 if theirs.max_occurs == "unbounded" else int(theirs.max_occurs)
    assert (ours.min_occurs, ours.max_occurs) == (int(theirs.min_occurs), z_max), path
    kids = _zeep_children(theirs)
    if len(kids) == 1 and kids[0][0] == "_value_1":  # zeep's simpleContent
        assert ours.simple_type == _zeep_builtin(kids[0][1].type), path
        return
    if not hasattr(theirs.type, "elements"):
        assert ours.simple_type == _zeep_builtin(theirs.type), path
        return
    assert [n for n, _ in kids] == list(ours.children), path
    key = f"{ours.type_name}:{ours.qname}"
    if depth == 0 or (ours.type_name and key in seen):
        return
    seen.add(key)
    for (name, z_child), o_child in zip(kids, ours.children.values(), strict=True):
        _compare(o_child, z_child, f"{path}/{name}", depth - 1, seen)


@pytest.mark.parametrize("code", OPERATIONS)
def test_model_matches_zeep(code: str) -> None:
    op = BUNDLE.operation(code)
    types = BUNDLE.document(op.family).types
    for qname, ours in (
        (op.request, BUNDLE.request_model(op)),
        (op.response, BUNDLE.response_model(op)),
    ):
        _compare(ours, types.get_element(qname.text), qname.localname, 12, set())
