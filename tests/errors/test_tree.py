"""The exception tree is the ground floor: it imports nothing of the library, and what the
catalogue decides (the deciding entry, the retry advice) is handed to it at construction."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings

import pytest

import anpr_client
from anpr_client.errors import exceptions
from anpr_client.errors.catalogue import explain, rejection_for
from anpr_client.errors.exceptions import (
    AnprError,
    AnprRejected,
    ErrorItem,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ProtocolError,
    Retry,
    ServiceError,
    UnknownOperationError,
    ValidationError,
    XMLTooLarge,
)
from anpr_client.validation import codes

from .conftest import REPO

TREE = REPO / "src" / "anpr_client" / "errors" / "exceptions.py"


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(TREE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_the_tree_imports_nothing_of_the_library() -> None:
    imported = _imported_modules()
    assert imported, "the parser found no import at all"
    ours = {m for m in imported if m.startswith(".") or m.split(".")[0] == "anpr_client"}
    assert not ours, f"errors/exceptions.py imports {sorted(ours)}"
    # only the standard library (counting imports inside functions too)
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}


def test_the_import_walk_sees_an_import_inside_a_function() -> None:
    tree = ast.parse("def f():\n    from .catalogue import x\n")
    assert any(isinstance(n, ast.ImportFrom) and n.level == 1 for n in ast.walk(tree))


ITEMS = (ErrorItem("EN527", "E", "support reference"), ErrorItem("999", "E", "not done"))


def test_primary_and_retry_are_given_at_construction() -> None:
    exc = ServiceError(ITEMS, operation="5008", primary=ITEMS[1], retry=Retry.LATER)
    assert exc.primary is ITEMS[1]
    assert exc.retry is Retry.LATER
    assert exc.retryable is True
    # the same class, told nothing, knows no code: first blocking entry, advice "depends"
    bare = ServiceError(ITEMS, operation="5008")
    assert bare.primary is ITEMS[0]
    assert bare.retry is Retry.DEPENDS
    assert bare.retryable is False
    assert AnprRejected([ErrorItem("EN148", "W")], operation="3002").primary is None


def test_the_catalogue_decides_what_it_hands_over() -> None:
    exc = rejection_for(ITEMS, operation="5008", id_operazione_comune="C-1")
    assert type(exc) is ServiceError
    assert exc.primary is ITEMS[1]  # 999 has a class of its own; EN527 is informative
    assert exc.retry is Retry.LATER
    assert exc.retryable
    warned = rejection_for([ErrorItem("EN148", "W")], operation="3002")
    assert (warned.primary, warned.retry, warned.retryable) == (None, Retry.DEPENDS, False)


def test_explain_lives_with_the_catalogue_and_the_old_method_warns() -> None:
    exc = rejection_for(ITEMS, operation="5008", id_operazione_comune="C-1")
    text = explain(exc)
    assert text.splitlines()[0] == "ANPR rejected operation 5008 (idOperazioneComune C-1):"
    assert text.count("what to do:") == 2
    with pytest.warns(DeprecationWarning, match=r"errors\.catalogue\.explain\(exc\)"):
        assert exc.explain() == text


def test_the_old_explain_method_works_whatever_was_imported_first() -> None:
    """The catalogue registers the explainer when it loads, and importing any part of the
    library loads it: ``exc.explain()`` never needs the tree to import the catalogue."""
    code = (
        "import warnings\n"
        "from anpr_client.errors.exceptions import AnprRejected, ErrorItem\n"
        "exc = AnprRejected([ErrorItem('EC007', 'E', 'x')], operation='5001')\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore', DeprecationWarning)\n"
        "    print(exc.explain())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert "group: EC (Reference values)" in proc.stdout


def test_every_exception_the_library_raises_has_its_place_in_the_tree() -> None:
    for cls in (UnknownOperationError, XMLTooLarge):
        assert cls.__module__ == "anpr_client.errors"
        assert cls.__name__ in exceptions.__all__
        assert getattr(anpr_client, cls.__name__) is cls
    assert issubclass(UnknownOperationError, AnprError)
    assert issubclass(UnknownOperationError, LookupError)
    assert issubclass(XMLTooLarge, ProtocolError)
    # their former homes still export them
    from anpr_client.safexml import XMLTooLarge as from_safexml
    from anpr_client.soap import UnknownOperationError as from_soap
    from anpr_client.soap.bundle import UnknownOperationError as from_bundle

    assert from_safexml is XMLTooLarge
    assert from_soap is from_bundle is UnknownOperationError


@pytest.mark.parametrize(
    ("cls", "rule_id"),
    [
        (InvalidFormat, "field.format"),
        (InvalidLength, "field.length"),
        (InvalidComponent, "birthplace.unknown"),
    ],
)
def test_a_broken_rule_becomes_its_exception_in_one_place(
    cls: type[ValidationError], rule_id: str
) -> None:
    rule = codes.rule(rule_id)
    exc = cls.from_rule(rule, "not acceptable", field="luogoNascita")
    assert type(exc) is cls
    assert (exc.field, exc.code, exc.rule, exc.severity) == (
        "luogoNascita",
        rule.code,
        rule.id,
        rule.severity,
    )
    assert str(exc) == f"luogoNascita: not acceptable [{rule.code}]"
    assert cls.from_rule(rule, field=None).message == cls.default_message


def test_the_tree_warns_nothing_when_used_normally() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exc = rejection_for(ITEMS, operation="5008")
        assert exc.retryable
        assert exc.codes == ("EN527", "999")
