"""Every exception the library raises is in the tree: each ``raise`` in ``src/`` is read from
the source and the class it raises is looked up, so a new ``raise ValueError(...)`` on a path
users reach fails here.

A short, explicit list of exceptions stays outside the tree, each with its reason. The
simulator is left out: it plays ANPR, and its private exceptions are control flow that its
WSGI app turns into SOAP answers.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import AnprError

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "anpr_client"

# (module, class) → why it may be raised although it is not an AnprError.
OUTSIDE_THE_TREE: dict[tuple[str, str], str] = {
    ("anpr_client", "AttributeError"): "the module __getattr__ protocol",
    ("anpr_client._compat", "AttributeError"): "the module __getattr__ protocol",
    ("anpr_client.credentials", "AttributeError"): "the module __getattr__ protocol",
    ("anpr_client.cli.notifications", "KeyboardInterrupt"): "stops the server on SIGTERM",
    # click's usage errors: click prints them (exit 2), never a traceback
    ("anpr_client.cli.demo", "ClickException"): "the command line's own protocol",
    ("anpr_client.cli.journal", "BadParameter"): "the command line's own protocol",
    ("anpr_client.cli.notifications", "BadParameter"): "the command line's own protocol",
    ("anpr_client.cli.notifications", "UsageError"): "the command line's own protocol",
    ("anpr_client.models", "ValueError"): "caught by the converter, reported as ProtocolError",
    ("anpr_client.journal.ids", "ValueError"): "guard: counters come from the journal itself",
    ("anpr_client.journal.sql", "TypeError"): "caught by _Row.read, as CorruptJournalRecord",
    ("anpr_client.soap.codec", "TypeError"): "caught by the encoder, reported as a Violation",
    ("anpr_client.security.cms", "ValueError"): "caught by verify_signed_data, as CmsRejected",
    ("anpr_client.validation.report", "IsADirectoryError"): "caught, as ConfigurationError",
    ("anpr_client.errors.catalogue._official", "ValueError"): "caught, as ConfigurationError",
    ("anpr_client.errors.catalogue._data", "LookupError"): "guard: the shipped data is checked",
    ("anpr_client.errors.catalogue._data", "ValueError"): "guard: the shipped data is checked",
    ("anpr_client.validation._tables", "NotImplementedError"): "abstract method",
    ("anpr_client.validation._tables", "ValueError"): "caught by each table, ConfigurationError",
    ("anpr_client.validation.fields", "TypeError"): "a call without field=, as Python says it",
    ("anpr_client._compat", "ImportError"): "a name moved to the simulator: says where",
    ("anpr_client.models", "TypeError"): "a class that is not a model: a programming error",
    ("anpr_client.models._index", "LookupError"): "guard: module names come from the index",
    # the HTTP wire's signals: the transport turns each into the TransportError of its stage
    ("anpr_client.transport.wire", "DeadlinePassed"): "caught by the transport, typed by stage",
    ("anpr_client.transport.wire", "Malformed"): "caught by the transport, typed by stage",
    ("anpr_client.transport.wire", "PeerClosed"): "caught by the transport, typed by stage",
    ("anpr_client.transport.wire", "TooLarge"): "caught by the transport, typed by stage",
    ("anpr_client.transport.wire", "ValueError"): "caught, as ConfigurationError",
    ("anpr_client.transport.https", "_Stale"): "caught: sent again on a fresh connection",
    ("anpr_client._wsgiserver", "_BadRequest"): "a request the server answers itself (4xx)",
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[1:2] == ["simulator"] or parts[-1] == "__main__":
            continue
        if "moved(__name__" in path.read_text(encoding="utf-8"):
            continue  # an old import path: it only re-exports its new home
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _raised_names(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(target, ast.Name):
            yield node.lineno, target.id
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            yield node.lineno, f"{target.value.id}.{target.attr}"


def _resolve(module: object, dotted: str) -> object:
    value: object = module
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _raised_class(module: object, dotted: str) -> type[BaseException] | None:
    """The class a ``raise`` names: the class itself, or what a builder function returns."""
    value = _resolve(module, dotted)
    if value is None:
        value = getattr(builtins, dotted, None)
    if inspect.isclass(value) and issubclass(value, BaseException):
        return value
    if inspect.isfunction(value):
        hints = typing.get_type_hints(value)
        returned = hints.get("return")
        if inspect.isclass(returned) and issubclass(returned, BaseException):
            return returned
    return None  # a local variable (re-raise) or a method: nothing to look up


def test_every_raise_in_the_library_raises_an_anpr_error() -> None:
    offenders = []
    seen_outside: set[tuple[str, str]] = set()
    checked = 0
    for name, path in _modules():
        module = importlib.import_module(name)
        for line, dotted in _raised_names(path):
            cls = _raised_class(module, dotted)
            if cls is None:
                continue
            checked += 1
            if issubclass(cls, AnprError):
                continue
            key = (name, cls.__name__)
            if key in OUTSIDE_THE_TREE:
                seen_outside.add(key)
                continue
            offenders.append(f"{path.relative_to(REPO)}:{line} raises {cls.__name__}")
    assert checked > 300, checked  # the walk really looked at the library's raises
    assert not offenders, "\n".join(offenders)
    # the list stays exact: an entry whose raise is gone must be dropped
    assert seen_outside == set(OUTSIDE_THE_TREE), set(OUTSIDE_THE_TREE) - seen_outside


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise ValueError('x')", "ValueError"),
        ("raise KeyError", "KeyError"),
        ("raise errors.Thing('x') from None", "errors.Thing"),
    ],
)
def test_the_walk_finds_each_form_of_raise(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(f"def f():\n    {source}\n", encoding="utf-8")
    assert [n for _, n in _raised_names(path)] == [expected]
